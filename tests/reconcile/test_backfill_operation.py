"""``POST /api/backfill`` as an asynchronous operation: 202 + Location to its status, progress, cancel,
idempotent starts; the real function_app wrappers, the real Durable replay engine, folders on Azurite."""

from __future__ import annotations

import json

import azure.functions as func
import pytest
from azure.durable_functions import Orchestrator

from shared.reconcile import operation
from tests.app_index import functions, user_function
from tests.support.durable_host import DurableTestHost, run_async, split_functions
from tests.support.history import ET


def _run_stub(context):
    """Stands in for run_orchestrator: these tests stop at "the run was started"."""
    return {"stub": True}
    yield  # noqa: unreachable - makes this a generator


@pytest.fixture
def app_host(monkeypatch):
    monkeypatch.setattr("shared.reconcile.backfill.STARTS_PER_SECOND", 0)  # no pacing in tests
    orchestrators, activities = split_functions(functions().values())
    orchestrators["run_orchestrator"] = Orchestrator.create(_run_stub)
    with DurableTestHost(orchestrators, activities) as host:
        host.start_server()
        binding = host.client_binding()
        step = functions()["backfill_step"].get_user_function()
        # the worker passes the durable-client binding to this activity as it does to any client function
        host.activities["backfill_step"] = lambda payload: run_async(step(payload=payload, client=binding))
        yield host


@pytest.fixture
def env(landing_env, monkeypatch):
    e = landing_env({"a": {"mode": "marker"}})
    for key, value in e.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("BATCH_CONFIG_PATH", raising=False)
    return e


def folders(env, n, route="a"):
    for i in range(n):
        env.upload(f"{route}/2026-01/f{i}/x.csv")
        env.upload(f"{route}/2026-01/f{i}/_SUCCESS", b"")


def call(host, name, method, path, body=None, route_params=None, headers=None):
    req = func.HttpRequest(method, f"http://localhost:7071{path}", headers={"x-functions-key": "k", **(headers or {})},
                           params={}, route_params=route_params or {},
                           body=json.dumps(body).encode() if body is not None else b"")
    response = run_async(user_function(name)(req=req, client=host.client_binding()))
    return response, json.loads(response.get_body())


def status(host, op_id):
    return call(host, "backfill_status", "GET", f"/api/backfill/{op_id}", route_params={"operation_id": op_id})


def runs(host):
    return sorted(i for i in host.instance_ids() if not i.startswith("backfill-"))


def test_backfill_answers_202_with_location_and_reports_progress_to_the_end(env, app_host):
    folders(env, 3)
    response, body = call(app_host, "backfill", "POST", "/api/backfill", {"route": "a", "prefix": "a/2026-01/"})
    assert response.status_code == 202, body
    op_id = body["operation_id"]
    assert operation.OPERATION_ID.fullmatch(op_id) and body["state"] == "Running" and body["duplicate"] is False
    assert response.headers["Location"] == f"http://localhost:7071/api/backfill/{op_id}?code=k"
    assert response.headers["Retry-After"] == "10" and body["status_url"].endswith(f"/api/backfill/{op_id}")

    running, view = status(app_host, op_id)  # not yet run by the host: still going
    assert running.status_code == 202 and view["state"] == "Running" and running.headers["Location"]

    app_host.run_until_complete(op_id, timeout_s=60)
    done, view = status(app_host, op_id)
    assert done.status_code == 200 and view["state"] == "Completed" and view["complete"] is True
    assert view["counts"] == {"started": 3} and view["started"] == 3 and view["pages"] == 1
    assert sorted(r["run_id"] for r in view["runs"]) == runs(app_host) and len(runs(app_host)) == 3


def test_the_same_request_twice_is_the_same_operation_and_a_new_key_starts_nothing_new(env, app_host):
    folders(env, 2)
    body = {"route": "a", "prefix": "a/2026-01/"}
    _, first = call(app_host, "backfill", "POST", "/api/backfill", body)
    _, again = call(app_host, "backfill", "POST", "/api/backfill", body)
    assert again["operation_id"] == first["operation_id"] and again["duplicate"] is True
    app_host.run_until_complete(first["operation_id"], timeout_s=60)
    _, later = call(app_host, "backfill", "POST", "/api/backfill", body)
    assert later["operation_id"] == first["operation_id"] and later["duplicate"] is True  # still the one operation
    assert len(runs(app_host)) == 2

    _, fresh = call(app_host, "backfill", "POST", "/api/backfill", body, headers={"Idempotency-Key": "second"})
    assert fresh["operation_id"] != first["operation_id"] and fresh["duplicate"] is False
    app_host.run_until_complete(fresh["operation_id"], timeout_s=60)
    _, view = status(app_host, fresh["operation_id"])
    assert view["state"] == "Completed" and view["counts"] == {"exists": 2} and view["runs"] == []
    assert len(runs(app_host)) == 2  # the claims: exactly once

    response, clash = call(app_host, "backfill", "POST", "/api/backfill", {**body, "max_runs": 5},
                           headers={"Idempotency-Key": "second"})
    assert response.status_code == 422 and "Idempotency-Key" in clash["error"]


def test_steps_are_bounded_and_max_runs_ends_the_operation_incomplete(env, app_host, monkeypatch):
    monkeypatch.setattr(operation, "STEP_STARTS", 2)
    folders(env, 5)
    _, body = call(app_host, "backfill", "POST", "/api/backfill", {"route": "a", "prefix": "a/", "max_runs": 4})
    app_host.run_until_complete(body["operation_id"], timeout_s=60)
    _, view = status(app_host, body["operation_id"])
    assert view["state"] == "Completed" and view["started"] == 4 and view["complete"] is False
    assert len(runs(app_host)) == 4
    steps = app_host.count(body["operation_id"], ET.TASK_SCHEDULED, name="backfill_step")
    assert steps == 2  # two steps of two starts each


def test_cancel_stops_the_operation_between_steps(env, app_host, monkeypatch):
    monkeypatch.setattr(operation, "STEP_STARTS", 1)
    folders(env, 4)
    _, body = call(app_host, "backfill", "POST", "/api/backfill", {"route": "a", "prefix": "a/"})
    op_id = body["operation_id"]
    response, cancelled = call(app_host, "backfill_cancel", "POST", f"/api/backfill/{op_id}/cancel",
                               route_params={"operation_id": op_id})
    assert response.status_code == 202 and cancelled["cancel_requested"] is True
    app_host.run_until_complete(op_id, timeout_s=60)
    done, view = status(app_host, op_id)
    assert done.status_code == 200 and view["state"] == "Canceled" and view["complete"] is False
    assert view["started"] <= 1 and len(runs(app_host)) == view["started"]
    response, ended = call(app_host, "backfill_cancel", "POST", f"/api/backfill/{op_id}/cancel",
                           route_params={"operation_id": op_id})
    assert response.status_code == 409 and ended["field"] == "operation_id"


@pytest.mark.parametrize("op_id, code", [("backfill-" + "0" * 32, 404), ("a-" + "0" * 24, 400),
                                         ("backfill-../x", 400), ("BACKFILL-" + "A" * 32, 400)])
def test_status_of_an_unknown_or_malformed_operation(env, app_host, op_id, code):
    response, body = status(app_host, op_id)
    assert response.status_code == code and body["field"] == "operation_id"


def test_a_run_is_not_a_backfill_operation(env, app_host):
    folders(env, 1)
    _, body = call(app_host, "backfill", "POST", "/api/backfill", {"route": "a"})
    app_host.run_until_complete(body["operation_id"], timeout_s=60)
    (run_id,) = runs(app_host)
    response, problem = status(app_host, run_id)
    assert response.status_code == 400 and problem["field"] == "operation_id"


def test_a_dry_run_stays_synchronous(env, app_host):
    folders(env, 2)
    response, body = call(app_host, "backfill", "POST", "/api/backfill", {"route": "a", "dry_run": True})
    assert response.status_code == 200 and len(body["would_start"]) == 2 and app_host.instance_ids() == []
