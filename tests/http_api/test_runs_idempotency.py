"""``POST /api/runs`` with an ``Idempotency-Key`` through crashes and lost answers, and a key reused for a
different request (422). The real function, the real Durable client, the ledger on Azurite."""

from __future__ import annotations

import json

import azure.functions as func
import pytest
from azure.durable_functions import DurableOrchestrationClient
from azure.storage.blob import BlobServiceClient

from shared.http_api import runs as runs_api
from shared.runs.ledger import RunLedger
from tests.http_api.test_runs import app_env, body_of, call, host, job, start  # noqa: F401 (fixtures)
from tests.runs.test_starter import FakeTime
from tests.support.durable_host import run_async
from tests.support.faults import Crash, FaultPlan, FaultyContainer, FaultyDurableClient, LostAnswer


def test_a_key_reused_with_a_different_body_is_422_and_starts_nothing(host, app_env):
    first = start(host, headers={"Idempotency-Key": "adf-7"})
    assert first.status_code == 202
    same = start(host, headers={"Idempotency-Key": "adf-7"})
    assert same.status_code == 202 and body_of(same)["duplicate"] is True
    other = start(host, body={"route": "heart", "path": "heart/2024-06-02/"}, headers={"Idempotency-Key": "adf-7"})
    assert other.status_code == 422
    problem = body_of(other)
    assert "Idempotency-Key" in problem["error"] and "different request" in problem["error"]
    assert host.instance_ids() == [body_of(first)["run_id"]]
    run = json.loads(host.status(body_of(first)["run_id"])["input"])["run"]
    assert run["input"]["path"] == "heart/2024-06-01/"  # still the first request's path


@pytest.mark.parametrize("kind", ["crash", "lost"])
@pytest.mark.parametrize("at", range(3), ids=["claim", "start_new", "mark_started"])
def test_a_fault_after_any_write_then_the_clients_retry_gives_one_run_that_exists(host, app_env, kind, at):
    container = app_env._container
    container.create_container()
    plan = FaultPlan(at=at, kind=kind)
    ledger = RunLedger(FaultyContainer(container, plan))
    client = FaultyDurableClient(DurableOrchestrationClient(host.client_binding()), plan)
    time = FakeTime()

    def post():
        req = func.HttpRequest("POST", "http://localhost:7071/api/runs", headers={"Idempotency-Key": "k-1"},
                               params={}, route_params={}, body=json.dumps({"route": "heart",
                                                                          "path": "heart/2024-06-01/"}).encode())
        return run_async(runs_api.start(req, client, ledger=ledger, policy=time.policy()))

    try:
        first = post()
    except (Crash, LostAnswer):
        first = None  # the caller saw the request fail (a dropped connection) and retries
    if first is not None and first.status_code >= 500:
        first = None  # the API answered 503 (the storage or task hub "did not answer") and the caller retries
    assert plan.fired is not None and plan.fired.split(" ")[0] in ("blob:upload", "durable:start_new")
    plan.disarm()
    retry = post()
    assert retry.status_code == 202
    run_id = body_of(retry)["run_id"]
    assert client.starts == [run_id]
    got = call("get_run", host, url=f"http://localhost:7071/api/runs/{run_id}", route_params={"run_id": run_id})
    assert got.status_code == 200  # never "duplicate: true" and then 404
    if first is not None:
        assert body_of(first)["run_id"] == run_id
    assert app_env.get(run_id)["state"] == "started"
