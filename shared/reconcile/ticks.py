"""The reconcile sweep's tick log: the last ticks' counts in one state document (``reconcile/ticks.json``),
so the dashboard can show repairs and poison counts over time. Bounded: the newest :data:`KEEP` ticks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

DOCUMENT = "reconcile/ticks.json"
KEEP = 96  # a day of ticks at the default schedule (every 15 minutes)
KEPT_COUNTS = ("repaired_total", "started", "repaired", "redelivered", "poison_redriven", "poison_parked",
               "poison_errors", "deadletter_redriven", "waiter_restarted", "route_errors", "ledger_errors")


def record_tick(store: Any, summary: dict, at: datetime) -> None:
    entry = {"at": at.isoformat(), **{k: int(summary.get(k) or 0) for k in KEPT_COUNTS}}

    def change(current: Any):
        ticks = current.get("ticks") if isinstance(current, dict) and isinstance(current.get("ticks"), list) else []
        return None, {"ticks": (ticks + [entry])[-KEEP:]}

    store.update(DOCUMENT, change)


def read_ticks(store: Any, *, since: datetime) -> list[dict]:
    document = store.read(DOCUMENT)
    ticks = document.get("ticks") if isinstance(document, dict) else None
    return [t for t in ticks or [] if isinstance(t, dict) and str(t.get("at", "")) >= since.isoformat()]
