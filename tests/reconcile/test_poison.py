"""The poison-queue re-drive on Azurite's queue service: through the normal handler, bounded, and
idempotent (a re-driven event of a folder that already ran starts nothing)."""

from __future__ import annotations

import base64
import json

import azure.functions as func
import pytest
from azure.durable_functions import DurableOrchestrationClient
from azure.storage.queue import QueueClient

from shared.reconcile.api import redrive_poison_http
from shared.reconcile.poison import POISON_QUEUE, redrive
from shared.reconcile.sweep import SweepLimits, sweep
from tests.runs.test_starter import FakeTime
from tests.support.durable_host import DurableTestHost, run_async

BLOB_CREATED = "Microsoft.Storage.BlobCreated"


@pytest.fixture
def host():
    with DurableTestHost({}, {}) as h:
        h.start_server()
        yield h


@pytest.fixture
def poison(azurite, request):
    queue = QueueClient.from_connection_string(azurite.default.connection_string,
                                               f"{POISON_QUEUE}-{abs(hash(request.node.name)) % 10**8}")
    queue.create_queue()
    yield queue
    queue.delete_queue()


def poisoned(poison, data, encode=True):
    from tools.events import subject_of

    body = json.dumps({"id": "ev-1", "eventType": BLOB_CREATED, "subject": subject_of(data["url"]), "data": data})
    poison.send_message(base64.b64encode(body.encode()).decode() if encode else body)


def context(env):
    ctx = env.context()
    ctx.claim_policy = FakeTime().policy()
    return ctx


def test_poison_messages_go_through_the_handler_and_leave_the_queue(landing_env, host, poison):
    env = landing_env({"a": {"mode": "marker"}})
    env.upload("a/f/x.csv")
    marker = env.upload("a/f/_SUCCESS", b"")
    poisoned(poison, marker)
    poisoned(poison, marker, encode=False)  # the same event twice, once not base64-encoded
    poison.send_message("not an event at all")
    counts = run_async(redrive(poison, context(env), DurableOrchestrationClient(host.client_binding()),
                               max_messages=10))
    assert counts["redriven"] == 3 and counts["outcome:started"] == 1 and counts["outcome:duplicate"] == 1
    assert counts["outcome:skipped"] == 1  # a bad message is a counted skip, and removed
    assert len(host.instance_ids()) == 1
    assert list(poison.peek_messages(max_messages=32)) == []


def test_a_message_that_fails_again_stays_and_the_bound_holds(landing_env, host, poison):
    env = landing_env({"a": {"mode": "marker"}})
    for n in range(4):
        env.upload(f"a/f{n}/x.csv")
        poisoned(poison, env.upload(f"a/f{n}/_SUCCESS", b""))

    class Down:  # the Durable host is unreachable: every start fails
        async def get_status(self, *_a, **_k):
            raise ConnectionError("host down")

        async def start_new(self, *_a, **_k):
            raise ConnectionError("host down")

    # retry_after_seconds=0: the failed ones are visible again at once (by default after 5 minutes)
    counts = run_async(redrive(poison, context(env), Down(), max_messages=3, retry_after_seconds=0))
    assert counts == {"failed": 3}
    assert host.instance_ids() == []
    later = run_async(redrive(poison, context(env), DurableOrchestrationClient(host.client_binding()),
                              max_messages=32))
    assert later["redriven"] == 4 and len(host.instance_ids()) == 4


def test_the_sweep_redrives_the_poison_queue(landing_env, host, poison):
    env = landing_env({"a": {"mode": "marker"}})
    env.upload("a/f/x.csv")
    poisoned(poison, env.upload("a/f/_SUCCESS", b""))
    result = run_async(sweep(context(env), DurableOrchestrationClient(host.client_binding()),
                             limits=SweepLimits(), poison=poison))
    # the listing found the folder first; the re-driven event then found its run: one run either way
    assert result["poison_redriven"] == 1 and len(host.instance_ids()) == 1


@pytest.mark.parametrize("value", ["0", "257", "x", "-1", "1.5", "\u0661"])
def test_the_http_redrive_checks_its_bound(landing_env, host, poison, value):
    env = landing_env({"a": {"mode": "marker"}})
    req = func.HttpRequest("POST", "http://localhost/api/landing/poison/redrive", headers={},
                           params={"max_messages": value}, route_params={}, body=b"")
    response = run_async(redrive_poison_http(req, DurableOrchestrationClient(host.client_binding()),
                                             context=context(env), queue=poison))
    assert response.status_code == 400 and json.loads(response.get_body())["field"] == "max_messages"


def test_the_http_redrive_answers_its_counts(landing_env, host, poison):
    env = landing_env({"a": {"mode": "marker"}})
    env.upload("a/f/x.csv")
    poisoned(poison, env.upload("a/f/_SUCCESS", b""))
    req = func.HttpRequest("POST", "http://localhost/api/landing/poison/redrive", headers={},
                           params={"max_messages": "5"}, route_params={}, body=b"")
    response = run_async(redrive_poison_http(req, DurableOrchestrationClient(host.client_binding()),
                                             context=context(env), queue=poison))
    assert response.status_code == 200
    assert json.loads(response.get_body())["counts"]["redriven"] == 1 and len(host.instance_ids()) == 1


def test_poison_messages_that_keep_failing_are_parked_and_leave_slots_for_the_rest(landing_env, host, poison,
                                                                                    caplog):
    """Issue 16 case 4: more stuck messages than slots, a good one queued after all of them."""
    from azure.storage.queue import QueueClient

    from shared.reconcile.parking import parked_queue_name
    from tests.reconcile.test_deadletter import FailsFor

    env = landing_env({"a": {"mode": "marker"}})
    for n in range(10):
        env.upload(f"a/stuck{n}/x.csv")
        poisoned(poison, env.upload(f"a/stuck{n}/_SUCCESS", b""))
    env.upload("a/good/x.csv")
    poisoned(poison, env.upload("a/good/_SUCCESS", b""))
    client = FailsFor(DurableOrchestrationClient(host.client_binding()), "stuck")
    parked = QueueClient.from_connection_string(env.azurite.default.connection_string,
                                                parked_queue_name(poison.queue_name))
    try:
        ticks = [run_async(redrive(poison, context(env), client, max_messages=8, retry_after_seconds=0,
                                   park_after=3)) for _ in range(6)]
        assert ticks[0] == {"failed": 8}  # every slot taken by stuck ones
        assert sum(t.get("parked", 0) for t in ticks) == 10 and sum(t.get("redriven", 0) for t in ticks) == 1
        assert len(host.instance_ids()) == 1 and list(poison.peek_messages(max_messages=32)) == []
        kept = [json.loads(m.content) for m in parked.peek_messages(max_messages=32)]
        assert len(kept) == 10 and {k["reason"] for k in kept} == {"ConnectionError"}
        assert {k["attempts"] for k in kept} == {3} and all(k["parked_from"] == poison.queue_name for k in kept)
        assert "parked in" in caplog.text
    finally:
        parked.delete_queue()
