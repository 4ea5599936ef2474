"""The run orchestration: submit, watch with durable timers, then deliver.

Deterministic by construction: the only clock is ``context.current_utc_datetime``, all I/O happens in
activities, and logging is skipped while replaying. Long monitors ``continue_as_new`` with their state so
history stays small.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Generator, Optional

import azure.durable_functions as df

from ..batch_endpoint.status import is_terminal
from ..config.models import PollPolicy
from ..delivery.orchestration import deliver_outputs, notify
from .models import CANCEL_EVENT, iso, parse_iso, run_summary
from .schedule import next_poll_at

log = logging.getLogger(__name__)

SUBMIT_ACTIVITY = "submit_job"
STATUS_ACTIVITY = "get_job_status"
CANCEL_ACTIVITY = "cancel_job"

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


def run_orchestrator(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Optional[dict]]:
    summary = yield from _run_phases(context)
    if summary is not None:  # None: continued as new; every ended run notifies, whatever its outcome
        summary = yield from notify(context, summary)
    return summary


def _run_phases(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Optional[dict]]:
    r = _Run(context, context.get_input())

    if "job_name" not in r.monitor:
        deadline = r.now + timedelta(hours=r.policy.deadline_hours)
        r.publish("submitting", started_at=iso(r.now), deadline=iso(deadline), polls=0, polls_here=0,
                  status_errors=0, job_status=None)
        try:
            submitted = yield context.call_activity_with_retry(SUBMIT_ACTIVITY, SUBMIT_RETRY, {"run": r.run})
        except Exception as exc:  # retries exhausted: the activity's message says why
            return r.finish("Failed", error=f"submitting the job failed: {_error_text(exc)}")
        if submitted.get("error"):
            return r.finish("Failed", error=submitted["error"])
        r.publish("monitoring", job_name=submitted["job_name"], job_status=submitted["status"],
                  studio_url=submitted.get("studio_url"), submitted_at=iso(r.now))
        r.info("submitted job %s", submitted["job_name"])

    deadline = parse_iso(r.monitor["deadline"])
    status: Optional[str] = r.monitor.get("job_status")
    while not (status and is_terminal(status)):
        if r.monitor["polls_here"] >= r.policy.polls_per_execution:
            r.monitor["polls_here"] = 0
            context.continue_as_new({"run": r.run, "monitor": r.monitor})
            return None
        if r.now >= deadline:
            return (yield from _end_by_cancelling(r, "TimedOut",
                                                  f"the job did not finish within {r.policy.deadline_hours:g} h"))

        fire_at = next_poll_at(r.policy, r.monitor["polls"], status, r.now, deadline)
        r.publish("monitoring", next_poll_at=iso(fire_at))
        timer = context.create_timer(fire_at)
        cancel_request = context.wait_for_external_event(CANCEL_EVENT)
        winner = yield context.task_any([timer, cancel_request])
        if winner is cancel_request:
            timer.cancel()
            reason = (cancel_request.result or {}).get("reason") if isinstance(cancel_request.result, dict) else None
            return (yield from _end_by_cancelling(r, "Canceled", reason or "cancelled on request"))

        status = yield from _poll(r)
        if status is None and r.monitor["status_errors"] >= r.policy.max_status_errors:
            return r.finish("Failed", error=f"could not read the job's status {r.monitor['status_errors']} times"
                                            f" in a row: {r.monitor.get('last_error')}")

    if status == "Completed":
        r.publish("copying")
        try:
            outputs = yield from deliver_outputs(context, r.run, r.monitor["job_name"])
        except Exception as exc:
            return r.finish("Failed", error=f"the job completed but delivering its outputs failed: {_error_text(exc)}")
        return r.finish("Succeeded", outputs=outputs)
    if status == "Canceled":
        return r.finish("Canceled", error="the job was cancelled outside this app")
    return r.finish("Failed", error=r.monitor.get("job_error") or "the batch job failed; see its logs in the studio")


def _poll(r: _Run) -> Generator[Any, Any, Optional[str]]:
    """One status call; returns the status, or ``None`` when it could not be read."""
    result = yield r.context.call_activity(STATUS_ACTIVITY, r.job_payload())
    r.monitor["polls"] += 1
    r.monitor["polls_here"] += 1
    if result.get("error"):
        r.publish("monitoring", status_errors=r.monitor["status_errors"] + 1, last_error=result["error"],
                  last_polled_at=iso(r.now))
        return None
    r.publish("monitoring", job_status=result["status"], status_errors=0, last_polled_at=iso(r.now),
              job_error=result.get("job_error"), studio_url=result.get("studio_url") or r.monitor.get("studio_url"))
    return result["status"]


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
        status = yield from _poll(r)
        if status and is_terminal(status):
            break
        yield r.context.create_timer(r.now + timedelta(seconds=r.policy.initial_seconds))
    return r.finish(outcome, error=reason)
