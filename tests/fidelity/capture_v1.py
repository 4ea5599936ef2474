"""Capture the v1 PipelineEndpoint wire as azureml-pipeline-core sends it (submit with and without a version,
the run's status, cancel, and the run search by tag) into tests/fidelity/fixtures/v1/<call>.json.

NOT run in CI and NOT a project dependency (Azure ML SDK v1 support ended 2026-06-30)::

    python3 -m venv /tmp/v1venv && /tmp/v1venv/bin/pip install azureml-pipeline-core
    /tmp/v1venv/bin/python tests/fidelity/capture_v1.py tests/fidelity/fixtures/v1

No network: every ``requests`` session of the process answers from :func:`answer` (the SDK's own REST
clients, msrest over ``requests``, run unchanged above it), with a fake JWT-shaped credential. Recorded:
method, URL, the headers that matter and the JSON body of each call the public API makes to the pipelines and
Run History services (``PipelineEndpoint.get(...).submit``, ``PipelineRun.get_status``, ``PipelineRun.cancel``,
``Experiment.get_runs(tags=...)``).
"""
from __future__ import annotations

import base64
import io
import json
import os
import re
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

SUB, RG, WS = "00000000-0000-0000-0000-000000000000", "rg-local", "ws-local"
ARM_WS = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/workspaces/{WS}"
API = "https://eastus2.api.azureml.ms"
ENDPOINT_ID = "a275bc5d-0000-4000-8000-000000000001"
RUN_ID = "run-1"
EXPERIMENT = "sales-exp"
RECORDED_HEADERS = ("Content-Type", "Accept")


def _b64(value: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


#: Unsigned and never sent anywhere: the SDK decodes its claims (tenant, object id) before it calls.
FAKE_JWT = (_b64({"alg": "none", "typ": "JWT"}) + "." +
            _b64({"aud": "https://management.azure.com/", "exp": 4102444800, "upn": "capture@example.invalid",
                  "oid": "22222222-2222-2222-2222-222222222222", "tid": "33333333-3333-3333-3333-333333333333"})
            + ".c2ln")

_RUN = {"runId": RUN_ID, "rootRunId": RUN_ID, "runUuid": "44444444-4444-4444-4444-444444444444",
        "rootRunUuid": "44444444-4444-4444-4444-444444444444", "status": "Running", "runNumber": 1,
        "experimentId": "55555555-5555-5555-5555-555555555555", "createdUtc": "2024-06-01T10:00:00Z",
        "dataContainerId": f"dcid.{RUN_ID}", "displayName": RUN_ID, "runType": "azureml.PipelineRun",
        "properties": {}, "tags": {}, "settings": {}, "services": {}, "hidden": False}


def answer(method: str, url: str, body: Any) -> tuple[int, Any]:
    """What each service would answer, enough for the SDK to carry on."""
    path = url.split("?", 1)[0]
    if path == f"{API}/discovery":
        return 200, {name: API for name in ("api", "catalog", "experimentation", "history", "pipelines",
                                            "modelmanagement", "hyperdrive", "execution", "run")} | {
            "studio": "https://ml.azure.com"}
    if path.endswith(ARM_WS):
        return 200, {"id": ARM_WS, "name": WS, "location": "eastus2",
                     "properties": {"discoveryUrl": f"{API}/discovery",
                                    "workspaceId": "11111111-1111-1111-1111-111111111111"}}
    if path.endswith("/DataTypes"):  # the SDK registers its default data types first
        return 200, [] if method == "GET" else json.loads(body)
    if method == "GET" and re.search(r"/PipelineEndpoints/Id/[^/]+$", path):
        return 200, {"Id": ENDPOINT_ID, "Name": "sales-v1", "DefaultVersion": "1", "EntityStatus": "Active",
                     "PipelineVersionList": [{"PipelineId": "p-1", "Version": "1"}, {"PipelineId": "p-2", "Version": "2"}],
                     "Url": url}
    if "/PipelineRuns/PipelineEndpointSubmit/" in path:
        return 200, {"Id": RUN_ID, "ExperimentName": EXPERIMENT, "RunSource": "SDK"}
    if method == "GET" and path.endswith(f"/PipelineRuns/{RUN_ID}"):
        return 200, {"Id": RUN_ID, "Status": {"StatusCode": "Finished"}, "ExperimentName": EXPERIMENT}
    if method == "DELETE" and path.endswith(f"/PipelineRuns/{RUN_ID}/Execution"):
        return 200, {}
    if path.endswith(f"/experiments/{EXPERIMENT}"):
        return 200, {"experimentId": _RUN["experimentId"], "name": EXPERIMENT, "createdUtc": "2024-06-01T10:00:00Z",
                     "tags": {}}
    if path.endswith(f"/runs/{RUN_ID}"):
        return 200, _RUN
    if path.endswith("/runs:query"):
        return 200, {"value": [], "continuationToken": None}
    return 404, {"error": {"code": "NotFound", "message": f"capture: no answer for {method} {url}"}}


def install_answering_session(calls: list[dict]) -> None:
    import requests
    import urllib3

    def send(self, request, **kwargs):
        status, body = answer(request.method, request.url, request.body)
        calls.append({"method": request.method, "url": request.url, "headers": dict(request.headers),
                      "body": request.body})
        data = json.dumps(body).encode()
        response = requests.Response()
        response.status_code = status
        response.headers["Content-Type"] = "application/json"
        response.raw = urllib3.HTTPResponse(body=io.BytesIO(data), headers=dict(response.headers), status=status,
                                            preload_content=False)
        response._content = data
        response.url, response.request, response.encoding = request.url, request, "utf-8"
        return response

    requests.Session.send = send


def fake_auth():
    from azureml.core.authentication import AbstractAuthentication

    class FakeAuthentication(AbstractAuthentication):
        def _get_arm_token(self):
            return FAKE_JWT

        def _get_graph_token(self):
            return FAKE_JWT

        def _get_all_subscription_ids(self):
            return [types.SimpleNamespace(subscription_id=SUB, subscription_name="capture")], "tenant"

        def get_authentication_header(self):
            return {"Authorization": "Bearer " + FAKE_JWT}

        def get_token(self, *scopes, **kwargs):
            from azure.core.credentials import AccessToken

            return AccessToken(FAKE_JWT, 4102444800)

    return FakeAuthentication()


def recorded(call: dict) -> dict:
    body = call["body"]
    if isinstance(body, bytes):
        body = body.decode()
    return {"method": call["method"], "url": call["url"],
            "headers": {k: v for k, v in sorted(call["headers"].items()) if k in RECORDED_HEADERS},
            "body": json.loads(body) if body else None}


def capture(target: Path) -> None:
    from importlib.metadata import version

    target = target.resolve()
    # the SDK adds the git state of the working directory as run Properties: run from an empty one
    os.chdir(tempfile.mkdtemp(prefix="capture-v1-"))
    calls: list[dict] = []
    install_answering_session(calls)
    from azureml.core import Experiment, Workspace
    from azureml.data.datapath import DataPath
    from azureml.pipeline.core import PipelineEndpoint

    ws = Workspace(SUB, RG, WS, auth=fake_auth(), _disable_service_check=True)
    endpoint = PipelineEndpoint.get(ws, id=ENDPOINT_ID)
    landed = DataPath(datastore=types.SimpleNamespace(name="landingstore"), path_on_datastore="sales/2024-06-01",
                      name="sales")
    scores = DataPath(datastore=types.SimpleNamespace(name="workspaceblobstore"), path_on_datastore="v1/r1/scores",
                      name="scores")
    sdk = f"azureml-pipeline-core {version('azureml-pipeline-core')}, azureml-core {version('azureml-core')}"
    steps = {
        "submit_with_version": ("PipelineEndpoint.submit(experiment_name, pipeline_parameters={threshold: 100,"
                                " strict: True, ratio: 0.5, label: 'run-2024-06-01', sales: DataPath, scores: DataPath},"
                                " pipeline_version='2')",
                                lambda: endpoint.submit(EXPERIMENT, pipeline_parameters={
                                    "threshold": 100, "strict": True, "ratio": 0.5, "label": "run-2024-06-01",
                                    "sales": landed, "scores": scores}, pipeline_version="2")),
        "submit_default_version": ("PipelineEndpoint.submit(experiment_name, pipeline_parameters={threshold: 100,"
                                   " sales: DataPath})",
                                   lambda: endpoint.submit(EXPERIMENT, pipeline_parameters={"threshold": 100,
                                                                                            "sales": landed})),
    }
    target.mkdir(parents=True, exist_ok=True)
    run = None
    for key, (what, act) in steps.items():
        calls.clear()
        run = act()
        posts = [c for c in calls if "PipelineEndpointSubmit" in c["url"]]
        write(target, key, what, sdk, recorded(posts[0]))
    for key, (what, act, pick) in {
        "status": ("PipelineRun.get_status()", lambda: run.get_status(),
                   lambda c: c["method"] == "GET" and c["url"].endswith(f"/PipelineRuns/{RUN_ID}")),
        "cancel": ("PipelineRun.cancel()", lambda: run.cancel(), lambda c: "/PipelineRuns/" in c["url"]),
        "query_by_tag": ("Experiment(ws, experiment_name).get_runs(tags={'batchrun.attempt_id': 'a-1'})",
                         lambda: list(Experiment(ws, EXPERIMENT).get_runs(tags={"batchrun.attempt_id": "a-1"})),
                         lambda c: c["url"].endswith("/runs:query")),
    }.items():
        calls.clear()
        result = act()
        write(target, key, what, sdk, recorded(next(c for c in calls if pick(c))),
              {"returned": result} if key == "status" else None)


def write(target: Path, key: str, what: str, sdk: str, request: dict, extra: dict | None = None) -> None:
    record = {"call": what, "sdk": sdk, "request": request, **(extra or {})}
    (target / f"{key}.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(key, request["method"], request["url"])


if __name__ == "__main__":
    capture(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "fixtures" / "v1"))
