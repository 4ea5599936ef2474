"""The local development host, on a small app with one function of each trigger kind, over real HTTP."""

from __future__ import annotations

import base64
import time
from datetime import datetime

import httpx
import pytest

from devhost.host import LocalFunctionsHost
from devhost.ncrontab import Schedule
from tests.devhost import tiny_app


@pytest.fixture
def host(azurite, monkeypatch):
    monkeypatch.setenv("TINY_STORAGE", azurite.connection_string())
    for calls in tiny_app.CALLS.values():
        calls.clear()
    with LocalFunctionsHost(port=0, app_module="tests.devhost.tiny_app", queue_visibility_seconds=1) as running:
        yield running


def wait_until(predicate, timeout_s: float = 20.0):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_http_routes_are_served_like_core_tools(host):
    with httpx.Client(base_url=host.base_url) as http:
        answer = http.get("/api/items/42", params={"code": "anything", "x": "1"})
        assert answer.status_code == 200 and answer.json() == {"item": "42", "q": {"code": "anything", "x": "1"}}
        assert http.get("/api/items/special").text == "special"          # a literal route wins over a template
        assert http.get("/api/items/7", headers={"x-functions-key": "k"}).status_code == 200  # keys not checked
        assert http.post("/api/items/42").status_code == 405
        assert http.get("/api/nothing-here").status_code == 404


def test_starting_over_a_running_instance_is_a_conflict(host):
    with httpx.Client(base_url=host.base_url) as http:
        assert http.post("/api/start", params={"id": "one"}).status_code == 202
        assert http.post("/api/start", params={"id": "one"}).status_code == 409


def test_event_grid_webhook_handshakes_and_both_schemas(host):
    url = "/runtime/webhooks/eventgrid?functionName=on_event"
    with httpx.Client(base_url=host.base_url) as http:
        validation = [{"id": "v", "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent", "subject": "",
                       "data": {"validationCode": "abc-123"}, "eventTime": "2026-01-01T00:00:00Z",
                       "dataVersion": "1", "topic": "t"}]
        answer = http.post(url, json=validation, headers={"aeg-event-type": "SubscriptionValidation"})
        assert answer.json() == {"validationResponse": "abc-123"}
        options = http.request("OPTIONS", url, headers={"WebHook-Request-Origin": "eventgrid.azure.net"})
        assert options.headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"
        assert http.post(url, json=[]).status_code == 400                     # no aeg-event-type header
        assert http.post("/runtime/webhooks/eventgrid?functionName=nope", json=[],
                         headers={"aeg-event-type": "Notification"}).status_code == 404
        grid = {"id": "1", "eventType": "Microsoft.Storage.BlobCreated", "subject": "/s", "data": {"a": 1},
                "eventTime": "2026-01-01T00:00:00Z", "dataVersion": "1", "topic": "t"}
        cloud = {"specversion": "1.0", "id": "2", "type": "Microsoft.Storage.BlobCreated", "source": "/src",
                 "time": "2026-01-01T00:00:00Z", "subject": "/s", "data": {"b": 2}}
        answer = http.post(url, json=[grid, grid], headers={"aeg-event-type": "Notification"})  # a batch
        assert answer.status_code == 202
        assert http.post(url, json=cloud, headers={"aeg-event-type": "Notification"}).status_code == 202
    assert [name for name, _ in tiny_app.CALLS["events"]] == ["EventGridEvent", "EventGridEvent", "CloudEvent"]


def test_queue_messages_are_delivered_and_poison_moves_after_five_attempts(host, azurite, monkeypatch):
    from azure.storage.queue import QueueClient

    import devhost.host as devhost_module

    queue = QueueClient.from_connection_string(azurite.connection_string(), "tiny-items")
    wait_until(lambda: _exists(queue))
    poison = QueueClient.from_connection_string(azurite.connection_string(), "tiny-items-poison")
    # host.json (the app root's) says queues.messageEncoding "none": the content reaches the app as sent
    assert host.queue_message_encoding == "none"
    queue.send_message("hello")
    queue.send_message(base64.b64encode(b"hi").decode())
    queue.send_message("poison")
    wait_until(lambda: ("hello", 1) in tiny_app.CALLS["queue"] and ("aGk=", 1) in tiny_app.CALLS["queue"])
    wait_until(lambda: len(poison.peek_messages(max_messages=5)) == 1, timeout_s=40)
    attempts = [count for body, count in tiny_app.CALLS["queue"] if body == "poison"]
    assert attempts == list(range(1, devhost_module.POISON_AFTER + 1))
    assert poison.peek_messages()[0].content == "poison"
    assert queue.peek_messages() == []                              # gone from the trigger's queue


def test_timer_triggers_fire_on_their_schedule(host):
    wait_until(lambda: len(tiny_app.CALLS["timer"]) >= 2, timeout_s=10)


@pytest.mark.parametrize("expression, after, expected", [
    ("0 */5 * * * *", "2026-01-01T10:02:30", "2026-01-01T10:05:00"),
    ("*/10 * * * * *", "2026-01-01T10:02:30", "2026-01-01T10:02:40"),
    ("0 0 3 * * 1", "2026-01-01T10:00:00", "2026-01-05T03:00:00"),   # 2026-01-05 is a Monday
    ("0 30 9 1 JAN *", "2026-01-01T10:00:00", "2027-01-01T09:30:00"),
    ("00:15:00", "2026-01-01T10:00:00", "2026-01-01T10:15:00"),
])
def test_ncrontab_next_firing(expression, after, expected):
    assert Schedule(expression).next_after(datetime.fromisoformat(after)) == datetime.fromisoformat(expected)


@pytest.mark.parametrize("expression", ["* * * * *", "61 * * * * *", "a * * * * *", "00:00:00"])
def test_ncrontab_rejects_bad_schedules(expression):
    with pytest.raises(ValueError):
        Schedule(expression)


def _exists(queue) -> bool:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        queue.get_queue_properties()
        return True
    except ResourceNotFoundError:
        return False


# --- held to the real host and worker (issue 17) ---------------------------------------------------------------

def test_a_repeated_query_parameter_reaches_the_app_joined_with_commas_like_the_real_host(host):
    with httpx.Client(base_url=host.base_url) as http:
        answer = http.get("/api/items/42?limit=5&limit=7&x=1")
    assert answer.status_code == 200
    assert answer.json()["q"] == {"limit": "5,7", "x": "1"}


def test_http_answers_carry_the_content_type_the_worker_sets():
    import azure.functions as func

    from devhost.host import http_answer

    status, headers, body = http_answer(func.HttpResponse('{"a": 1}', status_code=201, mimetype="application/json"))
    assert (status, headers["Content-Type"], body) == (201, "application/json", b'{"a": 1}')
    _, headers, _ = http_answer(func.HttpResponse("hi", mimetype="text/plain"))
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    _, headers, _ = http_answer(func.HttpResponse("x", headers={"Content-Type": "application/problem+json",
                                                                "Set-Cookie": "a=1; Path=/"}))
    assert headers["Content-Type"] == "application/problem+json" and headers.getall("Set-Cookie") == ["a=1; Path=/"]


def test_the_queue_message_encoding_is_read_from_host_json_like_the_host(tmp_path):
    from devhost.host import queue_message_encoding

    assert queue_message_encoding(tmp_path) == "base64"    # the Storage extension's default
    (tmp_path / "host.json").write_text('{"version": "2.0", "extensions": {"queues": {"messageEncoding": "None"}}}')
    assert queue_message_encoding(tmp_path) == "none"
