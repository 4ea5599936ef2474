"""HTTP surface (aiohttp): scoring URI, ARM job API under the management prefix, /_emulator controls."""
from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from dataclasses import asdict
from typing import Any

from aiohttp import web

from shared.redact import redact_data

from .config import ConfigError
from .contract import ContractError
from .core import Emulator
from .faults import FaultSpecError, HttpFault
from .jobs import Job
from .resources import arm_job_resource, batch_job_resource, job_logs, job_properties, job_tags

EMULATOR_KEY = web.AppKey("emulator", Emulator)
DEPLOYMENT_HEADER = "azureml-model-deployment"
_FAULT_CODES = {429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable",
                504: "GatewayTimeout"}
# ARM paths are case-insensitive; aiohttp routes are not, so the management tail is matched here.
_ARM_JOB = re.compile(r"^subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/"
                      r"Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+)/"
                      r"(?:(?P<jobs>jobs)(?:/(?P<job>[^/]+)(?P<cancel>/cancel)?)?|operationResults/(?P<op>[^/]+))/?$",
                      re.IGNORECASE)


# Token audiences each plane accepts (contract §1.2): the scoring URI wants https://ml.azure.com, ARM wants
# the management resource. Only JWT-shaped tokens are checked (an opaque test token carries no audience).
DATA_PLANE_AUDIENCES = ("https://ml.azure.com", "https://ml.azure.com/")
MANAGEMENT_AUDIENCES = ("https://management.core.windows.net/", "https://management.core.windows.net",
                        "https://management.azure.com/", "https://management.azure.com")


def token_audience(token: str) -> str | None:
    """The ``aud`` claim of a JWT-shaped token (unverified: the emulator checks shape, not signatures)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    aud = claims.get("aud") if isinstance(claims, dict) else None
    return aud if isinstance(aud, str) else None


def _audience_error(plane: str, aud: str, emu: Any = None) -> web.Response | None:
    from .clouds import audiences  # which cloud the emulator stands in for (POST /_emulator/cloud)

    data_audiences = audiences(emu, "data", DATA_PLANE_AUDIENCES)
    management_audiences = audiences(emu, "management", MANAGEMENT_AUDIENCES)
    if plane == "data" and aud not in data_audiences:
        # contract §1.11 (S13): the batch endpoint's answer to a management token
        return error_response(401, "InvalidAudience", "Audience or service not allowed",
                              {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if plane == "management" and aud not in management_audiences:
        allowed = ",".join(f"'{a}'" for a in management_audiences)
        return error_response(401, "InvalidAuthenticationTokenAudience",
                              f"The access token has been obtained for wrong audience or resource '{aud}'. It should "
                              f"exactly match with one of the allowed audiences {allowed}.",
                              {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return None


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None,
                   details: list[dict[str, Any]] | None = None) -> web.Response:
    return web.json_response(ContractError(status, code, message, details).body(), status=status, headers=headers)


def _contract_response(exc: ContractError) -> web.Response:
    return web.json_response(exc.body(), status=exc.status)


async def _guard(request: web.Request, target: str, plane: str = "data") -> web.Response | None:
    """Auth (a bearer token; its audience when it has one), then injected delay, then injected HTTP fault.
    Returns a response to short-circuit."""
    auth = request.headers.get("Authorization")
    if auth is None:
        return error_response(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.",
                              {"WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/"'})
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return error_response(401, "InvalidAuthenticationToken",
                              "The 'Authorization' header is invalid. It must be of the form 'Bearer <token>' "
                              "with a non-empty token.", {"WWW-Authenticate": "Bearer"})
    aud = token_audience(token.strip())
    if aud is not None and (wrong := _audience_error(plane, aud, request.app[EMULATOR_KEY])) is not None:
        return wrong
    emu = request.app[EMULATOR_KEY]
    delay = emu.faults.delay_for(target)
    if delay > 0:
        await asyncio.sleep(delay)
    return await _injected(request, target, "before")


async def _injected(request: web.Request, target: str, when: str) -> web.Response | None:
    """Apply the next HTTP fault for ``target`` at ``when``: an error answer, a dropped connection, or a
    stall before the normal answer (returns None then, as when no fault is set)."""
    fault: HttpFault | None = request.app[EMULATOR_KEY].faults.take_http(target, when)
    if fault is None:
        return None
    if fault.effect == "stall":
        await asyncio.sleep(fault.seconds)
        return None
    if fault.effect == "drop":
        await request.read()  # the whole request arrived; only the answer is lost
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)  # never reaches the client
    headers = {}
    retry_after = fault.retry_after if fault.retry_after is not None else (1 if fault.status in (429, 503) else None)
    if retry_after is not None:
        headers["Retry-After"] = f"{retry_after:g}"
    code = _FAULT_CODES.get(fault.status, "InjectedFault")
    return error_response(fault.status, code, fault.message or f"[emulator] injected {fault.status} on {target}.",
                          headers)


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
        job, created = emu.create_job(request.match_info["endpoint"], request.headers.get(DEPLOYMENT_HEADER),
                                      await request.read())
    except ContractError as exc:
        return _contract_response(exc)
    if (r := await _injected(request, "submit", "after")) is not None:
        return r  # the job exists; the client never hears of it
    return web.json_response(batch_job_resource(job, emu.config.workspace), status=201 if created else 200)


def _page(request: web.Request, jobs: list[Job], render) -> web.Response:  # noqa: ANN001
    """Newest first, ``list_page_size`` per page; ``$skip`` is the continuation token in ``nextLink``."""
    size = request.app[EMULATOR_KEY].behaviour.list_page_size
    token = request.query.get("$skip", "0")
    if not token.isdigit():
        return error_response(400, "BadRequest", f"[emulator] Invalid continuation token '{token}'.")
    start = int(token)
    newest_first = list(reversed(jobs))
    page = newest_first[start:start + size]
    body: dict[str, Any] = {"value": [render(j) for j in page]}
    if start + size < len(newest_first):
        body["nextLink"] = str(request.url.update_query({"$skip": str(start + size)}))
    return web.json_response(body)


def _filtered(jobs: list[Job], query) -> list[Job]:  # noqa: ANN001
    """The ARM Jobs_List filters: ``tag`` (jobs that have this tag key; ``key=value`` also matches the
    value [emulator assumption]), ``properties`` (comma-separated names, each optionally ``=value``) and
    ``jobType`` (batch jobs are ``Pipeline``)."""
    def has(mapping: dict[str, str], spec: str) -> bool:
        key, sep, value = spec.partition("=")
        return key in mapping and (not sep or mapping[key] == value)

    out = jobs
    if query.get("tag"):
        out = [j for j in out if has(job_tags(j), query["tag"])]
    for spec in [p for p in query.get("properties", "").split(",") if p]:
        out = [j for j in out if has(job_properties(j), spec)]
    if query.get("jobType") and query["jobType"].lower() != "pipeline":
        out = []
    return out


async def list_jobs(request: web.Request) -> web.Response:
    """The endpoint's jobs. Not a documented data-plane call (contract §2.1): served for clients without
    workspace coordinates; same filters and paging as the ARM list."""
    if (r := await _guard(request, "status")) is not None:
        return r
    emu = request.app[EMULATOR_KEY]
    try:
        emu.endpoint(request.match_info["endpoint"])
    except ContractError as exc:
        return _contract_response(exc)
    if emu.behaviour.data_plane_list == "none":  # the strict profile: no documented list here (contract §2.1)
        return error_response(404, "NotFound", "[emulator] The scoring URI serves no job list (GET "
                                               f"{request.path}); list jobs through ARM Jobs_List.")
    jobs = _filtered(emu.store.list(request.match_info["endpoint"]), request.query)
    return _page(request, jobs, lambda j: batch_job_resource(j, emu.config.workspace))


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
    from .children import parent_view

    return web.json_response(parent_view(emu, job, batch_job_resource(job, emu.config.workspace)))


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
    if (r := await _guard(request, target, "management")) is not None:
        return r
    version = request.query.get("api-version")
    if not version:
        return error_response(400, "MissingApiVersionParameter",
                              "The api-version query parameter (?api-version=) is required for all requests.")
    if version not in emu.config.arm_api_versions:
        kind = "workspaces/operationResults" if m["op"] else "workspaces/jobs"
        return error_response(400, "NoRegisteredProviderFound",
                              f"No registered resource provider found for location '{emu.config.workspace.region}' "
                              f"and API version '{version}' for type '{kind}'. The supported api-versions are "
                              f"'{', '.join(emu.config.arm_api_versions)}'. The supported locations are "
                              f"'{emu.config.workspace.region}'.")
    ws = emu.config.workspace
    if (m["sub"].lower(), m["rg"].lower(), m["ws"].lower()) != (
            ws.subscription_id.lower(), ws.resource_group.lower(), ws.workspace_name.lower()):
        return error_response(404, "ResourceNotFound",
                              f"Workspace '{m['sub']}/{m['rg']}/{m['ws']}' is not the emulated workspace "
                              f"'{ws.subscription_id}/{ws.resource_group}/{ws.workspace_name}'.")
    if m["op"]:
        return _operation_result(request, emu, m["op"])
    if not m["job"]:  # Jobs_List
        return _page(request, _filtered(emu.store.list(), request.query), lambda j: arm_job_resource(j, ws))
    from . import children

    if not m["cancel"] and (child := children.arm_child(emu, m["job"])) is not None:
        return web.json_response(child)
    try:
        job = _job_or_404(emu, m["job"])
        if m["cancel"]:
            emu.check_cancel(job)  # the strict profile refuses to cancel a finished job
    except ContractError as exc:
        return _contract_response(exc)
    if not m["cancel"]:
        return web.json_response(children.parent_view(emu, job, arm_job_resource(job, ws)))
    emu.cancel(job)
    if (r := await _injected(request, "cancel", "after")) is not None:
        return r  # the cancel was applied; the client never hears of it
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
                    "experiment_name": j.experiment_name, "requested_name": j.requested_name,
                    "tags": dict(j.request.tags), "properties": dict(j.request.properties)})
    return web.json_response(redact_data({"value": out}))


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


async def get_behaviour(request: web.Request) -> web.Response:
    return web.json_response(asdict(request.app[EMULATOR_KEY].behaviour))


async def post_behaviour(request: web.Request) -> web.Response:
    """Switch UNCONFIRMED service behaviour at runtime, e.g. ``{"job_names": "ignore"}``."""
    emu = request.app[EMULATOR_KEY]
    try:
        emu.behaviour = emu.behaviour.updated(await request.json())
    except (json.JSONDecodeError, ConfigError, TypeError) as exc:
        return error_response(400, "BadRequest", f"Invalid behaviour: {exc}")
    return await get_behaviour(request)


async def delete_behaviour(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR_KEY]
    emu.behaviour = emu.config.behaviour
    return await get_behaviour(request)


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
    from . import children  # batchscoring child runs (before the v1 Run History route, which they extend)

    children.add_routes(app)
    from . import clouds

    clouds.add_routes(app)
    from .pipelines_v1 import add_routes  # data assets and the v1 PipelineEndpoint (before the ARM catch-all)

    add_routes(app, prefix)
    app.router.add_route("*", prefix + "/{tail:.*}", management)
    app.router.add_get("/_emulator/health", health)
    app.router.add_get("/_emulator/jobs", emulator_jobs)
    app.router.add_get("/_emulator/faults", get_faults)
    app.router.add_post("/_emulator/faults", post_faults)
    app.router.add_delete("/_emulator/faults", delete_faults)
    app.router.add_get("/_emulator/behaviour", get_behaviour)
    app.router.add_post("/_emulator/behaviour", post_behaviour)
    app.router.add_delete("/_emulator/behaviour", delete_behaviour)

    async def on_cleanup(_: web.Application) -> None:
        await emu.shutdown()

    app.on_cleanup.append(on_cleanup)
    return app
