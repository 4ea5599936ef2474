"""tests/support/durable_host.py: a tiny DFApp run end to end through the real replay engine,
in both clock modes, and driven through the SDK's real DurableOrchestrationClient over HTTP."""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone

import azure.durable_functions as df
import azure.functions as func
import httpx
import pytest

from tests.support.durable_host import (
    DurableTestHost,
    HostError,
    HostStuck,
    run_async,
    split_functions,
)
from tests.support.history import ET, parse_ts

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


# -- a fake job service the activities talk to (plain Python state, no SDK involvement) --------
class Jobs:
    def __init__(self, fail_submits: int = 0, running_polls: int = 2):
        self.fail_submits = fail_submits
        self.running_polls = running_polls
        self.calls: list[tuple[str, object]] = []
        self.lock = threading.Lock()

    def submit(self, payload):
        with self.lock:
            self.calls.append(("submit", payload))
            if self.fail_submits > 0:
                self.fail_submits -= 1
                raise RuntimeError("AML 500")
            return f"job-{payload['model']}"

    def poll(self, job):
        with self.lock:
            self.calls.append(("poll", job))
            polls = sum(1 for c in self.calls if c[0] == "poll")
            return "Running" if polls <= self.running_polls else "Completed"


JOBS = Jobs()


@pytest.fixture
def jobs():
    global JOBS
    JOBS = Jobs()
    return JOBS


# -- the app ----------------------------------------------------------------------------------
@app.orchestration_trigger(context_name="context")
def monitor(context: df.DurableOrchestrationContext):
    inp = context.get_input()
    context.set_custom_status({"phase": "submitting"})
    job = yield context.call_activity_with_retry(
        "submit", df.RetryOptions(first_retry_interval_in_milliseconds=5000,
                                  max_number_of_attempts=3), inp)
    deadline = context.current_utc_datetime + timedelta(seconds=inp.get("deadline_s", 3600))
    polls, status, cancel_data = 0, None, None
    while True:
        status = yield context.call_activity("poll", job)
        polls += 1
        context.set_custom_status({"phase": "polling", "polls": polls, "status": status})
        if status != "Running":
            break
        if context.current_utc_datetime >= deadline:
            status = "TimedOut"
            break
        timer = context.create_timer(context.current_utc_datetime + timedelta(seconds=60))
        cancel = context.wait_for_external_event("cancel")
        winner = yield context.task_any([cancel, timer])
        if winner == cancel:
            timer.cancel()
            cancel_data = cancel.result
            yield context.call_activity("cancel_job", job)
            status = "Canceled"
            break
    return {"job": job, "status": status, "polls": polls, "cancel": cancel_data,
            "finished_at": context.current_utc_datetime.isoformat()}


@app.orchestration_trigger(context_name="context")
def counter(context: df.DurableOrchestrationContext):
    n = context.get_input() or 0
    if n < 3:
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=10))
        context.continue_as_new(n + 1)
        return None
    return {"final": n}


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    results = yield context.task_all([context.call_activity("echo", i) for i in range(3)])
    try:
        yield context.call_activity("missing_activity", None)
    except Exception as exc:   # noqa: BLE001 - the SDK raises plain Exception
        missing = str(exc)
    return {"results": results, "missing": missing}


@app.orchestration_trigger(context_name="context")
def long_sleep(context: df.DurableOrchestrationContext):
    yield context.create_timer(context.current_utc_datetime + timedelta(days=8))
    return context.current_utc_datetime.isoformat()


@app.orchestration_trigger(context_name="context")
def waits_forever(context: df.DurableOrchestrationContext):
    return (yield context.wait_for_external_event("never"))


@app.orchestration_trigger(context_name="context")
def polls_forever(context: df.DurableOrchestrationContext):
    while True:
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=1))


NONDETERMINISTIC = {"calls": 0}


@app.orchestration_trigger(context_name="context")
def nondeterministic(context: df.DurableOrchestrationContext):
    NONDETERMINISTIC["calls"] += 1                      # a bug: depends on process state
    name = "echo" if NONDETERMINISTIC["calls"] == 1 else "poll"
    yield context.call_activity(name, 1)
    yield context.call_activity("echo", 2)
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def crashes(context: df.DurableOrchestrationContext):
    context.set_custom_status("about to fail")
    yield context.call_activity("echo", 1)
    raise ValueError("bad input")


@app.activity_trigger(input_name="payload")
def submit(payload: dict) -> str:
    return JOBS.submit(payload)


@app.activity_trigger(input_name="job")
def poll(job: str) -> str:
    return JOBS.poll(job)


@app.activity_trigger(input_name="job")
async def cancel_job(job: str) -> dict:
    JOBS.calls.append(("cancel_job", job))
    return {"canceled": job}


@app.activity_trigger(input_name="value")
def echo(value):
    return (value, value * 10)          # a tuple: must come back as a JSON list


@app.route(route="runs", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client) -> func.HttpResponse:
    body = req.get_json()
    instance_id = await client.start_new("monitor", body.get("run_id"), body)
    return client.create_check_status_response(req, instance_id)


@app.route(route="runs/{run_id}/cancel", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_cancel(req: func.HttpRequest, client) -> func.HttpResponse:
    await client.raise_event(req.route_params["run_id"], "cancel", req.get_json())
    return func.HttpResponse(status_code=202)


FUNCS = {f.get_function_name(): f for f in app.get_functions()}   # get_functions() only once
ORCHESTRATORS, ACTIVITIES = split_functions(FUNCS.values())


def client_fn(name):
    return FUNCS[name].get_user_function()


@pytest.fixture
def host():
    with DurableTestHost(ORCHESTRATORS, ACTIVITIES, start=T0) as h:
        yield h


def _client(h: DurableTestHost) -> df.DurableOrchestrationClient:
    return df.DurableOrchestrationClient(h.client_binding())


# ==============================================================================================
# simulated clock
# ==============================================================================================
@pytest.mark.parametrize("schema", ["host", 0, 1])
def test_retry_then_poll_loop_completes(jobs, schema):
    jobs.fail_submits = 2
    with DurableTestHost(ORCHESTRATORS, ACTIVITIES, start=T0, schema=schema) as h:
        iid = h.start("monitor", {"model": "m1"})
        assert h.status(iid)["runtimeStatus"] == "Pending"
        st = h.run_until_complete(iid)
        assert st["runtimeStatus"] == "Completed", h.describe()
        assert st["output"]["job"] == "job-m1" and st["output"]["status"] == "Completed"
        assert st["output"]["polls"] == 3
        assert st["customStatus"] == {"phase": "polling", "polls": 3, "status": "Completed"}
        # 3 submit attempts (2 retry timers of 5 s) + 2 poll timers of 60 s
        assert h.count(iid, ET.TASK_SCHEDULED, name="submit") == 3
        assert h.count(iid, ET.TASK_FAILED) == 2
        assert h.count(iid, ET.TIMER_CREATED) == 4 and h.count(iid, ET.TIMER_FIRED) == 4
        assert parse_ts(st["output"]["finished_at"].replace("+00:00", "Z")) == T0 + timedelta(seconds=130)
        assert h.now() == T0 + timedelta(seconds=130)
        assert st["lastUpdatedTime"] == "2024-01-01T00:02:10Z"
        # activity inputs arrive JSON-decoded, as the worker passes them
        assert jobs.calls[0] == ("submit", {"model": "m1"})
        assert [c["attempt"] for c in h.activity_calls if c["name"] == "submit"] == [1, 2, 3]
        failed = next(e for e in h.history(iid) if e["EventType"] == ET.TASK_FAILED)
        assert failed["Reason"].startswith("Activity function 'submit' failed: Result: Failure\n"
                                           "Exception: RuntimeError: AML 500")


def test_retry_exhausted_fails_after_the_extra_timer(jobs, host):
    jobs.fail_submits = 99
    iid = host.start("monitor", {"model": "m1"})
    st = host.run_until_complete(iid)
    assert st["runtimeStatus"] == "Failed"
    assert st["output"].startswith("Orchestrator function 'monitor' failed: "
                                   "Activity function 'submit' failed:")
    assert "RuntimeError: AML 500" in st["output"]
    assert st["customStatus"] == {"phase": "submitting"}
    assert host.count(iid, ET.TASK_SCHEDULED, name="submit") == 3
    assert host.count(iid, ET.TIMER_CREATED) == 3          # the third one is the "extra" timer
    assert host.count(iid, ET.TIMER_FIRED) == 3
    assert host.now() == T0 + timedelta(seconds=15)


@pytest.mark.parametrize("as_python_client, expected", [
    (True, '{"by": "alice"}'),      # what a Python client's raise_event delivers: JSON text
    (False, {"by": "alice"}),
])
def test_cancel_event_wins_the_race_and_cancels_the_timer(jobs, host, as_python_client, expected):
    jobs.running_polls = 99
    iid = host.start("monitor", {"model": "m1"})
    host.run_until_idle(fire_timers=False)                 # waits on task_any(cancel, timer)
    st = host.status(iid)
    assert st["runtimeStatus"] == "Running" and st["customStatus"]["polls"] == 1
    assert host.count(iid, ET.TIMER_CREATED) == 1
    host.advance(30)                                        # not yet due: nothing happens
    assert host.count(iid, ET.TIMER_FIRED) == 0
    host.raise_event(iid, "cancel", {"by": "alice"}, as_python_client=as_python_client)
    st = host.run_until_complete(iid)
    assert st["output"]["status"] == "Canceled" and st["output"]["cancel"] == expected
    assert ("cancel_job", "job-m1") in jobs.calls
    assert host.count(iid, ET.TIMER_FIRED) == 0             # the cancelled timer never fired
    assert host.now() == T0 + timedelta(seconds=30)


def test_event_raised_before_the_wait_is_buffered(jobs, host):
    jobs.running_polls = 99
    iid = host.start("monitor", {"model": "m1"})
    host.raise_event(iid, "cancel", "early")               # before the first episode even ran
    with pytest.warns(UserWarning, match="Potential duplicate Task completion"):
        st = host.run_until_complete(iid)
    assert st["output"]["status"] == "Canceled" and st["output"]["polls"] == 1
    assert st["output"]["cancel"] == '"early"'


def test_deadline_times_out(jobs, host):
    jobs.running_polls = 99
    iid = host.start("monitor", {"model": "m1", "deadline_s": 300})
    st = host.run_until_complete(iid)
    assert st["output"]["status"] == "TimedOut"
    assert st["output"]["polls"] == 6                       # t = 0, 60, …, 300 s
    assert host.count(iid, ET.TIMER_FIRED) == 5


def test_continue_as_new_starts_new_executions_with_the_same_id(host):
    iid = host.start("counter", 0, instance_id="count-1")
    st = host.run_until_complete(iid)
    assert st["output"] == {"final": 3} and st["instanceId"] == "count-1"
    runs = host.executions(iid)
    assert len(runs) == 4
    for run in runs[:3]:
        done = [e for e in run if e["EventType"] == ET.EXECUTION_COMPLETED]
        assert done[0]["OrchestrationStatus"] == "ContinuedAsNew"
    inputs = [next(e for e in run if e["EventType"] == ET.EXECUTION_STARTED)["Input"]
              for run in runs]
    assert [json.loads(json.loads(i)) for i in inputs] == [0, 1, 2, 3]
    assert len({next(e for e in run if e["EventType"] == ET.EXECUTION_STARTED)
                ["OrchestrationInstance"]["ExecutionId"] for run in runs}) == 4
    assert host.now() == T0 + timedelta(seconds=30)


def test_task_all_activity_json_round_trip_and_missing_activity(host):
    iid = host.start("fan_out")
    st = host.run_until_complete(iid)
    assert st["output"]["results"] == [[0, 0], [1, 10], [2, 20]]   # tuples → lists
    assert "missing_activity" in st["output"]["missing"]
    assert "doesn't exist" in st["output"]["missing"]


@pytest.mark.parametrize("schema, created", [("host", 2), (0, 1)])
def test_long_timer_is_split_only_with_the_host_schema(schema, created):
    with DurableTestHost(ORCHESTRATORS, ACTIVITIES, start=T0, schema=schema) as h:
        iid = h.start("long_sleep")
        st = h.run_until_complete(iid)
        assert st["output"] == "2024-01-09T00:00:00+00:00"
        assert h.count(iid, ET.TIMER_CREATED) == created


def test_orchestrator_exception_fails_the_instance(host):
    iid = host.start("crashes")
    st = host.run_until_complete(iid)
    assert st["runtimeStatus"] == "Failed"
    assert st["output"] == "Orchestrator function 'crashes' failed: bad input"
    assert st["customStatus"] == "about to fail"


def test_nondeterminism_is_detected(host):
    NONDETERMINISTIC["calls"] = 0
    iid = host.start("nondeterministic")
    st = host.run_until_complete(iid)
    assert st["runtimeStatus"] == "Failed"
    assert "Non-Deterministic workflow detected" in st["output"]


def test_stuck_instance_and_endless_loop_are_reported(host):
    iid = host.start("waits_forever")
    with pytest.raises(HostStuck, match="waiting_for=\\['never'\\]"):
        host.run_until_complete(iid)
    host.raise_event(iid, "never", 7, as_python_client=False)
    assert host.run_until_complete(iid)["output"] == 7
    loop = host.start("polls_forever")
    with pytest.raises(HostError, match="max_steps"):
        host.run_until_complete(loop, max_steps=200)
    host.terminate(loop, "enough")
    st = host.status(loop)
    assert st["runtimeStatus"] == "Terminated" and st["output"] == "enough"


def test_unknown_orchestrator_fails_like_the_extension(host):
    iid = host.start("no_such_orchestrator")
    st = host.run_until_complete(iid)
    assert st["runtimeStatus"] == "Failed" and "doesn't exist" in st["output"]


# ==============================================================================================
# the SDK's DurableOrchestrationClient against the host's HTTP API
# ==============================================================================================
def test_client_binding_points_at_loopback(host):
    binding = json.loads(host.client_binding())
    assert binding["rpcBaseUrl"].startswith("http://127.0.0.1:")
    assert binding["rpcBaseUrl"].endswith("/durabletask/")
    assert set(binding) >= {"taskHubName", "creationUrls", "managementUrls", "rpcBaseUrl", "baseUrl"}


def test_client_start_status_conflict_and_restart(jobs, host):
    client = _client(host)

    async def scenario():
        iid = await client.start_new("monitor", "run-1", {"model": "m1"})
        first = await client.get_status(iid)
        with pytest.raises(Exception, match="already exists"):
            await client.start_new("monitor", "run-1", {"model": "m1"})
        return iid, first

    iid, first = run_async(scenario())
    assert iid == "run-1"
    assert first.runtime_status == df.OrchestrationRuntimeStatus.Pending
    assert first.input_ == '{"model": "m1"}'          # the extension shows the stored JSON text
    host.run_until_complete(iid)

    async def after():
        done = await client.get_status(iid, show_history=True)
        again = await client.start_new("monitor", "run-1", {"model": "m2"})   # finished → restart
        restarted = await client.get_status(again)
        return done, restarted

    done, restarted = run_async(after())
    assert done.runtime_status == df.OrchestrationRuntimeStatus.Completed
    assert done.output["status"] == "Completed"
    assert done.custom_status["polls"] == 3
    assert any(e["EventType"] == "TaskCompleted" for e in done.historyEvents)
    assert restarted.runtime_status == df.OrchestrationRuntimeStatus.Pending
    assert host.run_until_complete("run-1")["output"]["job"] == "job-m2"


def test_client_raise_event_terminate_query_and_purge(jobs, host):
    jobs.running_polls = 99
    client = _client(host)
    a = host.start("monitor", {"model": "a"}, instance_id="a-1")
    b = host.start("monitor", {"model": "b"}, instance_id="b-1")
    done = host.start("counter", 3, instance_id="c-1")
    host.run_until_idle(fire_timers=False)

    async def scenario():
        running = await client.get_status_by(
            runtime_status=[df.OrchestrationRuntimeStatus.Running])
        completed = await client.get_status_by(
            runtime_status=[df.OrchestrationRuntimeStatus.Completed],
            created_time_from=T0 - timedelta(hours=1), created_time_to=T0 + timedelta(hours=1))
        everything = await client.get_status_all()
        await client.raise_event(a, "cancel", {"by": "bob"})
        await client.terminate(b, "operator said stop")
        with pytest.raises(Exception, match="is gone"):
            await client.raise_event(done, "cancel", {})
        with pytest.raises(Exception, match="No instance"):
            await client.raise_event("nope", "cancel", {})
        purged = await client.purge_instance_history(done)
        missing = await client.get_status(done)
        return running, completed, everything, purged, missing

    running, completed, everything, purged, missing = run_async(scenario())
    assert sorted(s.instance_id for s in running) == ["a-1", "b-1"]
    assert [s.instance_id for s in completed] == ["c-1"]
    assert len(everything) == 3
    assert purged.instances_deleted == 1 and not missing
    st_b = host.status(b)
    assert st_b["runtimeStatus"] == "Terminated" and st_b["output"] == "operator said stop"
    st_a = host.run_until_complete(a)
    assert st_a["output"]["status"] == "Canceled"
    assert st_a["output"]["cancel"] == '{"by": "bob"}'     # Python client → JSON text arrives


def test_http_function_and_check_status_links(jobs, host):
    req = func.HttpRequest("POST", "http://localhost:7071/api/runs",
                           headers={"Content-Type": "application/json"},
                           body=json.dumps({"model": "m1", "run_id": "r-42"}).encode())
    resp = run_async(client_fn("http_start")(req=req, client=host.client_binding()))
    assert resp.status_code == 202
    links = json.loads(resp.get_body())
    assert links["id"] == "r-42"
    assert links["statusQueryGetUri"].startswith("http://localhost:7071/runtime/webhooks/durabletask/"
                                                 "instances/r-42?")
    # the same links work against the host once the origin is pointed at it
    origin = host.base_url.split("/runtime/")[0]
    url = links["statusQueryGetUri"].replace("http://localhost:7071", origin)
    r = httpx.get(url)
    assert r.status_code == 202 and r.json()["runtimeStatus"] == "Pending"
    host.run_until_complete("r-42")
    r = httpx.get(url)
    assert r.status_code == 200 and r.json()["output"]["status"] == "Completed"
    # a second asyncio.run in the same process works (run_async closes the SDK session)
    cancel = func.HttpRequest("POST", "http://localhost:7071/api/runs/r-42/cancel",
                              route_params={"run_id": "r-42"}, body=b"{}",
                              headers={"Content-Type": "application/json"})
    with pytest.raises(Exception, match="is gone"):
        run_async(client_fn("http_cancel")(req=cancel, client=host.client_binding()))


# ==============================================================================================
# scaled real time: a background pump, activities on threads, timers fire on the wall clock
# ==============================================================================================
def test_scaled_clock_with_pump_runs_started_over_http(jobs):
    speed = 1200.0                                  # 60 s poll timer → 50 ms of wall time
    with DurableTestHost(ORCHESTRATORS, ACTIVITIES, clock="scaled", speed=speed, start=T0) as h:
        assert h.activity_mode == "threads"
        h.start_pump()
        t0 = time.monotonic()
        req = func.HttpRequest("POST", "http://localhost:7071/api/runs",
                               headers={"Content-Type": "application/json"},
                               body=json.dumps({"model": "m1", "run_id": "s-1"}).encode())
        assert run_async(client_fn("http_start")(req=req, client=h.client_binding())).status_code == 202
        st = h.run_until_complete("s-1", timeout_s=20)
        wall = time.monotonic() - t0
        assert st["output"]["status"] == "Completed", h.describe()
        assert wall >= 120 / speed                   # two 60 s timers
        finished = parse_ts(st["output"]["finished_at"].replace("+00:00", "Z"))
        assert finished >= T0 + timedelta(seconds=120)
        assert not h.pump_errors


def test_scaled_clock_cancel_via_client_function_while_pumping(jobs):
    jobs.running_polls = 10_000
    with DurableTestHost(ORCHESTRATORS, ACTIVITIES, clock="scaled", speed=600.0, start=T0) as h:
        h.start_pump()
        iid = h.start("monitor", {"model": "m1"}, instance_id="s-2")
        h.run_until(lambda hh: (hh.status(iid)["customStatus"] or {}).get("polls", 0) >= 2,
                    timeout_s=20)
        cancel = func.HttpRequest("POST", "http://localhost:7071/api/runs/s-2/cancel",
                                  route_params={"run_id": "s-2"},
                                  headers={"Content-Type": "application/json"},
                                  body=json.dumps({"by": "carol"}).encode())
        assert run_async(client_fn("http_cancel")(req=cancel, client=h.client_binding())).status_code == 202
        st = h.run_until_complete(iid, timeout_s=20)
        assert isinstance(st["output"], dict) and st["output"]["status"] == "Canceled", st
        assert st["output"]["cancel"] == '{"by": "carol"}'
        assert st["output"]["polls"] >= 2
        assert not h.pump_errors


def test_simulated_pump_serves_client_started_runs(jobs):
    with DurableTestHost(ORCHESTRATORS, ACTIVITIES, start=T0) as h:
        h.start_pump()                               # simulated clock: jumps to timers when idle
        client = _client(h)
        iid = run_async(client.start_new("monitor", None, {"model": "m9"}))
        st = h.run_until_complete(iid, timeout_s=20)
        assert st["output"]["job"] == "job-m9"
        assert h.now() == T0 + timedelta(seconds=120)


# -- batched episodes (several new events in one episode, as the real host delivers them) ------------------
def _episodes(history: list) -> list[list[int]]:
    out: list[list[int]] = []
    for e in history:
        if e["EventType"] == int(ET.ORCHESTRATOR_STARTED):
            out.append([])
        elif out and e["EventType"] != int(ET.ORCHESTRATOR_COMPLETED):
            out[-1].append(e["EventType"])
    return out


def test_hold_delivers_everything_queued_in_one_episode(jobs, host):
    iid = host.start("monitor", {"model": "m"}, instance_id="batched")
    host.run_until(lambda h: h.count(iid, ET.TASK_SCHEDULED, name="poll") == 1)
    with host.hold(iid):
        assert host.step(fire_timers=False)               # the poll activity runs, its result is queued
        host.raise_event(iid, "cancel", {"by": "carol"})
        assert host.run_until_idle(fire_timers=False) == 0   # held: no episode
        assert [e["EventType"] for e in host.inbox(iid)] == [int(ET.TASK_COMPLETED), int(ET.EVENT_RAISED)]
    status = host.run_until_complete(iid)
    assert status["output"]["status"] == "Canceled" and status["output"]["polls"] == 1
    assert [int(ET.TASK_COMPLETED), int(ET.EVENT_RAISED)] in [ep[:2] for ep in _episodes(host.history(iid))]


def test_continue_as_new_drops_the_rest_of_its_episode_like_the_extension(host):
    """ContinueAsNew does not preserve unprocessed events (the extension's shim calls ContinueAsNew(input)):
    an event delivered with the timer that ends an execution is gone; one raised later carries over."""
    iid = host.start("counter", 0, instance_id="can")
    host.run_until_idle(fire_timers=False)
    with host.hold(iid):
        host.advance(10, run=False)
        host.raise_event(iid, "unread", 1)
    host.run_until_idle(fire_timers=False)
    assert len(host.executions(iid)) == 2
    assert host.count(iid, ET.EVENT_RAISED, all_executions=True) == 1     # in the first execution only
    assert host.count(iid, ET.EVENT_RAISED) == 0


def test_a_host_that_batches_every_episode(jobs):
    with DurableTestHost(ORCHESTRATORS, ACTIVITIES, start=T0, events_per_episode=None) as h:
        iid = h.start("fan_out", None)
        status = h.run_until_complete(iid)
    assert status["output"]["results"] == [[0, 0], [1, 10], [2, 20]]
    assert any(ep.count(int(ET.TASK_COMPLETED)) == 3 for ep in _episodes(h.history(iid)))
    with pytest.raises(ValueError):
        DurableTestHost(ORCHESTRATORS, ACTIVITIES, events_per_episode=0)
