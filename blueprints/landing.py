"""Storage events: BlobCreated by Event Grid (webhook) or through a Storage queue, and the landing waiters.

Both deliveries reach one handler. For a CloudEvents subscription the worker passes a func.CloudEvent (the
func.EventGridEvent annotation is accepted by its converter for both); shared.event_envelope reads either.
"""

import azure.durable_functions as df
import azure.functions as func

from .registry import Activity, Orchestrator

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)


@bp.event_grid_trigger(arg_name="event")
@bp.durable_client_input(client_name="client")
async def on_blob_created(event: func.EventGridEvent, client: df.DurableOrchestrationClient) -> None:
    from shared.landing.functions import handle_event_grid

    await handle_event_grid(event, client)


@bp.queue_trigger(arg_name="msg", queue_name="landing-events", connection="AzureWebJobsStorage")
@bp.durable_client_input(client_name="client")
async def on_blob_created_queued(msg: func.QueueMessage, client: df.DurableOrchestrationClient) -> None:
    from shared.landing.functions import handle_queue_message

    await handle_queue_message(msg, client)


@bp.function_name(Orchestrator.LANDING_MANIFEST)
@bp.orchestration_trigger(context_name="context")
def landing_manifest_orchestrator(context: df.DurableOrchestrationContext):
    from shared.landing.orchestrations import manifest_orchestrator

    return (yield from manifest_orchestrator(context))


@bp.function_name(Orchestrator.LANDING_QUIET)
@bp.orchestration_trigger(context_name="context")
def landing_quiet_orchestrator(context: df.DurableOrchestrationContext):
    from shared.landing.orchestrations import quiet_orchestrator

    return (yield from quiet_orchestrator(context))


@bp.function_name(Activity.LANDING_CHECK_MANIFEST)
@bp.activity_trigger(input_name="payload")
def landing_check_manifest(payload: dict) -> dict:
    from shared.landing.functions import check_manifest

    return check_manifest(payload)


@bp.function_name(Activity.LANDING_START_RUN)
@bp.activity_trigger(input_name="payload")
@bp.durable_client_input(client_name="client")
async def landing_start_run(payload: dict, client: df.DurableOrchestrationClient) -> dict:
    from shared.landing.functions import start_folder_run

    return await start_folder_run(payload, client)


@bp.function_name(Activity.LANDING_REPORT_LATE)
@bp.activity_trigger(input_name="payload")
def landing_report_late(payload: dict) -> dict:
    from shared.landing.functions import report_late_files

    return report_late_files(payload)
