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
from tests.support.history import ET, History, replay

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
    """Durable Python re-delivers a buffered event to every later wait (see shared/durable/waiting.py): an event that
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


# --- issue 9 items 3 and 5: linear, bounded waiters that lose no batched event --------------------------------

QUIET_JOB = {"mode": "quiet_period", "route": "q", "folder_url": "http://127.0.0.1/a/c/big/", "run_id": "q-big",
             "quiet_seconds": 60, "first_file": {"name": "part-0.csv"}}


@pytest.fixture
def quiet_host():
    """The real quiet waiter on the test host; its activities stand in for storage (they only count)."""
    from blueprints.registry import Orchestrator

    orchestrators, _ = split_functions(functions().values())
    started, reported = [], []
    activities = {"landing_start_run": lambda p: (started.append(p), {"run_id": p["run_id"], "started": True})[1],
                  "landing_report_late": lambda p: (reported.extend(p["files"]), {"reported": len(p["files"])})[1]}
    with DurableTestHost({Orchestrator.LANDING_QUIET: orchestrators[Orchestrator.LANDING_QUIET]}, activities) as host:
        host.started, host.reported = started, reported
        yield host


def test_quiet_waiter_with_many_files_continues_as_new_and_keeps_counts_not_lists(quiet_host):
    from shared.landing.orchestrations import FILE_EVENT, FILE_EVENTS_PER_EXECUTION, NAMES_KEPT

    host, waiter, files = quiet_host, "w-many", 250
    host.start("landing_quiet_orchestrator", QUIET_JOB, instance_id=waiter)
    host.run_until_idle(fire_timers=False)
    for i in range(1, files):
        host.raise_event(waiter, FILE_EVENT, {"name": f"part-{i}.csv", "etag": f"e{i}"})
        host.advance(1)
    assert host.started == []                               # files kept landing within the quiet period
    status = host.run_until_complete(waiter)
    assert status["runtimeStatus"] == "Completed" and status["output"]["started"] is True
    (start,) = host.started
    assert start["details"] == {"file_events": files} and "collected" not in start
    executions = host.executions(waiter)
    assert len(executions) == -(-(files - 1) // FILE_EVENTS_PER_EXECUTION)
    assert max(len(h) for h in executions) < 4 * FILE_EVENTS_PER_EXECUTION   # 3 history events per file event
    carried = json.loads(status["input"])                  # the last execution's input: counts, first names
    assert carried["collected"]["first_names"] == [f"part-{i}.csv" for i in range(NAMES_KEPT)]
    # one timer per quiet period, not one per file
    assert sum(1 for h in executions for e in h if e["EventType"] == int(ET.TIMER_CREATED)) < files / 10


def test_file_events_batched_past_an_executions_share_are_drained_not_dropped(quiet_host):
    """150 file events in ONE episode: the waiter takes 100, drains the other 50, then continues as new."""
    from shared.landing.orchestrations import FILE_EVENT

    host, waiter = quiet_host, "w-batch"
    host.start("landing_quiet_orchestrator", QUIET_JOB, instance_id=waiter)
    host.run_until_idle(fire_timers=False)
    with host.hold(waiter):
        for i in range(1, 151):
            host.raise_event(waiter, FILE_EVENT, {"name": f"part-{i}.csv"})
    host.run_until_idle(fire_timers=False)
    assert len(host.executions(waiter)) == 2
    host.run_until_complete(waiter)
    (start,) = host.started
    assert start["details"]["file_events"] == 151


def test_files_landing_while_the_run_starts_are_reported_with_a_bounded_summary(quiet_host):
    from shared.landing.orchestrations import FILE_EVENT, NAMES_KEPT

    host, waiter = quiet_host, "w-late"
    original = host.activities["landing_start_run"]

    def start_with_late_files(payload):
        for i in range(25):
            host.raise_event(waiter, FILE_EVENT, {"name": f"late-{i}.csv"})
        host.raise_event(waiter, FILE_EVENT, {"name": "late-0.csv"})          # a redelivered event
        return original(payload)

    host.activities["landing_start_run"] = start_with_late_files
    host.start("landing_quiet_orchestrator", QUIET_JOB, instance_id=waiter)
    output = host.run_until_complete(waiter)["output"]
    assert output["late_count"] == 25 and len(output["late_files"]) == NAMES_KEPT
    assert sorted(f["name"] for f in host.reported) == sorted(f"late-{i}.csv" for i in range(25))


def test_manifest_check_answers_stay_bounded_for_a_big_manifest(landing_env, app_host, monkeypatch):
    """10k missing names were stored in history at every check (226 KiB); now counts and the first few."""
    from shared.landing.functions import CHECK_NAMES_KEPT

    env = landing_env({"m": {"mode": "manifest", "manifest_wait_minutes": 1}})
    configure(monkeypatch, env)
    names = [f"file-{i:05d}.csv" for i in range(2000)]
    m = env.upload("m/big/_manifest.json", json.dumps({"files": names}).encode())
    deliver(env, app_host, m)
    waiter = manifest_waiter_id("m", env.blob_url("m/big/"), m["eTag"])
    app_host.run_until_idle(fire_timers=False)
    app_host.advance(10)
    custom = app_host.status(waiter)["customStatus"]
    assert custom["missing_count"] == 2000 and custom["missing"] == names[:10]
    results = [e["Result"] for e in app_host.history(waiter) if e["EventType"] == int(ET.TASK_COMPLETED)]
    assert results and max(len(r) for r in results) < 2048
    checks = [json.loads(r) for r in results if "missing" in json.loads(r)]  # (the first is the fencing check)
    assert checks and len(checks[0]["missing"]) == CHECK_NAMES_KEPT
    status = app_host.run_until_complete(waiter)
    assert status["runtimeStatus"] == "Failed" and "missing 2000" in status["output"]


def test_a_long_manifest_wait_continues_as_new_and_still_starts_once(landing_env, app_host, monkeypatch):
    from shared.landing.orchestrations import CHECKS_PER_EXECUTION

    env = landing_env({"m": {"mode": "manifest", "manifest_wait_minutes": 180}})
    configure(monkeypatch, env)
    env.upload("m/slow/a.csv", b"abc")
    m = env.upload("m/slow/_manifest.json", json.dumps(["a.csv", "b.csv"]).encode())
    deliver(env, app_host, m)
    waiter = manifest_waiter_id("m", env.blob_url("m/slow/"), m["eTag"])
    app_host.run_until_idle(fire_timers=False)
    while len(app_host.executions(waiter)) < 2:
        app_host.advance(60)
    assert app_host.status(waiter)["customStatus"]["checks"] >= CHECKS_PER_EXECUTION
    assert runs(app_host) == []
    env.upload("m/slow/b.csv", b"z")
    done = app_host.run_until_complete(waiter)
    assert done["runtimeStatus"] == "Completed" and done["output"]["started"] is True
    assert len(runs(app_host)) == 1


def test_a_late_start_of_a_finished_waiter_is_fenced_and_starts_nothing(landing_env, app_host, monkeypatch):
    """Issue 16 case 1 for waiters: the waiter's stored input (its fencing token, epoch 1) started again
    after it finished (a stalled start_new landing late) ends at once: no manifest check, no run start, and
    its answer is the finished waiter's own."""
    env = landing_env({"m": {"mode": "manifest", "manifest_wait_minutes": 10}})
    configure(monkeypatch, env)
    env.upload("m/f/a.csv", b"abc")
    m = env.upload("m/f/_manifest.json", json.dumps({"files": ["a.csv"]}).encode())
    assert deliver(env, app_host, m).action == "waiter_started"
    waiter = manifest_waiter_id("m", env.blob_url("m/f/"), m["eTag"])
    done = app_host.run_until_complete(waiter)
    assert done["output"]["started"] is True
    given = done["input"] if isinstance(done["input"], dict) else json.loads(done["input"])
    assert given["fence"]["epoch"] == 1 and given["fence"]["book"] == "waiters"
    calls_before = [c["name"] for c in app_host.activity_calls]

    app_host.start("landing_manifest_orchestrator", given, instance_id=waiter)  # the late start lands
    late = app_host.run_until_complete(waiter)
    assert late["runtimeStatus"] == "Completed" and late["output"]["fenced"]["action"] == "ended"
    assert late["output"]["run_id"] == done["output"]["run_id"] and late["output"]["started"] is True
    new_calls = [c["name"] for c in app_host.activity_calls][len(calls_before):]
    assert new_calls == ["fence_run"], new_calls  # no manifest check, no landing_start_run
    assert len(runs(app_host)) == 1
