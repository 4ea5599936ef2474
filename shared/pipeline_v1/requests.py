"""Pure builders for the v1 PipelineEndpoint REST contract (reference §3, §8): submit, read, find and cancel a run.

The wire is azureml-pipeline-core 1.62's (``_restclients/aeva/aml_pipelines_api10.py``, ``_aeva_provider.py``)
and azureml-core 1.61's (``_restclient/operations/run_operations.py``, ``_restclient/_odata``):

* Submit: ``POST {api}/pipelines/v1.0/{workspace}/PipelineRuns/PipelineEndpointSubmit/Id/{id}`` with the
  ``PipelineSubmissionInfo`` body (``Content-Type: application/json-patch+json; charset=utf-8``):
  ``ExperimentName``, ``Description``, ``RunSource``/``RunType`` ``SDK``, ``ParameterAssignments`` (every value a
  string, as ``str()`` makes it: ``100`` → ``"100"``, ``True`` → ``"True"``), ``DataPathAssignments`` (the landed
  folder as ``DataStoreName`` + ``RelativePath``; each configured output folder likewise) and ``tags`` (lower
  case, the model's key: the attempt's labels; ``PipelineEndpoint.submit`` itself sends none). A pipeline
  version goes where the SDK puts it: appended to the path (``…/Id/{id}/{version}``) *and* as the
  ``pipelineVersion`` query parameter.
* Read: Run History ``GET {api}/history/v1.0/{workspace}/runs/{runId}`` → ``status``; a pipeline run's success
  is ``Finished`` (``Completed`` is read as success too: UNCONFIRMED which one Run History reports).
* Find (before any re-POST): Run History ``POST …/experiments/{exp}/runs:query`` with azureml-core's
  ``QueryParamsDto`` (``filter`` ``(Tags/<k> eq "<v>")``, ``orderby`` ``StartTimeUtc desc``, ``top``); with no
  answer the look-up is "no list" and only the run id known to the caller counts.
* Cancel: ``DELETE {api}/pipelines/v1.0/{workspace}/PipelineRuns/{runId}/Execution`` (``PipelineRun.cancel``).

Every call wants a management-audience token (§3.1). No Azure SDK; the token is added by the client.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional
from urllib.parse import quote

from .. import paths
from ..batch_endpoint.job_spec import run_outputs, run_values
from ..batch_endpoint.requests import MANAGEMENT_SCOPE, ApiCall, JobInfo
from ..batch_endpoint.status import normalise
from ..config.models import Route
from ..storage.uris import parse_azureml_uri

RUN_SOURCE = "SDK"   # PipelineEndpoint.submit: run_source='SDK', run_type='SDK'
RUN_TYPE = "SDK"
JSON_PATCH = "application/json-patch+json; charset=utf-8"   # the aeva and Run History clients' POST bodies
#: Run History statuses of a pipeline run beyond the v2 job vocabulary: ``Finished`` is success.
_V1_STATUSES = {"finished": "Completed"}


def _workspace_path(route: Route) -> str:
    spec = route.pipeline_endpoint
    assert spec is not None
    ws = spec.workspace
    return (f"subscriptions/{ws.subscription_id}/resourceGroups/{ws.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{ws.name}")


def _api(route: Route) -> str:
    assert route.pipeline_endpoint is not None
    return route.pipeline_endpoint.api_url.rstrip("/")


def submit_url(route: Route) -> str:
    spec = route.pipeline_endpoint
    assert spec is not None
    url = f"{_api(route)}/pipelines/v1.0/{_workspace_path(route)}/PipelineRuns/PipelineEndpointSubmit/Id/{spec.id}"
    if not spec.version:
        return url
    version = quote(spec.version, safe="")
    return f"{url}/{version}?pipelineVersion={version}"   # both, as the SDK's service caller sends it


def parameter_text(value: Any) -> str:
    """A ``ParameterAssignments`` value as the SDK sends it: ``str(value)`` (``True``, ``100``, ``0.5``)."""
    return value if isinstance(value, str) else str(value)


def data_path(uri: str, datastore: Optional[str] = None) -> dict[str, str]:
    """``{"DataStoreName", "RelativePath"}`` of an ``azureml://datastores/<ds>/paths/<p>`` URI."""
    name, path = parse_azureml_uri(uri)
    return {"DataStoreName": datastore or name, "RelativePath": path.strip("/")}


def submission_body(route: Route, run: Mapping[str, Any], labels: Mapping[str, str]) -> dict:
    """The ``PipelineSubmissionInfo`` for one run attempt (``labels``: the attempt's identity, sent as Tags)."""
    spec = route.pipeline_endpoint
    assert spec is not None
    values = run_values(run)
    try:
        landed = data_path(run["input"]["uri"], spec.datastore)
    except ValueError:
        raise ValueError(f"route {route.name!r}: the landed folder {run['input'].get('url') or run['input']['uri']}"
                         " is not in a registered datastore; a v1 pipeline reads it as a DataPath (DataStoreName +"
                         " RelativePath): add its container to the datastores map or set"
                         " pipeline_endpoint.datastore") from None
    if spec.datastore:
        landed["RelativePath"] = str(run["input"].get("path") or landed["RelativePath"]).strip("/")
    assignments = {spec.data_path_name: landed}
    for name, uri in run_outputs(run).items():
        assignments[name] = data_path(uri)
    parameters = {key: paths.render_text(value, values, field=f"pipeline_endpoint.parameters.{key}")
                  if isinstance(value, str) else parameter_text(value) for key, value in spec.parameters.items()}
    return {"ExperimentName": spec.experiment_name, "Description": f"batch run {run['run_id']} of route {route.name}",
            "RunSource": RUN_SOURCE, "RunType": RUN_TYPE, "ParameterAssignments": parameters,
            "DataPathAssignments": assignments, "tags": dict(labels)}


def submit_call(route: Route, body: dict, request_id: str) -> ApiCall:
    return ApiCall("POST", submit_url(route), MANAGEMENT_SCOPE,
                   {"Content-Type": JSON_PATCH, "x-ms-client-request-id": request_id}, body)


def run_call(route: Route, run_id: str) -> ApiCall:
    paths.check_job_name(run_id, field="run id")
    return ApiCall("GET", f"{_api(route)}/history/v1.0/{_workspace_path(route)}/runs/{run_id}", MANAGEMENT_SCOPE)


def tag_filter(tag: str, value: str) -> str:
    """azureml-core's ``TAG_EQ_FORMAT_STR``: ``(Tags/<k> eq "<v>")``, the value quoted as is (no escaping
    there, so a value with '"' is refused here: the attempt labels never hold one)."""
    if '"' in value or '"' in tag or " " in tag:
        raise ValueError(f"tag filter: {tag!r}={value!r} cannot be written in azureml-core's filter syntax")
    return f'(Tags/{tag} eq "{value}")'


#: azureml-core's ``get_runs`` adds this term: top-level runs only (a pipeline run, never one of its steps)
TOP_LEVEL_ONLY = "(ParentRunId eq null)"


def query_call(route: Route, tag: str, value: str) -> ApiCall:
    spec = route.pipeline_endpoint
    assert spec is not None
    return ApiCall("POST", f"{_api(route)}/history/v1.0/{_workspace_path(route)}/experiments/"
                           f"{quote(spec.experiment_name, safe='')}/runs:query", MANAGEMENT_SCOPE,
                   {"Content-Type": JSON_PATCH},
                   {"filter": f"({tag_filter(tag, value)} and {TOP_LEVEL_ONLY})", "orderby": "StartTimeUtc desc",
                    "top": 10})


def cancel_call(route: Route, run_id: str) -> ApiCall:
    paths.check_job_name(run_id, field="run id")
    return ApiCall("DELETE", f"{_api(route)}/pipelines/v1.0/{_workspace_path(route)}/PipelineRuns/{run_id}/Execution",
                   MANAGEMENT_SCOPE, {"Content-Type": "application/json; charset=utf-8"})


def studio_url(route: Route, run_id: str, studio: Optional[str] = None) -> str:
    """The run's Studio link in the app's cloud (``AZURE_CLOUD``) unless ``studio`` is given."""
    from ..config.clouds import current_cloud

    spec = route.pipeline_endpoint
    assert spec is not None
    ws = spec.workspace
    base = (studio or current_cloud().studio_url).rstrip("/")
    return (f"{base}/runs/{run_id}?wsid=/subscriptions/{ws.subscription_id}/resourcegroups/"
            f"{ws.resource_group}/workspaces/{ws.name}")


def parse_submitted(body: Any) -> str:
    """The run id of a submit answer (``Id``, reference §3.3)."""
    run_id = body.get("Id") or body.get("id") if isinstance(body, dict) else None
    if not isinstance(run_id, str) or not run_id:
        raise ValueError("the submit answer has no run Id")
    return paths.check_job_name(run_id, field="run id")


def parse_run(route: Route, body: Any) -> JobInfo:
    """A Run History run as the app's :class:`JobInfo` (the run id is the job name)."""
    if not isinstance(body, dict):
        raise ValueError("run resource is not a JSON object")
    run_id = body.get("runId") or body.get("RunId") or body.get("Id")
    paths.check_job_name(run_id, field="run id")
    error = body.get("error")
    if isinstance(error, dict):
        inner = error.get("error") if isinstance(error.get("error"), dict) else error
        error = inner.get("message") or inner.get("code")
    tags = body.get("tags") if isinstance(body.get("tags"), dict) else {}
    raw = body.get("status") or body.get("Status")
    status = _V1_STATUSES.get(raw.lower()) if isinstance(raw, str) else None
    return JobInfo(name=run_id, status=status or normalise(raw),
                   studio_url=studio_url(route, run_id), error=error if isinstance(error, str) else None,
                   tags={str(k): str(v) for k, v in tags.items()})
