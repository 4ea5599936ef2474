"""The run orchestration and its activities: submit, status, cancel, find the attempt's job, the fence, and
the route's duration history."""

import azure.durable_functions as df
import azure.functions as func

from .registry import Activity, Orchestrator

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)


@bp.function_name(Orchestrator.RUN)
@bp.orchestration_trigger(context_name="context")
def run_orchestrator(context: df.DurableOrchestrationContext):
    from shared.runs.orchestrator import run_orchestrator as run

    return (yield from run(context))


@bp.function_name(Activity.SUBMIT_JOB)
@bp.activity_trigger(input_name="payload")
def submit_job(payload: dict) -> dict:
    from shared import activities

    return activities.submit_job(payload)


@bp.function_name(Activity.GET_JOB_STATUS)
@bp.activity_trigger(input_name="payload")
def get_job_status(payload: dict) -> dict:
    from shared import activities

    return activities.get_job_status(payload)


@bp.function_name(Activity.CANCEL_JOB)
@bp.activity_trigger(input_name="payload")
def cancel_job(payload: dict) -> dict:
    from shared import activities

    return activities.cancel_job(payload)


@bp.function_name(Activity.FIND_ATTEMPT_JOB)
@bp.activity_trigger(input_name="payload")
def find_attempt_job(payload: dict) -> dict:
    from shared import activities

    return activities.find_attempt_job(payload)


@bp.function_name(Activity.FENCE_RUN)
@bp.activity_trigger(input_name="payload")
def fence_run(payload: dict) -> dict:
    from shared.runs.fencing import fence_run as check

    return check(payload)


@bp.function_name(Activity.ESTIMATE_JOB_DURATION)
@bp.activity_trigger(input_name="payload")
def estimate_job_duration(payload: dict) -> dict:
    from shared.runs.history import estimate_job_duration as estimate

    return estimate(payload)


@bp.function_name(Activity.RECORD_JOB_DURATION)
@bp.activity_trigger(input_name="payload")
def record_job_duration(payload: dict) -> dict:
    from shared.runs.history import record_job_duration as record

    return record(payload)
