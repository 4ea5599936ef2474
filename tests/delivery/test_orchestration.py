"""shared/delivery/orchestration.py: batches, budgeted calls that resume a large file, crashes after each write,
run through the real orchestrator and the real Durable replay engine on Azurite."""

from __future__ import annotations

import json

import pytest
from azure.core.exceptions import ServiceResponseError

from shared.delivery import activities as delivery
from shared.delivery import copy as engine
from shared.delivery.orchestration import pack_batches
from tests.delivery.conftest import payload_bytes, run_to_end
from tests.delivery.test_copy import LoseAnswer, put_block_list
from tests.delivery.test_delivery_azurite import copy_calls, copy_results

KIB = 1024


def copies(*sizes_by_sink):
    return [{"sink": sink, "file": f"f{i}", "bytes": size} for sink, sizes in sizes_by_sink
            for i, size in enumerate(sizes)]


def test_pack_batches_groups_by_sink_within_the_file_and_byte_budget():
    budget = {"bytes": 100, "files": 3, "seconds": 60}
    batches = pack_batches(copies(("a", [10, 10, 10, 10, 500, 60, 30]), ("b", [1, 2])), budget)
    shape = [[(c["sink"], c["file"]) for c in b] for b in batches]
    assert shape == [[("a", "f0"), ("a", "f1"), ("a", "f2")],
                     [("a", "f3"), ("a", "f5"), ("a", "f6")],   # 10 + 60 + 30 = 100 bytes
                     [("a", "f4")],                              # the budget's size or more: alone
                     [("b", "f0"), ("b", "f1")]]
    # every copy exactly once, whatever the budget
    for files in (1, 2, 1000):
        packed = pack_batches(copies(("a", [5] * 50), ("b", [7] * 9)), {"bytes": 30, "files": files})
        assert sorted((c["sink"], c["file"]) for b in packed for c in b) == \
            sorted((c["sink"], c["file"]) for c in copies(("a", [5] * 50), ("b", [7] * 9)))
        assert all(len({c["sink"] for c in b}) == 1 and len(b) <= files for b in packed)


def test_many_small_files_go_in_a_few_batched_calls(env, durable, monkeypatch):
    monkeypatch.setenv("DELIVERY_FILES_PER_CALL", "8")
    env.configure(output={**env.route["output"], "action": "summary_only"})
    run = env.run_input()
    run_id = run["run"]["run_id"]
    files = {f"part-{i:03d}.csv": payload_bytes(1000 + i, seed=i) for i in range(20)}
    for name, data in files.items():
        env.put_output(run_id, name, data)

    status = run_to_end(durable, run)

    assert status["output"]["outcome"] == "Succeeded", status["output"]
    assert len(copy_calls(durable, run_id)) == 6                 # 2 sinks x ceil(20 / 8)
    for name, data in files.items():
        assert env.read(env.sink_service, env.lake_container, env.lake_path(run_id, name)) == data
    receipt = json.loads(env.read(env.sink_service, env.lake_container, env.lake_path(run_id, "_RESULT.json")))
    assert receipt["file_count"] == 20 and receipt["total_bytes"] == sum(len(d) for d in files.values())


def test_a_large_file_is_delivered_over_several_budgeted_calls_that_each_resume(env, durable, monkeypatch):
    monkeypatch.setattr(engine, "CHUNK_BYTES", 256 * KIB)
    monkeypatch.setenv("DELIVERY_MIB_PER_CALL", "1")             # 4 blocks per call
    env.configure(delivery={"strategy": "streaming"})
    run = env.run_input()
    run_id = run["run"]["run_id"]
    data = payload_bytes(10 * 256 * KIB + 9)                      # 11 blocks: 3 calls per sink
    env.put_output(run_id, "predictions.csv", data)

    status = run_to_end(durable, run)

    assert status["output"]["outcome"] == "Succeeded", status["output"]
    lake = [r for r in copy_results(durable, run_id) if r["sink"] == "lake"]
    assert [r["state"] for r in lake] == ["partial", "partial", "copied"]
    assert [r["sent_bytes"] for r in lake] == [4 * 256 * KIB, 4 * 256 * KIB, 2 * 256 * KIB + 9]
    assert sum(r["sent_bytes"] for r in lake) == len(data)        # no byte sent twice
    blob = env.sink_service.get_blob_client(env.lake_container, env.lake_path(run_id, "predictions.csv"))
    assert blob.download_blob().readall() == data
    assert blob.get_block_list("uncommitted")[1] == []
    receipt = json.loads(env.read(env.sink_service, env.lake_container, env.lake_path(run_id, "_RESULT.json")))
    assert receipt["files"][0]["md5"] == blob.get_blob_properties().content_settings.content_md5.hex()


def test_a_crash_right_after_the_commit_is_finished_by_the_retry_without_a_second_copy(env, durable, monkeypatch):
    monkeypatch.setattr(engine, "CHUNK_BYTES", 256 * KIB)
    env.configure(delivery={"strategy": "streaming"})
    run = env.run_input()
    run_id = run["run"]["run_id"]
    data = payload_bytes(3 * 256 * KIB)
    env.put_output(run_id, "predictions.csv", data)
    lost_commit = delivery.StorageClients(transport=LoseAnswer(1, put_block_list), retry_total=0)
    first = {"lake": True}

    def copy_output(payload):
        if payload["sink"] == "lake" and first.pop("lake", False):
            return delivery.copy_output(payload, clients=lost_commit)
        return delivery.copy_output(payload)

    durable.activities["copy_output"] = copy_output
    status = run_to_end(durable, run)

    assert status["output"]["outcome"] == "Succeeded", status["output"]
    lake = [c for c in copy_calls(durable, run_id) if c["input"]["sink"] == "lake"]
    assert len(lake) == 2 and "injected" in str(lake[0]["error"])
    assert copy_results(durable, run_id, lake[1:])[0]["state"] == "skipped"
    assert env.read(env.sink_service, env.lake_container, env.lake_path(run_id, "predictions.csv")) == data


def test_a_crash_right_after_the_receipt_write_leaves_one_identical_receipt(env, durable):
    run = env.run_input()
    run_id = run["run"]["run_id"]
    env.put_output(run_id, "predictions.csv", b"a,b\n")
    lost = delivery.StorageClients(transport=LoseAnswer(1, lambda r: r.method == "PUT"), retry_total=0)
    written = []

    def write_receipt(payload):
        if payload["sink"] == "lake" and not written:
            written.append(1)
            return delivery.write_receipt(payload, clients=lost)
        return delivery.write_receipt(payload)

    durable.activities["write_receipt"] = write_receipt
    status = run_to_end(durable, run)

    assert status["output"]["outcome"] == "Succeeded", status["output"]
    calls = [c for c in durable.activity_calls if c["name"] == "write_receipt" and c["input"]["sink"] == "lake"]
    assert len(calls) == 2 and "injected" in str(calls[0]["error"])
    names = env.names(env.sink_service, env.lake_container)
    assert names == [env.lake_path(run_id, "_RESULT.json"), env.lake_path(run_id, "predictions.csv")]
    receipt = json.loads(env.read(env.sink_service, env.lake_container, env.lake_path(run_id, "_RESULT.json")))
    assert receipt["run_id"] == run_id and receipt["file_count"] == 1


def test_a_copy_that_stops_making_progress_fails_the_run_naming_sink_and_file(env, durable):
    run = env.run_input()
    run_id = run["run"]["run_id"]
    env.put_output(run_id, "predictions.csv", payload_bytes(1000))

    def stuck(payload):
        return {"sink": payload["sink"], "sent_bytes": 0,
                "results": [{"file": i["file"], "destination": i["destination"], "bytes": i["bytes"],
                             "state": "partial", "method": "streaming", "staged_bytes": 100, "sent_bytes": 0}
                            for i in payload["items"]]}

    durable.activities["copy_output"] = stuck
    status = run_to_end(durable, run)

    out = status["output"]
    assert out["outcome"] == "Failed"
    assert "file 'predictions.csv': the copy staged nothing new in 3 calls in a row" in out["error"], out["error"]
    assert len(copy_calls(durable, run_id)) == 2 * 4              # the first call, then 3 without progress
