"""``POST /api/runs/{run_id}/redeliver``: finish what a run that has ended did not.

The run's own orchestration is started again under the same instance id with its original input plus its
final :class:`~shared.runs.state.MonitorState`, so no new job is submitted:

* its job **Completed**: the orchestration goes straight to delivery. Each copy checks its destination first,
  so files already delivered and verified are skipped. Sinks and notification targets come from the current
  configuration.
* the run ended without knowing how its job ended (a status outage, a workspace renamed, a deadline whose
  cancel failed): the job's status is **read again** (one status call, the ``get_job_status`` activity's code
  path). Completed: delivery as above. Still running: the orchestration resumes *watching* it, with a fresh
  deadline. Failed or Canceled: 409, nothing to deliver. Unreadable: 503, try again later.
* its job ended Failed or Canceled: 409.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional

import azure.functions as func

from ..batch_endpoint.status import is_terminal, normalise
from ..timefmt import format_time
from ..redact import redact
from .inputs import run_id_param
from .runs import HttpProblem, accepted, describe, find_run, guarded, no_input, problem_response

# custom-status fields that describe the finished execution, not the monitor to resume
_NOT_MONITOR = {"run_id", "route", "phase", "error", "next_poll_at", "cancel_reason", "outputs", "outcome",
                "claim", "cancel"}

StatusReader = Callable[[dict], dict]   # the get_job_status activity body: {route, run_id, job_name} → answer


def _final_job(status: Any) -> tuple[dict, dict, Optional[str], Optional[str]]:
    """(original input, custom status, job name, job status as the run last knew it), or HttpProblem."""
    view = describe(status)
    if view is None:
        raise HttpProblem(404, "no such run")
    if view["status"] == "Running":
        raise HttpProblem(409, f"run {view['run_id']!r} is still running; redeliver it once it has ended")
    original = status.input_
    if isinstance(original, str):
        original = json.loads(original)
    if not isinstance(original, dict) or "run" not in original:
        raise HttpProblem(409, f"run {view['run_id']!r} has no stored input to redeliver from")
    custom = status.custom_status if isinstance(status.custom_status, dict) else {}
    output = status.output if isinstance(status.output, dict) else {}
    job_status = output.get("job_status") or custom.get("job_status")
    job_name = output.get("job_name") or custom.get("job_name")
    if not job_name:
        raise HttpProblem(409, f"run {view['run_id']!r} has nothing to deliver: it never had a batch job")
    if job_status and is_terminal(job_status) and job_status != "Completed":
        raise HttpProblem(409, f"run {view['run_id']!r} has nothing to deliver: its batch job ended {job_status}")
    return original, {**custom, "polls": custom.get("polls", output.get("polls", 0))}, job_name, job_status


def needs_recheck(status: Any) -> bool:
    """True when the run ended without knowing its job ended: the job's status must be read again."""
    _, _, _, job_status = _final_job(status)
    return job_status != "Completed"


def redelivery_input(status: Any, fresh: Optional[dict] = None, *, now: Optional[datetime] = None) -> dict:
    """The orchestration input that resumes a finished run (pure). ``fresh`` is the answer of a status call
    made now, required when :func:`needs_recheck`; ``now`` sets a resumed watch's new deadline."""
    original, custom, job_name, job_status = _final_job(status)
    run_id = original["run"].get("run_id", "")
    if job_status != "Completed":
        if fresh is None:
            raise HttpProblem(409, f"run {run_id!r} has nothing to deliver: its batch job ended"
                                   f" {job_status or 'without a status'}")
        if fresh.get("error") or not fresh.get("status"):
            raise HttpProblem(503, f"could not read the status of job {job_name!r}, try again later: "
                                   f"{redact(fresh.get('error') or 'no status')}")
        job_status = normalise(fresh["status"])
        if is_terminal(job_status) and job_status != "Completed":
            raise HttpProblem(409, f"run {run_id!r} has nothing to deliver: its batch job ended {job_status}")
    monitor = {k: v for k, v in custom.items() if k not in _NOT_MONITOR}
    monitor.update(job_name=job_name, job_status=job_status, polls_here=0, status_errors=0, last_error=None,
                   redeliveries=int(custom.get("redeliveries") or 0) + 1)
    monitor.setdefault("started_at", custom.get("started_at"))
    if not is_terminal(job_status):  # still running: watch it again, with a whole deadline from now
        hours = float((original["run"].get("poll") or {}).get("deadline_hours", 24.0))
        monitor["deadline"] = format_time((now or datetime.now(timezone.utc)) + timedelta(hours=hours))
        monitor["phase"] = "monitoring"
    else:
        monitor.setdefault("deadline", custom.get("started_at"))
    return {"run": original["run"], "monitor": monitor}


def read_job_status(payload: dict) -> dict:
    """One status call through the ``get_job_status`` activity's code path (same client, credential, errors)."""
    from .. import activities

    return activities.get_job_status(payload)


@guarded
async def redeliver(req: func.HttpRequest, client: Any, read_status: StatusReader = read_job_status) -> func.HttpResponse:
    from blueprints.registry import Orchestrator

    run_id = run_id_param(req.route_params)  # the run-id grammar, before the id reaches a Durable URL
    no_input(req)  # no query parameter, no body field
    try:
        status, _ = await find_run(client, run_id, show_input=True)  # 404 for ids that are not runs (waiters)
        fresh = None
        if needs_recheck(status):
            original, _, job_name, _ = _final_job(status)
            payload = {"route": original["run"]["route"], "run_id": run_id, "job_name": job_name,
                       **({"endpoint": original["run"]["endpoint"]} if original["run"].get("endpoint") else {})}
            try:
                fresh = await asyncio.to_thread(read_status, payload)
            except Exception as exc:  # the status call itself failed: same answer as an unreadable status
                fresh = {"status": None, "error": f"{type(exc).__name__}: {exc}"}
        new_input = redelivery_input(status, fresh)
    except HttpProblem as problem:
        return problem_response(problem)
    try:
        await client.start_new(Orchestrator.RUN, instance_id=run_id, client_input=new_input)
    except Exception:  # another redelivery started it between our read and our start
        return problem_response(HttpProblem(409, f"run {run_id!r} is already running again"))
    monitor = new_input["monitor"]
    return accepted(req, {"run_id": run_id, "status": "Running", "redelivery": monitor["redeliveries"],
                          "resumes": "delivery" if monitor["job_status"] == "Completed" else "monitoring",
                          "job_status": monitor["job_status"]}, run_id)
