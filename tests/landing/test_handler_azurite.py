"""The landing handler on Azurite with the real Durable client talking to the in-process Durable host."""

from __future__ import annotations

import json
import multiprocessing
import random
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import azure.functions as func
import pytest
from azure.durable_functions import DurableOrchestrationClient

from shared.landing.functions import handle_event_grid, handle_queue_message
from shared.landing.handler import handle_blob_created
from tests.app_index import user_function
from tests.support.durable_host import DurableTestHost, run_async
from tools.events import subject_of

BLOB_CREATED = "Microsoft.Storage.BlobCreated"


@pytest.fixture
def host():
    # No orchestrator runs here: these tests only count what the handler starts.
    with DurableTestHost({}, {}) as h:
        h.start_server()
        yield h


def event_grid(data, event_type=BLOB_CREATED, event_id=None):
    # Event Grid's subject names the same blob as data.url (the name is recovered from the subject)
    subject = subject_of(data["url"]) if isinstance(data, dict) and "url" in data else "/blobServices/default/x"
    return func.EventGridEvent(id=event_id or uuid.uuid4().hex, data=data, topic="/subscriptions/s/storage",
                               subject=subject, event_type=event_type,
                               event_time=datetime.now(timezone.utc), data_version="1")


def handle(env, host, data, event_type=BLOB_CREATED, ctx=None):
    client = DurableOrchestrationClient(host.client_binding())
    return run_async(handle_blob_created("e", event_type, data, client, env.settings, context=ctx or env.context()))


def test_marker_starts_one_run_with_file_count_and_size(landing_env, host):
    env = landing_env({"a": {"mode": "marker"}})
    ctx = env.context()
    data_events = [env.upload(f"a/day1/part-{i}.csv", b"x" * (i + 1)) for i in range(3)]
    for data in data_events:
        assert handle(env, host, data, ctx=ctx).reason == "awaiting_marker"
    assert host.instance_ids() == []
    marker = env.upload("a/day1/_SUCCESS", b"")
    first = handle(env, host, marker, ctx=ctx)
    again = handle(env, host, marker, ctx=ctx)
    assert (first.action, again.action) == ("started", "duplicate") and first.run_id == again.run_id
    assert host.instance_ids() == [first.run_id]
    (record,) = env.ledger_records()
    assert record["run_id"] == first.run_id and record["state"] == "started"
    assert record["details"]["file_count"] == 3 and record["details"]["total_bytes"] == 6
    status = host.status(first.run_id)
    assert status["name"] == "run_orchestrator"
    run = json.loads(status["input"])["run"]
    assert run["input"]["path"] == "a/day1/" and run["input"]["file_count"] == 3
    # a new marker (new ETag) on the same folder is a deliberate re-run
    rerun = handle(env, host, env.upload("a/day1/_SUCCESS", b""), ctx=ctx)
    assert rerun.action == "started" and rerun.run_id != first.run_id


def test_folder_with_subfolders_starts_nothing_and_says_why(landing_env, host, caplog):
    env = landing_env({"a": {"mode": "marker"}, "b": {"mode": "marker", "ignore_subfolders": True}})
    env.upload("a/f/top.csv")
    env.upload("a/f/nested/deep.csv")
    env.upload("a/f/other/deep.csv")
    outcome = handle(env, host, env.upload("a/f/_SUCCESS", b""))
    assert outcome.action == "rejected" and outcome.reason == "subfolders"
    assert "nested/" in outcome.detail and "other/" in outcome.detail and "ignore_subfolders" in outcome.detail
    assert "nested/" in caplog.text
    assert host.instance_ids() == [] and env.ledger_records() == []
    # the route that opts in ignores them, and says so on the run
    env.upload("b/f/top.csv")
    env.upload("b/f/nested/deep.csv")
    ok = handle(env, host, env.upload("b/f/_SUCCESS", b""))
    assert ok.action == "started"
    (record,) = env.ledger_records()
    assert record["details"]["ignored_subfolders"] == ["nested/"] and record["details"]["file_count"] == 1


def test_empty_folder_is_skipped_with_a_reason(landing_env, host):
    env = landing_env({"a": {"mode": "marker"}})
    outcome = handle(env, host, env.upload("a/empty/_SUCCESS", b""))
    assert (outcome.action, outcome.reason) == ("rejected", "empty_folder")
    assert host.instance_ids() == []


def test_per_file_starts_one_uri_file_run_per_blob(landing_env, host):
    env = landing_env({"p": {"mode": "per_file"}})
    ctx = env.context()
    a, b = env.upload("p/in/a.csv"), env.upload("p/in/b.csv")
    outcomes = [handle(env, host, d, ctx=ctx) for d in (a, b, a, b)]
    assert [o.action for o in outcomes] == ["started", "started", "duplicate", "duplicate"]
    runs = {json.loads(host.status(i)["input"])["run"]["input"]["type"] for i in host.instance_ids()}
    assert len(host.instance_ids()) == 2 and runs == {"uri_file"}


def test_events_for_outputs_sinks_and_state_never_start_runs(landing_env, host):
    env = landing_env({"a": {"mode": "per_file"}})
    base = env.account_url
    for url, where in [(f"{base}/{env.outputs}/scores/a/r1/predictions.csv", "output location"),
                       (f"{base}/{env.outputs}/sink/a/r1/_SUCCESS", "sinks[0]"),
                       (f"{base}/{env.state}/runs/x.json", "state container")]:
        outcome = handle(env, host, {"api": "PutBlob", "url": url, "eTag": "0x1", "contentLength": 5})
        assert outcome.action == "skipped" and outcome.reason == "output_location" and where in outcome.detail
    assert host.instance_ids() == []


def test_malformed_and_foreign_events_are_skipped_and_never_raise(landing_env, host, monkeypatch):
    env = landing_env({"a": {"mode": "marker"}})
    for key, value in env.env.items():
        monkeypatch.setenv(key, value)
    binding = host.client_binding()
    fn = user_function("on_blob_created")
    good = env.upload("a/f/_SUCCESS", b"")
    cases = [
        (event_grid({"api": "DeleteBlob", "url": good["url"]}, "Microsoft.Storage.BlobDeleted"), "wrong_event_type"),
        (event_grid({**good, "url": f"{env.account_url}/unknown/a/f/_SUCCESS"}), "no_route"),
        (event_grid({"api": "PutBlob"}), "malformed"),
        (event_grid({**good, "eTag": None}), "malformed"),
        (event_grid({**good, "api": "PutBlock"}), "uncommitted_api"),
        (event_grid("a string, not an object"), "malformed"),
        (event_grid({**good, "url": "https://other.blob.core.windows.net/x/a/f/_SUCCESS"}), "no_route"),
    ]
    for event, reason in cases:
        run_async(fn(event=event, client=binding))  # the real function: never raises
        client = DurableOrchestrationClient(binding)
        outcome = run_async(handle_event_grid(event, client, env.settings, env.context()))
        assert (outcome.action, outcome.reason) == ("skipped", reason), event.get_json()
    queue_fn = user_function("on_blob_created_queued")
    for body in (b"not json", b"", b"[1]", b"{\"eventType\": \"Other\"}"):
        msg = func.QueueMessage(id="m", body=body)
        run_async(queue_fn(msg=msg, client=binding))
        outcomes = run_async(handle_queue_message(msg, DurableOrchestrationClient(binding), env.settings,
                                                  env.context()))
        assert all(o.action == "skipped" for o in outcomes)
    assert host.instance_ids() == []


def test_queue_trigger_base64_event_starts_the_run(landing_env, host, monkeypatch):
    import base64

    env = landing_env({"a": {"mode": "marker"}})
    for key, value in env.env.items():
        monkeypatch.setenv(key, value)
    env.upload("a/f/x.csv")
    data = env.upload("a/f/_SUCCESS", b"")
    event = {"id": "q1", "eventType": BLOB_CREATED, "subject": subject_of(data["url"]), "data": data}
    body = base64.b64encode(json.dumps(event).encode())
    binding = host.client_binding()
    run_async(user_function("on_blob_created_queued")(msg=func.QueueMessage(id="m", body=body), client=binding))
    run_async(user_function("on_blob_created_queued")(msg=func.QueueMessage(id="m2", body=body), client=binding))
    assert len(host.instance_ids()) == 1


def test_100_folders_20_files_each_event_3_times_shuffled_from_4_processes(landing_env, host):
    env = landing_env({"a": {"mode": "marker"}})
    names = [(f"a/batch-{f:03d}/part-{i:02d}.csv") for f in range(100) for i in range(20)]
    with ThreadPoolExecutor(16) as pool:
        datas = list(pool.map(lambda n: env.upload(n, b"1,2\n"), names))
        datas += list(pool.map(lambda f: env.upload(f"a/batch-{f:03d}/_SUCCESS", b""), range(100)))
    events = [{"id": uuid.uuid4().hex, "eventType": BLOB_CREATED, "data": d} for d in datas]
    deliveries = events * 3
    random.Random(4).shuffle(deliveries)
    chunks = [deliveries[i::4] for i in range(4)]
    from tests.landing.workers import deliver

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.starmap(deliver, [(env.env, host.client_binding(), chunk) for chunk in chunks])
    totals = Counter()
    for r in results:
        totals.update(r)
    assert totals["started"] == 100, totals
    assert totals["duplicate"] == 200 and totals["waiting"] == 6000, totals
    assert len(host.instance_ids()) == 100
    records = env.ledger_records()
    assert len(records) == 100 and {r["state"] for r in records} == {"started"}
    assert {r["details"]["file_count"] for r in records} == {20}


# --- renames into a route (ADLS Gen2) and SFTP: issue 17, case 4 ----------------------------------------------

def _handle_raw(env, host, raw, ctx):
    from shared.event_envelope import read_event

    client = DurableOrchestrationClient(host.client_binding())
    envelope = read_event(raw)
    return run_async(handle_blob_created(envelope.id, envelope.type, envelope.data, client, env.settings,
                                         context=ctx, subject=envelope.subject))


def test_a_folder_renamed_into_a_per_file_route_starts_one_run_per_file_keyed_like_uploads(landing_env, host):
    from shared.runs.claims import claim_etag
    from shared.runs.ids import landing_run_id
    from tools.events import renamed_event

    env = landing_env({"pf": {"mode": "per_file"}})
    ctx = env.context()
    uploads = {name: env.upload(f"pf/day1/{name}", b"a,b\n1,2\n") for name in ("one.csv", "two.csv")}
    # an ADLS Gen2 directory entry, as the blob endpoint lists it: not a file, never a run
    env.container().get_blob_client("pf/day1/sub").upload_blob(b"", metadata={"hdi_isfolder": "true"})
    event = renamed_event(env.blob_url("tmp/_temporary/day1"), env.blob_url("pf/day1"), directory=True)
    outcome = _handle_raw(env, host, event, ctx)
    assert outcome.action == "started"
    expected = sorted(landing_run_id("pf", data["url"], claim_etag(data["eTag"])) for data in uploads.values())
    assert sorted(host.instance_ids()) == expected
    # the upload events of the same files (or a redelivery of the rename) start nothing more
    assert {handle(env, host, data, ctx=ctx).action for data in uploads.values()} == {"duplicate"}
    assert _handle_raw(env, host, event, ctx).action == "duplicate"
    assert sorted(host.instance_ids()) == expected


def test_a_rename_event_for_a_blob_that_is_gone_starts_nothing(landing_env, host):
    from tools.events import renamed_event

    env = landing_env({"pf": {"mode": "per_file"}, "m": {"mode": "marker"}})
    ctx = env.context()
    file_gone = _handle_raw(env, host, renamed_event(env.blob_url("tmp/x.csv"), env.blob_url("pf/x.csv")), ctx)
    folder_gone = _handle_raw(env, host, renamed_event(env.blob_url("tmp/d"), env.blob_url("m/d"), directory=True),
                              ctx)
    assert (file_gone.reason, folder_gone.reason) == ("blob_missing", "empty_folder")
    assert host.instance_ids() == []
