"""``POST /api/runs/{run_id}/redeliver``: copy again whatever a finished run has not delivered yet.

Only runs whose batch job *Completed* qualify (a failed job has nothing to deliver). The run's own
orchestration is started again under the same instance id with its original input plus the final monitor
state (job name, ``job_status: Completed``), so it goes straight to delivery: no new job is submitted. Each
copy checks its destination first, so files already delivered and verified are skipped and only the missing or
differing ones are copied. Sinks and notification targets come from the current configuration.
"""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func

from .inputs import run_id_param
from .runs import HttpProblem, accepted, describe, find_run, guarded, no_input, problem_response

# custom-status fields that describe the finished execution, not the monitor to resume
_NOT_MONITOR = {"run_id", "route", "phase", "error", "next_poll_at", "cancel_reason", "outputs", "outcome"}


def redelivery_input(status: Any) -> dict:
    """The orchestration input that resumes a finished run at its delivery step (pure)."""
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
    if job_status != "Completed" or not job_name:
        raise HttpProblem(409, f"run {view['run_id']!r} has nothing to deliver: its batch job ended"
                               f" {job_status or 'without a status'}")
    monitor = {k: v for k, v in custom.items() if k not in _NOT_MONITOR}
    monitor.update(job_name=job_name, job_status="Completed", polls_here=0,
                   redeliveries=int(custom.get("redeliveries") or 0) + 1)
    monitor.setdefault("polls", output.get("polls", 0))
    monitor.setdefault("status_errors", 0)
    monitor.setdefault("started_at", output.get("started_at"))
    monitor.setdefault("deadline", output.get("finished_at") or output.get("started_at"))
    return {"run": original["run"], "monitor": monitor}


@guarded
async def redeliver(req: func.HttpRequest, client: Any) -> func.HttpResponse:
    from ..runs.models import ORCHESTRATOR_NAME

    run_id = run_id_param(req.route_params)  # the run-id grammar, before the id reaches a Durable URL
    no_input(req)  # no query parameter, no body field
    try:
        status, _ = await find_run(client, run_id, show_input=True)  # 404 for ids that are not runs (waiters)
        new_input = redelivery_input(status)
    except HttpProblem as problem:
        return problem_response(problem)
    try:
        await client.start_new(ORCHESTRATOR_NAME, instance_id=run_id, client_input=new_input)
    except Exception:  # another redelivery started it between our read and our start
        return problem_response(HttpProblem(409, f"run {run_id!r} is already running again"))
    return accepted(req, {"run_id": run_id, "status": "Running", "redelivery": new_input["monitor"]["redeliveries"]},
                    run_id)
