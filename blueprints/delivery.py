"""Delivery: copy a run's outputs to its sinks, receipts, notifications, and the redeliver endpoint."""

import azure.durable_functions as df
import azure.functions as func

from .registry import Activity

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)


@bp.route(route="runs/{run_id}/redeliver", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def redeliver_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from shared.http_api.redeliver import redeliver

    return await redeliver(req, client)


@bp.function_name(Activity.PLAN_DELIVERY)
@bp.activity_trigger(input_name="payload")
def plan_delivery(payload: dict) -> dict:
    from shared.delivery import activities as delivery

    return delivery.plan_delivery(payload)


@bp.function_name(Activity.COPY_OUTPUT)
@bp.activity_trigger(input_name="payload")
def copy_output(payload: dict) -> dict:
    from shared.delivery import activities as delivery

    return delivery.copy_output(payload)


@bp.function_name(Activity.WRITE_RECEIPT)
@bp.activity_trigger(input_name="payload")
def write_receipt(payload: dict) -> dict:
    from shared.delivery import activities as delivery

    return delivery.write_receipt(payload)


@bp.function_name(Activity.SEND_NOTIFICATION)
@bp.activity_trigger(input_name="payload")
def send_notification(payload: dict) -> dict:
    from shared.delivery.notify import send_notification as send

    return send(payload)
