"""The HTTP functions, called as the worker calls them: real HttpRequest objects, the real Durable client
talking to the in-process Durable host, the run ledger on Azurite."""

import copy
import json

import azure.functions as func
import pytest

from shared.runs.ledger import RunLedger
from tests.app_index import user_function
from tests.support.durable_host import DurableTestHost, run_async, split_functions

CONFIG = {
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


class ScriptedJob:
    """Stand-ins for the batch-endpoint activities (plain functions): a job that completes after ``polls``
    status calls. Delivery and notification run for real (the route has no sinks and no targets)."""

    def __init__(self, polls: int = 2):
        self.polls = polls
        self.calls: list[str] = []

    def activities(self) -> dict:
        def submit_job(payload):
            self.calls.append("submit")
            return {"job_name": "job-1", "status": "Queued", "studio_url": "https://ml.azure.com/runs/job-1"}

        def get_job_status(payload):
            self.calls.append("status")
            if "cancel" in self.calls:
                return {"status": "Canceled"}
            return {"status": "Completed" if self.calls.count("status") >= self.polls else "Running"}

        def cancel_job(payload):
            self.calls.append("cancel")
            return {"cancel_requested": True}

        return {"submit_job": submit_job, "get_job_status": get_job_status, "cancel_job": cancel_job}


@pytest.fixture
def job():
    return ScriptedJob()


@pytest.fixture
def host(app_functions, job):
    orchestrators, activities = split_functions(app_functions.values())
    with DurableTestHost(orchestrators, {**activities, **job.activities()}) as durable_host:
        durable_host.start_server()
        yield durable_host


@pytest.fixture
def app_env(azurite, monkeypatch, request):
    container = f"state{abs(hash(request.node.name)) % 10**8}"
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string())
    monkeypatch.setenv("BATCH_CONFIG_JSON", json.dumps(CONFIG))
    monkeypatch.setenv("STATE_CONTAINER", container)
    monkeypatch.delenv("BATCH_CONFIG_PATH", raising=False)
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(azurite.connection_string())
    return RunLedger(service.get_container_client(container))


def call(name, host, method="GET", url="http://localhost:7071/api/runs", *, body=None, headers=None,
         params=None, route_params=None):
    raw = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
    req = func.HttpRequest(method, url, headers=headers or {}, params=params or {}, route_params=route_params or {},
                           body=raw)
    return run_async(user_function(name)(req=req, client=host.client_binding()))


def run_until_monitoring(host, run_id):
    """Until the orchestration has recorded the submitted job and waits for its first poll."""
    host.run_until(lambda h: ((h.status(run_id) or {}).get("customStatus") or {}).get("job_name"),
                   fire_timers=False)


def body_of(response):
    return json.loads(response.get_body())


DEFAULT_START = {"route": "heart", "path": "heart/2024-06-01/"}


def start(host, body=DEFAULT_START, headers=None, params=None):
    return call("start_run", host, "POST", body=body, headers=headers, params=params)


def test_start_answers_202_with_location_and_retry_after(host, app_env):
    response = start(host, params={"code": "caller-key"})
    assert response.status_code == 202
    run = body_of(response)
    assert run["route"] == "heart" and run["status"] == "Running" and run["duplicate"] is False
    assert response.headers["Location"] == \
        f"http://localhost:7071/api/runs/{run['run_id']}?async=true&code=caller-key"
    assert response.headers["Retry-After"] == "10"
    status = host.status(run["run_id"])
    assert status["name"] == "run_orchestrator"
    run_input = json.loads(status["input"])["run"]
    assert run_input["input"]["url"].endswith("/landing/heart/2024-06-01/")
    assert run_input["output_uri"] == f"azureml://datastores/workspaceblobstore/paths/batch/heart/" \
                                      f"{run['run_id']}/predictions.csv"
    assert app_env.get(run["run_id"])["state"] == "started"


def test_an_idempotency_key_makes_a_retry_return_the_same_run(host, app_env):
    first = body_of(start(host, headers={"Idempotency-Key": "adf-run-42"}))
    second = body_of(start(host, headers={"Idempotency-Key": "adf-run-42"}))
    assert second["run_id"] == first["run_id"] and second["duplicate"] is True
    assert host.instance_ids() == [first["run_id"]]
    other = body_of(start(host, headers={"Idempotency-Key": "adf-run-43"}))
    assert other["run_id"] != first["run_id"]


@pytest.mark.parametrize("body, status, message", [
    (b"", 400, "request body is empty"),
    (b"{not json", 400, "not valid JSON"),
    (b"[1, 2]", 400, "must be a JSON object"),
    ({"path": "heart/x/"}, 400, "field 'route' is required"),
    ({"route": "lungs", "path": "lungs/x/"}, 404, "unknown route 'lungs'"),
    ({"route": "heart", "url": "https://evil.example/x"}, 400, "not as URLs"),
    ({"route": "heart", "path": "https://evil.example/heart/"}, 400, "field 'path' must be a blob path"),
    ({"route": "heart", "path": "other/x/"}, 400, "must start with the route's prefix 'heart/'"),
    ({"route": "heart", "path": "heart/x/", "container": "secrets"}, 400, "reads only from container 'landing'"),
    ({"route": 7, "path": "heart/x/"}, 400, "field 'route' must be a non-empty string"),
    (b"x" * (64 * 1024 + 1), 413, "the limit is 65536"),
])
def test_bad_requests_get_a_clear_error_and_start_nothing(host, app_env, body, status, message):
    response = start(host, body=body)
    assert response.status_code == status
    assert message in body_of(response)["error"]
    assert host.instance_ids() == []


def test_a_run_is_read_while_running_and_after_it_ends(host, app_env, job):
    run_id = body_of(start(host))["run_id"]
    run_until_monitoring(host, run_id)
    running = call("get_run", host, route_params={"run_id": run_id})
    assert running.status_code == 200
    view = body_of(running)
    assert (view["status"], view["phase"], view["job_name"]) == ("Running", "monitoring", "job-1")
    assert view["studio_url"] == "https://ml.azure.com/runs/job-1"

    async_style = call("get_run", host, route_params={"run_id": run_id}, params={"async": "true"})
    assert async_style.status_code == 202 and async_style.headers["Location"].endswith(f"/api/runs/{run_id}?async=true")

    host.run_until_complete(run_id)
    done = call("get_run", host, route_params={"run_id": run_id}, params={"async": "true"})
    assert done.status_code == 200
    view = body_of(done)
    assert view["status"] == "Succeeded" and view["job_status"] == "Completed"
    assert view["outputs"] == [] and view["error"] is None
    assert view["polls"] == 2


def test_unknown_runs_are_404(host, app_env):
    assert call("get_run", host, route_params={"run_id": "heart-nope"}).status_code == 404
    assert call("cancel_run", host, "POST", route_params={"run_id": "heart-nope"}).status_code == 404


def test_cancel_reaches_the_orchestration_which_cancels_the_job(host, app_env, job):
    run_id = body_of(start(host))["run_id"]
    run_until_monitoring(host, run_id)
    response = call("cancel_run", host, "POST", route_params={"run_id": run_id}, body={"reason": "wrong input"})
    assert response.status_code == 202 and body_of(response)["cancel_requested"] is True
    final = host.run_until_complete(run_id)
    assert final["output"]["outcome"] == "Canceled"
    assert "cancel" in job.calls
    again = call("cancel_run", host, "POST", route_params={"run_id": run_id})
    assert again.status_code == 409 and "already ended (Canceled)" in body_of(again)["error"]


def test_list_filters_by_route_and_status(host, app_env, job):
    finished = body_of(start(host))["run_id"]
    host.run_until_complete(finished)
    running = body_of(start(host, body={"route": "heart", "path": "heart/2024-06-02/"}))["run_id"]
    since = "2000-01-01T00:00:00Z"  # the simulated host clock is not today's date
    listing = body_of(call("list_runs", host, params={"route": "heart", "since": since}))
    assert {r["run_id"] for r in listing["runs"]} == {finished, running}
    only_done = body_of(call("list_runs", host, params={"status": "Succeeded", "since": since}))
    assert [r["run_id"] for r in only_done["runs"]] == [finished]
    assert call("list_runs", host, params={"limit": "0"}).status_code == 400
    assert call("list_runs", host, params={"status": "Done"}).status_code == 400
    assert call("list_runs", host, params={"since": "yesterday"}).status_code == 400


def test_health_reports_configuration_without_secrets(monkeypatch):
    health = user_function("health")
    monkeypatch.setenv("BATCH_CONFIG_JSON", json.dumps(CONFIG))
    response = health(req=func.HttpRequest("GET", "http://localhost/api/health", body=b""))
    assert response.status_code == 200 and body_of(response)["routes"] == ["heart"]

    broken = copy.deepcopy(CONFIG)
    broken["routes"][0]["overrides"] = {"mini_batch_size": -3}
    monkeypatch.setenv("BATCH_CONFIG_JSON", json.dumps(broken))
    monkeypatch.setenv("AzureWebJobsStorage", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0a2V5")
    response = health(req=func.HttpRequest("GET", "http://localhost/api/health", body=b""))
    assert response.status_code == 503
    body = body_of(response)
    assert body["status"] == "invalid_configuration"
    assert body["problems"] == ["route 'heart': overrides.mini_batch_size: must be at least 1, got -3"]
    assert "c2VjcmV0a2V5" not in response.get_body().decode()


def test_start_is_refused_while_the_configuration_is_invalid(host, monkeypatch):
    monkeypatch.setenv("BATCH_CONFIG_JSON", '{"routes": []}')
    response = start(host)
    assert response.status_code == 503 and "GET /api/health" in body_of(response)["error"]
