"""The run orchestration: submit, watch with durable timers, then deliver.

Deterministic by construction: the only clock is ``context.current_utc_datetime``, all I/O happens in
activities, and logging is skipped while replaying. Long monitors ``continue_as_new`` with their state so
history stays small.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any, Generator, Optional

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskState

from ..aml_events.events import payload_from_orchestration
from ..batch_endpoint.status import is_terminal, normalise
from ..config.models import PollPolicy
from ..delivery.orchestration import deliver_outputs, notify
from .models import CANCEL_EVENT, JOB_STATUS_EVENT, iso, parse_iso, run_summary
from .schedule import NEAR_STATUSES, MonitorView, plan_next_poll

log = logging.getLogger(__name__)

SUBMIT_ACTIVITY = "submit_job"
STATUS_ACTIVITY = "get_job_status"
CANCEL_ACTIVITY = "cancel_job"
ESTIMATE_ACTIVITY = "estimate_job_duration"
RECORD_ACTIVITY = "record_job_duration"
EARLY_EVENTS_ACTIVITY = "take_early_job_events"
EVENT_IDS_KEPT = 20

# Retries on top of the client's own: each attempt already retried transient HTTP faults for about a minute.
SUBMIT_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=30_000, max_number_of_attempts=3)
CANCEL_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=10_000, max_number_of_attempts=3)
CANCEL_CONFIRM_POLLS = 10


def _error_text(exc: BaseException) -> str:
    """A failed activity surfaces as ``Exception("<Reason>\\n<Details>...")``; keep the readable first part."""
    text = str(exc).split("$OutOfProcData$", 1)[0].strip()
    return " ".join(part.strip() for part in text.splitlines() if part.strip())[:1000]


class _Run:
    """The orchestration's working state; ``monitor`` survives ``continue_as_new``."""

    def __init__(self, context: df.DurableOrchestrationContext, state: dict):
        self.context = context
        self.run: dict = state["run"]
        self.monitor: dict = dict(state.get("monitor") or {})
        self.policy = PollPolicy.from_dict(self.run["poll"])

    @property
    def now(self):
        return self.context.current_utc_datetime

    def publish(self, phase: str, **changes: Any) -> None:
        self.monitor.update(changes, phase=phase)
        self.context.set_custom_status({"run_id": self.run["run_id"], "route": self.run["route"], **self.monitor})

    def info(self, message: str, *args: Any) -> None:
        if not self.context.is_replaying:
            log.info("run %s: " + message, self.run["run_id"], *args)

    def finish(self, outcome: str, *, error: Optional[str] = None, outputs: Optional[list] = None) -> dict:
        self.publish(outcome, error=error)
        self.info("ended %s%s", outcome, f": {error}" if error else "")
        return run_summary(self.run, self.monitor, outcome, error=error, outputs=outputs,
                           finished_at=iso(self.now))

    def job_payload(self) -> dict:
        return {"route": self.run["route"], "run_id": self.run["run_id"], "job_name": self.monitor["job_name"]}

    # -- job-status events (monitor) ----------------------------------------------------------------

    claim: Optional[dict] = None           # an event claiming a terminal state, to confirm with a status call
    ended_by_event: Optional[dict] = None  # the claim a status call confirmed
    _attention = False

    def count_event(self, reason: str) -> None:
        counts = self.monitor.setdefault("events", {})
        counts[reason] = counts.get(reason, 0) + 1

    def absorb_event(self, value: Any) -> Optional[str]:
        """Take one job-status event into the state; returns its id. Never acts on it directly."""
        payload = payload_from_orchestration(value)
        if payload is None:
            self.count_event("malformed")
            return None
        event_id = str(payload.get("event_id") or "") or None
        ids = self.monitor.setdefault("event_ids", [])
        if event_id is not None:
            if event_id in ids:
                self.count_event("duplicate")
                return event_id
            ids.append(event_id)
            del ids[:-EVENT_IDS_KEPT]
        job = payload.get("job_name")
        if job and self.monitor.get("job_name") and job != self.monitor["job_name"]:
            self.count_event("other_job")
            return event_id
        self.count_event("received")
        status = normalise(payload["status"])
        if is_terminal(status):
            if self.claim is None:
                self.claim = {**payload, "status": status}
            self._attention = True
            return event_id
        event_time, newest = payload.get("event_time"), self.monitor.get("hint_time")
        if newest and event_time and event_time < newest:
            self.count_event("out_of_order")
            return event_id
        self.monitor["hint"], self.monitor["hint_time"] = status, event_time or newest
        if status in NEAR_STATUSES:
            self._attention = True
        return event_id

    def wants_attention(self) -> bool:
        attention, self._attention = self._attention, False
        return attention

    def view(self) -> MonitorView:
        submitted = self.monitor.get("submitted_at")
        elapsed = (self.now - parse_iso(submitted)).total_seconds() if submitted else 0.0
        return MonitorView(elapsed=elapsed, polls=self.monitor.get("polls", 0),
                           status=self.monitor.get("hint") or self.monitor.get("job_status"),
                           estimate=self.monitor.get("estimate"), recheck=bool(self.monitor.get("recheck")))


def run_orchestrator(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Optional[dict]]:
    summary = yield from _run_phases(context)
    if summary is not None:  # None: continued as new; every ended run notifies, whatever its outcome
        summary = yield from notify(context, summary)
    return summary


def _run_phases(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Optional[dict]]:
    r = _Run(context, context.get_input())
    w = _Waiters(context)

    if "job_name" not in r.monitor:
        deadline = r.now + timedelta(hours=r.policy.deadline_hours)
        r.publish("submitting", started_at=iso(r.now), deadline=iso(deadline), polls=0, polls_here=0,
                  status_errors=0, job_status=None)
        outcome, submitted = yield from _submit(r, w)
        if outcome == _FAILED:
            return r.finish("Failed", error=f"submitting the job failed: {submitted}")
        if outcome == _CANCEL and submitted is None:
            return r.finish("Canceled", error=w.cancel_reason() or "cancelled on request before a job existed")
        if submitted.get("error"):
            return r.finish("Failed", error=submitted["error"])
        r.publish("monitoring", job_name=submitted["job_name"], job_status=submitted["status"],
                  studio_url=submitted.get("studio_url"), submitted_at=iso(r.now))
        r.info("submitted job %s", submitted["job_name"])
        if outcome == _CANCEL:  # asked to cancel while submitting: the job exists now, so cancel it
            return (yield from _end_by_cancelling(r, "Canceled", w.cancel_reason() or "cancelled on request"))
        outcome = yield from _prepare_monitor(r, w)
        if outcome == _CANCEL:
            return (yield from _end_by_cancelling(r, "Canceled", w.cancel_reason() or "cancelled on request"))

    deadline = parse_iso(r.monitor["deadline"])
    status: Optional[str] = r.monitor.get("job_status")
    timer, timer_at = None, None
    while not (status and is_terminal(status)):
        if r.monitor["polls_here"] >= r.policy.polls_per_execution:
            r.monitor["polls_here"] = 0
            context.continue_as_new({"run": r.run, "monitor": r.monitor})
            return None
        if r.now >= deadline:
            return (yield from _end_by_cancelling(r, "TimedOut",
                                                  f"the job did not finish within {r.policy.deadline_hours:g} h"))

        if r.claim is None:
            if timer is None:
                plan = plan_next_poll(r.policy, r.view())
                timer_at = min(r.now + timedelta(seconds=plan.delay), deadline)
                timer = context.create_timer(timer_at)
                r.publish("monitoring", next_poll_at=iso(timer_at), poll_mode=plan.mode)
            outcome = yield from _race(r, w, timer, wake_on_event=True)
            if outcome == _CANCEL:
                timer.cancel()
                return (yield from _end_by_cancelling(r, "Canceled", w.cancel_reason() or "cancelled on request"))
            if outcome == _EVENT:
                if r.claim is not None:
                    continue
                # A hint (e.g. Finalizing) may bring the next poll forward; otherwise keep the timer.
                plan = plan_next_poll(r.policy, r.view())
                if r.now + timedelta(seconds=plan.delay) < timer_at:
                    timer.cancel()
                    timer = None
                continue
            timer = None

        claim, r.claim = r.claim, None
        if claim is not None and timer is not None:
            timer.cancel()
            timer = None
        outcome, status = yield from _poll(r, w)
        if outcome == _CANCEL:
            return (yield from _end_by_cancelling(r, "Canceled", w.cancel_reason() or "cancelled on request"))
        if claim is not None:
            if status and is_terminal(status):
                r.ended_by_event = claim
            else:  # the event claimed an end the job's state does not show (yet): look again soon
                r.count_event("unconfirmed")
                r.monitor["recheck"] = True
        if status is None and r.monitor["status_errors"] >= r.policy.max_status_errors:
            return r.finish("Failed", error=f"could not read the job's status {r.monitor['status_errors']} times"
                                            f" in a row: {r.monitor.get('last_error')}")

    if status == "Completed":
        yield from _record_duration(r)
        r.publish("copying")
        try:
            outputs = yield from deliver_outputs(context, r.run, r.monitor["job_name"])
        except Exception as exc:
            return r.finish("Failed", error=f"the job completed but delivering its outputs failed: {_error_text(exc)}")
        return r.finish("Succeeded", outputs=outputs)
    if status == "Canceled":
        return r.finish("Canceled", error="the job was cancelled outside this app")
    return r.finish("Failed", error=r.monitor.get("job_error") or "the batch job failed; see its logs in the studio")


# --- waiting: one standing wait per external event ----------------------------------------------------
#
# Why standing waits: the Durable Python SDK (1.7.0, verified with the real replay engine) resolves an
# external event raised while *no* wait for its name is open by keeping only the newest such event, and
# then hands that same buffered event to every later wait for the name. So a monitor that opened a fresh
# ``wait_for_external_event`` per loop turn would lose reordered events (e.g. Running after Completed) and
# could re-read one event forever; and a wait that lost a ``task_any`` stays registered and swallows the
# next event of that name. Instead the monitor keeps exactly one open wait per name at every yield
# (submit, estimate, timers, status calls all go through :func:`_race`) and opens the next one as soon as
# the previous fired.

_DONE, _CANCEL, _EVENT, _FAILED = "done", "cancel", "event", "failed"


class _Waiters:
    def __init__(self, context: df.DurableOrchestrationContext):
        self.context = context
        self.cancel = context.wait_for_external_event(CANCEL_EVENT)
        self.status = context.wait_for_external_event(JOB_STATUS_EVENT)

    def cancel_reason(self) -> Optional[str]:
        value = self.cancel.result
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return value or None
        return value.get("reason") if isinstance(value, dict) else None


def _race(r: "_Run", w: _Waiters, task: Any, *, wake_on_event: bool) -> Generator[Any, Any, str]:
    """Wait for ``task`` while taking job-status events as they come; ``_DONE``, ``_CANCEL`` or ``_EVENT``.

    Raises the task's exception if it failed. Events are absorbed into the run's state; with
    ``wake_on_event`` an event that changes what the monitor should do returns ``_EVENT`` early.
    """
    last_id, repeats = None, 0
    while True:
        children = [task] + ([w.cancel] if not w.cancel.is_completed else []) \
            + ([w.status] if w.status is not None else [])
        winner = yield r.context.task_any(children)
        if winner is w.cancel:
            return _CANCEL
        if winner is w.status:
            value = w.status.result
            w.status = r.context.wait_for_external_event(JOB_STATUS_EVENT)
            event_id = r.absorb_event(value)
            # Defence against the SDK re-delivering one buffered event to each new wait (see above):
            # the same event again and again without the clock moving means no new event is coming in.
            repeats = repeats + 1 if event_id is not None and event_id == last_id else 0
            last_id = event_id
            if repeats >= 2:
                w.status = None
            if wake_on_event and r.wants_attention():
                return _EVENT
            continue
        if task.state is TaskState.FAILED:
            raise task.result
        return _DONE


def _call(r: "_Run", w: Optional[_Waiters], name: str, payload: dict) -> Generator[Any, Any, tuple[str, Any]]:
    """One activity call raced with the standing waits: (``_DONE``, result) or (``_CANCEL``, None)."""
    task = r.context.call_activity(name, payload)
    if w is None:  # after the monitor (cancel confirmation): no standing waits any more
        return _DONE, (yield task)
    outcome = yield from _race(r, w, task, wake_on_event=False)
    return outcome, (task.result if outcome == _DONE else None)


def _submit(r: "_Run", w: _Waiters) -> Generator[Any, Any, tuple[str, Any]]:
    """Submit with retries on durable timers (as ``SUBMIT_RETRY``): (outcome, result or error text).

    A cancel request while submitting is remembered and honoured once the job exists.
    """
    cancelled = False
    for attempt in range(1, SUBMIT_RETRY.max_number_of_attempts + 1):
        task = r.context.call_activity(SUBMIT_ACTIVITY, {"run": r.run})
        try:
            outcome = yield from _race(r, w, task, wake_on_event=False)
            while outcome == _CANCEL and not task.is_completed:
                cancelled = True
                outcome = yield from _race(r, w, task, wake_on_event=False)
        except Exception as exc:
            error = _error_text(exc)
            if attempt == SUBMIT_RETRY.max_number_of_attempts:
                return _FAILED, error
            r.info("submit attempt %d failed, retrying: %s", attempt, error)
            delay = SUBMIT_RETRY.first_retry_interval_in_milliseconds / 1000.0
            retry_timer = r.context.create_timer(r.now + timedelta(seconds=delay))
            outcome = yield from _race(r, w, retry_timer, wake_on_event=False)
            if outcome == _CANCEL:  # no job exists: nothing to cancel at the service
                retry_timer.cancel()
                return _CANCEL, None
            continue
        return (_CANCEL if cancelled else _DONE), task.result
    return _FAILED, "no attempt made"  # pragma: no cover - the loop always returns


def _prepare_monitor(r: "_Run", w: _Waiters) -> Generator[Any, Any, str]:
    """After submit: the route's expected duration (for the schedule), and events that beat the ledger."""
    if r.policy.duration_aware and not r.policy.events:
        try:
            outcome, result = yield from _call(r, w, ESTIMATE_ACTIVITY, {"run": r.run})
        except Exception as exc:  # no estimate: the adaptive schedule
            r.info("no duration estimate: %s", _error_text(exc))
            outcome, result = _DONE, None
        if outcome == _CANCEL:
            return _CANCEL
        r.publish("monitoring", estimate=(result or {}).get("estimate"))
    if r.policy.events:
        try:
            outcome, result = yield from _call(r, w, EARLY_EVENTS_ACTIVITY, r.job_payload())
        except Exception as exc:
            r.info("could not collect early job events: %s", _error_text(exc))
            outcome, result = _DONE, None
        if outcome == _CANCEL:
            return _CANCEL
        for payload in (result or {}).get("events") or []:
            r.absorb_event(payload)
    return _DONE


def _poll(r: "_Run", w: Optional[_Waiters]) -> Generator[Any, Any, tuple[str, Optional[str]]]:
    """One status call; (outcome, status) with status ``None`` when it could not be read."""
    try:
        outcome, result = yield from _call(r, w, STATUS_ACTIVITY, r.job_payload())
    except Exception as exc:  # the activity itself crashed: counted like a status error
        outcome, result = _DONE, {"status": None, "error": _error_text(exc)}
    if outcome == _CANCEL:
        return _CANCEL, None
    r.monitor["polls"] += 1
    r.monitor["polls_here"] += 1
    r.monitor.pop("recheck", None)
    r.monitor.pop("hint", None)
    if result.get("error"):
        r.publish("monitoring", status_errors=r.monitor["status_errors"] + 1, last_error=result["error"],
                  last_polled_at=iso(r.now))
        return _DONE, None
    if result.get("job_name") and result["job_name"] != r.monitor["job_name"]:  # a duplicate failed on its path
        r.publish("monitoring", job_name=result["job_name"], replaced_job=result.get("replaces"))
    r.publish("monitoring", job_status=result["status"], status_errors=0, last_polled_at=iso(r.now),
              job_error=result.get("job_error"), studio_url=result.get("studio_url") or r.monitor.get("studio_url"))
    return _DONE, result["status"]


def _record_duration(r: "_Run") -> Generator[Any, Any, None]:
    """Add this job's duration (submit → completion) to the route's history; best effort."""
    submitted = r.monitor.get("submitted_at")
    if not submitted:
        return
    end = r.now
    claim_time = (r.ended_by_event or {}).get("event_time")
    if claim_time:
        try:
            end = min(end, max(parse_iso(claim_time), parse_iso(submitted)))
        except ValueError:
            pass
    seconds = (end - parse_iso(submitted)).total_seconds()
    if seconds <= 0:
        return
    try:
        yield r.context.call_activity(RECORD_ACTIVITY, {"run": r.run, "job_name": r.monitor["job_name"],
                                                        "seconds": seconds, "at": iso(end)})
    except Exception as exc:
        r.info("could not record the job duration: %s", _error_text(exc))


def _end_by_cancelling(r: _Run, outcome: str, reason: str) -> Generator[Any, Any, dict]:
    """Ask the service to cancel, then confirm for a short while; the run ends either way."""
    r.publish("cancelling", cancel_reason=reason)
    try:
        cancelled = yield r.context.call_activity_with_retry(CANCEL_ACTIVITY, CANCEL_RETRY, r.job_payload())
    except Exception as exc:
        return r.finish(outcome, error=f"{reason}; cancelling the job failed: {_error_text(exc)}")
    if cancelled.get("error"):
        return r.finish(outcome, error=f"{reason}; {cancelled['error']}")
    for _ in range(CANCEL_CONFIRM_POLLS):
        _, status = yield from _poll(r, None)
        if status and is_terminal(status):
            break
        yield r.context.create_timer(r.now + timedelta(seconds=r.policy.initial_seconds))
    return r.finish(outcome, error=reason)
