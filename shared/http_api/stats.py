"""``GET /api/runs/stats?hours=N``: the trends the dashboard draws, aggregated by the app (bounded work).

* ``series``: runs created per bucket (24 buckets over the window), stacked by status;
* ``durations``: p50 and p95 of ended runs' duration (start to end), per route;
* ``now``: runs running now and, of those, waiting in a ``Queued`` phase;
* ``retries``: runs past their first submit attempt, and the extra attempts in all;
* ``sweep``: the reconcile sweep's last ticks (repairs, poison re-driven and parked), from its tick log.

At most :data:`MAX_RUNS` statuses are read (the newest are kept); :func:`aggregate` is pure.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Optional

import azure.functions as func

STATUSES = ("Running", "Succeeded", "Failed", "Canceled", "TimedOut")
BUCKETS = 24
MAX_RUNS = 10_000


def _time(value: Any) -> Optional[datetime]:
    if isinstance(value, datetime):
        found = value
    elif isinstance(value, str) and value:
        try:
            found = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return found if found.tzinfo else found.replace(tzinfo=timezone.utc)


def percentile(values: list[float], p: float) -> Optional[float]:
    """Nearest-rank percentile (``p`` in 0..100) of ``values``; ``None`` when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def aggregate(views: Iterable[dict], *, now: datetime, hours: int, ticks: Iterable[dict] = ()) -> dict:
    start = now - timedelta(hours=hours)
    width = timedelta(hours=hours) / BUCKETS
    series = [{"start": (start + width * i).isoformat(), **{s: 0 for s in STATUSES}} for i in range(BUCKETS)]
    durations: dict[str, list[float]] = defaultdict(list)
    running = queued = retried = extra_attempts = 0
    total: Counter = Counter()
    for view in views:
        status = view.get("status") if view.get("status") in STATUSES else "Failed"
        created = _time(view.get("created_at"))
        if created is not None and start <= created <= now:
            index = min(BUCKETS - 1, int((created - start) / width))
            series[index][status] += 1
        total[status] += 1
        if status == "Running":
            running += 1
            queued += view.get("phase") == "Queued"
        attempt = view.get("attempt")
        if isinstance(attempt, int) and not isinstance(attempt, bool) and attempt > 1:
            retried += 1
            extra_attempts += attempt - 1
        began, ended = _time(view.get("started_at")) or created, _time(view.get("finished_at"))
        if status != "Running" and began is not None and ended is not None and ended >= began:
            durations[str(view.get("route"))].append((ended - began).total_seconds())
    ticks = [t for t in ticks if isinstance(t, dict)]
    return {
        "window": {"hours": hours, "from": start.isoformat(), "to": now.isoformat(),
                   "bucket_seconds": int(width.total_seconds())},
        "series": series,
        "totals": {s: total[s] for s in STATUSES},
        "durations": [{"route": route, "runs": len(values), "p50_seconds": percentile(values, 50),
                       "p95_seconds": percentile(values, 95)} for route, values in sorted(durations.items())],
        "now": {"running": running, "queued": queued},
        "retries": {"runs_retried": retried, "extra_attempts": extra_attempts},
        "sweep": {"ticks": len(ticks),
                  "repairs": sum(int(t.get("repaired_total") or 0) for t in ticks),
                  "poison_redriven": sum(int(t.get("poison_redriven") or 0) for t in ticks),
                  "poison_parked": sum(int(t.get("poison_parked") or 0) for t in ticks),
                  "last_at": ticks[-1].get("at") if ticks else None},
    }


async def stats(req: func.HttpRequest, client: Any) -> func.HttpResponse:
    import asyncio

    from .inputs import check_query, int_param, utc_naive
    from .problems import json_response
    from .runs import _settings, describe, guarded, is_run

    @guarded
    async def answer(req: func.HttpRequest) -> func.HttpResponse:
        check_query(req.params, ("hours",))
        hours = int_param(req.params, "hours", default=24, low=1, high=720)
        now = datetime.now(timezone.utc)
        statuses = await client.get_status_by(created_time_from=utc_naive(now - timedelta(hours=hours)),
                                              created_time_to=utc_naive(now))
        views = [v for v in (describe(s) for s in statuses if is_run(s)) if v is not None]
        views.sort(key=lambda v: str(v.get("created_at")), reverse=True)
        ticks: list = []
        try:
            from ..reconcile.ticks import read_ticks
            from ..runs.ledger import RunLedger

            ticks = await asyncio.to_thread(read_ticks, RunLedger.from_settings(_settings()),
                                            since=now - timedelta(hours=hours))
        except Exception:  # the tick log is an extra: the run trends still answer
            ticks = []
        body = aggregate(views[:MAX_RUNS], now=now, hours=hours, ticks=ticks)
        body["runs_counted"] = min(len(views), MAX_RUNS)
        return json_response(200, body)

    return await answer(req)
