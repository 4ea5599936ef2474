"""The run orchestration: submit one job, watch it until it ends, deliver its outputs, notify.

Read it top to bottom: :func:`run_orchestrator` → :func:`_submit` → :func:`_monitor` (the loop) → how a run
ends (:func:`_finish_ended_job`, :func:`_end_by_cancelling`).

* **State.** Everything the run knows lives in one :class:`~shared.runs.state.MonitorState`; it is the
  ``monitor`` part of the input, the custom status, and what ``continue_as_new`` carries to the next
  execution. A cancel request and an event's terminal claim are fields of it, so they survive too.
* **Waiting.** Every yield races one activity or timer against the standing ``cancel`` and ``job_status``
  waits (:mod:`shared.durable.waiting`); events are absorbed into the state as they arrive and the loop acts
  on the state, never on an event directly.
* **Long runs.** After ``polls_per_execution`` status calls the monitor drains the events already delivered
  and continues as new with its state. A status it cannot read never ends the run: it keeps polling with a
  capped back-off until the deadline, where it cancels the job first.

Deterministic by construction: the only clock is ``context.current_utc_datetime``, all I/O happens in
activities, and logging is skipped while replaying.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Generator, Optional

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskState
from blueprints.registry import Activity

from ..aml_events.events import payload_from_orchestration
from ..batch_endpoint.status import is_terminal, normalise
from ..config.models import PollPolicy
from ..delivery.orchestration import deliver_outputs, notify
from ..durable.waiting import ActivityFailed, Arrival, StandingWaits, error_text
from ..redact import redact
from . import fencing
from .models import CANCEL_EVENT, JOB_STATUS_EVENT, RESOLVE_EVENT, SUBMIT_UNCERTAIN, iso, parse_iso, run_summary
from .schedule import NEAR_STATUSES, MonitorView, plan_next_poll
from .state import CancelRequest, Claim, MonitorState, clean_event_id, clean_event_time

log = logging.getLogger(__name__)


# Retries on top of the client's own: each attempt already retried transient HTTP faults for about a minute.
SUBMIT_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=30_000, max_number_of_attempts=3)
CANCEL_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=10_000, max_number_of_attempts=3)
CANCEL_CONFIRM_POLLS = 10


class _Run:
    """One execution's view of the run: its input, its :class:`MonitorState`, and its standing waits."""

    def __init__(self, context: df.DurableOrchestrationContext, data: dict):
        self.context = context
        self.run: dict = data["run"]
        self.state = MonitorState.from_dict(data.get("monitor"), attempt=int(self.run.get("attempt") or 1))
        self.policy = PollPolicy.from_dict(self.run["poll"])
        self.waits = StandingWaits(context, [JOB_STATUS_EVENT, RESOLVE_EVENT], latched=[CANCEL_EVENT])

    @property
    def now(self):
        return self.context.current_utc_datetime

    def publish(self, phase: Optional[str] = None) -> None:
        if phase is not None:
            self.state.phase = phase
        self.context.set_custom_status({"run_id": self.run["run_id"], "route": self.run["route"],
                                        **self.state.to_dict()})

    def info(self, message: str, *args: Any) -> None:
        if not self.context.is_replaying:
            log.info("run %s: " + message, self.run["run_id"], *(redact(a) if isinstance(a, str) else a for a in args))

    def job_payload(self) -> dict:
        return {"route": self.run["route"], "run_id": self.run["run_id"], "job_name": self.state.job_name,
                **self.pinned()}

    def pinned(self) -> dict:
        """The endpoint the run submitted to (``shared/runs/pinning.py``), for every call about its job."""
        return {"endpoint": self.run["endpoint"]} if self.run.get("endpoint") is not None else {}

    def view(self) -> MonitorView:
        s = self.state
        elapsed = (self.now - parse_iso(s.submitted_at)).total_seconds() if s.submitted_at else 0.0
        return MonitorView(elapsed=elapsed, polls=s.polls, status=s.status_for_schedule(), estimate=s.estimate,
                           recheck=s.recheck, status_errors=s.status_errors, since_output=self.since_output())

    def since_output(self) -> Optional[float]:
        """Seconds since an output hint, while it still asks for a close watch: until a status call after it
        shows the job is not finalizing (an early hint costs that one call), or the close watch ends."""
        s = self.state
        if not s.output_hint_at:
            return None
        polled_since = s.last_polled_at is not None and s.last_polled_at >= s.output_hint_at
        if polled_since and s.job_status not in NEAR_STATUSES:
            return None
        return (self.now - parse_iso(s.output_hint_at)).total_seconds()

    def ended(self, outcome: str, *, error: Optional[str] = None, outputs: Optional[list] = None) -> dict:
        """The run's summary (the orchestration's output); published as the final custom status too."""
        self.state.error = redact(error) if error else None
        self.publish(outcome)
        self.info("ended %s%s", outcome, f": {self.state.error}" if error else "")
        return run_summary(self.run, self.state.to_dict(), outcome, error=self.state.error, outputs=outputs,
                           finished_at=iso(self.now))

    # -- events: absorbed into the state, never acted on here ------------------------------------------

    def take(self, arrival: Arrival) -> None:
        if arrival.name == CANCEL_EVENT:
            if self.state.cancel is None:
                self.state.cancel = CancelRequest.from_value(arrival.value)
            return
        if arrival.name == RESOLVE_EVENT:
            self._take_resolution(arrival.value)
            return
        self._take_job_event(arrival.value)

    def _take_resolution(self, value: Any) -> None:
        """An operator's (or the sweep's) answer to an uncertain submit; kept only when it answers the
        attempt the run is waiting on, and its job name passes the grammar."""
        from ..paths import InvalidName, check_job_name

        s = self.state
        if not isinstance(value, dict) or s.uncertain is None or s.resolution is not None \
                or value.get("attempt") != s.uncertain.get("attempt"):
            s.count_event("stale_resolution")
            return
        by = value.get("by") if value.get("by") in ("operator", "sweep") else "operator"
        if value.get("action") == "resubmit":
            s.resolution = {"action": "resubmit", "by": by}
        elif value.get("action") == "confirm":
            try:
                s.resolution = {"action": "confirm", "job_name": check_job_name(value.get("job_name")), "by": by}
            except InvalidName:
                s.count_event("malformed")
        else:
            s.count_event("malformed")

    def _take_job_event(self, value: Any) -> None:
        s = self.state
        payload = payload_from_orchestration(value)
        if payload is None:
            s.count_event("malformed")
            return
        event_id, event_time = clean_event_id(payload.get("event_id")), clean_event_time(payload.get("event_time"))
        if s.seen_event(event_id):
            s.count_event("duplicate")
            return
        job = payload.get("job_name")
        if job and s.job_name and job != s.job_name:
            s.count_event("other_job")
            return
        s.count_event("received")
        if payload.get("signal") == "output":
            # the job wrote its output (shared/output_events): it is about to end. A hint, never an answer:
            # one status call a few seconds later confirms it (schedule: close watch)
            s.count_event("output_hint")
            s.output_hint_at = iso(self.now)
            return
        if payload.get("child_run"):   # the event named the job's batchscoring child, mapped by the handler
            s.count_event("named_child_run")
        status = normalise(payload["status"])
        if is_terminal(status):
            if s.claim is None:
                s.claim = Claim(status=status, event_id=event_id, event_time=event_time, job_name=clean_event_id(job))
            return
        if s.hint_time and event_time and event_time < s.hint_time:
            s.count_event("out_of_order")
            return
        s.hint, s.hint_time = status, event_time or s.hint_time

    def keep_waiting(self, arrival: Arrival) -> bool:
        """``on_arrival`` for waits that nothing interrupts (the submit call: a cancel waits for its job)."""
        self.take(arrival)
        return False

    def cancel_requested(self, arrival: Arrival) -> bool:
        """``on_arrival`` for waits that only a cancel request interrupts."""
        self.take(arrival)
        return self.state.cancel is not None

    def needs_attention(self, arrival: Arrival) -> bool:
        """``on_arrival`` for waits that a cancel request or a terminal claim interrupts."""
        self.take(arrival)
        return self.state.cancel is not None or self.state.claim is not None


# --- the orchestration ---------------------------------------------------------------------------------------

def run_orchestrator(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Optional[dict]]:
    run = _Run(context, context.get_input())
    fence = fencing.read_fence(run.run.get("fence"))
    summary = None
    if not run.state.submitted:
        if run.state.started_at is None:  # a fresh start: its fencing token first, before any side effect
            summary = yield from _check_fence(run, fence)
            if summary is not None and summary.get("fenced"):
                return summary  # a late start of a run that ended or was superseded: no side effect at all
        if summary is None:
            summary = yield from _submit(run)
    if summary is None:
        summary = yield from _monitor(run)
    if summary is not None:  # None: continued as new; every ended run notifies, whatever its outcome
        summary = yield from notify(context, summary)
        yield from fencing.end(context, fence, summary.get("outcome"), summary)
    return summary


def _check_fence(run: _Run, fence: Optional[dict]) -> Generator[Any, Any, Optional[dict]]:
    """``None``: this start may execute the run (``shared/runs/fencing.py``). Otherwise the summary to end with:
    the run's recorded summary (marked ``fenced``) when a late start finds it ended or superseded, or a failed
    run when the ledger could not be read (nothing was submitted)."""
    try:
        stale = yield from fencing.begin(run.context, fence, run.waits, run.keep_waiting)
    except ActivityFailed as exc:
        return run.ended("Failed", error=f"could not check the run's fencing token, so nothing was submitted: {exc}")
    if stale is None:
        return None
    marker = {"action": stale.get("action"), "reason": redact(str(stale.get("reason") or "")),
              "epoch": stale.get("epoch")}
    run.info("not executed again: %s", marker["reason"])
    run.context.set_custom_status({"run_id": run.run["run_id"], "route": run.run["route"], "phase": "fenced",
                                   "fenced": marker})
    recorded = stale.get("summary")
    if isinstance(recorded, dict) and recorded.get("outcome"):
        return {**recorded, "fenced": marker}
    summary = run_summary(run.run, run.state.to_dict(), stale.get("outcome") or "Failed",
                          error=f"a late start of this run was not executed ({marker['reason']}); the run's"
                                f" own execution did not record its outcome", finished_at=iso(run.now))
    return {**summary, "fenced": marker}


def _submit(run: _Run) -> Generator[Any, Any, Optional[dict]]:
    """Submit the job (retried on durable timers), then learn what helps watching it. Returns the summary
    when the run ended here (submit failed, or cancelled before a job existed), else ``None``.

    A cancel request while the submit call runs is kept in the state: the job it creates is cancelled by
    the monitor. A failed submit may still have created its job (the answer to its POST was lost), so before
    the run ends without a job (a cancel while it waits to retry, or the last attempt failed) it looks for
    the attempt's job and adopts it: the monitor then cancels it (a cancel is pending) or watches it.
    """
    s = run.state
    s.started_at = iso(run.now)
    s.deadline = iso(run.now + timedelta(hours=run.policy.deadline_hours))
    while True:
        submitted = yield from _submit_attempt(run)
        if submitted.get("outcome"):
            return submitted  # the run ended (a summary)
        if not submitted.get("uncertain"):
            break
        settled = yield from _wait_while_uncertain(run, submitted)
        if settled.get("outcome"):
            return settled
        s.uncertain, s.resolution = None, None
        if settled["action"] == "resubmit":  # the operator says no job exists: one more attempt, one more POST
            s.attempt += 1
            run.info("resubmitting as attempt %d on request", s.attempt)
            continue
        run.info("job %s confirmed by the %s for the uncertain submit", settled["job_name"], settled["by"])
        submitted = {"job_name": settled["job_name"], "adopted": True, "found_by": settled["by"]}
        break
    return (yield from _submitted(run, submitted))


def _submit_attempt(run: _Run) -> Generator[Any, Any, dict]:
    """The submit activity for the current attempt, retried: its answer (``uncertain`` when the job cannot be
    searched for), or the run's summary when it ended here."""
    s = run.state
    run.publish("submitting")
    payload = {"run": run.run, "attempt": s.attempt}
    delay = timedelta(milliseconds=SUBMIT_RETRY.first_retry_interval_in_milliseconds)
    submitted: dict = {}
    for attempt in range(1, SUBMIT_RETRY.max_number_of_attempts + 1):
        task = run.context.call_activity(Activity.SUBMIT_JOB, payload)
        yield from run.waits.until(task, run.keep_waiting)
        if task.state is not TaskState.FAILED:
            submitted = task.result if isinstance(task.result, dict) else {}
            break
        error = error_text(task.result)
        last = attempt == SUBMIT_RETRY.max_number_of_attempts
        if not last:
            run.info("submit attempt %d failed, retrying: %s", attempt, error)
            if s.cancel is None:
                yield from run.waits.sleep_until(run.now + delay, run.cancel_requested)
        if not last and s.cancel is None:
            continue
        found = yield from _find_attempt_job(run)
        if found.get("job_name"):
            run.info("the failed submit had created job %s; adopting it", found["job_name"])
            submitted = {**found, "adopted": True}
            break
        unknown = f"; looking for a job the failed submit may have created failed: {found['error']}" \
            if found.get("error") else ""
        if s.cancel is not None:
            return run.ended("Canceled", error=(s.cancel.reason or "cancelled on request before a job existed")
                             + unknown)
        return run.ended("Failed", error=f"submitting the job failed: {error}{unknown}")
    return submitted


def _wait_while_uncertain(run: _Run, submitted: dict) -> Generator[Any, Any, dict]:
    """``SubmitUncertain``: the POST's answer was lost and its job cannot be searched for, so posting again
    could make a second job. Wait, visibly, for the sweep to find the job or an operator to confirm one
    (``POST /api/runs/{id}/confirm-job``) or ask for a resubmit (``POST /api/runs/{id}/resubmit``). Returns
    the resolution, or the summary when a cancel or the deadline ends the run first (saying a job may exist)."""
    s = run.state
    s.uncertain = {"attempt": s.attempt, "attempt_job_name": submitted.get("attempt_job_name"),
                   "reason": redact(str(submitted.get("error") or "the submit's answer was lost")),
                   "since": iso(run.now)}
    run.publish(SUBMIT_UNCERTAIN)
    run.info("submit of attempt %d uncertain; waiting for the sweep or an operator", s.attempt)
    deadline = parse_iso(s.deadline)
    maybe = ("; the lost submit may have created a job this app cannot find: look for it in the workspace"
             " and cancel it there")
    while True:
        if s.resolution is not None:
            return dict(s.resolution)
        if s.cancel is not None:
            return run.ended("Canceled", error=(s.cancel.reason or "cancelled on request") + maybe)
        if run.now >= deadline:
            return run.ended("Failed", error=f"the submit stayed uncertain until the deadline (nobody confirmed a"
                                             f" job or asked for a resubmit){maybe}")
        yield from run.waits.sleep_until(deadline, lambda arrival: run.take(arrival) or (
            s.resolution is not None or s.cancel is not None))
        run.publish(SUBMIT_UNCERTAIN)


def _submitted(run: _Run, submitted: dict) -> Generator[Any, Any, Optional[dict]]:
    """The attempt has its job: record it, then learn what helps watching it."""
    s = run.state
    if submitted.get("error") or not submitted.get("job_name"):
        return run.ended("Failed", error=submitted.get("error") or "submitting the job returned no job name")
    s.job_name = submitted["job_name"]
    s.job_status = normalise(submitted["status"]) if submitted.get("status") else None
    s.studio_url, s.adopted, s.submitted_at = submitted.get("studio_url"), bool(submitted.get("adopted")), iso(run.now)
    run.publish("monitoring")
    run.info("submitted job %s%s", s.job_name, " (adopted)" if s.adopted else "")
    if s.cancel is not None:
        return None  # the monitor cancels the job first thing

    # What helps watching it, best effort: the route's expected duration, and events that beat the ledger.
    if run.policy.duration_aware:  # with signals too: the safety poll waits for the expected end
        try:
            arrival, result = yield from run.waits.call(Activity.ESTIMATE_JOB_DURATION, {"run": run.run},
                                                        run.cancel_requested)
        except Exception as exc:  # no estimate: the adaptive schedule
            run.info("no duration estimate: %s", error_text(exc))
            arrival, result = None, None
        if arrival is not None:
            return None
        s.estimate = (result or {}).get("estimate")
        run.publish("monitoring")
    if run.policy.events:
        try:
            arrival, result = yield from run.waits.call(Activity.TAKE_EARLY_JOB_EVENTS, run.job_payload(),
                                                        run.cancel_requested)
        except Exception as exc:
            run.info("could not collect early job events: %s", error_text(exc))
            arrival, result = None, None
        for payload in (result or {}).get("events") or []:
            run._take_job_event(payload)
    return None


def _find_attempt_job(run: _Run) -> Generator[Any, Any, dict]:
    """The job this run attempt created, if any (``shared/activities.py`` ``find_attempt_job``: by its name, its
    labels, or its output path): ``{"job_name": None}`` when there is none, ``"error"`` when it cannot tell."""
    payload = {"route": run.run["route"], "run_id": run.run["run_id"], "attempt": run.state.attempt,
               "output_uri": run.run.get("output_uri"), **run.pinned()}
    try:
        _, found = yield from run.waits.call_with_retry(
            Activity.FIND_ATTEMPT_JOB, payload, run.keep_waiting, attempts=CANCEL_RETRY.max_number_of_attempts,
            first_delay=timedelta(milliseconds=CANCEL_RETRY.first_retry_interval_in_milliseconds))
    except Exception as exc:
        return {"job_name": None, "error": redact(error_text(exc))}
    found = found if isinstance(found, dict) else {}
    if found.get("error") and not found.get("job_name"):
        return {"job_name": None, "error": redact(str(found["error"]))}
    return found


def _monitor(run: _Run) -> Generator[Any, Any, Optional[dict]]:
    """Watch the job until it ends. Each turn acts on the state, in this order: a job that ended; a cancel
    request; the deadline; the end of this execution (once a pending claim was checked); otherwise wait for
    the next poll (unless a claim wants a status call now) and poll. Returns the summary, or ``None`` after
    ``continue_as_new``."""
    s = run.state
    deadline = parse_iso(s.deadline)
    poll_due = False
    while True:
        if s.job_status and is_terminal(s.job_status):
            return (yield from _finish_ended_job(run))
        if s.cancel is not None:
            return (yield from _end_by_cancelling(run, "Canceled", s.cancel.reason or "cancelled on request"))
        if run.now >= deadline:
            return (yield from _end_by_cancelling(
                run, "TimedOut", f"the job did not finish within {run.policy.deadline_hours:g} h"))
        if s.polls_here >= run.policy.polls_per_execution and s.claim is None:
            if (yield from _continue_as_new(run)):
                return None
            continue  # an event drained on the way out needs acting on first
        wants_status_now = s.claim is not None and s.status_errors == 0
        if not (poll_due or wants_status_now):
            poll_due = yield from _wait_for_next_poll(run, deadline)
            continue
        poll_due = False
        yield from _poll(run)


def _wait_for_next_poll(run: _Run, deadline: Any) -> Generator[Any, Any, bool]:
    """Sleep until the schedule's next poll (never past the deadline). True: the poll is due; False: an event
    interrupted (a cancel, a terminal claim, or a hint such as Finalizing that brings the poll forward)."""
    plan = plan_next_poll(run.policy, run.view())
    poll_at = min(run.now + timedelta(seconds=plan.delay), deadline)
    run.state.next_poll_at, run.state.poll_mode = iso(poll_at), plan.mode
    run.publish("status_outage" if run.state.status_errors >= run.policy.max_status_errors else "monitoring")

    def interrupts(arrival: Arrival) -> bool:
        if run.needs_attention(arrival):
            return True
        if run.state.hint in NEAR_STATUSES or run.state.output_hint_at:
            sooner = run.now + timedelta(seconds=plan_next_poll(run.policy, run.view()).delay)
            return sooner < poll_at
        return False

    arrival = yield from run.waits.sleep_until(poll_at, interrupts)
    return arrival is None


def _poll(run: _Run, *, raced: bool = True) -> Generator[Any, Any, None]:
    """One status call; the state takes its answer. Confirms or denies a pending claim. An unreadable status
    is counted (the schedule then backs off), never fatal. ``raced=False``: after the monitor, no waits."""
    s = run.state
    claim = s.claim
    try:
        if raced:
            arrival, result = yield from run.waits.call(Activity.GET_JOB_STATUS, run.job_payload(),
                                                        run.cancel_requested)
            if arrival is not None:  # a cancel: the monitor acts on it next
                return
        else:
            result = yield run.context.call_activity(Activity.GET_JOB_STATUS, run.job_payload())
    except Exception as exc:  # the activity itself crashed: counted like a status error
        result = {"status": None, "error": error_text(exc)}
    s.polls += 1
    s.polls_here += 1
    s.last_polled_at = iso(run.now)
    s.recheck, s.hint = False, None
    if result.get("error") or not result.get("status"):
        s.status_errors += 1
        s.last_error = redact(result.get("error") or "the status call returned no status")
        if s.status_errors == run.policy.max_status_errors and not run.context.is_replaying:
            log.warning("run %s: the status of job %s was unreadable %d times in a row; still watching: %s",
                        run.run["run_id"], s.job_name, s.status_errors, s.last_error)
        run.publish()
        return
    if result.get("job_name") and result["job_name"] != s.job_name:
        # a duplicate job failed on this attempt's output path: the status call handed the run to the job that
        # owns the path (shared/activities.py), and the run follows that job from now on
        run.info("following job %s, which owns the output path (was %s)", result["job_name"], s.job_name)
        s.job_name = result["job_name"]
    s.job_status, s.status_errors, s.last_error = normalise(result["status"]), 0, None
    s.job_error = redact(result["job_error"]) if result.get("job_error") else None
    s.studio_url = result.get("studio_url") or s.studio_url
    if claim is not None and s.claim == claim and not is_terminal(s.job_status):
        # the event claimed an end the job's state does not show (yet): look again soon
        s.count_event("unconfirmed")
        s.claim, s.recheck = None, True
    run.publish("monitoring")


def _continue_as_new(run: _Run) -> Generator[Any, Any, bool]:
    """Start the next execution with the state, after taking every event this episode already delivered
    (``continue_as_new`` would drop them). False when one of them must be acted on first."""
    arrival = yield from run.waits.drain(run.needs_attention)
    if arrival is not None:
        return False
    run.state.polls_here = 0
    run.publish()
    run.context.continue_as_new({"run": run.run, "monitor": run.state.to_dict()})
    return True


# --- how a run ends ------------------------------------------------------------------------------------------

def _finish_ended_job(run: _Run) -> Generator[Any, Any, dict]:
    s = run.state
    if s.job_status == "Completed":
        yield from _record_duration(run)
        run.publish("copying")
        try:
            outputs = yield from deliver_outputs(run.context, run.run, s.job_name)
        except Exception as exc:
            return run.ended("Failed", error=f"the job completed but delivering its outputs failed: {error_text(exc)}")
        return run.ended("Succeeded", outputs=outputs)
    if s.job_status == "Canceled":
        return run.ended("Canceled", error="the job was cancelled outside this app")
    return run.ended("Failed", error=s.job_error or "the batch job failed; see its logs in the studio")


def _record_duration(run: _Run) -> Generator[Any, Any, None]:
    """Add this job's duration (submit → completion) to the route's history; best effort."""
    s = run.state
    if not s.submitted_at:
        return
    end = run.now
    if s.claim is not None and s.claim.event_time:  # the event said when it ended; the poll came later
        try:
            end = min(end, max(parse_iso(s.claim.event_time), parse_iso(s.submitted_at)))
        except ValueError:
            pass
    seconds = (end - parse_iso(s.submitted_at)).total_seconds()
    if seconds <= 0:
        return
    try:
        yield run.context.call_activity(Activity.RECORD_JOB_DURATION, {"run": run.run, "job_name": s.job_name,
                                                                       "seconds": seconds, "at": iso(end)})
    except Exception as exc:
        run.info("could not record the job duration: %s", error_text(exc))


def _end_by_cancelling(run: _Run, outcome: str, reason: str) -> Generator[Any, Any, dict]:
    """Ask the service to cancel the job, then confirm for a short while; the run ends either way."""
    s = run.state
    s.cancel_reason = reason
    run.publish("cancelling")
    try:
        cancelled = yield run.context.call_activity_with_retry(Activity.CANCEL_JOB, CANCEL_RETRY, run.job_payload())
    except Exception as exc:
        return run.ended(outcome, error=f"{reason}; cancelling job {s.job_name} failed, it may still be running:"
                                        f" {error_text(exc)}")
    if cancelled.get("error"):
        return run.ended(outcome, error=f"{reason}; cancelling job {s.job_name} failed, it may still be running:"
                                        f" {cancelled['error']}")
    for _ in range(CANCEL_CONFIRM_POLLS):
        yield from _poll(run, raced=False)
        if s.job_status and is_terminal(s.job_status):
            break
        yield run.context.create_timer(run.now + timedelta(seconds=run.policy.initial_seconds))
    return run.ended(outcome, error=reason)
