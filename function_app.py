"""Routing table of the app: triggers and bindings, each delegating to ``shared``.

Keep this file to decorators and one-line wrappers. Every ``shared`` module loads inside the function
body that needs it, not at import: the worker imports this file on every cold start.
"""

import logging

import azure.durable_functions as df
import azure.functions as func

# azure-core logs every storage and HTTP request at INFO, which the host would ship to Application Insights
# as one trace per request; warnings and errors still go through (host.json quiets the host's own Azure.Core).
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)


# --- HTTP API --------------------------------------------------------------------------------------

@app.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    from shared.http_api import health as health_api

    return health_api.health()


@app.route(route="health/details", methods=["GET"])
def health_details(req: func.HttpRequest) -> func.HttpResponse:
    from shared.http_api import health as health_api

    return health_api.details()


@app.route(route="openapi.json", methods=["GET"])
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    from shared.http_api import openapi as openapi_doc

    return openapi_doc.serve(req)


@app.route(route="runs", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from shared.http_api import runs as runs_api

    return await runs_api.start(req, client)


@app.route(route="plan", methods=["POST"])
def plan(req: func.HttpRequest) -> func.HttpResponse:
    from shared.http_api import plan as plan_api

    return plan_api.plan(req)


@app.route(route="runs", methods=["GET"])
@app.durable_client_input(client_name="client")
async def list_runs(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from shared.http_api import runs as runs_api

    return await runs_api.list_runs(req, client)


@app.route(route="runs/stats", methods=["GET"])
@app.durable_client_input(client_name="client")
async def run_stats(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from shared.http_api import stats

    return await stats.stats(req, client)


@app.route(route="runs/{run_id}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def get_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from shared.http_api import runs as runs_api

    return await runs_api.get(req, client)


@app.route(route="runs/{run_id}/cancel", methods=["POST"])
@app.durable_client_input(client_name="client")
async def cancel_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from shared.http_api import runs as runs_api

    return await runs_api.cancel(req, client)


@app.route(route="runs/{run_id}/confirm-job", methods=["POST"])
@app.durable_client_input(client_name="client")
async def confirm_run_job(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from shared.http_api import resolve

    return await resolve.confirm_job(req, client)


@app.route(route="runs/{run_id}/resubmit", methods=["POST"])
@app.durable_client_input(client_name="client")
async def resubmit_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from shared.http_api import resolve

    return await resolve.resubmit(req, client)


@app.route(route="dashboard", methods=["GET"])
def dashboard(req: func.HttpRequest) -> func.HttpResponse:
    from shared.http_api import dashboard as page

    return page.page()


# --- Storage events --------------------------------------------------------------------------------
# Event Grid (webhook) and Event Grid → Storage queue deliver the same BlobCreated events to one handler.
# Both schemas: for a CloudEvents subscription the worker passes a func.CloudEvent (the func.EventGridEvent
# annotation is accepted by its converter for both); shared.event_envelope reads either.

@app.event_grid_trigger(arg_name="event")
@app.durable_client_input(client_name="client")
async def on_blob_created(event: func.EventGridEvent, client: df.DurableOrchestrationClient) -> None:
    from shared.landing.functions import handle_event_grid

    await handle_event_grid(event, client)


@app.queue_trigger(arg_name="msg", queue_name="landing-events", connection="AzureWebJobsStorage")
@app.durable_client_input(client_name="client")
async def on_blob_created_queued(msg: func.QueueMessage, client: df.DurableOrchestrationClient) -> None:
    from shared.landing.functions import handle_queue_message

    await handle_queue_message(msg, client)


@app.orchestration_trigger(context_name="context")
def landing_manifest_orchestrator(context: df.DurableOrchestrationContext):
    from shared.landing.orchestrations import manifest_orchestrator

    return (yield from manifest_orchestrator(context))


@app.orchestration_trigger(context_name="context")
def landing_quiet_orchestrator(context: df.DurableOrchestrationContext):
    from shared.landing.orchestrations import quiet_orchestrator

    return (yield from quiet_orchestrator(context))


@app.activity_trigger(input_name="payload")
def landing_check_manifest(payload: dict) -> dict:
    from shared.landing.functions import check_manifest

    return check_manifest(payload)


@app.activity_trigger(input_name="payload")
@app.durable_client_input(client_name="client")
async def landing_start_run(payload: dict, client: df.DurableOrchestrationClient) -> dict:
    from shared.landing.functions import start_folder_run

    return await start_folder_run(payload, client)


@app.activity_trigger(input_name="payload")
def landing_report_late(payload: dict) -> dict:
    from shared.landing.functions import report_late_files

    return report_late_files(payload)


# --- The run orchestration and its activities ------------------------------------------------------

@app.orchestration_trigger(context_name="context")
def run_orchestrator(context: df.DurableOrchestrationContext):
    from shared.runs.orchestrator import run_orchestrator as run

    return (yield from run(context))


@app.activity_trigger(input_name="payload")
def submit_job(payload: dict) -> dict:
    from shared import activities

    return activities.submit_job(payload)


@app.activity_trigger(input_name="payload")
def get_job_status(payload: dict) -> dict:
    from shared import activities

    return activities.get_job_status(payload)


@app.activity_trigger(input_name="payload")
def cancel_job(payload: dict) -> dict:
    from shared import activities

    return activities.cancel_job(payload)


@app.activity_trigger(input_name="payload")
def find_attempt_job(payload: dict) -> dict:
    from shared import activities

    return activities.find_attempt_job(payload)


@app.activity_trigger(input_name="payload")
def fence_run(payload: dict) -> dict:
    from shared.runs.fencing import fence_run as check

    return check(payload)


# --- Delivery: copy outputs to sinks, receipts, notifications, redrive ------------------------------

@app.route(route="runs/{run_id}/redeliver", methods=["POST"])
@app.durable_client_input(client_name="client")
async def redeliver_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from shared.http_api.redeliver import redeliver

    return await redeliver(req, client)


@app.activity_trigger(input_name="payload")
def plan_delivery(payload: dict) -> dict:
    from shared.delivery import activities as delivery

    return delivery.plan_delivery(payload)


@app.activity_trigger(input_name="payload")
def copy_output(payload: dict) -> dict:
    from shared.delivery import activities as delivery

    return delivery.copy_output(payload)


@app.activity_trigger(input_name="payload")
def write_receipt(payload: dict) -> dict:
    from shared.delivery import activities as delivery

    return delivery.write_receipt(payload)


@app.activity_trigger(input_name="payload")
def send_notification(payload: dict) -> dict:
    from shared.delivery.notify import send_notification as send

    return send(payload)


# --- Azure ML events -------------------------------------------------------------------------------

@app.event_grid_trigger(arg_name="event")
@app.durable_client_input(client_name="client")
async def on_aml_run_event(event: func.EventGridEvent, client: df.DurableOrchestrationClient) -> None:
    from shared.aml_events.functions import handle_event_grid

    await handle_event_grid(event, client)


@app.activity_trigger(input_name="payload")
def take_early_job_events(payload: dict) -> dict:
    from shared.aml_events.handler import take_early_job_events as take

    return take(payload)


@app.activity_trigger(input_name="payload")
def estimate_job_duration(payload: dict) -> dict:
    from shared.runs.history import estimate_job_duration as estimate

    return estimate(payload)


@app.activity_trigger(input_name="payload")
def record_job_duration(payload: dict) -> dict:
    from shared.runs.history import record_job_duration as record

    return record(payload)


# --- Self-healing: the reconcile sweep, backfill, the poison re-drive ------------------------------

def _reconcile_schedule() -> str:
    import os

    return os.environ.get("RECONCILE_SCHEDULE", "").strip() or "0 */15 * * * *"


@app.timer_trigger(schedule=_reconcile_schedule(), arg_name="timer", run_on_startup=False, use_monitor=True)
@app.durable_client_input(client_name="client")
async def reconcile_sweep(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    from shared.reconcile.api import reconcile_timer

    await reconcile_timer(timer, client)


@app.route(route="backfill", methods=["POST"])
@app.durable_client_input(client_name="client")
async def backfill(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from shared.reconcile.api import backfill_http

    return await backfill_http(req, client)


@app.route(route="backfill/{operation_id}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def backfill_status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from shared.reconcile.api import backfill_status_http

    return await backfill_status_http(req, client)


@app.route(route="backfill/{operation_id}/cancel", methods=["POST"])
@app.durable_client_input(client_name="client")
async def backfill_cancel(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from shared.reconcile.api import backfill_cancel_http

    return await backfill_cancel_http(req, client)


@app.orchestration_trigger(context_name="context")
def backfill_orchestrator(context: df.DurableOrchestrationContext):
    from shared.reconcile.operation import backfill_orchestrator as run

    return (yield from run(context))


@app.activity_trigger(input_name="payload")
@app.durable_client_input(client_name="client")
async def backfill_step(payload: dict, client: df.DurableOrchestrationClient) -> dict:
    from shared.reconcile.operation import backfill_step as step

    return await step(payload, client)


@app.route(route="landing/poison/redrive", methods=["POST"])
@app.durable_client_input(client_name="client")
async def redrive_landing_poison(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from shared.reconcile.api import redrive_poison_http

    return await redrive_poison_http(req, client)
