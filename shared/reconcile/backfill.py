"""Backfill: start a run for every complete folder under a prefix, through the same claims as events.

``POST /api/backfill {route, prefix, since?, dry_run?, max_runs?}``. A folder that already ran is counted as
``exists`` and started again by nothing, so a backfill can be repeated (or run after a partial one) safely.
Starts are paced (``starts_per_second``) so a large backfill does not flood the batch endpoint; a call lists
at most ``max_pages`` pages and starts at most ``max_runs`` runs, and says whether it reached the end
(``complete``): call it again to go on.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Awaitable, Callable, Optional

from ..config.models import AppSettings, Route
from ..timefmt import format_time, try_parse_time
from .scan import landings
from .sweep import REPAIRED, STARTED, WOULD_START, listed_items, ensure_landing

log = logging.getLogger(__name__)

DEFAULT_MAX_RUNS = 100
MAX_RUNS_LIMIT = 1000
PAGE_SIZE = 1000
MAX_PAGES = 50
STARTS_PER_SECOND = 2.0
FIELDS = ("route", "prefix", "since", "dry_run", "max_runs")


class BadField(ValueError):
    """A request field that cannot be used; ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"field '{field}': {message}")
        self.field = field


@dataclass(frozen=True)
class BackfillRequest:
    route: Route
    prefix: str
    since: Optional[datetime] = None
    dry_run: bool = False
    max_runs: int = DEFAULT_MAX_RUNS


def parse_backfill(body: dict, settings: AppSettings) -> BackfillRequest:
    """Check every field (pure); :class:`BadField` names the first bad one."""
    from ..config import UnknownRouteError
    from ..paths import InvalidName, check_relative_path, check_route_name

    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        shown = unknown[0] if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,40}", unknown[0]) else "body"
        raise BadField(shown, f"unknown field; the fields are {', '.join(FIELDS)}")
    try:
        route_name = check_route_name(body.get("route"), field="route")
    except InvalidName as exc:
        raise BadField("route", exc.reason) from None
    try:
        route = settings.route(route_name)
    except UnknownRouteError:
        raise BadField("route", f"unknown route {route_name!r}") from None
    prefix = body.get("prefix", route.match.prefix)
    try:
        prefix = check_relative_path(prefix, field="prefix", allow_empty=True)
    except InvalidName as exc:
        raise BadField("prefix", exc.reason) from None
    if not prefix.startswith(route.match.prefix):
        raise BadField("prefix", f"must start with route {route.name!r}'s prefix {route.match.prefix!r}")
    since = body.get("since")
    if since is not None:
        since = try_parse_time(since)
        if since is None:
            raise BadField("since", "must be an ISO-8601 time such as 2026-01-31T00:00:00Z")
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise BadField("dry_run", "must be true or false")
    max_runs = body.get("max_runs", DEFAULT_MAX_RUNS)
    if isinstance(max_runs, bool) or not isinstance(max_runs, int) or not 1 <= max_runs <= MAX_RUNS_LIMIT:
        raise BadField("max_runs", f"must be a whole number from 1 to {MAX_RUNS_LIMIT}")
    return BackfillRequest(route, prefix, since, dry_run, max_runs)


async def backfill(ctx: Any, client: Any, request: BackfillRequest, *,
                   starts_per_second: float = STARTS_PER_SECOND, max_pages: int = MAX_PAGES,
                   page_size: int = PAGE_SIZE, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> dict:
    route = request.route
    account_url = ctx.account_urls.get(route.match.connection)
    if account_url is None:
        raise LookupError(f"route {route.name!r}: its storage connection is not configured")
    counts: Counter = Counter()
    runs: list[dict] = []
    continuation: Optional[str] = None
    complete = False
    pace = 1.0 / starts_per_second if starts_per_second > 0 else 0.0
    for _ in range(max_pages):
        items, continuation = await asyncio.to_thread(ctx.store.list_page, route, route.match.container,
                                                      request.prefix, continuation, page_size)
        for landing in landings(route, account_url, route.match.container, listed_items(items), since=request.since,
                                source="backfill"):
            if len(runs) >= request.max_runs:
                break
            outcome = await ensure_landing(ctx, client, route, landing, source="backfill",
                                           dry_run=request.dry_run)
            counts[outcome] += 1
            if outcome in (STARTED, REPAIRED, WOULD_START):
                runs.append({"run_id": landing.run_id, "url": landing.created.location.url,
                             "kind": landing.action, "outcome": outcome})
                if outcome != WOULD_START and pace:
                    await sleep(pace)
        else:
            if continuation is None:
                complete = True
                break
            continue
        break  # max_runs reached
    log.info("backfill: route %s prefix %r%s: %s", route.name, request.prefix, " (dry run)" if request.dry_run
             else "", dict(counts))
    key = "would_start" if request.dry_run else "started"
    return {"route": route.name, "prefix": request.prefix, "dry_run": request.dry_run,
            "since": format_time(request.since) if request.since else None, key: runs,
            "counts": dict(sorted(counts.items())), "complete": complete}
