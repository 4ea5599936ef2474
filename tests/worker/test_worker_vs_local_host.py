"""Every function kind through the real Python worker library and through the local host, same input, same
answer. The worker side gets the binding data the Functions host sends (standin.py); the local host side is
reached the way Core Tools is (HTTP on its port, the Event Grid webhook, a Storage queue) or, for orchestrator
episodes and activities, recorded while it ran a landed folder end to end and then replayed into the worker.
"""
from __future__ import annotations

import base64
import json
import uuid
from collections import Counter
from datetime import datetime, timezone
from urllib.parse import unquote, urlencode

import httpx
import pytest

from samples.heart.model import sample_files
from shared.landing import handler as landing_handler
from tools.events import blob_created_event, run_status_changed_event, to_cloud_event

from .standin import answer_value

SERVER_HEADERS = {"date", "server", "content-length", "transfer-encoding", "connection"}


# --- helpers ---------------------------------------------------------------------------------------------

def local_http(host, method: str, path: str, query: list[tuple[str, str]], body: bytes) -> dict:
    url = f"{host.base_url}/api/{path}" + (f"?{urlencode(query)}" if query else "")
    answer = httpx.request(method, url, content=body, headers={"Content-Type": "application/json"}, timeout=60)
    headers = {k.lower(): v for k, v in answer.headers.items() if k.lower() not in SERVER_HEADERS}
    return {"status": answer.status_code, "headers": headers, "body": answer.content}


def worker_http(worker, host, method: str, path: str, query: list[tuple[str, str]], body: bytes) -> dict:
    # the host routes on the decoded path: ASP.NET Core hands route values percent-decoded
    decoded = unquote(path)
    function = next(f for f in host.http if f.pattern.match(decoded) and method in f.methods)
    route_params = function.pattern.match(decoded).groupdict()
    url = f"{host.base_url}/api/{path}" + (f"?{urlencode(query)}" if query else "")
    inputs = {function.trigger_arg: worker.http(method, url, headers={"content-type": "application/json",
                                                                      "host": host.base_url.split("//")[1]},
                                                query=query, route_params=route_params, body=body)}
    if function.client_arg:
        inputs[function.client_arg] = worker.string(host.durable.client_binding())
    response = worker.invoke(function.name, inputs)
    assert response.result.status == worker.protos.StatusResult.Success, response.result.exception.message
    return answer_value(response)


def succeeded(worker, response) -> bool:
    if response.result.status != worker.protos.StatusResult.Success:
        print(response.result.exception.message)
    return response.result.status == worker.protos.StatusResult.Success


def outcomes_of(call) -> Counter:
    before = Counter(landing_handler.OUTCOMES)
    call()
    return Counter(landing_handler.OUTCOMES) - before


def worker_trigger(worker, host, name: str, trigger: str, data, metadata=None):
    inputs = {trigger: data, "client": worker.string(host.durable.client_binding())}
    return worker.invoke(name, inputs, metadata)


def webhook(host, name: str, event: dict) -> int:
    answer = httpx.post(f"{host.base_url}/runtime/webhooks/eventgrid", params={"functionName": name},
                        headers={"aeg-event-type": "Notification"}, content=json.dumps([event]), timeout=60)
    return answer.status_code


# --- HTTP ------------------------------------------------------------------------------------------------

UNKNOWN_RUN = "heart-000000000000000000000000"
REQUESTS = [
    ("GET", "health", [], b""),
    ("GET", "health/details", [], b""),
    ("GET", "runs", [("limit", "5")], b""),
    ("GET", "runs", [("limit", "5"), ("limit", "7")], b""),        # the host joins them: "5,7" → a 400
    ("GET", "runs", [("status", "Running"), ("route", "heart")], b""),
    ("GET", f"runs/{UNKNOWN_RUN}", [], b""),
    ("GET", "runs/not%20a%20run", [], b""),
    ("POST", "runs", [], b'{"route": "no-such-route"}'),
    ("POST", "runs", [], b"not json"),
    ("POST", f"runs/{UNKNOWN_RUN}/cancel", [], b'{"reason": "test"}'),
    ("POST", f"runs/{UNKNOWN_RUN}/redeliver", [], b"{}"),
    ("POST", f"runs/{UNKNOWN_RUN}/confirm-job", [], b'{"job_name": "heart-job-1"}'),
    ("POST", f"runs/{UNKNOWN_RUN}/confirm-job", [], b'{"job_name": "../x"}'),
    ("POST", f"runs/{UNKNOWN_RUN}/resubmit", [], b"{}"),
    ("GET", "runs/stats", [("hours", "0")], b""),
    ("GET", "backfill/bf-0000000000000000", [], b""),
    ("POST", "backfill/bf-0000000000000000/cancel", [], b"{}"),
    ("POST", "plan", [], b'{"route": "heart", "path": "heart/day1/"}'),
    ("POST", "plan", [], b'{"route": "heart"}'),
    ("POST", "backfill", [], b'{"route": "heart", "unknown": 1}'),
    ("POST", "landing/poison/redrive", [("dry_run", "true")], b""),
    ("GET", "dashboard", [], b""),
    ("GET", "openapi.json", [], b""),
    ("GET", "runs/stats", [("hours", "0")], b""),
    ("GET", "backfill/no-such-operation", [], b""),
    ("POST", "backfill/no-such-operation/cancel", [], b"{}"),
]


@pytest.mark.parametrize("method, path, query, body", REQUESTS,
                         ids=[f"{m} {p}?{urlencode(q)}" for m, p, q, _ in REQUESTS])
def test_http_answers_are_the_same(worker, local, method, path, query, body):
    host, _ = local
    from_worker = worker_http(worker, host, method, path, query, body)
    from_local = local_http(host, method, path, query, body)
    assert from_local == from_worker


# --- Event Grid (both schemas), queue (plain and base64), timer -----------------------------------------------

def test_event_grid_and_queue_deliveries_end_the_same_way(worker, local, stack):
    host, _ = local
    stack.upload_sample(sample_files())
    marker = stack.upload("_SUCCESS", b"")
    grid = blob_created_event(marker["url"], marker["etag"], content_length=0)
    cloud = to_cloud_event(grid)
    stray = blob_created_event(f"{stack.azurite.default.blob_url}/elsewhere/x/_SUCCESS", marker["etag"],
                               content_length=0)
    # the first delivery starts the run (through the local host); every later one of the same marker is a
    # duplicate, whichever way it comes
    assert outcomes_of(lambda: webhook(host, "on_blob_created", grid)) == Counter({"started": 1})
    for event in (grid, cloud, stray, to_cloud_event(stray)):
        local_outcome = outcomes_of(lambda: webhook(host, "on_blob_created", event))
        worker_outcome = outcomes_of(lambda: succeeded(worker, worker_trigger(
            worker, host, "on_blob_created", "event", worker.json(event))))
        assert local_outcome == worker_outcome and sum(worker_outcome.values()) == 1, (event["id"], local_outcome)

    from azure.storage.queue import QueueClient

    queue = QueueClient.from_connection_string(stack.azurite.default.connection_string, "landing-events")
    for content in (json.dumps(grid), base64.b64encode(json.dumps(cloud).encode()).decode()):
        def through_local_queue():
            before = sum(landing_handler.OUTCOMES.values())
            queue.send_message(content)
            host.durable.run_until(lambda h: sum(landing_handler.OUTCOMES.values()) > before, timeout_s=20)

        now = datetime.now(timezone.utc).isoformat()
        metadata = worker.queue_metadata(message_id="m1", dequeue_count=1, inserted=now, expires=now,
                                         next_visible=now, pop_receipt="r")
        local_outcome = outcomes_of(through_local_queue)
        worker_outcome = outcomes_of(lambda: succeeded(worker, worker_trigger(
            worker, host, "on_blob_created_queued", "msg", worker.string(content), metadata)))
        assert local_outcome == worker_outcome == Counter({"duplicate": 1})


def test_azure_ml_events_and_the_timer_end_the_same_way(worker, local, stack):
    from shared.aml_events.handler import EVENT_COUNTS

    host, _ = local
    for n, (status, schema) in enumerate((("Running", "eventgrid"), ("Completed", "cloudevents"))):
        # the same event for two jobs nobody submitted (one each way), then one event twice (a redelivery)
        before = Counter(EVENT_COUNTS)
        assert webhook(host, "on_aml_run_event", run_status_changed_event(f"job-a{n}", status, schema=schema)) == 202
        local_counts = Counter(EVENT_COUNTS) - before
        before = Counter(EVENT_COUNTS)
        assert succeeded(worker, worker_trigger(worker, host, "on_aml_run_event", "event", worker.json(
            run_status_changed_event(f"job-b{n}", status, schema=schema))))
        assert Counter(EVENT_COUNTS) - before == local_counts and local_counts
        again = run_status_changed_event(f"job-c{n}", status, schema=schema)
        assert webhook(host, "on_aml_run_event", again) == 202
        before = Counter(EVENT_COUNTS)
        assert webhook(host, "on_aml_run_event", again) == 202
        local_counts = Counter(EVENT_COUNTS) - before
        before = Counter(EVENT_COUNTS)
        assert succeeded(worker, worker_trigger(worker, host, "on_aml_run_event", "event", worker.json(again)))
        assert Counter(EVENT_COUNTS) - before == local_counts and local_counts

    from devhost.host import timer_request
    from devhost.ncrontab import Schedule

    # the sweep lists the route's prefix: an empty one of its own, so the tick's work does not grow with every
    # folder the session's other tests left in the shared landing container (both hosts do the same work)
    from tests.e2e.conftest import LANDING_CONTAINER

    stack.configure(match={"container": LANDING_CONTAINER, "prefix": f"worker-timer-{uuid.uuid4().hex[:8]}/"})
    now = datetime.now(timezone.utc)
    timer = next(f for f in host.triggered if f.kind == "timerTrigger")
    import asyncio

    local_answer = asyncio.run_coroutine_threadsafe(
        host._invoke(timer, timer_request(Schedule("0 */5 * * * *"), now)), host.loop).result(timeout=60)
    status = {"Last": now.isoformat(), "Next": now.isoformat(), "LastUpdated": now.isoformat()}
    response = worker_trigger(worker, host, timer.name, timer.trigger_arg, worker.json(
        {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": status, "IsPastDue": False}))
    assert succeeded(worker, response) and local_answer is None and answer_value(response) is None


# --- orchestrator episodes and activities ----------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["marker", "quiet_period"])
def test_a_landed_run_replays_identically_in_the_worker(worker, local, stack, mode):
    host, recorded = local
    if mode == "quiet_period":  # a folder waiter (landing_quiet_orchestrator) starts the run
        stack.configure(landing={"mode": "quiet_period", "quiet_seconds": 1})
    landed = stack.upload_sample(sample_files())
    if mode == "marker":
        landed = [stack.upload("_SUCCESS", b"")]
    for item in landed:
        event = blob_created_event(item["url"], item["etag"], content_length=item["content_length"])
        assert webhook(host, "on_blob_created", event) == 202
    host.durable.run_until(lambda h: any(i.startswith("heart-") for i in h.instance_ids()), timeout_s=60)
    [run_id] = [i for i in host.durable.instance_ids() if i.startswith("heart-")]
    status = host.durable.run_until_complete(run_id, timeout_s=90)
    assert status["runtimeStatus"] == "Completed", status
    episodes = [e for e in recorded.episodes if e[0] == "run_orchestrator"]
    assert len(episodes) >= 3 and {name for name, _, _ in recorded.activities} >= {"submit_job", "get_job_status"}
    if mode == "quiet_period":
        assert any(name == "landing_quiet_orchestrator" for name, _, _ in recorded.episodes)
    for name, body, answer in recorded.episodes:
        response = worker.invoke(name, {"context": worker.string(body)})
        assert succeeded(worker, response)
        assert json.loads(answer_value(response)) == json.loads(answer), name
    # activities whose answer depends only on their input and the finished run's state, replayed
    from azure.functions.durable_functions import ActivityTriggerConverter

    replayable = {"get_job_status", "estimate_job_duration", "find_attempt_job", "plan_delivery",
                  "landing_start_run"}  # the run has started: a duplicate, both ways
    replayed = 0
    last_status = max(i for i, (name, _, _) in enumerate(recorded.activities) if name == "get_job_status")
    for index, (name, value, result) in enumerate(recorded.activities):
        if name not in replayable or (name == "get_job_status" and index != last_status):
            continue  # a job's status before its end was true then, not now
        trigger = next(b for b in worker.bindings(name).values() if b["type"] == "activityTrigger")["name"]
        inputs = {trigger: worker.json(value)}
        if "client" in worker.bindings(name):
            inputs["client"] = worker.string(host.durable.client_binding())
        response = worker.invoke(name, inputs)
        assert succeeded(worker, response)
        expected = json.loads(ActivityTriggerConverter.encode(result, expected_type=None).value)
        if name == "landing_start_run":  # it started the run then; a second call finds it started
            expected = {**expected, "started": False, "action": "duplicate"}
        assert json.loads(answer_value(response)) == expected, name
        replayed += 1
    assert replayed >= 2


def test_every_trigger_kind_of_the_app_went_through_the_worker(worker):
    """Runs last in this module: each kind of trigger the app declares was invoked above (every HTTP function
    too), so no kind is left to the local host alone."""
    kinds = {worker.trigger_kind(name) for name in worker.functions}
    assert kinds == {"httpTrigger", "eventGridTrigger", "queueTrigger", "timerTrigger", "orchestrationTrigger",
                     "activityTrigger"}
    invoked_kinds = {worker.trigger_kind(name) for name in worker.invoked}
    assert invoked_kinds == kinds
    http = {name for name in worker.functions if worker.trigger_kind(name) == "httpTrigger"}
    assert http <= worker.invoked, f"HTTP functions never compared: {sorted(http - worker.invoked)}"
    assert {"on_blob_created", "on_aml_run_event", "on_blob_created_queued", "run_orchestrator",
            "landing_quiet_orchestrator", "landing_start_run"} <= worker.invoked
