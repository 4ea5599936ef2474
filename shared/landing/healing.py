"""Waiters that heal: a landing waiter that failed, was terminated or vanished before its folder's run started
is restarted, with the same instance id and job (so the same run id), exactly once per failure.

Why: a waiter's claim says ``started`` once its instance exists, and claims never start an instance again
(``shared/runs/starter.py``). When an outage exhausts the retries of ``landing_start_run`` the waiter fails,
its claim still says ``started``, and nothing would ever run the folder: the sweep and backfill count it as
``waiting`` and a new file's event is a late file of a run that does not exist.

Exactly once: the restart is recorded on the waiter's claim record with an ETag-checked write before
``start_new`` is called, keyed on the failed execution (``restarted_from``: its status and last update time,
or ``vanished``). Two sweeps (or a sweep and an event) that race see one record; the one whose write lands
restarts, the other finds the failure already taken and starts nothing. A restart whose ``start_new`` never
went through is taken again once ``RESTART_LEASE_SECONDS`` have passed. At most ``MAX_WAITER_RESTARTS``
restarts per waiter; then it is left for an operator (logged, counted).

A waiter that ended with a verdict on its folder (``FolderVerdict``: the manifest is unusable or too large,
the folder stayed incomplete) is not restarted: running it again would say the same. Nor is one that
completed (its run started, or its folder was rejected with a reason).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from ..runs import claims
from ..timefmt import format_time, try_parse_time

log = logging.getLogger(__name__)

MAX_WAITER_RESTARTS = 5
RESTART_LEASE_SECONDS = 300

# What ``heal_waiter`` found; the sweep counts these.
ALIVE = "waiting"                   # running (or pending): it owns its folder
ENDED = "waiter_ended"              # completed, or failed with a verdict on its folder: nothing to heal
RESTARTED = "waiter_restarted"      # it was dead and this caller restarted it
TAKEN = "waiter_restart_taken"      # it was dead and another caller's restart is under way
GIVEN_UP = "waiter_given_up"        # dead after MAX_WAITER_RESTARTS restarts: left for an operator
WOULD_RESTART = "would_restart"     # dry run

ACTIVE = frozenset({"Pending", "Running", "ContinuedAsNew", "Suspended"})
RESTARTABLE = frozenset({"Failed", "Terminated", "Canceled"})
# The fields of a waiter's job kept on its claim record (``handler._start_waiter`` stores the job there).
JOB_FIELDS = ("mode", "route", "folder_url", "run_id", "manifest_name", "manifest_etag", "wait_minutes",
              "event_id", "quiet_seconds", "first_file")


def _status_name(status: Any) -> Optional[str]:
    """The runtime status as text, or ``None`` when the instance does not exist."""
    if status is None or not getattr(status, "instance_id", None):
        return None
    value = getattr(status, "runtime_status", None)
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _execution(status: Any, name: Optional[str]) -> str:
    """What identifies one dead execution: a later failure of the restarted waiter is another one."""
    if name is None:
        return "vanished"
    updated = getattr(status, "last_updated_time", None)
    return f"{name}@{updated.isoformat() if hasattr(updated, 'isoformat') else updated}"


def job_of(record: dict) -> dict:
    return {k: record[k] for k in JOB_FIELDS if k in record}


def orchestrator_of(job: dict) -> Optional[str]:
    from blueprints.registry import Orchestrator

    return {"manifest": Orchestrator.LANDING_MANIFEST, "quiet_period": Orchestrator.LANDING_QUIET}.get(job.get("mode"))


def _is_verdict(status: Any) -> bool:
    from .orchestrations import VERDICT_MARK

    return VERDICT_MARK in str(getattr(status, "output", "") or "")


async def heal_waiter(ctx: Any, client: Any, waiter_id: str, *, dry_run: bool = False,
                      now: Optional[datetime] = None) -> str:
    """Look at waiter ``waiter_id`` (its claim is ``started``) and restart it if it died before its run started.

    Returns one of the constants above. Raises when storage or the Durable client cannot answer (the caller
    counts an error; the next tick looks again)."""
    book = ctx.store.waiter_claims
    record = await asyncio.to_thread(book.read, waiter_id)
    if not isinstance(record, dict) or claims.state_of(record) != claims.STARTED:
        return ALIVE  # not started yet: the claims (starter.py) own it
    if record.get("settled"):
        return ENDED
    status = await client.get_status(waiter_id)
    name = _status_name(status)
    if name in ACTIVE:
        return ALIVE
    if name is not None and (name not in RESTARTABLE or _is_verdict(status)):
        if not dry_run:  # later ticks skip it without asking the Durable client
            await asyncio.to_thread(book.store.update, book.name(waiter_id),
                                    lambda current: (None, {**current, "settled": name}
                                                     if isinstance(current, dict) else None))
        return ENDED
    job = job_of(record)
    orchestrator = orchestrator_of(job)
    run_id = job.get("run_id")
    if orchestrator is None or not run_id:
        log.error("landing: waiter %s died and its claim does not say how to restart it; left for an operator",
                  waiter_id)
        return GIVEN_UP
    run = await asyncio.to_thread(ctx.store.ledger.get, run_id)
    if isinstance(run, dict) and claims.state_of(run) == claims.STARTED:  # its run started: nothing to heal
        return ENDED
    if dry_run:
        return WOULD_RESTART
    outcome = await asyncio.to_thread(_take_restart, book, waiter_id, record, _execution(status, name),
                                      now or datetime.now(timezone.utc))
    if outcome != RESTARTED:
        if outcome == GIVEN_UP:
            log.error("landing: waiter %s for %s is %s after %d restart(s); left for an operator", waiter_id,
                      job.get("folder_url"), name or "gone", MAX_WAITER_RESTARTS)
        return outcome
    await client.start_new(orchestrator, instance_id=waiter_id, client_input=job)
    log.warning("landing: waiter %s for %s was %s before its run %s started; restarted it", waiter_id,
                job.get("folder_url"), name or "gone", run_id)
    return RESTARTED


def _take_restart(book: Any, waiter_id: str, seen: dict, execution: str, now: datetime) -> str:
    """Record the restart of ``execution`` on the claim with an ETag-checked write; who writes it restarts."""
    seen_restarts = int(seen.get("restarts") or 0)

    def change(current: Optional[dict]):
        if not isinstance(current, dict) or claims.state_of(current) != claims.STARTED:
            return TAKEN, None
        restarts = int(current.get("restarts") or 0)
        if current.get("restarted_from") == execution:
            at = try_parse_time(current.get("restarted_at"), naive=now.tzinfo is None)
            if at is not None and now - at < timedelta(seconds=RESTART_LEASE_SECONDS):
                return TAKEN, None  # someone restarts this very failure now
        elif restarts != seen_restarts:
            return TAKEN, None  # restarted since we looked
        if restarts >= MAX_WAITER_RESTARTS:
            return GIVEN_UP, None
        return RESTARTED, {**current, "restarts": restarts + 1, "restarted_from": execution,
                           "restarted_at": format_time(now, "milliseconds")}

    return book.store.update(book.name(waiter_id), change)
