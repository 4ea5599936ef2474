"""``GET /api/runs/stats``: the aggregate (pure) and the sweep's tick log on Azurite."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from azure.storage.blob import BlobServiceClient

from shared.http_api.stats import BUCKETS, aggregate, percentile
from shared.reconcile.ticks import KEEP, read_ticks, record_tick
from shared.storage.state import StateStore

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def run(route, status, created_min_ago, seconds=None, **extra):
    created = NOW - timedelta(minutes=created_min_ago)
    view = {"route": route, "status": status, "created_at": created.isoformat(), **extra}
    if seconds is not None:
        view["started_at"] = created.isoformat()
        view["finished_at"] = (created + timedelta(seconds=seconds)).isoformat()
    return view


def test_percentiles_are_nearest_rank():
    assert percentile([], 50) is None
    assert percentile([5.0], 95) == 5.0
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95)) == (50.0, 95.0)


def test_runs_are_bucketed_by_creation_and_stacked_by_status():
    views = [run("a", "Succeeded", 10, 60), run("a", "Failed", 15, 120), run("b", "Succeeded", 23 * 60 + 30, 30),
             run("a", "Running", 5, phase="Queued"), run("a", "Running", 2, attempt=3),
             run("a", "Succeeded", 48 * 60, 10)]  # outside the window: counted in totals, not in the series
    stats = aggregate(views, now=NOW, hours=24, ticks=[])
    assert len(stats["series"]) == BUCKETS and stats["window"]["bucket_seconds"] == 3600
    last, first = stats["series"][-1], stats["series"][0]
    assert (last["Succeeded"], last["Failed"], last["Running"]) == (1, 1, 2)
    assert first["Succeeded"] == 1
    assert sum(b["Succeeded"] for b in stats["series"]) == 2
    assert stats["now"] == {"running": 2, "queued": 1}
    assert stats["retries"] == {"runs_retried": 1, "extra_attempts": 2}
    assert stats["durations"] == [
        {"route": "a", "runs": 3, "p50_seconds": 60.0, "p95_seconds": 120.0},
        {"route": "b", "runs": 1, "p50_seconds": 30.0, "p95_seconds": 30.0}]


def test_sweep_ticks_are_summed():
    ticks = [{"at": "t1", "repaired_total": 3, "poison_redriven": 1}, {"at": "t2", "repaired_total": 2,
                                                                       "poison_parked": 4}, "junk"]
    sweep = aggregate([], now=NOW, hours=24, ticks=ticks)["sweep"]
    assert sweep == {"ticks": 2, "repairs": 5, "poison_redriven": 1, "poison_parked": 4, "last_at": "t2"}


def test_the_tick_log_keeps_the_newest_ticks_on_azurite(azurite):
    service = BlobServiceClient.from_connection_string(azurite.connection_string())
    store = StateStore(service.get_container_client("ticks-log"))
    for i in range(KEEP + 3):
        record_tick(store, {"repaired_total": i, "poison_parked": 1, "anything_else": 7},
                    NOW - timedelta(minutes=15 * (KEEP + 2 - i)))
    ticks = read_ticks(store, since=NOW - timedelta(days=2))
    assert len(ticks) == KEEP and ticks[-1]["repaired_total"] == KEEP + 2 and "anything_else" not in ticks[-1]
    assert len(read_ticks(store, since=NOW - timedelta(hours=1))) == 5
