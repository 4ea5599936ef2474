"""The function app in process, reached through URLs as Data Factory reaches it: ``/api/runs`` and
``/api/runs/{run_id}`` dispatched to the real HTTP functions, the real Durable client talking to the in-process
Durable host (real replay engine), the ledger on Azurite. The Functions host's key check is replayed (a
function key in ``?code=`` or ``x-functions-key``), and Key Vault answers one secret."""

from __future__ import annotations

import json
from typing import Callable, Optional
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func
import pytest

from tests.app_index import user_function
from tests.support.durable_host import DurableTestHost, run_async, split_functions
from tests.support.scripted_job import ScriptedJob  # noqa: F401 - the interop tests import it from here

APP_URL = "https://batchruns.example.net"
VAULT_URL = "https://kv-batchruns.vault.example.net"
FUNCTION_KEY = "fn-key/with+chars=="

ROUTES = {
    "datastores": {"workspaceblobstore": {"account_url": "http://127.0.0.1:10000/devstoreaccount1",
                                          "container": "azureml-blobstore"}},
    "routes": [{
        "name": "heart",
        "match": {"container": "landing", "prefix": "heart/"},
        "endpoint": {"scoring_uri": "http://127.0.0.1:9/endpoints/heart/jobs",
                     "workspace": {"subscription_id": "s", "resource_group": "rg", "name": "ws"}},
        "input": {"type": "uri_folder", "name": "heart_dataset"},
        "output": {"datastore": "workspaceblobstore", "path": "batch/heart/{run_id}/predictions.csv"},
        "poll": {"initial_seconds": 10, "max_seconds": 60, "deadline_hours": 1},
    }],
}


class InProcessApp:
    """``http(method, url, headers, body)`` for the ADF replay; ``on_status_read`` runs before each GET of a
    run (a test cancels from there)."""

    def __init__(self, host: DurableTestHost):
        self.host = host
        self.requests: list[tuple[str, str, dict]] = []
        self.on_status_read: Optional[Callable[[int], None]] = None
        self.status_reads = 0
        self.vault_secret = FUNCTION_KEY  # what Key Vault holds; the host expects FUNCTION_KEY

    def sleep(self, seconds: float) -> None:
        self.host.advance(seconds)

    def http(self, method: str, url: str, headers: dict, body: Optional[bytes]) -> tuple[int, dict, bytes]:
        self.requests.append((method, url, dict(headers)))
        parts = urlsplit(url)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin == VAULT_URL:
            return self._vault(method, parts.path, params, headers)
        if origin != APP_URL:
            return 404, {}, b""
        key = params.get("code") or next((v for k, v in headers.items() if k.lower() == "x-functions-key"), None)
        if key != FUNCTION_KEY:
            return 401, {}, b""
        segments = parts.path.strip("/").split("/")
        if method == "POST" and segments == ["api", "runs"]:
            name, route_params = "start_run", {}
        elif method == "GET" and len(segments) == 3 and segments[:2] == ["api", "runs"]:
            self.status_reads += 1
            if self.on_status_read:
                self.on_status_read(self.status_reads)
            name, route_params = "get_run", {"run_id": segments[2]}
        elif method == "POST" and len(segments) == 4 and segments[3] == "cancel":
            name, route_params = "cancel_run", {"run_id": segments[2]}
        else:
            return 404, {}, b""
        req = func.HttpRequest(method, url, headers=headers, params=params, route_params=route_params,
                               body=body or b"")
        response = run_async(user_function(name)(req=req, client=self.host.client_binding()))
        self.host.run_until_idle(fire_timers=False)
        return response.status_code, dict(response.headers), response.get_body()

    def _vault(self, method: str, path: str, params: dict, headers: dict) -> tuple[int, dict, bytes]:
        if method != "GET" or not params.get("api-version"):  # the api-version is required
            return 400, {}, b'{"error": {"code": "BadParameter"}}'
        if path != "/secrets/batchruns-function-key":
            return 404, {}, b'{"error": {"code": "SecretNotFound"}}'
        return 200, {"Content-Type": "application/json"}, json.dumps({"value": self.vault_secret}).encode()


@pytest.fixture
def job():
    return ScriptedJob()


@pytest.fixture
def routes():
    return json.loads(json.dumps(ROUTES))


@pytest.fixture
def app(app_functions, job, azurite, monkeypatch, request, routes):
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string())
    monkeypatch.setenv("BATCH_CONFIG_JSON", json.dumps(routes))
    monkeypatch.setenv("STATE_CONTAINER", f"interop{abs(hash(request.node.name)) % 10**8}")
    monkeypatch.delenv("BATCH_CONFIG_PATH", raising=False)
    from azure.storage.blob import BlobServiceClient

    from tests.http_api.test_runs import land

    # the pipeline's default input, landed complete: the pre-flight of POST /api/runs lets it through
    land(BlobServiceClient.from_connection_string(azurite.connection_string()), "heart/2024-06-01/")
    orchestrators, activities = split_functions(app_functions.values())
    with DurableTestHost(orchestrators, {**activities, **job.activities()}) as host:
        host.start_server()
        yield InProcessApp(host)
