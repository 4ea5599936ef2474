"""Pre-flight of ``POST /api/runs``: one listing, the landing rules, an answer naming the reason before anything
is claimed or started; ``"force": true`` skips it; ``POST /api/plan`` reports the same verdict. The real
function, the real Durable client, folders and the ledger on Azurite."""

from __future__ import annotations

import copy
import json

import azure.functions as func
import pytest
from azure.storage.blob import BlobServiceClient

from tests.app_index import user_function
from tests.http_api.test_runs import CONFIG, app_env, body_of, host, job, land, start  # noqa: F401 (fixtures)


@pytest.fixture
def landing(azurite, app_env, monkeypatch):  # noqa: F811
    config = copy.deepcopy(CONFIG)
    base = config["routes"][0]
    for name, landing_rule in (("mani", {"mode": "manifest"}), ("quiet", {"mode": "quiet_period",
                                                                         "quiet_seconds": 3600})):
        route = copy.deepcopy(base)
        route.update(name=name, match={"container": "landing", "prefix": f"{name}/"}, landing=landing_rule)
        route["output"] = {**base["output"], "path": f"batch/{name}/{{run_id}}/predictions.csv"}
        config["routes"].append(route)
    monkeypatch.setenv("BATCH_CONFIG_JSON", json.dumps(config))
    return BlobServiceClient.from_connection_string(azurite.connection_string())


def claims(app_env):  # noqa: F811
    container = app_env._container
    return [b.name for b in container.list_blobs()] if container.exists() else []


def plan(body):
    req = func.HttpRequest("POST", "http://localhost:7071/api/plan", headers={}, params={},
                           body=json.dumps(body).encode())
    return user_function("plan")(req=req)


CASES = [
    ("heart/never-landed/", (), 404, "not_found", "does not exist"),
    ("heart/only-marker/", (("_SUCCESS", b""),), 422, "empty_folder", "no data files"),
    ("heart/only-nested/", (("day1/a.csv", b"x"), ("day2/b.csv", b"x")), 422, "subfolders", "day1/, day2/"),
    ("heart/no-marker-yet/", (("a.csv", b"x"),), 409, "not_complete", "no marker '_SUCCESS' yet"),
    ("mani/missing-files/", (("a.csv", b"x"), ("_manifest.json", b'{"files": ["a.csv", "b.csv"]}')), 409,
     "not_complete", "missing 1: b.csv"),
    ("mani/bad-manifest/", (("a.csv", b"x"), ("_manifest.json", b"not json")), 422, "bad_manifest", "not valid JSON"),
    ("quiet/still-landing/", (("a.csv", b"x"),), 409, "not_complete", "is still landing"),
]


@pytest.mark.parametrize("folder,files,status,reason,says", CASES, ids=[c[3] + ":" + c[0] for c in CASES])
def test_a_folder_that_would_fail_on_compute_is_refused_before_anything_is_claimed(
        host, app_env, landing, folder, files, status, reason, says):  # noqa: F811
    if files:
        land(landing, folder, files)
    body = {"route": folder.split("/", 1)[0], "path": folder}
    response = start(host, body=body)
    answer = body_of(response)
    assert response.status_code == status, answer
    assert answer["reason"] == reason and answer["field"] == "path"
    assert says in answer["error"] and "force" in answer["error"]
    assert host.instance_ids() == [] and claims(app_env) == []  # nothing claimed, nothing started

    planned = body_of(plan(body))["preflight"]  # plan says what the start would answer
    assert (planned["checked"], planned["ok"], planned["status"], planned["reason"]) == (True, False, status, reason)

    forced = start(host, body={**body, "force": True})  # the caller knows better: the run starts
    assert forced.status_code == 202, body_of(forced)
    assert host.instance_ids() == [body_of(forced)["run_id"]]


@pytest.mark.parametrize("folder,files", [
    ("heart/complete/", (("a.csv", b"x"), ("_SUCCESS", b""))),
    ("mani/complete/", (("a.csv", b"x"), ("_manifest.json", b'{"files": ["a.csv"]}'))),
])
def test_a_complete_folder_starts_and_plan_says_ok(host, app_env, landing, folder, files):  # noqa: F811
    land(landing, folder, files)
    body = {"route": folder.split("/", 1)[0], "path": folder}
    assert body_of(plan(body))["preflight"] == {"ok": True, "status": 200, "file_count": 1, "total_bytes": 1,
                                                "checked": True, "force": False}
    response = start(host, body=body)
    assert response.status_code == 202, body_of(response)


def test_a_folder_named_without_its_slash_is_the_folder(host, app_env, landing):  # noqa: F811
    land(landing, "heart/no-slash/")
    assert start(host, body={"route": "heart", "path": "heart/no-slash"}).status_code == 202


def test_force_must_be_a_boolean(host, app_env, landing):  # noqa: F811
    response = start(host, body={"route": "heart", "path": "heart/x/", "force": "yes"})
    assert response.status_code == 400 and body_of(response)["field"] == "force"
    assert host.instance_ids() == []


def test_a_retried_request_gets_its_run_whatever_the_folder_holds_now(host, app_env, landing):  # noqa: F811
    land(landing, "heart/retried/")
    body, key = {"route": "heart", "path": "heart/retried/"}, {"Idempotency-Key": "adf-run-1"}
    first = body_of(start(host, body=body, headers=key))
    landing.get_container_client("landing").delete_blob("heart/retried/_SUCCESS")
    again = start(host, body=body, headers=key)
    assert again.status_code == 202 and body_of(again)["run_id"] == first["run_id"]
    assert body_of(again)["duplicate"] is True
    fresh = start(host, body=body, headers={"Idempotency-Key": "adf-run-2"})
    assert fresh.status_code == 409 and body_of(fresh)["reason"] == "not_complete"
