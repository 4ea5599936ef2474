"""Self-healing: the reconcile sweep (timer), backfill (an asynchronous operation: its orchestration and
step), and the landing poison queue's re-drive."""

import os

import azure.durable_functions as df
import azure.functions as func

from .registry import Activity, Orchestrator

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)


def _reconcile_schedule() -> str:
    return os.environ.get("RECONCILE_SCHEDULE", "").strip() or "0 */15 * * * *"


@bp.timer_trigger(schedule=_reconcile_schedule(), arg_name="timer", run_on_startup=False, use_monitor=True)
@bp.durable_client_input(client_name="client")
async def reconcile_sweep(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    from shared.reconcile.api import reconcile_timer

    await reconcile_timer(timer, client)


@bp.route(route="backfill", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def backfill(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from shared.reconcile.api import backfill_http

    return await backfill_http(req, client)


@bp.route(route="backfill/{operation_id}", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def backfill_status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from shared.reconcile.api import backfill_status_http

    return await backfill_status_http(req, client)


@bp.route(route="backfill/{operation_id}/cancel", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def backfill_cancel(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from shared.reconcile.api import backfill_cancel_http

    return await backfill_cancel_http(req, client)


@bp.function_name(Orchestrator.BACKFILL)
@bp.orchestration_trigger(context_name="context")
def backfill_orchestrator(context: df.DurableOrchestrationContext):
    from shared.reconcile.operation import backfill_orchestrator as run

    return (yield from run(context))


@bp.function_name(Activity.BACKFILL_STEP)
@bp.activity_trigger(input_name="payload")
@bp.durable_client_input(client_name="client")
async def backfill_step(payload: dict, client: df.DurableOrchestrationClient) -> dict:
    from shared.reconcile.operation import backfill_step as step

    return await step(payload, client)


@bp.route(route="landing/poison/redrive", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def redrive_landing_poison(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from shared.reconcile.api import redrive_poison_http

    return await redrive_poison_http(req, client)
