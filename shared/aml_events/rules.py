"""Which job events to forward to the run (pure).

The per-job state (kept by :mod:`.store`) remembers the ids already seen, the newest forwarded status and
its event time. An event is forwarded at most once per id and per status; a non-terminal event older than
the newest forwarded one, or arriving after a terminal one, is out of order. A terminal claim is forwarded
once even when older (the orchestration confirms it with a status call). Events for a job whose run is not
known (yet) are parked, so that the run can collect them once its submit has recorded the job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..batch_endpoint.status import is_terminal
from .events import JobEvent

SEEN_IDS_KEPT = 50
PARKED_KEPT = 20

FORWARD = "forward"
IGNORE = "ignore"
PARK = "park"


@dataclass(frozen=True)
class Decision:
    action: str         # forward | ignore | park
    reason: str         # forwarded | duplicate | out_of_order | after_terminal | unknown_job


def decide(state: dict, event: JobEvent, run_id: Optional[str]) -> tuple[Decision, dict]:
    """The decision for ``event`` and the job's new state (``state`` itself is not modified)."""
    new = {**state, "job_name": event.job_name}
    seen = list(state.get("seen_ids") or [])
    if event.event_id in seen:
        return Decision(IGNORE, "duplicate"), new
    new["seen_ids"] = (seen + [event.event_id])[-SEEN_IDS_KEPT:]
    if run_id is None:
        parked = list(state.get("parked") or [])
        new["parked"] = (parked + [event.to_payload("parked")])[-PARKED_KEPT:]
        return Decision(PARK, "unknown_job"), new
    new["run_id"] = run_id
    last = state.get("last") or {}
    last_status, last_time = last.get("status"), last.get("event_time")
    if last_status == event.status:
        return Decision(IGNORE, "duplicate"), new
    if last_status and is_terminal(last_status):
        if not event.terminal:
            return Decision(IGNORE, "after_terminal"), new
    elif not event.terminal and last_time and event.event_time and event.event_time < last_time:
        return Decision(IGNORE, "out_of_order"), new
    new["last"] = {"status": event.status, "event_time": event.event_time, "event_id": event.event_id}
    return Decision(FORWARD, "forwarded"), new


def take_parked(state: dict, run_id: str) -> tuple[list[dict], dict]:
    """The parked events of a job now known to belong to ``run_id``, and the state without them."""
    parked = list(state.get("parked") or [])
    if not parked:
        return [], state
    new = {**state, "run_id": run_id, "parked": []}
    newest = max(parked, key=lambda p: (is_terminal(p["status"]), p.get("event_time") or ""))
    last = state.get("last") or {}
    if not last or is_terminal(newest["status"]) or (newest.get("event_time") or "") > (last.get("event_time") or ""):
        new["last"] = {"status": newest["status"], "event_time": newest.get("event_time"),
                       "event_id": newest.get("event_id")}
    return parked, new
