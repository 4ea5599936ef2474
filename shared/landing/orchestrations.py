"""Durable waiters for the completion rules that need time: ``manifest`` and ``quiet_period``.

Deterministic generators: the only clock is ``context.current_utc_datetime``, every storage or Durable-client
call happens in an activity (``shared/landing/functions.py``), and logs are skipped while replaying. Neither
waiter starts a run itself: when its folder is complete it calls the ``landing_start_run`` activity, which
claims the run in the ledger and starts it (the same claim-then-start as every other run).
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any, Generator

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskState

log = logging.getLogger(__name__)

MANIFEST_ORCHESTRATOR = "landing_manifest_orchestrator"
QUIET_ORCHESTRATOR = "landing_quiet_orchestrator"
CHECK_MANIFEST_ACTIVITY = "landing_check_manifest"
START_RUN_ACTIVITY = "landing_start_run"
REPORT_LATE_ACTIVITY = "landing_report_late"
FILE_EVENT = "file_landed"

ACTIVITY_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=5_000, max_number_of_attempts=4)
MANIFEST_FIRST_RECHECK_SECONDS = 2
MANIFEST_MAX_RECHECK_SECONDS = 60
LATE_WINDOW_MAX_SECONDS = 300


class LandingFailed(Exception):
    """The folder never became complete (or cannot be used); the message says why."""


def _info(context: Any, message: str, *args: Any) -> None:
    if not context.is_replaying:
        log.info(message, *args)


def manifest_orchestrator(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict]:
    """Wait until every file the manifest lists is present and matches, re-checking with durable timers
    (2 s doubling to 60 s) up to ``wait_minutes``; then start the run, or fail listing what is missing."""
    job = context.get_input()
    started = context.current_utc_datetime
    deadline = started + timedelta(minutes=job["wait_minutes"])
    delay = MANIFEST_FIRST_RECHECK_SECONDS
    checks = 0
    while True:
        check = yield context.call_activity_with_retry(CHECK_MANIFEST_ACTIVITY, ACTIVITY_RETRY, job)
        checks += 1
        if check.get("error"):
            raise LandingFailed(f"manifest {job['folder_url']}{job['manifest_name']}: {check['error']}")
        if check.get("complete"):
            break
        now = context.current_utc_datetime
        context.set_custom_status({"phase": "waiting_for_files", "folder_url": job["folder_url"],
                                   "checks": checks, "missing": check.get("missing", [])[:50],
                                   "mismatched": check.get("mismatched", [])[:50],
                                   "deadline": deadline.isoformat()})
        if now >= deadline:
            raise LandingFailed(f"folder {job['folder_url']} is still incomplete {job['wait_minutes']} minute(s) after"
                                f" its manifest landed ({checks} checks): {check.get('summary', '')}")
        yield context.create_timer(min(now + timedelta(seconds=delay), deadline))
        delay = min(delay * 2, MANIFEST_MAX_RECHECK_SECONDS)
    _info(context, "landing: folder %s is complete per its manifest after %d check(s)", job["folder_url"], checks)
    result = yield context.call_activity_with_retry(START_RUN_ACTIVITY, ACTIVITY_RETRY,
                                                    {**job, "details": {"manifest_etag": job["manifest_etag"],
                                                                        "manifest_checks": checks}})
    context.set_custom_status({"phase": "done", "folder_url": job["folder_url"], **result})
    return result


class _FileEvents:
    """Keeps one ``file_landed`` wait open at every yield of the quiet waiter.

    Durable Python 1.x buffers an external event that arrives while no wait for it is open in a single
    "deferred" slot that is never cleared: every later ``wait_for_external_event`` of that name completes at
    once with the same stale payload (checked by a replay test). So the waiter never yields on an activity or
    a timer alone: it always races it against the open wait, and takes files as they come.
    """

    def __init__(self, context: Any):
        self.context = context
        self.pending = context.wait_for_external_event(FILE_EVENT)

    def take(self) -> Any:
        payload = self.pending.result
        if isinstance(payload, str):  # the Python client's raise_event arrives as JSON text (durable-python #295)
            try:
                payload = json.loads(payload)
            except ValueError:
                pass
        self.pending = self.context.wait_for_external_event(FILE_EVENT)
        return payload

    def until(self, task: Any, on_file: Any) -> Generator[Any, Any, Any]:
        """Yield until ``task`` completes; hand every file that lands meanwhile to ``on_file``."""
        while True:
            winner = yield self.context.task_any([task, self.pending])
            if winner is task:
                return task
            on_file(self.take())


def _call_with_retry(context: Any, events: _FileEvents, name: str, payload: dict,
                     on_file: Any) -> Generator[Any, Any, Any]:
    """``call_activity`` with retries whose waits are raced against file events (see :class:`_FileEvents`)."""
    delay = timedelta(milliseconds=ACTIVITY_RETRY.first_retry_interval_in_milliseconds)
    for attempt in range(1, ACTIVITY_RETRY.max_number_of_attempts + 1):
        task = yield from events.until(context.call_activity(name, payload), on_file)
        if task.state is not TaskState.FAILED:
            return task.result
        if attempt == ACTIVITY_RETRY.max_number_of_attempts:
            raise LandingFailed(f"activity {name} failed {attempt} times: {_error_text(task.result)}")
        yield from events.until(context.create_timer(context.current_utc_datetime + delay), on_file)
        delay *= 2
    raise AssertionError("unreachable")


def _error_text(error: Any) -> str:
    text = str(error).split("$OutOfProcData$", 1)[0].strip()
    return " ".join(part.strip() for part in text.splitlines() if part.strip())[:1000]


def quiet_orchestrator(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict]:
    """One per folder: every landed file raises ``file_landed``; each resets a ``quiet_seconds`` timer. When
    the timer wins, start the folder's run. Files that land once the run is being started are late: they are
    collected for a short window, recorded on the run's ledger record, and returned. (Events after this
    orchestration ended get HTTP 410 in the landing handler, which reports them the same way.)"""
    job = context.get_input()
    quiet = timedelta(seconds=job["quiet_seconds"])
    events = _FileEvents(context)
    files = 1
    while True:
        timer = context.create_timer(context.current_utc_datetime + quiet)
        winner = yield context.task_any([timer, events.pending])
        if winner is timer:
            break
        timer.cancel()
        events.take()
        files += 1
        context.set_custom_status({"phase": "collecting", "folder_url": job["folder_url"], "events": files})
    _info(context, "landing: folder %s quiet for %ss after %d file event(s)", job["folder_url"],
          job["quiet_seconds"], files)

    late: list = []

    def note_late(file: Any) -> None:
        if file not in late:
            late.append(file)

    result = yield from _call_with_retry(context, events, START_RUN_ACTIVITY,
                                         {**job, "details": {"file_events": files}}, note_late)
    context.set_custom_status({"phase": "submitted", "folder_url": job["folder_url"], **result})
    window = timedelta(seconds=min(job["quiet_seconds"], LATE_WINDOW_MAX_SECONDS))
    yield from events.until(context.create_timer(context.current_utc_datetime + window), note_late)
    reported = 0
    while reported < len(late):  # files may keep landing while the report is written
        batch = late[reported:]
        yield from _call_with_retry(context, events, REPORT_LATE_ACTIVITY,
                                    {"route": job["route"], "run_id": job["run_id"],
                                     "folder_url": job["folder_url"], "files": batch}, note_late)
        reported += len(batch)
    if late and not context.is_replaying:
        log.warning("landing: %d file(s) landed in %s after its run %s was started; reported, not re-run",
                    len(late), job["folder_url"], job["run_id"])
    return {**result, "late_files": late}
