"""HTTP surface (aiohttp): scoring URI, ARM job API under the management prefix, /_emulator controls."""
from __future__ import annotations

import asyncio
import json
import re
from dataclasses import asdict
from typing import Any

from aiohttp import web

from .contract import ContractError
from .core import Emulator
from .faults import FaultSpecError
from .jobs import Job
from .resources import arm_job_resource, batch_job_resource, job_logs

EMULATOR_KEY = web.AppKey("emulator", Emulator)
DEPLOYMENT_HEADER = "azureml-model-deployment"
_FAULT_CODES = {429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable",
                504: "GatewayTimeout"}
# ARM paths are case-insensitive; aiohttp routes are not, so the management tail is matched here.
_ARM_JOB = re.compile(r"^subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/"
                      r"Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+)/"
                      r"(?:jobs/(?P<job>[^/]+)(?P<cancel>/cancel)?|operationResults/(?P<op>[^/]+))/?$", re.IGNORECASE)


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None,
                   details: list[dict[str, Any]] | None = None) -> web.Response:
    return web.json_response(ContractError(status, code, message, details).body(), status=status, headers=headers)


def _contract_response(exc: ContractError) -> web.Response:
    return web.json_response(exc.body(), status=exc.status)


async def _guard(request: web.Request, target: str) -> web.Response | None:
    """Auth, then injected delay, then injected HTTP fault. Returns a response to short-circuit."""
    auth = request.headers.get("Authorization")
    if auth is None:
        return error_response(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.",
                              {"WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/"'})
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return error_response(401, "InvalidAuthenticationToken",
                              "The 'Authorization' header is invalid. It must be of the form 'Bearer <token>' "
                              "with a non-empty token.", {"WWW-Authenticate": "Bearer"})
    emu = request.app[EMULATOR_KEY]
    delay = emu.faults.delay_for(target)
    if delay > 0:
        await asyncio.sleep(delay)
    fault = emu.faults.take_http(target)
    if fault is not None:
        headers = {}
        retry_after = fault.retry_after if fault.retry_after is not None else (1 if fault.status in (429, 503) else None)
        if retry_after is not None:
            headers["Retry-After"] = f"{retry_after:g}"
        code = _FAULT_CODES.get(fault.status, "InjectedFault")
        return error_response(fault.status, code, fault.message or f"[emulator] injected {fault.status} on {target}.",
                              headers)
    return None


def _job_or_404(emu: Emulator, name: str, endpoint: str | None = None) -> Job:
    job = emu.store.get(name)
    if job is None or (endpoint is not None and job.endpoint != endpoint):
        where = f"endpoint '{endpoint}'" if endpoint else f"workspace '{emu.config.workspace.workspace_name}'"
        raise ContractError(404, "ResourceNotFound", f"Job '{name}' was not found in {where}.")
    return job


# -- scoring URI (data plane) --------------------------------------------------------------------------
async def submit(request: web.Request) -> web.Response:
    if (r := await _guard(request, "submit")) is not None:
        return r
    emu = request.app[EMULATOR_KEY]
    try:
        job = emu.submit(request.match_info["endpoint"], request.headers.get(DEPLOYMENT_HEADER), await request.read())
    except ContractError as exc:
        return _contract_response(exc)
    return web.json_response(batch_job_resource(job, emu.config.workspace), status=201)


async def list_jobs(request: web.Request) -> web.Response:
    if (r := await _guard(request, "status")) is not None:
        return r
    emu = request.app[EMULATOR_KEY]
    try:
        emu.endpoint(request.match_info["endpoint"])
    except ContractError as exc:
        return _contract_response(exc)
    jobs = emu.store.list(request.match_info["endpoint"])
    return web.json_response({"value": [batch_job_resource(j, emu.config.workspace) for j in jobs]})


async def _endpoint_job(request: web.Request) -> tuple[Emulator, Job] | web.Response:
    """The endpoint's job named in the path, after the status-call guard (auth and faults); else the error."""
    if (r := await _guard(request, "status")) is not None:
        return r
    emu = request.app[EMULATOR_KEY]
    try:
        return emu, _job_or_404(emu, request.match_info["name"], request.match_info["endpoint"])
    except ContractError as exc:
        return _contract_response(exc)


async def get_job(request: web.Request) -> web.Response:
    found = await _endpoint_job(request)
    if isinstance(found, web.Response):
        return found
    emu, job = found
    return web.json_response(batch_job_resource(job, emu.config.workspace))


async def get_logs(request: web.Request) -> web.Response:
    found = await _endpoint_job(request)
    if isinstance(found, web.Response):
        return found
    return web.Response(text=job_logs(found[1]), content_type="text/plain")


# -- ARM (management plane) ----------------------------------------------------------------------------
async def management(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR_KEY]
    m = _ARM_JOB.match(request.match_info["tail"])
    if m is None or (m["cancel"] and request.method != "POST") or (not m["cancel"] and request.method != "GET"):
        return error_response(404, "NoRegisteredProviderFound" if m is None else "MethodNotAllowed",
                              f"[emulator] No route for {request.method} {request.path}.")
    target = "cancel" if m["cancel"] else "status"
    if (r := await _guard(request, target)) is not None:
        return r
    if not request.query.get("api-version"):
        return error_response(400, "MissingApiVersionParameter",
                              "The api-version query parameter (?api-version=) is required for all requests.")
    ws = emu.config.workspace
    if (m["sub"].lower(), m["rg"].lower(), m["ws"].lower()) != (
            ws.subscription_id.lower(), ws.resource_group.lower(), ws.workspace_name.lower()):
        return error_response(404, "ResourceNotFound",
                              f"Workspace '{m['sub']}/{m['rg']}/{m['ws']}' is not the emulated workspace "
                              f"'{ws.subscription_id}/{ws.resource_group}/{ws.workspace_name}'.")
    if m["op"]:
        return _operation_result(request, emu, m["op"])
    try:
        job = _job_or_404(emu, m["job"])
    except ContractError as exc:
        return _contract_response(exc)
    if not m["cancel"]:
        return web.json_response(arm_job_resource(job, ws))
    emu.cancel(job)
    prefix = str(request.url.origin()) + emu.config.management_prefix
    location = f"{prefix}/{ws.arm_id.lstrip('/')}/operationResults/cancel-{job.name}?api-version={request.query['api-version']}"
    return web.Response(status=202, headers={"Location": location, "Retry-After": "1"})


def _operation_result(request: web.Request, emu: Emulator, op: str) -> web.Response:
    """The cancel LRO: 202 while the job is still stopping, 200 once terminal."""
    name = op[len("cancel-"):] if op.startswith("cancel-") else None
    job = emu.store.get(name) if name else None
    if job is None:
        return error_response(404, "ResourceNotFound", f"Operation '{op}' not found.")
    if not job.terminal:
        return web.Response(status=202, headers={"Location": str(request.url), "Retry-After": "1"})
    return web.Response(status=200)


# -- emulator controls (no auth; tests and humans) -----------------------------------------------------
async def emulator_jobs(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR_KEY]
    out = []
    for j in emu.store.list():
        out.append({"name": j.name, "endpoint": j.endpoint, "deployment": j.deployment.name, "status": j.status.value,
                    "history": [s for s, _ in j.history], "error": j.error, "output_uri": j.output_uri,
                    "input_uri": j.request.input.uri, "settings": asdict(j.settings), "counters": j.counters,
                    "experiment_name": j.experiment_name})
    return web.json_response({"value": out})


async def get_faults(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR_KEY]
    return web.json_response({**emu.faults.to_json(), "events": emu.events.to_json()})


async def post_faults(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR_KEY]
    try:
        spec = await request.json()
        emu.faults.apply(spec)
        if isinstance(spec.get("events"), dict):
            emu.events.update(spec["events"])
    except (json.JSONDecodeError, FaultSpecError, TypeError, ValueError) as exc:
        return error_response(400, "BadRequest", f"Invalid fault spec: {exc}")
    return await get_faults(request)


async def delete_faults(request: web.Request) -> web.Response:
    request.app[EMULATOR_KEY].faults.reset()
    return await get_faults(request)


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(emu: Emulator) -> web.Application:
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[EMULATOR_KEY] = emu
    prefix = emu.config.management_prefix
    app.router.add_post("/endpoints/{endpoint}/jobs", submit)
    app.router.add_get("/endpoints/{endpoint}/jobs", list_jobs)
    app.router.add_get("/endpoints/{endpoint}/jobs/{name}", get_job)
    app.router.add_get("/endpoints/{endpoint}/jobs/{name}/logs", get_logs)
    app.router.add_route("*", prefix + "/{tail:.*}", management)
    app.router.add_get("/_emulator/health", health)
    app.router.add_get("/_emulator/jobs", emulator_jobs)
    app.router.add_get("/_emulator/faults", get_faults)
    app.router.add_post("/_emulator/faults", post_faults)
    app.router.add_delete("/_emulator/faults", delete_faults)

    async def on_cleanup(_: web.Application) -> None:
        await emu.shutdown()

    app.on_cleanup.append(on_cleanup)
    return app
