"""Pure builders for batch-endpoint requests: URLs, headers and job bodies; and reading job resources."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional
from urllib.parse import quote, urlsplit

from ..config.models import EndpointConfig, JobOverrides
from ..paths import check_job_name
from .status import normalise

# The public cloud's scopes; the client sends each call with its cloud's (AZURE_CLOUD, shared/config/clouds.py).
DATA_PLANE_SCOPE = "https://ml.azure.com/.default"
MANAGEMENT_SCOPE = "https://management.azure.com/.default"
DEPLOYMENT_HEADER = "azureml-model-deployment"
# The newest azure-ai-ml SDK sends this (underscore included); server de-duplication on it is unconfirmed.
REPEATABILITY_HEADER = "repeatability_request-id"

_WIRE_INPUT_TYPES = {"uri_folder": "UriFolder", "uri_file": "UriFile"}


@dataclass(frozen=True)
class ApiCall:
    """One HTTP call, minus the bearer token that the client adds at send time."""

    method: str
    url: str
    scope: str
    headers: dict[str, str] = field(default_factory=dict)
    body: Optional[dict] = None


@dataclass(frozen=True)
class JobInfo:
    name: str
    status: str
    studio_url: Optional[str] = None
    error: Optional[str] = None
    tags: Mapping[str, str] = field(default_factory=dict)
    properties: Mapping[str, str] = field(default_factory=dict)  # user + service properties
    output_uris: tuple[str, ...] = ()
    outputs: Mapping[str, str] = field(default_factory=dict)  # output name -> URI, as the job resource lists them


def iso_duration(seconds: int) -> str:
    """Seconds as the ISO-8601 duration the service expects for ``retrySettings.timeout`` (300 -> PT5M)."""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + (f"{secs}S" if secs else "")
    return text if text != "PT" else "PT0S"


WIRE_OUTPUT_TYPES = {"uri_file": "UriFile", "uri_folder": "UriFolder"}


def data_input(input_type: str, uri: str) -> dict:
    """A data input as the SDK serialises it (``BatchJobSchema``): camelCase, no ``mode`` for Uri* inputs."""
    return {"jobInputType": _WIRE_INPUT_TYPES[input_type], "uri": uri}


def literal_input(value: Any) -> dict:
    """A literal input as the SDK serialises it: the JSON value as given (a string, number or boolean)."""
    return {"jobInputType": "Literal", "value": value}


def data_output(output_type: str, uri: str) -> dict:
    return {"jobOutputType": WIRE_OUTPUT_TYPES[output_type], "uri": uri}


def batch_job_body(*, inputs: Mapping[str, dict], outputs: Mapping[str, dict], overrides: JobOverrides,
                   job_name: Optional[str] = None, labels: Optional[Mapping[str, str]] = None,
                   fold_output_file_name: bool = True) -> dict:
    """The invoke body, camelCase as the azure-ai-ml SDK sends it (contract §1.4; fixtures in
    tests/batch_endpoint/fixtures/).

    ``inputs``/``outputs`` are wire entries (:func:`data_input`, :func:`literal_input`, :func:`data_output`).
    No ``outputs`` means the deployment's default output location: ``outputData`` is not sent. With outputs,
    ``outputFileName`` is never sent beside them: the SDK appends the file name to the output folder's URI
    (``convert_v1_dataset_to_v2``), which the caller did when it rendered the URI (``fold_output_file_name``:
    :func:`append_output_file_name`, :mod:`shared.config.outputs`).
    ``job_name`` is the client-chosen ``properties.name`` (§1.8); ``labels`` go out as both ``tags`` and
    user ``properties``, so a run attempt can find its job whichever the service keeps.
    """
    properties: dict[str, Any] = {"inputData": dict(inputs)}
    if outputs:
        properties["outputData"] = dict(outputs)
    if overrides.mini_batch_size is not None:
        properties["miniBatchSize"] = overrides.mini_batch_size
    if overrides.instance_count is not None:
        properties["compute"] = {"instanceCount": overrides.instance_count}
    retry: dict[str, Any] = {}
    if overrides.max_retries is not None:
        retry["maxRetries"] = overrides.max_retries
    if overrides.timeout_seconds is not None:
        retry["timeout"] = iso_duration(overrides.timeout_seconds)
    if retry:
        properties["retrySettings"] = retry
    if overrides.error_threshold is not None:
        properties["errorThreshold"] = overrides.error_threshold
    if overrides.output_file_name is not None and not (outputs and fold_output_file_name):
        properties["outputFileName"] = overrides.output_file_name
    user_properties: dict[str, str] = dict(labels or {})
    if overrides.experiment_name is not None:
        user_properties["experimentName"] = overrides.experiment_name
    if user_properties:
        properties["properties"] = user_properties
    if labels:
        properties["tags"] = dict(labels)
    if job_name is not None:
        properties["name"] = job_name
    return {"properties": properties}


def append_output_file_name(uri: str, file_name: Optional[str]) -> str:
    """A UriFile output's URI with ``file_name`` appended to its folder, as the SDK does
    (``convert_v1_dataset_to_v2``: ``.../paths/<path>/<file name>``); unchanged when ``file_name`` is None."""
    if not file_name:
        return uri
    return uri.rstrip("/") + "/" + file_name


def job_body(*, input_name: str, input_type: str, input_uri: str, output_name: Optional[str],
             output_uri: Optional[str], overrides: JobOverrides, job_name: Optional[str] = None,
             labels: Optional[Mapping[str, str]] = None) -> dict:
    """The single-input, single-output body of a model deployment (``output_uri`` None: the default location).
    An ``overrides.output_file_name`` is appended to ``output_uri`` (then the output's folder)."""
    outputs = {}
    if output_uri is not None:
        outputs[output_name or "score"] = data_output("uri_file",
                                                      append_output_file_name(output_uri, overrides.output_file_name))
    return batch_job_body(inputs={input_name: data_input(input_type, input_uri)}, outputs=outputs,
                          overrides=overrides, job_name=job_name, labels=labels)


def submit_call(endpoint: EndpointConfig, body: dict, request_id: str) -> ApiCall:
    headers = {"Content-Type": "application/json", REPEATABILITY_HEADER: request_id}
    if endpoint.deployment:
        headers[DEPLOYMENT_HEADER] = endpoint.deployment
    return ApiCall("POST", endpoint.scoring_uri, DATA_PLANE_SCOPE, headers, body)


def management_job_url(endpoint: EndpointConfig, job_name: str, management_url: str) -> Optional[str]:
    ws = endpoint.workspace
    if ws is None:
        return None
    return (f"{management_url.rstrip('/')}/subscriptions/{ws.subscription_id}/resourceGroups/{ws.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{ws.name}/jobs/{job_name}")


def status_call(endpoint: EndpointConfig, job_name: str, management_url: str, api_version: str) -> ApiCall:
    """Management plane when workspace coordinates exist (documented API), else the data-plane job GET."""
    url = management_job_url(endpoint, job_name, management_url)
    if url is not None:
        return ApiCall("GET", f"{url}?api-version={api_version}", MANAGEMENT_SCOPE)
    return ApiCall("GET", f"{endpoint.scoring_uri}/{job_name}", DATA_PLANE_SCOPE)


def find_call(endpoint: EndpointConfig, job_name: str, management_url: str, api_version: str) -> ApiCall:
    """A GET of one job by name (404 when there is none): the status call."""
    return status_call(endpoint, job_name, management_url, api_version)


def list_call(endpoint: EndpointConfig, management_url: str, api_version: str, *,
              properties_filter: Optional[Mapping[str, str]] = None) -> ApiCall:
    """The first page of the job list, newest first.

    With workspace coordinates: the documented ARM Jobs_List, whose ``properties`` filter takes
    ``name=value`` pairs. Without: a GET on the scoring URI, which the emulator serves and the real data
    plane may not (UNCONFIRMED); a 404/405 there means "cannot list".
    """
    query = ""
    if properties_filter:
        query = "properties=" + quote(",".join(f"{k}={v}" for k, v in properties_filter.items()), safe="=,")
    url = management_job_url(endpoint, "", management_url)
    if url is not None:
        return ApiCall("GET", f"{url.rstrip('/')}?api-version={api_version}" + (f"&{query}" if query else ""),
                       MANAGEMENT_SCOPE)
    return ApiCall("GET", endpoint.scoring_uri + (f"?{query}" if query else ""), DATA_PLANE_SCOPE)


def next_page_call(previous: ApiCall, next_link: Any) -> Optional[ApiCall]:
    """The call for a ``nextLink``, only when it stays on the same scheme and host: a token is never
    sent where a response body pointed."""
    if not isinstance(next_link, str) or not next_link:
        return None
    before, after = urlsplit(previous.url), urlsplit(next_link)
    if (before.scheme, before.netloc.lower()) != (after.scheme, after.netloc.lower()):
        return None
    return ApiCall("GET", next_link, previous.scope)


def data_container_call(endpoint: EndpointConfig, asset: str, management_url: str, api_version: str) -> ApiCall:
    """ARM ``Data Containers - Get``: ``properties.latestVersion`` is what the SDK reads for ``name@latest``."""
    url = management_job_url(endpoint, "", management_url)
    if url is None:
        raise ValueError(f"data asset {asset!r}: resolving @latest needs endpoint.workspace")
    base = url.rstrip("/").rsplit("/jobs", 1)[0]
    return ApiCall("GET", f"{base}/data/{quote(asset, safe='')}?api-version={api_version}", MANAGEMENT_SCOPE)


def cancel_call(endpoint: EndpointConfig, job_name: str, management_url: str, api_version: str) -> Optional[ApiCall]:
    """The management-plane cancel, or ``None`` when the route has no workspace coordinates."""
    url = management_job_url(endpoint, job_name, management_url)
    if url is None:
        return None
    return ApiCall("POST", f"{url}/cancel?api-version={api_version}", MANAGEMENT_SCOPE)


def _studio_url(properties: dict) -> Optional[str]:
    for key in ("interactionEndpoints", "services"):
        studio = (properties.get(key) or {}).get("Studio") or {}
        if studio.get("endpoint"):
            return studio["endpoint"]
    return None


def _error_text(properties: dict) -> Optional[str]:
    error = properties.get("error")
    if isinstance(error, dict):
        inner = error.get("error") if isinstance(error.get("error"), dict) else error
        return inner.get("message") or inner.get("code")
    if isinstance(error, str):
        return error
    return None


def parse_job(resource: Any) -> JobInfo:
    """Read a batch job resource (data plane or ARM); tolerant of a top-level ``status`` as older APIs had."""
    if not isinstance(resource, dict):
        raise ValueError("job resource is not a JSON object")
    properties = resource.get("properties") or {}
    name = resource.get("name") or str(resource.get("id", "")).rsplit("/", 1)[-1]
    if not name:
        raise ValueError("job resource has no name")
    check_job_name(name)  # it goes into URLs and the run's state: never trust a remote answer's name
    status = properties.get("status") or resource.get("status")
    return JobInfo(name=name, status=normalise(status), studio_url=_studio_url(properties),
                   error=_error_text(properties), tags=_strings(properties.get("tags")),
                   properties=_strings(properties.get("properties")), output_uris=_output_uris(properties),
                   outputs=_named_outputs(properties))


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _output_uris(properties: dict) -> tuple[str, ...]:
    """Output URIs of a data-plane (``outputData``) or ARM (``outputs``) job resource; keys as the
    service deserialises them, case-insensitively."""
    uris = []
    for key, outputs in properties.items():
        if key.lower() not in ("outputdata", "outputs") or not isinstance(outputs, dict):
            continue
        for spec in outputs.values():
            if isinstance(spec, dict):
                uri = next((v for k, v in spec.items() if k.lower() == "uri"), None)
                if isinstance(uri, str) and uri:
                    uris.append(uri)
    return tuple(uris)


def _named_outputs(properties: dict) -> dict[str, str]:
    """``{output name: URI}`` of a data-plane (``outputData``) or ARM (``outputs``) job resource."""
    named: dict[str, str] = {}
    for key, outputs in properties.items():
        if key.lower() not in ("outputdata", "outputs") or not isinstance(outputs, dict):
            continue
        for name, spec in outputs.items():
            if isinstance(spec, dict):
                uri = next((v for k, v in spec.items() if k.lower() == "uri"), None)
                if isinstance(uri, str) and uri and isinstance(name, str):
                    named.setdefault(name, uri)
    return named
