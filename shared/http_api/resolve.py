"""Settling an uncertain submit by hand: ``POST /api/runs/{run_id}/confirm-job`` and ``.../resubmit``.

A run whose submit answer was lost, on a route where the attempt's job cannot be searched for
(docs/exactly-once.md, "Submit idempotency"), waits in phase ``SubmitUncertain`` instead of posting again. An
operator who found the job (in the studio, by its input or time) confirms it by name, and the run watches and
delivers it; one who made sure no job was created asks for a resubmit, and the run posts once more, as its next
attempt.

Both answer ``202`` + ``Location`` (the run's status, async style); ``409`` when the run is not waiting for
that (it ended, or is not in ``SubmitUncertain``); ``400`` naming the field for a job name outside the
job-name grammar. Nothing from the request reaches a URL: the job name goes to the run as an event, and the
run reads the job where its pinned endpoint is.
"""

from __future__ import annotations

from typing import Any

import azure.functions as func

from ..paths import InvalidName, check_job_name
from .inputs import check_query, run_id_param, text_field
from .runs import HttpProblem, accepted, find_run, guarded, no_input, read_json_body

CONFIRM_FIELDS = frozenset({"job_name"})


async def _waiting_attempt(client: Any, run_id: str) -> int:
    """The attempt the run waits on, or 409 when it is not waiting for its submit to be settled."""
    from ..runs.models import SUBMIT_UNCERTAIN

    _, view = await find_run(client, run_id)
    uncertain = view.get("uncertain") if isinstance(view.get("uncertain"), dict) else None
    if view["status"] != "Running" or view.get("phase") != SUBMIT_UNCERTAIN or uncertain is None:
        state = view["status"] if view["status"] != "Running" else f"phase {view.get('phase')!r}"
        raise HttpProblem(409, f"run {run_id!r} is not waiting for an uncertain submit to be settled ({state})",
                          field="run_id")
    return int(uncertain.get("attempt") or 1)


async def _tell(client: Any, run_id: str, resolution: dict) -> None:
    from ..runs.models import RESOLVE_EVENT

    try:
        await client.raise_event(run_id, RESOLVE_EVENT, resolution)
    except Exception as exc:  # the SDK raises a bare Exception for 404 and 410 from the task hub
        if "is gone" in str(exc):
            raise HttpProblem(409, f"run {run_id!r} has already ended", field="run_id") from None
        raise


@guarded
async def confirm_job(req: func.HttpRequest, client: Any) -> func.HttpResponse:
    run_id = run_id_param(req.route_params)
    check_query(req.params, ())
    body = read_json_body(req, allowed=CONFIRM_FIELDS)
    raw = text_field(body, "job_name", required=True, max_chars=255)
    try:
        job_name = check_job_name(raw)
    except InvalidName as exc:
        raise HttpProblem(400, f"field 'job_name' {exc.reason}", field="job_name") from None
    attempt = await _waiting_attempt(client, run_id)
    await _tell(client, run_id, {"action": "confirm", "job_name": job_name, "attempt": attempt, "by": "operator"})
    return accepted(req, {"run_id": run_id, "status": "Running", "confirmed_job": job_name, "attempt": attempt},
                    run_id)


@guarded
async def resubmit(req: func.HttpRequest, client: Any) -> func.HttpResponse:
    run_id = run_id_param(req.route_params)
    no_input(req)
    attempt = await _waiting_attempt(client, run_id)
    await _tell(client, run_id, {"action": "resubmit", "attempt": attempt, "by": "operator"})
    return accepted(req, {"run_id": run_id, "status": "Running", "resubmit": True, "attempt": attempt + 1}, run_id)
