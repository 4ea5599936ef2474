"""The landing handler: decide whether a BlobCreated event completes a folder, and start its run once."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any, Optional

from ..config.models import AppSettings
from ..storage.uris import BlobLocation
from .events import SkipEvent, match_route, parse_blob_created

log = logging.getLogger(__name__)

# Why events were ignored, per process; logged with every skip so operators can see the mix.
SKIPPED: Counter[str] = Counter()


@dataclass(frozen=True)
class LandingOutcome:
    action: str  # "started", "duplicate" or "skipped"
    reason: str = ""
    run_id: Optional[str] = None


def skip_event(reason: str, detail: str, event_id: Any) -> LandingOutcome:
    SKIPPED[reason] += 1
    log.info("landing: skipped event %s (%s: %s); skipped so far: %s", event_id, reason, detail, dict(SKIPPED))
    return LandingOutcome("skipped", reason)


def _account_urls(settings: AppSettings) -> dict[str, str]:
    from ..storage.connections import StorageConnectionError, account_url_of

    urls = {}
    for connection in {route.match.connection for route in settings.routes}:
        try:
            urls[connection] = account_url_of(connection)
        except StorageConnectionError:
            continue
    return urls


async def handle_blob_created(event_id: Any, event_type: Any, data: Any, client: Any,
                              settings: AppSettings, ledger: Any) -> LandingOutcome:
    """Marker rule: the route's marker blob completes its parent folder; everything else is ignored."""
    from ..runs.ids import landing_run_id
    from ..runs.starter import start_run

    try:
        created = parse_blob_created(event_id, event_type, data)
    except SkipEvent as exc:
        return skip_event(exc.reason, exc.detail, event_id)
    route = match_route(settings, created.location, _account_urls(settings))
    if route is None:
        return skip_event("no_route", created.location.url, event_id)
    if created.name != route.landing.marker_name:
        return skip_event("not_a_marker", created.location.url, event_id)
    folder = BlobLocation(created.location.account_url, created.location.container, created.folder)
    run_id = landing_run_id(route.name, folder.url, created.etag)
    result = await start_run(client, ledger, settings, route, folder, run_id=run_id, source="event",
                             details={"event_id": created.event_id, "marker_etag": created.etag})
    return LandingOutcome("started" if result.started else "duplicate", run_id=run_id)
