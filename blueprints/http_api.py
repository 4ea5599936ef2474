"""HTTP API: health, the runs API (start, list, read, cancel, resolve an uncertain submit), plan, dashboard."""

import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    from shared.http_api import health as health_api

    return health_api.health()


@bp.route(route="health/details", methods=["GET"])
def health_details(req: func.HttpRequest) -> func.HttpResponse:
    from shared.http_api import health as health_api

    return health_api.details()


@bp.route(route="openapi.json", methods=["GET"])
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    from shared.http_api import openapi as openapi_doc

    return openapi_doc.serve(req)


@bp.route(route="runs", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from shared.http_api import runs as runs_api

    return await runs_api.start(req, client)


@bp.route(route="plan", methods=["POST"])
def plan(req: func.HttpRequest) -> func.HttpResponse:
    from shared.http_api import plan as plan_api

    return plan_api.plan(req)


@bp.route(route="runs", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def list_runs(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from shared.http_api import runs as runs_api

    return await runs_api.list_runs(req, client)


@bp.route(route="runs/stats", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def run_stats(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from shared.http_api import stats

    return await stats.stats(req, client)


@bp.route(route="runs/{run_id}", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def get_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from shared.http_api import runs as runs_api

    return await runs_api.get(req, client)


@bp.route(route="runs/{run_id}/cancel", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def cancel_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from shared.http_api import runs as runs_api

    return await runs_api.cancel(req, client)


@bp.route(route="runs/{run_id}/confirm-job", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def confirm_run_job(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from shared.http_api import resolve

    return await resolve.confirm_job(req, client)


@bp.route(route="runs/{run_id}/resubmit", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def resubmit_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from shared.http_api import resolve

    return await resolve.resubmit(req, client)


@bp.route(route="dashboard", methods=["GET"])
def dashboard(req: func.HttpRequest) -> func.HttpResponse:
    from shared.http_api import dashboard as page

    return page.page()
