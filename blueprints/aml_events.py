"""Azure ML events: ``RunStatusChanged`` → the run's ``job_status`` external event, and the activity that
hands a run the events that arrived before its job was known."""

import azure.durable_functions as df
import azure.functions as func

from .registry import Activity

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)


@bp.event_grid_trigger(arg_name="event")
@bp.durable_client_input(client_name="client")
async def on_aml_run_event(event: func.EventGridEvent, client: df.DurableOrchestrationClient) -> None:
    from shared.aml_events.functions import handle_event_grid

    await handle_event_grid(event, client)


@bp.function_name(Activity.TAKE_EARLY_JOB_EVENTS)
@bp.activity_trigger(input_name="payload")
def take_early_job_events(payload: dict) -> dict:
    from shared.aml_events.handler import take_early_job_events as take

    return take(payload)
