"""The manifest and quiet-period waiters: the app's real orchestrators and activities run by the Durable
test host (real replay engine, simulated clock), storage on Azurite, the real Durable client for starts."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from azure.durable_functions import DurableOrchestrationClient, Orchestrator

from shared.landing.handler import handle_blob_created
from shared.landing.rules import manifest_waiter_id, quiet_waiter_id
from tests.app_index import functions
from tests.support.durable_host import DurableTestHost, run_async, split_functions
from tests.support.history import History, replay

BLOB_CREATED = "Microsoft.Storage.BlobCreated"


def _run_stub(context):
    """Stands in for run_orchestrator: these tests stop at "the run was started"."""
    return {"stub": True}
    yield  # noqa: unreachable - makes this a generator


@pytest.fixture
def app_host(monkeypatch):
    orchestrators, activities = split_functions(functions().values())
    orchestrators["run_orchestrator"] = Orchestrator.create(_run_stub)
    with DurableTestHost(orchestrators, activities) as host:
        host.start_server()
        binding = host.client_binding()
        start_run = functions()["landing_start_run"].get_user_function()
        # the worker passes the durable-client binding to this activity as it does to any client function
        host.activities["landing_start_run"] = lambda payload: run_async(start_run(payload=payload, client=binding))
        yield host


def configure(monkeypatch, env):
    for key, value in env.env.items():
        monkeypatch.setenv(key, value)


def deliver(env, host, data):
    client = DurableOrchestrationClient(host.client_binding())
    return run_async(handle_blob_created("e", BLOB_CREATED, data, client, env.settings))


def runs(host):
    return [i for i in host.instance_ids() if host.status(i)["name"] == "run_orchestrator"]


def test_manifest_folder_waits_for_a_missing_file_then_starts_once(landing_env, app_host, monkeypatch):
    env = landing_env({"m": {"mode": "manifest", "manifest_wait_minutes": 10}})
    configure(monkeypatch, env)
    for name in ("a.csv", "b.csv"):
        env.upload(f"m/f/{name}", b"abc")
    manifest = json.dumps({"files": [{"name": "a.csv", "size": 3}, "b.csv", "c.csv"]}).encode()
    m = env.upload("m/f/_manifest.json", manifest)
    assert deliver(env, app_host, m).action == "waiter_started"
    assert deliver(env, app_host, m).action == "duplicate"  # a duplicate event claims nothing new
    waiter = manifest_waiter_id("m", env.blob_url("m/f/"), m["eTag"])
    app_host.run_until_idle(fire_timers=False)
    app_host.advance(30)  # several re-checks, the file is still missing
    assert runs(app_host) == []
    status = app_host.status(waiter)
    assert status["runtimeStatus"] == "Running" and status["customStatus"]["missing"] == ["c.csv"]
    env.upload("m/f/c.csv", b"zz")
    done = app_host.run_until_complete(waiter)
    assert done["runtimeStatus"] == "Completed" and done["output"]["started"] is True
    (run_id,) = runs(app_host)
    (record,) = env.ledger_records()
    assert record["run_id"] == run_id and record["details"]["file_count"] == 3
    assert record["details"]["mode"] == "manifest"


def test_manifest_folder_fails_after_the_bound_listing_what_is_missing(landing_env, app_host, monkeypatch):
    env = landing_env({"m": {"mode": "manifest", "manifest_wait_minutes": 1}})
    configure(monkeypatch, env)
    env.upload("m/g/a.csv", b"abcd")
    m = env.upload("m/g/_manifest.json", json.dumps([{"name": "a.csv", "size": 3}, "gone.csv"]).encode())
    deliver(env, app_host, m)
    status = app_host.run_until_complete(manifest_waiter_id("m", env.blob_url("m/g/"), m["eTag"]))
    assert status["runtimeStatus"] == "Failed"
    assert "missing 1: gone.csv" in status["output"] and "a.csv: size 4, manifest says 3" in status["output"]
    assert runs(app_host) == []


def test_quiet_period_folder_starts_once_after_the_quiet_period(landing_env, app_host, monkeypatch):
    env = landing_env({"q": {"mode": "quiet_period", "quiet_seconds": 60}})
    configure(monkeypatch, env)
    waiter = quiet_waiter_id("q", env.blob_url("q/f/"))
    events = [env.upload(f"q/f/part-{i}.csv") for i in range(5)]
    for i, data in enumerate(events + events):  # every event twice
        deliver(env, app_host, data)
        app_host.run_until_idle(fire_timers=False)
        app_host.advance(20)  # files keep arriving within the quiet period
        assert runs(app_host) == [], f"started after event {i}"
    app_host.advance(45)  # 65 s since the last file
    assert len(runs(app_host)) == 1
    status = app_host.run_until_complete(waiter, timeout_s=30)
    assert status["output"]["started"] is True and status["output"]["late_files"] == []
    (record,) = env.ledger_records()
    assert record["details"]["file_count"] == 5 and record["details"]["file_events"] == 10
    # a file after the run was submitted: reported on the run's record, not dropped, not re-run
    late = env.upload("q/f/late.csv")
    outcome = deliver(env, app_host, late)
    assert outcome.action == "late_file"
    (record,) = env.ledger_records()
    assert [f["name"] for f in record["late_files"]] == ["late.csv"]
    assert len(runs(app_host)) == 1


def test_quiet_waiter_reports_files_landing_while_the_run_starts(landing_env, app_host, monkeypatch):
    env = landing_env({"q": {"mode": "quiet_period", "quiet_seconds": 10}})
    configure(monkeypatch, env)
    deliver(env, app_host, env.upload("q/g/a.csv"))
    app_host.run_until_idle(fire_timers=False)
    app_host.advance(11, run=False)
    app_host.step()  # the timer fires: the waiter schedules landing_start_run
    late = env.upload("q/g/b.csv")
    assert deliver(env, app_host, late).action == "signalled"  # the waiter is still running
    status = app_host.run_until_complete(quiet_waiter_id("q", env.blob_url("q/g/")), timeout_s=30)
    assert [f["name"] for f in status["output"]["late_files"]] == ["b.csv"]
    (record,) = env.ledger_records()
    assert [f["name"] for f in record["late_files"]] == ["b.csv"]


def test_sdk_deferred_event_quirk_is_avoided():
    """Durable Python re-delivers a buffered event to every later wait (see _FileEvents): an event that
    arrives while the waiter runs an activity must be taken once, not forever."""
    from shared.landing.orchestrations import quiet_orchestrator

    job = {"route": "q", "folder_url": "http://127.0.0.1/a/c/f/", "run_id": "q-1", "quiet_seconds": 10,
           "first_file": {"name": "a"}}
    h = History("landing_quiet_orchestrator", job)
    h.timer_created(0, h.now + timedelta(seconds=10))
    h.next_episode(advance=timedelta(seconds=10)).timer_fired(0, h.now)
    h.task_scheduled(1, "landing_start_run")
    h.next_episode().event_raised("file_landed", json.dumps({"name": "late"}))
    h.task_completed(1, {"run_id": "q-1", "started": True})
    state = replay(Orchestrator.create(quiet_orchestrator), h)
    assert not state.get("error") and state["isDone"] is False
    timers = [a for group in state["actions"] for c in group for a in c.get("compoundActions", [c])
              if a.get("actionType") == 5]
    assert len(timers) == 2  # the quiet timer, then the late-file window: no runaway loop
