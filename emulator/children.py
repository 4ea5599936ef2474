"""The ``batchscoring`` child run of a model-deployment batch job (contract §2.5, reference §8).

A real batch job is a pipeline job with one child step, ``batchscoring``, whose ``score`` output holds the
results when the job was submitted without ``OutputData``; the SDK's ``download`` reads it there. Run events
may name that child rather than the job (UNCONFIRMED which). Switches (``/_emulator/child_runs``):

* ``events``: which run ids ``RunStatusChanged`` events name: ``job`` (default), ``child`` or ``both``.
* ``parent_outputs``: ``listed`` (default: the job resource lists its default output) or ``omitted`` (only the
  child's ``score`` output says where the results are).
* ``children``: ``served`` (default) or ``absent`` (Run History answers 404 for a job's children, as for a
  caller without access to it: only the parent resource can say where the outputs are).

Served here: Run History ``GET /history/v1.0/…/runs/{runId}`` for batch jobs and their children (v1 pipeline
runs are answered by :mod:`.pipelines_v1`), ``GET …/runs/{runId}/children``, and the ARM job GET of a child.
The child's run id is a GUID derived from the job's name (``parentRunId`` = the job).
"""
from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web

from .jobs import Job

CHILD_NAME = "batchscoring"
WS = ("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}")
_NAMESPACE = uuid.UUID("6f1c0a52-5a0e-4c55-9a8e-2b7d1e0c4b11")


@dataclass
class ChildRunSwitches:
    events: str = "job"            # job | child | both
    parent_outputs: str = "listed"  # listed | omitted
    children: str = "served"        # served | absent

    def update(self, spec: Any) -> None:
        if not isinstance(spec, dict):
            raise ValueError("expected an object")
        for key, allowed in (("events", ("job", "child", "both")), ("parent_outputs", ("listed", "omitted")),
                             ("children", ("served", "absent"))):
            if key in spec:
                if spec[key] not in allowed:
                    raise ValueError(f"{key} must be one of {', '.join(allowed)}")
                setattr(self, key, spec[key])


def switches(emu: Any) -> ChildRunSwitches:
    found = getattr(emu, "child_runs", None)
    if found is None:
        found = emu.child_runs = ChildRunSwitches()
    return found


def has_child(job: Job) -> bool:
    """Model-deployment jobs only (pipeline-component and v1 runs list their named outputs themselves)."""
    return not hasattr(job, "extra_properties") and not getattr(job, "v1", False)


def child_run_id(job: Job) -> str:
    return str(uuid.uuid5(_NAMESPACE, job.name))


def job_of_child(emu: Any, run_id: str) -> Job | None:
    for job in emu.store.list():
        if has_child(job) and child_run_id(job) == run_id:
            return job
    return None


def score_folder(job: Job) -> str:
    return job.output_uri.rsplit("/", 1)[0] + "/"


def child_properties(job: Job) -> dict[str, str]:
    return {"azureml.moduleName": CHILD_NAME, "azureml.pipelinerunid": job.name, "azureml.nodeid": "batchscoring",
            "azureml.runsource": "azureml.StepRun"}


def run_dto(job: Job, *, child: bool) -> dict[str, Any]:
    """A Run History run of the job or of its child."""
    from .resources import iso, job_properties, job_tags

    body: dict[str, Any] = {
        "runId": child_run_id(job) if child else job.name, "status": job.status.value,
        "experimentName": job.experiment_name, "runType": "azureml.StepRun" if child else "azureml.PipelineRun",
        "parentRunId": job.name if child else None, "rootRunId": job.name,
        "displayName": CHILD_NAME if child else job.name,
        "properties": child_properties(job) if child else job_properties(job),
        "tags": {} if child else job_tags(job),
        "createdUtc": iso(job.created_at), "lastModifiedUtc": iso(job.modified_at)}
    if child:
        body["outputs"] = {"score": {"assetId": f"azureml_{child_run_id(job)}_output_data_score", "type": "UriFolder"}}
    return body


def arm_child(emu: Any, name: str) -> dict[str, Any] | None:
    """The ARM job resource of a ``batchscoring`` child, or None when ``name`` is no child."""
    job = job_of_child(emu, name)
    if job is None:
        return None
    ws = emu.config.workspace
    child = child_run_id(job)
    return {"id": f"{ws.arm_id}/jobs/{child}", "name": child, "type": "Microsoft.MachineLearningServices/workspaces/jobs",
            "properties": {"jobType": "Command", "displayName": CHILD_NAME, "status": job.status.value,
                           "experimentName": job.experiment_name, "properties": child_properties(job), "tags": {},
                           "outputs": {"score": {"jobOutputType": "uri_folder", "uri": score_folder(job),
                                                 "mode": "ReadWriteMount"}}}}


def parent_view(emu: Any, job: Job, resource: dict[str, Any]) -> dict[str, Any]:
    """The job resource as served: without its default output when ``parent_outputs`` is ``omitted``."""
    if switches(emu).parent_outputs != "omitted" or not has_child(job) or job.request.output is not None:
        return resource
    props = {k: v for k, v in resource.get("properties", {}).items() if k.lower() not in ("outputs", "outputdata")}
    return {**resource, "properties": props}


def rewrite_event(emu: Any, job: Job, event: dict[str, Any]) -> list[dict[str, Any]]:
    """The events published for one status change: the job's, its child's, or both."""
    mode = switches(emu).events
    if mode == "job" or not has_child(job):
        return [event]
    child = child_run_id(job)
    data = {**event["data"], "runId": child, "runType": "azureml.StepRun", "runTags": {},
            "runProperties": child_properties(job)}
    subject = event["subject"].rsplit("/", 1)[0] + "/" + child
    child_event = {**event, "id": str(uuid.uuid4()), "subject": subject, "data": data}
    return [child_event] if mode == "child" else [event, child_event]


# -- HTTP ---------------------------------------------------------------------------------------------
def add_routes(app: web.Application) -> None:
    """Registered before :mod:`.pipelines_v1`'s Run History route, which answers the runs not known here."""
    app.router.add_get("/history/v1.0" + WS + "/runs/{run}/children", get_children)
    app.router.add_get("/history/v1.0" + WS + "/runs/{run}", get_run)
    app.router.add_get("/_emulator/child_runs", get_switches)
    app.router.add_post("/_emulator/child_runs", post_switches)


async def get_run(request: web.Request) -> web.Response:
    from .pipelines_v1 import _checked, get_run as v1_run

    emu, r = await _checked(request, "status")
    if r is not None:
        return r
    name = request.match_info["run"]
    job = emu.store.get(name)
    if job is not None and has_child(job):
        return web.json_response(run_dto(job, child=False))
    parent = job_of_child(emu, name)
    if parent is not None:
        return web.json_response(run_dto(parent, child=True))
    return await v1_run(request)


async def get_children(request: web.Request) -> web.Response:
    from .app import error_response
    from .pipelines_v1 import _checked

    emu, r = await _checked(request, "status")
    if r is not None:
        return r
    name = request.match_info["run"]
    job = emu.store.get(name)
    if job is None or switches(emu).children == "absent":
        return error_response(404, "RunNotFound", f"Run '{name}' was not found.")
    return web.json_response({"value": [run_dto(job, child=True)] if has_child(job) else []})


async def get_switches(request: web.Request) -> web.Response:
    from .app import EMULATOR_KEY

    return web.json_response(asdict(switches(request.app[EMULATOR_KEY])))


async def post_switches(request: web.Request) -> web.Response:
    from .app import EMULATOR_KEY, error_response

    emu = request.app[EMULATOR_KEY]
    try:
        switches(emu).update(await request.json())
    except ValueError as exc:
        return error_response(400, "BadRequest", f"Invalid child-run switches: {exc}")
    return await get_switches(request)
