"""Durable waiters for the completion rules that need time: ``manifest`` and ``quiet_period``.

Deterministic generators: the only clock is ``context.current_utc_datetime``, every storage or Durable-client
call happens in an activity (``shared/landing/functions.py``), and logs are skipped while replaying. Neither
waiter starts a run itself: when its folder is complete it calls the ``landing_start_run`` activity, which
claims the run in the ledger and starts it (the same claim-then-start as every other run).

Both stay linear and bounded however many files a folder has: what they carry is counts plus the first few
names, and they ``continue_as_new`` every so many events or checks, so no episode replays an ever longer
history (replaying the whole history at every file event made the quiet waiter cost N² CPU).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Generator, Optional

import azure.durable_functions as df
from blueprints.registry import Activity, Orchestrator

from ..durable.waiting import ActivityFailed, Arrival, StandingWaits
from ..timefmt import format_time, parse_time
from ..runs import fencing

log = logging.getLogger(__name__)

FILE_EVENT = "file_landed"

ACTIVITY_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=5_000, max_number_of_attempts=4)
MANIFEST_FIRST_RECHECK_SECONDS = 2
MANIFEST_MAX_RECHECK_SECONDS = 60
LATE_WINDOW_MAX_SECONDS = 300
FILE_EVENTS_PER_EXECUTION = 100   # the quiet waiter continues as new after this many file events
CHECKS_PER_EXECUTION = 50         # the manifest waiter continues as new after this many checks
NAMES_KEPT = 10                   # file names kept in a waiter's state and status (counts say the rest)


class LandingFailed(Exception):
    """The folder never became complete (or cannot be used); the message says why."""


# In the failure text of a waiter that ended with a verdict on its folder: the sweep does not restart it
# (``healing.py``); a waiter that failed for any other reason (an outage) is restarted.
VERDICT_MARK = "folder verdict:"


class FolderVerdict(LandingFailed):
    """The folder itself cannot be run (incomplete after the wait, an unusable or over-size manifest)."""

    def __init__(self, message: str):
        super().__init__(f"{VERDICT_MARK} {message}")


def _info(context: Any, message: str, *args: Any) -> None:
    if not context.is_replaying:
        log.info(message, *args)


def _iso(moment: datetime) -> str:
    return format_time(moment, "milliseconds")


def _parse(text: str, clock: datetime) -> datetime:
    """A time this orchestration wrote (also an earlier version's ``+00:00`` form), comparable with ``clock``."""
    return parse_time(text, naive=clock.tzinfo is None)


def _job(job: dict) -> dict:
    """The waiter's job without what it carries across ``continue_as_new``."""
    return {k: v for k, v in job.items() if k not in ("progress", "collected")}


# --- manifest ----------------------------------------------------------------------------------------------

def manifest_orchestrator(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Optional[dict]]:
    """Wait until every file the manifest lists is present and matches, re-checking with durable timers
    (2 s doubling to 60 s) up to ``wait_minutes``; then start the run, or fail saying what is missing.
    Each check's answer holds counts and the first few names, never the whole list."""
    given = context.get_input()
    job = _job(given)
    if given.get("progress") is None:  # the first execution: check its fencing token before anything else
        stale = yield from _fence_begin(context, job, StandingWaits(context), lambda arrival: False)
        if stale is not None:
            return stale
    progress = dict(given.get("progress") or {"started_at": _iso(context.current_utc_datetime), "checks": 0,
                                               "delay": MANIFEST_FIRST_RECHECK_SECONDS})
    deadline = _parse(progress["started_at"], context.current_utc_datetime) + timedelta(minutes=job["wait_minutes"])
    for _ in range(CHECKS_PER_EXECUTION):
        check = yield context.call_activity_with_retry(Activity.LANDING_CHECK_MANIFEST, ACTIVITY_RETRY, job)
        progress["checks"] += 1
        if check.get("error"):
            raise FolderVerdict(f"manifest {job['folder_url']}{job['manifest_name']}: {check['error']}")
        if check.get("complete"):
            return (yield from _manifest_complete(context, job, progress["checks"]))
        now = context.current_utc_datetime
        missing, mismatched = check.get("missing") or [], check.get("mismatched") or []
        context.set_custom_status({"phase": "waiting_for_files", "folder_url": job["folder_url"],
                                   "checks": progress["checks"], "missing": missing[:NAMES_KEPT],
                                   "missing_count": int(check.get("missing_count", len(missing))),
                                   "mismatched": mismatched[:NAMES_KEPT],
                                   "mismatched_count": int(check.get("mismatched_count", len(mismatched))),
                                   "deadline": _iso(deadline)})
        if now >= deadline:
            raise FolderVerdict(f"folder {job['folder_url']} is still incomplete {job['wait_minutes']} minute(s) after"
                                f" its manifest landed ({progress['checks']} checks): {check.get('summary', '')}")
        yield context.create_timer(min(now + timedelta(seconds=progress["delay"]), deadline))
        progress["delay"] = min(progress["delay"] * 2, MANIFEST_MAX_RECHECK_SECONDS)
    context.continue_as_new({**job, "progress": progress})
    return None


def _manifest_complete(context: Any, job: dict, checks: int) -> Generator[Any, Any, dict]:
    _info(context, "landing: folder %s is complete per its manifest after %d check(s)", job["folder_url"], checks)
    result = yield context.call_activity_with_retry(Activity.LANDING_START_RUN, ACTIVITY_RETRY,
                                                    {**job, "details": {"manifest_etag": job["manifest_etag"],
                                                                        "manifest_checks": checks}})
    context.set_custom_status({"phase": "done", "folder_url": job["folder_url"], **result})
    yield from fencing.end(context, fencing.read_fence(job.get("fence")), result.get("action"), result)
    return result


def _fence_begin(context: Any, job: dict, waits: StandingWaits, on_arrival: Any) -> Generator[Any, Any, Optional[dict]]:
    """A waiter's fencing check (``shared/runs/fencing.py``): ``None`` to go on, else its final answer. A
    late start of a waiter that already ended (or was superseded) ends at once: it starts no run."""
    try:
        stale = yield from fencing.begin(context, fencing.read_fence(job.get("fence")), waits, on_arrival)
    except ActivityFailed as exc:
        raise LandingFailed(f"could not check the waiter's fencing token: {exc}") from None
    if stale is None:
        return None
    _info(context, "landing: waiter for %s not executed again: %s", job["folder_url"], stale.get("reason"))
    answer = {**(stale.get("summary") or {"run_id": job["run_id"]}),
              "fenced": {"action": stale.get("action"), "reason": stale.get("reason"), "epoch": stale.get("epoch")}}
    context.set_custom_status({"phase": stale.get("action"), "folder_url": job["folder_url"],
                               "reason": stale.get("reason")})
    return answer


# --- quiet period ------------------------------------------------------------------------------------------

class _Files:
    """What the quiet waiter knows about its folder: event count, the newest event's time, the first names.
    Carried across ``continue_as_new`` as ``collected``."""

    def __init__(self, context: Any, job: dict, collected: Optional[dict]):
        self.context = context
        first = job.get("first_file") or {}
        collected = collected or {"events": 1, "last_at": _iso(context.current_utc_datetime),
                                  "first_names": [first["name"]] if first.get("name") else []}
        self.events: int = int(collected["events"])
        self.last_at = _parse(collected["last_at"], self.context.current_utc_datetime)
        self.first_names: list = list(collected["first_names"])[:NAMES_KEPT]
        self.here = 0   # file events taken in this execution

    def take(self, arrival: Arrival) -> bool:
        """One ``file_landed`` event; True once this execution took its share (time to continue as new)."""
        self.events += 1
        self.here += 1
        self.last_at = self.context.current_utc_datetime
        name = arrival.value.get("name") if isinstance(arrival.value, dict) else None
        if name and len(self.first_names) < NAMES_KEPT and name not in self.first_names:
            self.first_names.append(name)
        return self.here >= FILE_EVENTS_PER_EXECUTION

    def to_dict(self) -> dict:
        return {"events": self.events, "last_at": _iso(self.last_at), "first_names": self.first_names}


def quiet_orchestrator(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Optional[dict]]:
    """One per folder: every landed file raises ``file_landed``; the folder is complete once no file landed
    for ``quiet_seconds``. Then start the folder's run. Files that land once the run is being started are
    late: they are collected for a short window, recorded on the run's ledger record, and returned (events
    after this orchestration ended get HTTP 410 in the landing handler, which reports them the same way).

    One timer at a time (a file event moves the end of the quiet period, not the timer: when the timer fires
    early the waiter sleeps again until the new end), and ``continue_as_new`` every
    ``FILE_EVENTS_PER_EXECUTION`` events after draining the episode's events."""
    given = context.get_input()
    job = _job(given)
    quiet = timedelta(seconds=job["quiet_seconds"])
    waits = StandingWaits(context, [FILE_EVENT])
    files = _Files(context, job, given.get("collected"))
    if given.get("collected") is None:  # the first execution: check its fencing token before anything else
        stale = yield from _fence_begin(context, job, waits, lambda arrival: files.take(arrival) and False)
        if stale is not None:
            return stale
    while context.current_utc_datetime < files.last_at + quiet:
        if files.here >= FILE_EVENTS_PER_EXECUTION:
            yield from waits.drain(lambda arrival: files.take(arrival) and False)
            context.continue_as_new({**job, "collected": files.to_dict()})
            return None
        context.set_custom_status({"phase": "collecting", "folder_url": job["folder_url"], "events": files.events,
                                   "first_files": files.first_names,
                                   "quiet_until": _iso(files.last_at + quiet)})
        yield from waits.sleep_until(files.last_at + quiet, files.take)
    _info(context, "landing: folder %s quiet for %ss after %d file event(s)", job["folder_url"],
          job["quiet_seconds"], files.events)

    late = _LateFiles()
    try:
        _, result = yield from waits.call_with_retry(
            Activity.LANDING_START_RUN, {**job, "details": {"file_events": files.events}}, late.take,
            attempts=ACTIVITY_RETRY.max_number_of_attempts,
            first_delay=timedelta(milliseconds=ACTIVITY_RETRY.first_retry_interval_in_milliseconds))
        context.set_custom_status({"phase": "submitted", "folder_url": job["folder_url"], **result})
        window = timedelta(seconds=min(job["quiet_seconds"], LATE_WINDOW_MAX_SECONDS))
        yield from waits.sleep_until(context.current_utc_datetime + window, late.take)
        while late.pending:  # files may keep landing while the report is written
            batch, late.pending = late.pending, []
            yield from waits.call_with_retry(
                Activity.LANDING_REPORT_LATE, {"route": job["route"], "run_id": job["run_id"],
                                       "folder_url": job["folder_url"], "files": batch}, late.take,
                attempts=ACTIVITY_RETRY.max_number_of_attempts,
                first_delay=timedelta(milliseconds=ACTIVITY_RETRY.first_retry_interval_in_milliseconds))
    except ActivityFailed as exc:
        raise LandingFailed(str(exc)) from None
    if late.count and not context.is_replaying:
        log.warning("landing: %d file(s) landed in %s after its run %s was started; reported, not re-run",
                    late.count, job["folder_url"], job["run_id"])
    summary = {**result, "late_files": late.first, "late_count": late.count}
    yield from fencing.end(context, fencing.read_fence(job.get("fence")), result.get("action"), summary)
    return summary


class _LateFiles:
    """Files that landed after the run was started: the ones still to report, a count, the first few."""

    def __init__(self) -> None:
        self.pending: list = []
        self.first: list = []
        self.count = 0
        self._seen_recent: list = []

    def take(self, arrival: Arrival) -> bool:
        file = arrival.value
        if file in self.pending or file in self._seen_recent:  # a redelivered event
            return False
        self.pending.append(file)
        self._seen_recent = (self._seen_recent + [file])[-NAMES_KEPT:]
        self.count += 1
        if len(self.first) < NAMES_KEPT:
            self.first.append(file)
        return False  # never interrupts: late files are reported, the run goes on
