"""shared/delivery/activities.py on Azurite: batched copies verified by one listing, re-runs after lost answers,
sinks on SAS connection strings (delivered, and their signature nowhere)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

from shared.config import load_settings
from shared.delivery import activities as delivery
from tests.delivery.conftest import payload_bytes, run_to_end
from tests.delivery.test_copy import LoseAnswer, Requests, put_blob
from tests.delivery.test_delivery_azurite import copy_results


def summary_only(env, **delivery_policy):
    env.configure(output={**env.route["output"], "action": "summary_only"}, delivery=delivery_policy)


def small_outputs(env, run_id: str, n: int, size: int = 2048) -> dict[str, bytes]:
    files = {f"part-{i:04d}.csv": payload_bytes(size, seed=i) for i in range(n)}
    for name, data in files.items():
        env.put_output(run_id, name, data)
    return files


def lake_batch(env, run: dict) -> dict:
    """The planned copy payload of every file to the lake sink (what the orchestration sends, in one batch)."""
    plan = delivery.plan_delivery({"run": run["run"], "job_name": "job-1"})
    items = [{k: c[k] for k in ("file", "source_path", "destination", "bytes", "etag", "md5", "content_type")}
             for c in plan["copies"] if c["sink"] == "lake"]
    return {"run_id": run["run"]["run_id"], "route": "heart", "datastore": plan["datastore"], "sink": "lake",
            "budget": plan["budget"], "items": items}


@pytest.mark.parametrize("strategy, per_file", [("streaming", {"get": 1, "put": 1}), ("server_side", {"put": 1})])
def test_a_batch_is_verified_by_one_listing_and_a_rerun_costs_one_request(env, strategy, per_file):
    summary_only(env, strategy=strategy)
    run = env.run_input()
    files = small_outputs(env, run["run"]["run_id"], 40)
    payload = lake_batch(env, run)

    requests = Requests()
    counted = delivery.StorageClients(raw_request_hook=requests.hook)
    first = delivery.copy_output(payload, settings=load_settings(), clients=counted)

    assert {r["state"] for r in first["results"]} == {"copied"}
    # one listing (the sink's container does not exist yet: one create), then only the copies themselves
    expected = Counter({"list": 1, "put": 1}) + Counter({k: v * len(files) for k, v in per_file.items()})
    assert requests.kinds == expected, requests.kinds
    for name, data in files.items():
        assert env.read(env.sink_service, env.lake_container, env.lake_path(run["run"]["run_id"], name)) == data

    # the response was lost: Durable runs the activity again; one listing proves every file is there
    requests.kinds.clear()
    again = delivery.copy_output(payload, settings=load_settings(), clients=counted)
    assert {r["state"] for r in again["results"]} == {"skipped"}
    assert requests.kinds == Counter({"list": 1})
    assert [r["md5"] for r in again["results"]] == [hashlib.md5(files[r["file"]]).hexdigest()
                                                    for r in again["results"]]


def test_a_lost_answer_to_one_put_blob_of_a_batch_is_skipped_by_the_rerun(env):
    summary_only(env, strategy="streaming")
    run = env.run_input()
    files = small_outputs(env, run["run"]["run_id"], 12)
    payload = lake_batch(env, run)
    faulty = delivery.StorageClients(transport=LoseAnswer(5, put_blob), retry_total=0)

    with pytest.raises(RuntimeError, match=r"sink 'lake': file 'part-\d{4}\.csv' .*injected"):
        delivery.copy_output(payload, settings=load_settings(), clients=faulty)
    again = delivery.copy_output(payload)

    states = Counter(r["state"] for r in again["results"])
    assert states == Counter({"skipped": 12})    # the 11 answered and the one whose answer was lost
    for name, data in files.items():
        assert env.read(env.sink_service, env.lake_container, env.lake_path(run["run"]["run_id"], name)) == data


def test_a_file_changed_after_planning_fails_permanently_naming_it(env):
    run = env.run_input()
    run_id = run["run"]["run_id"]
    env.put_output(run_id, "predictions.csv", b"a,b\n1,2\n")
    payload = lake_batch(env, run)
    env.put_output(run_id, "predictions.csv", b"a,b\n3,4\n")     # a new version after the plan

    for strategy in ("streaming", "server_side"):
        env.configure(delivery={"strategy": strategy})
        out = delivery.copy_output(payload)
        assert "sink 'lake': file 'predictions.csv'" in out["results"][0]["error"]
        assert "changed after delivery was planned" in out["results"][0]["error"]


def test_plan_records_each_outputs_version_and_the_call_budget(env, monkeypatch):
    monkeypatch.setenv("DELIVERY_MIB_PER_CALL", "64")
    monkeypatch.setenv("DELIVERY_FILES_PER_CALL", "100")
    run = env.run_input()
    env.put_output(run["run"]["run_id"], "predictions.csv", b"x" * 10)
    plan = delivery.plan_delivery({"run": run["run"], "job_name": "job-1"})
    assert plan["budget"] == {"bytes": 64 * 1024 * 1024, "seconds": 240.0, "files": 100}
    copy = plan["copies"][0]
    assert copy["etag"] and copy["md5"] == hashlib.md5(b"x" * 10).hexdigest() and copy["bytes"] == 10

    monkeypatch.setenv("DELIVERY_MIB_PER_CALL", "lots")
    assert delivery.plan_delivery({"run": run["run"], "job_name": "job-1"})["error"].endswith(
        "app setting DELIVERY_MIB_PER_CALL: must be a positive number, not 'lots'")


# --- sinks on a SAS connection string -----------------------------------------------------------------------

def sas_connection(account, valid_hours: float = 1, **permissions) -> tuple[str, str]:
    """``BlobEndpoint=...;SharedAccessSignature=...`` for ``account``, and the signature it carries."""
    sas = generate_account_sas(account.name, account.key, ResourceTypes(service=True, container=True, object=True),
                               AccountSasPermissions(**permissions),
                               expiry=datetime.now(timezone.utc) + timedelta(hours=valid_hours))
    signature = dict(part.split("=", 1) for part in sas.split("&"))["sig"]
    return f"BlobEndpoint={account.blob_url};SharedAccessSignature={sas}", signature


def everything_said(durable, run_id, status, caplog) -> str:
    return json.dumps(durable.executions(run_id)) + json.dumps(status) + "\n".join(
        r.getMessage() for r in caplog.records)


def test_a_sink_on_a_sas_connection_string_delivers_and_its_signature_appears_nowhere(env, durable, monkeypatch,
                                                                                      caplog):
    caplog.set_level(logging.DEBUG)
    connection, signature = sas_connection(env.azurite.sink, read=True, write=True, list=True, create=True,
                                           add=True)
    monkeypatch.setenv("LAKE", connection)
    run = env.run_input()
    run_id = run["run"]["run_id"]
    data = payload_bytes(30_000)
    env.put_output(run_id, "predictions.csv", data)

    status = run_to_end(durable, run)

    assert status["output"]["outcome"] == "Succeeded", status["output"]
    assert env.read(env.sink_service, env.lake_container, env.lake_path(run_id, "predictions.csv")) == data
    receipt = json.loads(env.read(env.sink_service, env.lake_container, env.lake_path(run_id, "_RESULT.json")))
    assert receipt["files"][0]["md5"] == hashlib.md5(data).hexdigest()
    assert signature not in everything_said(durable, run_id, status, caplog)


def test_a_sas_without_list_permission_still_delivers_file_by_file(env, durable, monkeypatch):
    connection, _ = sas_connection(env.azurite.sink, read=True, write=True, create=True, add=True)
    monkeypatch.setenv("LAKE", connection)
    env.sink_service.create_container(env.lake_container)   # the SAS may not be allowed to create it either
    run = env.run_input()
    run_id = run["run"]["run_id"]
    env.put_output(run_id, "predictions.csv", b"a,b\n")

    status = run_to_end(durable, run)

    assert status["output"]["outcome"] == "Succeeded", status["output"]
    assert env.read(env.sink_service, env.lake_container, env.lake_path(run_id, "predictions.csv")) == b"a,b\n"


@pytest.mark.parametrize("permissions", [dict(read=True, list=True),
                                         dict(read=True, write=True, list=True, create=True, valid_hours=-1)],
                         ids=["read-only", "expired"])
def test_a_sas_that_may_not_write_fails_the_run_naming_the_sink_and_file_without_the_signature(
        env, durable, monkeypatch, caplog, permissions):
    caplog.set_level(logging.DEBUG)
    connection, signature = sas_connection(env.azurite.sink, **permissions)
    monkeypatch.setenv("LAKE", connection)
    run = env.run_input()
    run_id = run["run"]["run_id"]
    env.put_output(run_id, "predictions.csv", b"a,b\n")

    status = run_to_end(durable, run)

    out = status["output"]
    assert out["outcome"] == "Failed"
    assert "sink 'lake': file 'predictions.csv'" in out["error"] and "credentials" in out["error"], out["error"]
    assert signature not in everything_said(durable, run_id, status, caplog)


def test_a_source_on_a_sas_connection_string_is_copied_server_side_with_that_sas(env, durable, monkeypatch):
    connection, _ = sas_connection(env.azurite.default, read=True, list=True)
    monkeypatch.setenv("AML_DS", connection)
    env.configure(delivery={"strategy": "server_side"})   # auto would stream a file this small
    run = env.run_input()
    run_id = run["run"]["run_id"]
    data = payload_bytes(20_000)
    env.put_output(run_id, "predictions.csv", data)

    status = run_to_end(durable, run)

    assert status["output"]["outcome"] == "Succeeded", status["output"]
    assert {r["method"] for r in copy_results(durable, run_id)} == {"server_side"}
    assert env.read(env.sink_service, env.lake_container, env.lake_path(run_id, "predictions.csv")) == data
