"""HTTP routes for data assets and the v1 PipelineEndpoint (contract §1.5, §3); registered by app.create_app.

* ``GET {mgmt}/…/workspaces/{ws}/data/{name}?api-version=`` → the data container (``latestVersion``).
* ``POST /pipelines/v1.0/…/workspaces/{ws}/PipelineRuns/PipelineEndpointSubmit/Id/{id}[/{version}]
  [?pipelineVersion=]`` (the SDK sends the version in both places; they must agree)
  with ``ExperimentName``, ``ParameterAssignments`` (strings, as the SDK sends them), ``DataPathAssignments``
  (``DataStoreName`` + ``RelativePath``), ``tags``, ``Description``, ``RunSource`` (keys case-insensitive)
  → ``{"Id": <run id>, …}``.
* ``GET /history/v1.0/…/workspaces/{ws}/runs/{runId}`` → the run (``runId``, ``status``, ``experimentName``,
  ``tags``, ``error``); a pipeline run that succeeded is ``Finished``, as Run History reports pipeline runs.
* ``POST /history/v1.0/…/workspaces/{ws}/experiments/{exp}/runs:query`` with azureml-core's ``QueryParamsDto``
  (``{"filter": "(Tags/<k> eq \"<v>\")"}``, terms joined by `` and ``; the older ``tags/<k> eq '<v>'`` too)
  → ``{"value": [runs]}`` ([emulator] answer shape; UNCONFIRMED for the real service).
* ``DELETE /pipelines/v1.0/…/PipelineRuns/{runId}/Execution`` (``PipelineRun.cancel``); the older
  ``POST …/PipelineRuns/{runId}/Cancel`` (third-party evidence only, contract §3.3) is kept.

All want a management-audience token (contract §3.1).
"""
from __future__ import annotations

import json
import re
import uuid
from typing import Any

from aiohttp import web

from .assets import data_container
from .config import Deployment, DeploymentSettings
from .contract import ContractError, ValidationIssue, ci_get, validation_error
from .jobs import Job
from .pipelines import V1_ENDPOINT_PREFIX, PipelineJob, _check_locations, _request, _settings, bind_inputs, start

WS = ("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}")
_FILTER = re.compile(r"^tags/(?P<key>[^ ]+) eq '(?P<value>[^']*)'$", re.IGNORECASE)
_SDK_FILTER = re.compile(r'^\(Tags/(?P<key>[^ ()]+) eq "(?P<value>[^"]*)"\)$')


def add_routes(app: web.Application, management_prefix: str) -> None:
    app.router.add_get(management_prefix + WS + "/data/{name}", get_data_container)
    app.router.add_post("/pipelines/v1.0" + WS + "/PipelineRuns/PipelineEndpointSubmit/Id/{id}", submit)
    app.router.add_post("/pipelines/v1.0" + WS + "/PipelineRuns/PipelineEndpointSubmit/Id/{id}/{version}", submit)
    app.router.add_post("/pipelines/v1.0" + WS + "/PipelineRuns/{run}/Cancel", cancel)
    app.router.add_delete("/pipelines/v1.0" + WS + "/PipelineRuns/{run}/Execution", cancel)
    app.router.add_get("/history/v1.0" + WS + "/runs/{run}", get_run)
    app.router.add_post("/history/v1.0" + WS + "/experiments/{experiment}/runs:query", query_runs)


async def _checked(request: web.Request, target: str) -> tuple[Any, web.Response | None]:
    from .app import EMULATOR_KEY, _guard, error_response

    if (r := await _guard(request, target, "management")) is not None:
        return None, r
    emu = request.app[EMULATOR_KEY]
    ws = emu.config.workspace
    m = request.match_info
    if (m["sub"].lower(), m["rg"].lower(), m["ws"].lower()) != (
            ws.subscription_id.lower(), ws.resource_group.lower(), ws.workspace_name.lower()):
        return None, error_response(404, "ResourceNotFound", f"Workspace '{m['sub']}/{m['rg']}/{m['ws']}' is not the"
                                                             f" emulated workspace '{ws.workspace_name}'.")
    return emu, None


def _answer(exc: ContractError) -> web.Response:
    return web.json_response(exc.body(), status=exc.status)


async def get_data_container(request: web.Request) -> web.Response:
    from .app import error_response

    emu, r = await _checked(request, "status")
    if r is not None:
        return r
    if request.query.get("api-version") not in emu.config.arm_api_versions:
        return error_response(400, "NoRegisteredProviderFound" if request.query.get("api-version")
                              else "MissingApiVersionParameter",
                              f"[emulator] api-version {request.query.get('api-version')!r} is not supported for"
                              " workspaces/data.")
    try:
        return web.json_response(data_container(emu.config.data_assets, request.match_info["name"],
                                                emu.config.workspace.arm_id))
    except ContractError as exc:
        return _answer(exc)


def run_resource(job: Job) -> dict[str, Any]:
    """A Run History run (v1)."""
    from .resources import iso, job_properties, job_tags

    status = "Finished" if job.status.value == "Completed" else job.status.value   # Run History's pipeline word
    body: dict[str, Any] = {"runId": job.name, "runUuid": job.name, "status": status,
                            "experimentName": job.experiment_name, "runType": "azureml.PipelineRun",
                            "tags": job_tags(job), "properties": job_properties(job),
                            "createdUtc": iso(job.created_at), "lastModifiedUtc": iso(job.modified_at)}
    if job.error:
        body["error"] = {"error": {"code": "UserError", "message": job.error}}
    return body


async def submit(request: web.Request) -> web.Response:
    emu, r = await _checked(request, "submit")
    if r is not None:
        return r
    version = request.match_info.get("version")
    if version is not None and request.query.get("pipelineVersion") not in (None, version):
        return _answer(ContractError(400, "BadRequest", "[emulator] the pipeline version in the path and in"
                                                        " pipelineVersion differ."))
    try:
        job = _create(emu, request.match_info["id"], version or request.query.get("pipelineVersion"),
                      await request.read())
    except ContractError as exc:
        return _answer(exc)
    from .app import _injected

    if (r := await _injected(request, "submit", "after")) is not None:
        return r  # the run exists; the client never hears of it
    return web.json_response({"Id": job.name, "Status": job.status.value, "ExperimentName": job.experiment_name,
                              "PipelineEndpointId": request.match_info["id"], "RunType": "azureml.PipelineRun"})


def _create(emu: Any, endpoint_id: str, version: str | None, raw: bytes) -> Job:
    endpoint = emu.config.pipeline_endpoints.get(endpoint_id)
    if endpoint is None:
        raise ContractError(404, "PipelineEndpointNotFound", f"Pipeline endpoint '{endpoint_id}' was not found.")
    if version is not None and version not in endpoint.versions:
        raise ContractError(404, "PipelineVersionNotFound", f"[emulator] Pipeline endpoint '{endpoint.name}' has no"
                                                            f" version '{version}' ({', '.join(endpoint.versions)}).")
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ContractError(400, "BadRequest", f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ContractError(400, "BadRequest", "The request body must be a PipelineSubmissionInfo object.")
    experiment = ci_get(body, "ExperimentName")
    if not isinstance(experiment, str) or not experiment.strip():
        raise validation_error(ValidationIssue("ExperimentName", "'ExperimentName' must not be empty.",
                                               code="NotEmptyValidator"))
    component = endpoint.component
    given: dict[str, tuple[str, Any]] = {}
    outputs: dict[str, tuple[str, str]] = {}
    for name, value in (ci_get(body, "ParameterAssignments") or {}).items():
        given[str(name)] = ("Literal", value)
    for name, path in (ci_get(body, "DataPathAssignments") or {}).items():
        store, rel = ci_get(path, "DataStoreName"), ci_get(path, "RelativePath")
        if not isinstance(store, str) or not isinstance(rel, str):
            raise validation_error(ValidationIssue(f"DataPathAssignments.{name}",
                                                   "'DataStoreName' and 'RelativePath' are required."))
        uri = f"azureml://datastores/{store}/paths/{rel.lstrip('/')}"
        if str(name) in component.outputs:
            outputs[str(name)] = ("UriFolder", uri.rstrip("/") + "/")
        else:
            given[str(name)] = ("UriFolder", uri)
    bindings = bind_inputs(component, given)
    run_id = str(uuid.uuid4())
    for name, kind in component.outputs.items():
        ds = emu.config.default_datastore
        outputs.setdefault(name, ("UriFolder" if kind == "uri_folder" else "UriFile",
                                  f"azureml://datastores/{ds}/paths/azureml/{run_id}/{name}/"
                                  + ("" if kind == "uri_folder" else name)))
    _check_locations(emu, bindings, outputs)
    tags = ci_get(body, "Tags") or {}
    req = _request(bindings, None, experiment, tags if isinstance(tags, dict) else {}, {},
                   ci_get(body, "Description"))
    deployment = Deployment(name=endpoint.name, type="pipeline", code_dir=component.code_dir, scoring_script="",
                            model_dir=None, instance_count=1, settings=DeploymentSettings())
    job = PipelineJob(name=run_id, endpoint=V1_ENDPOINT_PREFIX + endpoint.id, deployment=deployment, request=req,
                      settings=_settings(), experiment_name=experiment,
                      output_uri=next(iter(outputs.values()))[1] if outputs else "", component=component,
                      bindings=bindings, outputs_map=outputs, v1=True,
                      faults=emu.faults.take_job_faults(V1_ENDPOINT_PREFIX + endpoint.id, endpoint.name))
    job.log(f"v1 pipeline endpoint {endpoint.name} ({endpoint.id}) version {version or 'default'}")
    start(emu, job)
    return job


def _v1_job(emu: Any, run_id: str) -> Job:
    job = emu.store.get(run_id)
    if job is None or not job.endpoint.startswith(V1_ENDPOINT_PREFIX):
        raise ContractError(404, "RunNotFound", f"Run '{run_id}' was not found.")
    return job


async def get_run(request: web.Request) -> web.Response:
    emu, r = await _checked(request, "status")
    if r is not None:
        return r
    try:
        return web.json_response(run_resource(_v1_job(emu, request.match_info["run"])))
    except ContractError as exc:
        return _answer(exc)


async def cancel(request: web.Request) -> web.Response:
    emu, r = await _checked(request, "cancel")
    if r is not None:
        return r
    try:
        job = _v1_job(emu, request.match_info["run"])
    except ContractError as exc:
        return _answer(exc)
    emu.cancel(job)
    return web.json_response({"Id": job.name, "Status": job.status.value})


async def query_runs(request: web.Request) -> web.Response:
    emu, r = await _checked(request, "status")
    if r is not None:
        return r
    try:
        spec = await request.json()
    except json.JSONDecodeError:
        spec = None
    wanted = []
    text = str(spec.get("filter", "") if isinstance(spec, dict) else "").strip()
    if text.startswith("((") and text.endswith("))"):   # azureml-core's and_join of several terms
        text = text[1:-1]
    for term in [t.strip() for t in text.split(" and ") if t.strip()]:
        if term == "(ParentRunId eq null)":   # top-level runs only: the emulator's v1 runs have no parent
            continue
        m = _SDK_FILTER.match(term) or _FILTER.match(term)
        if m is None:
            return _answer(ContractError(400, "BadRequest", f"[emulator] Unsupported filter term '{term}'."))
        wanted.append((m["key"], m["value"]))
    from .resources import job_tags

    runs = [j for j in reversed(emu.store.list()) if j.endpoint.startswith(V1_ENDPOINT_PREFIX)
            and j.experiment_name == request.match_info["experiment"]
            and all(job_tags(j).get(k) == v for k, v in wanted)]
    return web.json_response({"value": [run_resource(j) for j in runs]})
