"""A batch job's ``batchscoring`` child run (pure): Run History calls and how their answers are read.

A model-deployment batch job is a pipeline job with one child step, ``batchscoring`` (contract §2.5). Two things
the app needs are found on that child rather than on the job it submitted:

* **Run events** may name the child's run id instead of the job's (reference §8, UNCONFIRMED which).
  :func:`parent_of` reads a run's parent from Run History's run resource (``parentRunId``, else ``rootRunId``,
  else the step's ``azureml.pipelinerunid`` property).
* **Outputs** of a job submitted without ``outputData``: the SDK's ``download`` lists the job's Run History
  children, takes the ``batchscoring`` one (``properties["azureml.moduleName"]``; a batch job has only one
  child) and reads that run's ``score`` output (:func:`scoring_child`). The app reads the child's ``score``
  output through the job API (a GET of the child by name), the parent's ``outputs`` being the fallback.

Run History lives on the workspace's regional API host, not ARM: :func:`run_history_url` derives it from the
scoring URI (``<endpoint>.<region>.inference.ml.azure.com`` → ``<region>.api.azureml.ms``; sovereign clouds
by their suffixes, UNCONFIRMED; loopback: the scoring URI's origin, where the emulator serves it). Calls want
a management-audience token (contract §2.5). No Azure SDK; the client adds the token.
"""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import urlsplit

from ..config.checks import is_loopback_url
from ..config.models import EndpointConfig
from ..paths import InvalidName, check_job_name
from .requests import MANAGEMENT_SCOPE, ApiCall

CHILD_RUN_NAME = "batchscoring"          # azure-ai-ml BATCH_JOB_CHILD_RUN_NAME
CHILD_RUN_OUTPUT_NAME = "score"          # azure-ai-ml BATCH_JOB_CHILD_RUN_OUTPUT_NAME
MODULE_NAME_PROPERTY = "azureml.moduleName"
PIPELINE_RUN_PROPERTY = "azureml.pipelinerunid"

def _api_suffixes() -> dict[str, str]:
    """Scoring-URI host suffix → regional API host suffix, for every cloud (shared/config/clouds.py)."""
    from ..config.clouds import CLOUDS

    return {c.inference_suffix: c.api_suffix for c in CLOUDS.values()}


def run_history_url(endpoint: EndpointConfig) -> Optional[str]:
    """The Run History host of the endpoint's workspace, or None when it cannot be told from the scoring URI."""
    parts = urlsplit(endpoint.scoring_uri)
    if is_loopback_url(endpoint.scoring_uri):
        return f"{parts.scheme}://{parts.netloc}"
    host = (parts.hostname or "").lower()
    for suffix, api in _api_suffixes().items():
        if host.endswith("." + suffix):
            labels = host[:-len(suffix) - 1].split(".")
            if len(labels) >= 2 and labels[-1].isalnum():
                return f"https://{labels[-1]}.{api}"
    return None


def _runs_url(endpoint: EndpointConfig, api: str) -> Optional[str]:
    ws = endpoint.workspace
    if ws is None:
        return None
    return (f"{api.rstrip('/')}/history/v1.0/subscriptions/{ws.subscription_id}/resourceGroups/{ws.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{ws.name}/runs")


def run_call(endpoint: EndpointConfig, run_id: str, api: str) -> Optional[ApiCall]:
    """Run History ``GET …/runs/{runId}`` (None without workspace coordinates)."""
    base = _runs_url(endpoint, api)
    return None if base is None else ApiCall("GET", f"{base}/{check_job_name(run_id, field='run id')}",
                                             MANAGEMENT_SCOPE)


def children_call(endpoint: EndpointConfig, job_name: str, api: str) -> Optional[ApiCall]:
    """Run History ``GET …/runs/{runId}/children`` (None without workspace coordinates)."""
    base = _runs_url(endpoint, api)
    return None if base is None else ApiCall("GET", f"{base}/{check_job_name(job_name)}/children",
                                             MANAGEMENT_SCOPE)


def _text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value else None


def _props(run: dict) -> dict:
    props = run.get("properties")
    return props if isinstance(props, dict) else {}


def parent_of(run: Any, run_id: str) -> Optional[str]:
    """The parent job of a Run History run, or None when it is a top-level run (checked against the job-name
    grammar: it becomes a ledger key and a URL segment)."""
    if not isinstance(run, dict):
        return None
    for candidate in (run.get("parentRunId"), run.get("rootRunId"), _props(run).get(PIPELINE_RUN_PROPERTY)):
        name = _text(candidate)
        if name and name != run_id:
            try:
                return check_job_name(name, field="parent run id")
            except InvalidName:
                return None
    return None


def _run_id(run: dict) -> Optional[str]:
    return _text(run.get("runId")) or _text(run.get("RunId")) or _text(run.get("name"))


def scoring_child(children: Any) -> Optional[str]:
    """The ``batchscoring`` child's run id in a children page (``{"value": [runs]}`` or a list): the one whose
    module name (or display name) is ``batchscoring``, else the only child, as the SDK reads it."""
    runs = children.get("value") if isinstance(children, dict) else children
    runs = [r for r in runs if isinstance(r, dict) and _run_id(r)] if isinstance(runs, list) else []
    named = [r for r in runs if CHILD_RUN_NAME in (_props(r).get(MODULE_NAME_PROPERTY), r.get("displayName"),
                                                    r.get("name"))]
    chosen = named[0] if named else (runs[0] if len(runs) == 1 else None)
    if chosen is None:
        return None
    try:
        return check_job_name(_run_id(chosen), field="child run id")
    except InvalidName:
        return None
