"""The Azure ML run-event function's body, and the activity that collects events parked before submit.

Flow for one event: parse → look the job up in the run ledger (``jobs/<job_name>`` → run id, written by
the submit activity) → decide against the job's event state (duplicates, out-of-order, after terminal)
→ ``raise_event(run_id, "job_status", payload)``.

The race with submit: the batch service can emit a job's first events before the submit activity has
written ``jobs/<job_name>``. Such an event is *parked* in the job's event state, and then the ledger is
read again. Whichever of the two sides writes last sees the other's write: either this handler finds the
mapping on its second read and forwards the event itself, or the run's ``take_early_job_events`` activity
(called after submit returned, so after the mapping exists) finds the parked event. Both may happen; the
orchestration drops the duplicate by event id. Events of jobs this app never started stay parked and are
counted as ``unknown_job``.

Child runs: an event whose run id the ledger does not know may name the job's ``batchscoring`` child
(reference §8). Its parent is looked up once (:mod:`.parents`, remembered in the child's event state); the
event then counts as an event of the parent job (its state, parking and forwarding), carries ``child_run``,
and is counted ``forwarded_child_run``, so a run's details say which run id its events named.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any, Optional

from ..paths import is_valid_run_id
from ..redact import shown
from ..runs.models import JOB_STATUS_EVENT
from .events import JobEvent, NotAJobEvent, parse_job_event
from .rules import FORWARD, PARK, decide, take_parked

log = logging.getLogger(__name__)

#: Outcomes of handled events in this worker process, by reason (also logged one line per event).
EVENT_COUNTS: Counter = Counter()


def _count(reason: str, event: Optional[JobEvent], detail: str = "") -> str:
    if event is not None and event.child_run and reason == "forwarded":
        reason = "forwarded_child_run"
    EVENT_COUNTS[reason] += 1
    job = f" job {event.job_name} {event.status}" if event else ""
    child = f" (named its child run {event.child_run})" if event is not None and event.child_run else ""
    log.info("aml event%s%s: %s%s", job, child, reason, f" ({shown(detail, 300)})" if detail else "")
    from .. import telemetry

    telemetry.count_job_event(reason, "child_run" if event is not None and event.child_run else "job")
    return reason


async def _parent_job(event: JobEvent, parents: Any, store: Any) -> Optional[str]:
    """The parent job of ``event``'s run (remembered in its event state after the first look-up), or None."""
    from .parents import NO_PARENT

    state = await asyncio.to_thread(store.get, event.job_name) or {}
    if isinstance(state.get("parent_job"), str):
        return state["parent_job"] or None
    parent = await asyncio.to_thread(parents.parent_of, event.job_name, event.topic)
    if parent is None:
        return None   # no answer now: the next event of this run asks again
    await asyncio.to_thread(store.update, event.job_name,
                            lambda current: (None, {**current, "parent_job": parent}))
    return parent or None


async def handle_job_event(event: Any, client: Any, *, ledger: Any, store: Any, parents: Any = None) -> str:
    """Route one Event Grid event to its run; returns the counted reason (``forwarded``,
    ``forwarded_child_run`` or why not). ``parents`` (:class:`.parents.ParentLookup`) maps child runs."""
    try:
        job_event = parse_job_event(event)
    except NotAJobEvent as exc:
        return _count(exc.reason, None, str(exc))

    run_id = await asyncio.to_thread(ledger.run_for_job, job_event.job_name)
    if run_id is None and parents is not None:
        parent = await _parent_job(job_event, parents, store)
        if parent is not None:
            job_event = job_event.for_parent(parent)
            run_id = await asyncio.to_thread(ledger.run_for_job, parent)
    decision = await asyncio.to_thread(store.update, job_event.job_name,
                                       lambda state: decide(state, job_event, run_id))
    if decision.action == PARK:
        run_id = await asyncio.to_thread(ledger.run_for_job, job_event.job_name)
        if run_id is None:
            return _count("unknown_job", job_event, "parked")
        # The submit activity recorded the job meanwhile: forward now (the run may also collect the
        # parked copy; it drops the duplicate by event id).
        decision = await asyncio.to_thread(store.update, job_event.job_name,
                                           lambda state: _after_park(state, job_event, run_id))
    if decision.action != FORWARD:
        return _count(decision.reason, job_event)
    if not is_valid_run_id(run_id):  # the ledger's answer names a Durable instance: checked before any URL
        return _count("unsafe_name", job_event, f"the ledger maps the job to an invalid run id {shown(run_id, 80)}")
    try:
        await client.raise_event(run_id, JOB_STATUS_EVENT, job_event.to_payload())
    except Exception as exc:  # the run has finished or was purged: nothing is waiting any more
        return _count("run_not_running", job_event, shown(f"{type(exc).__name__}: {exc}", 200))
    return _count("forwarded", job_event, f"run {run_id}")


def _after_park(state: dict, event: JobEvent, run_id: str):
    """Second look once the mapping exists: forward unless the state already forwarded this status."""
    seen = [i for i in (state.get("seen_ids") or []) if i != event.event_id]
    return decide({**state, "seen_ids": seen}, event, run_id)


def take_early_job_events(payload: dict, store: Any = None, settings: Any = None) -> dict:
    """Activity body: the events parked for ``payload['job_name']`` before its run was known."""
    if store is None:
        from ..config import load_settings
        from .store import JobEventStore

        store = JobEventStore.from_settings(settings or load_settings())
    job_name, run_id = payload["job_name"], payload["run_id"]
    parked = store.update(job_name, lambda state: take_parked(state, run_id))
    return {"events": parked}
