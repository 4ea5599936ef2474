"""Capture what azure-ai-ml's public ``BatchEndpointOperations.invoke()`` sends, for every form in docs/route-kinds.md's
"Route kinds, inputs and outputs" table, as JSON fixtures (tests/fidelity/fixtures/invoke/<form>.json).

NOT run in CI and NOT a project dependency: the SDK goes into a throwaway venv::

    python3 -m venv /tmp/sdkvenv && /tmp/sdkvenv/bin/pip install azure-ai-ml
    /tmp/sdkvenv/bin/python tests/fidelity/capture_invoke.py tests/fidelity/fixtures/invoke

No network: ``MLClient`` gets a fake credential and a recording transport. The transport answers the ARM
calls ``invoke()`` makes first (the batch endpoint, for its ``scoringUri``; its deployments, when a
deployment is named; a data asset's container/version, when one is resolved) and records the POST to the
scoring URI, which it answers 201 with a job resource. The call goes through ``invoke()`` itself, never
``BatchJobSchema`` directly, so its input checks run: a form it refuses is written with ``refused`` (the
exception's type and message) and no request.

Each fixture: ``form`` (docs/route-kinds.md's words), ``call`` (the ``invoke()`` keyword arguments, as text), ``sdk``
(the version), and either ``request`` (``method``, ``url``, the headers that matter, ``body``) or ``refused``.
The ``repeatability_request-id`` header is a fresh uuid4 per call: it is recorded as ``<uuid4>`` after
checking that it is one.
"""
from __future__ import annotations

import json
import re
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

SUB = "00000000-0000-0000-0000-000000000000"
RG = "rg-local"
WS = "ws-local"
ARM_WS = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/workspaces/{WS}"
SCORING_URI = "https://heart.eastus.inference.ml.azure.com/jobs"
PIPELINE_SCORING_URI = "https://sales.eastus.inference.ml.azure.com/jobs"
ASSET_LATEST_VERSION = "7"
RECORDED_HEADERS = ("Content-Type", "azureml-model-deployment", "repeatability_request-id")
JOB_NAME = "heart-0123456789abcdef0123-a1"
PIPELINE_JOB_NAME = "sales-0123456789abcdef0123-a1"
FOLDER = "azureml://datastores/workspaceblobstore/paths/heart/2024-06-01/"
OUTPUT = "azureml://datastores/workspaceblobstore/paths/batch/heart/r1/predictions.csv"


class FakeCredential:
    """A token for any scope; never sent anywhere but the recording transport."""

    def get_token(self, *scopes: str, **kwargs: Any):
        from azure.core.credentials import AccessToken

        return AccessToken("fake-token", 4102444800)

    def get_token_info(self, *scopes: str, options: Any = None):
        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo("fake-token", 4102444800)


def recording_transport(posts: list[dict]):
    """azure-core's own ``RequestsTransport`` over a session whose adapter answers instead of the network
    (so the SDK's pipeline, old- and new-style clients alike, reads real ``requests`` responses)."""
    import io

    import requests
    import urllib3
    from azure.core.pipeline.transport import RequestsTransport

    class Answering(requests.adapters.BaseAdapter):
        def send(self, request, **kwargs):
            status, body = answer(request.method, request.url, request.headers, request.body, posts)
            response = requests.Response()
            response.status_code = status
            response.reason = "OK" if status < 400 else "Not Found"
            response.headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
            response.raw = urllib3.HTTPResponse(body=io.BytesIO(data), headers=dict(response.headers),
                                                status=status, preload_content=False)
            response._content = data
            response.url = request.url
            response.request = request
            response.encoding = "utf-8"
            return response

        def close(self):
            pass

    session = requests.Session()
    session.mount("https://", Answering())
    session.mount("http://", Answering())
    return RequestsTransport(session=session, session_owner=False)


def answer(method: str, url: str, headers: Any, raw: Any, posts: list[dict]) -> tuple[int, Any]:
    path = url.split("?", 1)[0]
    if method == "POST" and path in (SCORING_URI, PIPELINE_SCORING_URI):
        posts.append({"method": "POST", "url": url, "headers": dict(headers), "body": json.loads(raw)})
        name = posts[-1]["body"]["properties"].get("name") or f"batchjob-{uuid.uuid4()}"
        return 201, {"id": f"{ARM_WS}/batchEndpoints/x/jobs/{name}", "name": name,
                     "properties": {"status": "NotStarted"}}
    asset_version = {"properties": {"dataType": "uri_folder",
                                    "dataUri": "azureml://datastores/workspaceblobstore/paths/a/"}}
    if method == "GET" and (m := re.search(r"/batchEndpoints/([^/]+)(/deployments)?$", path)):
        if m.group(2):
            return 200, {"value": [{"id": f"{ARM_WS}/batchEndpoints/{m.group(1)}/deployments/blue", "name": "blue",
                                    "location": "eastus", "properties": {}}]}
        uri = PIPELINE_SCORING_URI if m.group(1) == "sales" else SCORING_URI
        return 200, {"id": f"{ARM_WS}/batchEndpoints/{m.group(1)}", "name": m.group(1), "location": "eastus",
                     "properties": {"authMode": "AADToken", "scoringUri": uri, "defaults": {"deploymentName": "blue"}}}
    if method == "GET" and (m := re.search(r"/data/([^/]+)/versions/([^/]+)$", path)):
        return 200, {"id": f"{ARM_WS}/data/{m.group(1)}/versions/{m.group(2)}", "name": m.group(2), **asset_version}
    if method == "GET" and (m := re.search(r"/data/([^/]+)/versions$", path)):  # some versions list for @latest
        return 200, {"value": [{"id": f"{ARM_WS}/data/{m.group(1)}/versions/{ASSET_LATEST_VERSION}",
                                "name": ASSET_LATEST_VERSION, **asset_version}]}
    if method == "GET" and (m := re.search(r"/data/([^/]+)$", path)):
        return 200, {"id": f"{ARM_WS}/data/{m.group(1)}", "name": m.group(1),
                     "properties": {"latestVersion": ASSET_LATEST_VERSION}}
    return 404, {"error": {"code": "NotFound", "message": f"recording transport: no answer for {method} {url}"}}


@dataclass
class Form:
    key: str
    form: str          # docs/route-kinds.md's words for it
    call: str          # the invoke() arguments, as text
    invoke: Callable[[Any], Any]


def forms() -> list[Form]:
    from azure.ai.ml import Input, Output

    def model(**kwargs):
        return lambda ml: ml.batch_endpoints.invoke(endpoint_name="heart", **kwargs)

    def pipeline(**kwargs):
        return lambda ml: ml.batch_endpoints.invoke(endpoint_name="sales", **kwargs)

    folder_in = {"heart_dataset": Input(type="uri_folder", path=FOLDER)}
    score_out = {"score": Output(type="uri_file", path=OUTPUT)}
    out = [
        Form("model_folder_input_file_output", "landed folder -> input.name (uri_folder), one uri_file output,"
             " job name and experiment", "inputs={heart_dataset: uri_folder datastore path}, outputs={score: uri_file},"
             f" job_name={JOB_NAME!r}, experiment_name='heart-exp'",
             model(inputs=folder_in, outputs=score_out, job_name=JOB_NAME, experiment_name="heart-exp")),
        Form("model_folder_input_blob_url", "landed folder as its blob URL", "inputs={heart_dataset: uri_folder"
             " https blob URL}, outputs={score: uri_file}",
             model(inputs={"heart_dataset": Input(type="uri_folder",
                                                  path="https://acct.blob.core.windows.net/landing/heart/2024-06-01/")},
                   outputs=score_out)),
        Form("model_deployment_header", "a named deployment (azureml-model-deployment header)",
             "deployment_name='blue', inputs, outputs", model(deployment_name="blue", inputs=folder_in,
                                                               outputs=score_out)),
        Form("model_uri_file_input", "landed file (input.type: uri_file, per_file only)",
             "inputs={heart_dataset: uri_file datastore path}, outputs={score: uri_file}",
             model(inputs={"heart_dataset": Input(type="uri_file",
                                                  path="azureml://datastores/workspaceblobstore/paths/heart/a.csv")},
                   outputs=score_out)),
        Form("model_no_output_with_overrides", "no output (outputFileName if set); the model-deployment overrides",
             "inputs, params_override=[output_file_name, mini_batch_size, compute.instance_count,"
             " retry_settings.max_retries, retry_settings.timeout, error_threshold]",
             model(inputs=folder_in, params_override=[
                 {"output_file_name": "scores.csv"}, {"mini_batch_size": 2}, {"compute.instance_count": 1},
                 {"retry_settings.max_retries": 2}, {"retry_settings.timeout": 300}, {"error_threshold": 5}])),
        Form("model_output_file_name_with_output", "overrides.output_file_name with a uri_file output",
             "inputs, outputs={score: uri_file}, params_override=[output_file_name]",
             model(inputs=folder_in, outputs=score_out, params_override=[{"output_file_name": "scores.csv"}])),
        Form("model_output_file_name_with_output_path", "overrides.output_file_name with an output folder (the"
             " CLI's --output-path)", "inputs, params_override=[output_dataset.datastore_id, output_dataset.path,"
             " output_file_name]",
             model(inputs=folder_in, params_override=[
                 {"output_dataset.datastore_id": "azureml:workspaceblobstore"},
                 {"output_dataset.path": "batch/heart/r1"}, {"output_file_name": "scores.csv"}])),
        Form("pipeline_every_input_form_and_named_outputs", "pipeline_component: landed folder, data asset"
             " name:version (as its ARM id), long datastore URI, https blob and dfs URLs, literals (number, integer,"
             " string, boolean), named outputs uri_folder and uri_file, job name and experiment",
             "inputs={...}, outputs={scores: uri_folder, summary: uri_file}, job_name, experiment_name",
             pipeline(inputs={
                 "input_data": Input(type="uri_folder",
                                     path="azureml://datastores/workspaceblobstore/paths/sales/2024-06-01/"),
                 "lookup": Input(type="uri_folder", path=ARM_WS + "/data/regions/versions/2"),
                 "long_form": Input(type="uri_folder", path=f"azureml://subscriptions/{SUB}/resourcegroups/{RG}/"
                                                            f"workspaces/{WS}/datastores/workspaceblobstore/paths/ref/"),
                 "public": Input(type="uri_file", path="https://azuremlexampledata.blob.core.windows.net/data/"
                                                       "heart-disease-uci/data/heart.csv"),
                 "lake_https": Input(type="uri_folder", path="https://acct.dfs.core.windows.net/ref/regions/"),
                 "threshold": Input(type="number", default=0.5),
                 "top_k": Input(type="integer", default=3),
                 "label": Input(type="string", default="run-2024-06-01"),
                 "strict": Input(type="boolean", default=True),
             }, outputs={
                 "scores": Output(type="uri_folder", path="azureml://datastores/workspaceblobstore/paths/pipe/r1/scores/"),
                 "summary": Output(type="uri_file",
                                   path="azureml://datastores/workspaceblobstore/paths/pipe/r1/summary.json"),
             }, job_name=PIPELINE_JOB_NAME, experiment_name="sales-exp")),
        Form("pipeline_asset_arm_id", "data asset by its ARM id /subscriptions/…/data/<name>/versions/<version>",
             "inputs={input_data: uri_folder, lookup: uri_folder '<workspace ARM id>/data/regions/versions/2'}",
             pipeline(inputs={"input_data": Input(type="uri_folder", path=FOLDER),
                              "lookup": Input(type="uri_folder", path=ARM_WS + "/data/regions/versions/2")})),
        Form("pipeline_asset_name_version", "data asset azureml:<name>:<version>",
             "inputs={input_data: uri_folder, lookup: uri_folder 'azureml:regions:2'}",
             pipeline(inputs={"input_data": Input(type="uri_folder", path=FOLDER),
                              "lookup": Input(type="uri_folder", path="azureml:regions:2")})),
        Form("pipeline_asset_latest", "data asset azureml:<name>@latest",
             "inputs={input_data: uri_folder, lookup: uri_folder 'azureml:regions@latest'}",
             pipeline(inputs={"input_data": Input(type="uri_folder", path=FOLDER),
                              "lookup": Input(type="uri_folder", path="azureml:regions@latest")})),
        Form("pipeline_datastore_arm_id_path", "datastore ARM-id form /subscriptions/…/datastores/<ds>/paths/…",
             "inputs={input_data: uri_folder, ref: uri_folder '<workspace ARM id>/datastores/workspaceblobstore/"
             "paths/ref/'}",
             pipeline(inputs={"input_data": Input(type="uri_folder", path=FOLDER),
                              "ref": Input(type="uri_folder",
                                           path=ARM_WS + "/datastores/workspaceblobstore/paths/ref/")})),
        Form("pipeline_abfss_input", "abfss:// input", "inputs={input_data: uri_folder, lake: uri_folder"
             " 'abfss://ref@acct.dfs.core.windows.net/regions/'}",
             pipeline(inputs={"input_data": Input(type="uri_folder", path=FOLDER),
                              "lake": Input(type="uri_folder", path="abfss://ref@acct.dfs.core.windows.net/regions/")})),
        Form("model_abfss_input", "abfss:// input on a model deployment", "inputs={heart_dataset: uri_folder"
             " 'abfss://landing@acct.dfs.core.windows.net/heart/2024-06-01/'}, outputs",
             model(inputs={"heart_dataset": Input(type="uri_folder",
                                                  path="abfss://landing@acct.dfs.core.windows.net/heart/2024-06-01/")},
                   outputs=score_out)),
    ]
    return out


def normalised(post: dict) -> dict:
    headers = {k: v for k, v in post["headers"].items() if k in RECORDED_HEADERS}
    request_id = headers.get("repeatability_request-id")
    if request_id is not None:
        uuid.UUID(request_id)  # a fresh uuid4 per call: recorded as its kind, not its value
        headers["repeatability_request-id"] = "<uuid4>"
    return {"method": post["method"], "url": post["url"], "headers": dict(sorted(headers.items())),
            "body": post["body"]}


def capture(target: Path) -> None:
    from importlib.metadata import version

    from azure.ai.ml import MLClient
    from azure.ai.ml.exceptions import MlException
    from azure.core.exceptions import HttpResponseError

    target.mkdir(parents=True, exist_ok=True)
    sdk = f"azure-ai-ml {version('azure-ai-ml')}"
    from azure.ai.ml.constants._endpoint import EndpointInvokeFields

    # invoke() writes its headers into this module-level dict, so a deployment named in one call would
    # leak into every later call of the process: each form starts from the pristine dict.
    pristine = dict(EndpointInvokeFields.DEFAULT_HEADER)
    for form in forms():
        EndpointInvokeFields.DEFAULT_HEADER.clear()
        EndpointInvokeFields.DEFAULT_HEADER.update(pristine)
        posts: list[dict] = []
        ml = MLClient(FakeCredential(), SUB, RG, WS, transport=recording_transport(posts))
        record: dict[str, Any] = {"form": form.form, "call": form.call, "sdk": sdk}
        try:
            form.invoke(ml)
        except (MlException, HttpResponseError) as exc:  # the SDK's refusal is the finding
            record["refused"] = {"type": type(exc).__name__, "message": str(exc).strip().splitlines()[0]}
        else:
            assert len(posts) == 1, f"{form.key}: {len(posts)} POSTs"
            record["request"] = normalised(posts[0])
        (target / f"{form.key}.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n",
                                                 encoding="utf-8")
        print(form.key, "refused" if "refused" in record else "captured")


if __name__ == "__main__":
    capture(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "fixtures" / "invoke"))
