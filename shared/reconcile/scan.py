"""What a listing of a route's landing prefix says should have run (pure: no Azure SDK, no I/O).

Each listed blob is read as the ``BlobCreated`` event it once caused, and the landing rules decide
(``shared/landing/rules.py``, called, never copied): a marker or a per-file blob names a run, a manifest a
manifest waiter, a quiet-period file its folder's waiter (once per folder).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Optional

from ..config.models import Route
from ..landing import rules
from ..landing.events import BlobCreated
from ..paths import InvalidName
from ..redact import redact
from ..runs.claims import claim_etag
from ..runs.ids import landing_run_id
from ..storage.uris import BlobLocation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Listed:
    """One blob of a listing: its name in the container, ETag, size and last-modified time."""

    name: str
    etag: str
    size: int
    last_modified: Optional[datetime] = None


@dataclass(frozen=True)
class Landing:
    """A landing the rules act on: the decision, the event it stands for, and the run it leads to."""

    decision: rules.Decision
    created: BlobCreated
    run_id: str
    last_modified: Optional[datetime] = None

    @property
    def action(self) -> str:
        return self.decision.action


def landings(route: Route, account_url: str, container: str, listed: Iterable[Listed], *,
             since: Optional[datetime] = None, source: str = "reconcile") -> list[Landing]:
    """The landings among ``listed`` (blobs modified before ``since`` left out), keyed as the landing handler
    keys them: on the blob's real ETag."""
    found: list[Landing] = []
    folders: set[str] = set()
    for item in listed:
        if since is not None and item.last_modified is not None and item.last_modified < since:
            continue
        if not item.name.startswith(route.match.prefix) or item.name.endswith("/"):
            continue
        etag = claim_etag(item.etag)
        try:
            location = BlobLocation(account_url, container, item.name)
        except InvalidName:  # a name storage allows but no run may use ('a//b', 'x/%2e%2e/y'): as its event would be
            log.warning("reconcile: route %s: skipped blob with an unsafe name: %s", route.name, redact(repr(item.name[:200])))
            continue
        created = BlobCreated(event_id=f"{source}:{item.name}", location=location, etag=etag, api="PutBlob",
                              content_length=item.size)
        decision = rules.decide(route, created)
        if decision.action == rules.IGNORE:
            continue
        if decision.action == rules.SIGNAL_FOLDER:
            if decision.waiter_id in folders:
                continue
            folders.add(decision.waiter_id)
            run_id = decision.run_id
        elif decision.action == rules.START_FILE:
            run_id = landing_run_id(route.name, created.location.url, etag)
        else:
            run_id = landing_run_id(route.name, decision.folder.url, etag)
        found.append(Landing(decision, created, run_id, item.last_modified))
    return found
