"""Event Grid's dead letters on Azurite go through the normal handler: the folder starts once, handled blobs
are deleted, failures stay, and a second re-drive starts nothing new."""

from __future__ import annotations

import json

import pytest
from azure.durable_functions import DurableOrchestrationClient
from azure.storage.blob import BlobServiceClient

from shared.reconcile.deadletter import deadletter_container, redrive_deadletters
from tests.runs.test_starter import FakeTime
from tests.support.durable_host import DurableTestHost, run_async
from tools.events import blob_created_event, to_cloud_event


@pytest.fixture
def host():
    with DurableTestHost({}, {}) as h:
        h.start_server()
        yield h


@pytest.fixture
def container(azurite, request):
    name = f"deadletter-{abs(hash(request.node.name)) % 10**8}"
    client = BlobServiceClient.from_connection_string(azurite.default.connection_string).get_container_client(name)
    client.create_container()
    yield client
    client.delete_container()


def dead_letter(event: dict) -> dict:
    return {**event, "deadLetterReason": "MaxDeliveryAttemptsExceeded", "deliveryAttempts": 30,
            "lastDeliveryOutcome": "Probation", "publishTime": event.get("eventTime"),
            "lastDeliveryAttemptTime": event.get("eventTime")}


def context(env):
    ctx = env.context()
    ctx.claim_policy = FakeTime().policy()
    return ctx


def test_dead_letters_start_their_folder_once_and_are_deleted(landing_env, host, container):
    env = landing_env({"a": {"mode": "marker"}})
    env.upload("a/f/x.csv")
    marker = env.upload("a/f/_SUCCESS", b"")
    event = blob_created_event(marker["url"], marker["eTag"], content_length=0)
    container.upload_blob("LANDING-A/2026/11/26/14/1.json", json.dumps([dead_letter(event)]))
    container.upload_blob("LANDING-A/2026/11/26/14/2.json", json.dumps([to_cloud_event(event)]))  # CloudEvents
    container.upload_blob("LANDING-A/2026/11/26/14/3.json", b"not json at all")
    client = DurableOrchestrationClient(host.client_binding())

    counts = run_async(redrive_deadletters(container, context(env), client))
    assert counts["redriven"] == 3 and counts["failed"] == 0
    assert counts["outcome:started"] == 1 and counts["outcome:duplicate"] == 1 and counts["outcome:skipped"] == 1
    assert len(host.instance_ids()) == 1
    assert list(container.list_blobs()) == []

    container.upload_blob("LANDING-A/2026/11/26/15/4.json", json.dumps([dead_letter(event)]))
    again = run_async(redrive_deadletters(container, context(env), client))
    assert again["outcome:duplicate"] == 1 and len(host.instance_ids()) == 1


def test_a_dead_letter_that_fails_again_stays_and_the_bound_holds(landing_env, container):
    env = landing_env({"a": {"mode": "marker"}})
    env.upload("a/g/x.csv")
    marker = env.upload("a/g/_SUCCESS", b"")
    event = blob_created_event(marker["url"], marker["eTag"], content_length=0)
    for i in range(3):
        container.upload_blob(f"LANDING-A/x/{i}.json", json.dumps([dead_letter(event)]))

    class Down:  # the Durable task hub does not answer
        async def get_status(self, *a, **k):
            raise ConnectionError("task hub down")

        async def start_new(self, *a, **k):
            raise ConnectionError("task hub down")

    counts = run_async(redrive_deadletters(container, context(env), Down(), max_blobs=2))
    assert counts["failed"] == 2 and counts["redriven"] == 0
    assert len(list(container.list_blobs())) == 3


def test_the_container_comes_from_the_setting(azurite):
    assert deadletter_container({}) is None
    environ = {"DEADLETTER_CONTAINER": "eventgrid-deadletter", "AzureWebJobsStorage": azurite.connection_string()}
    assert deadletter_container(environ).container_name == "eventgrid-deadletter"
    with pytest.raises(ValueError):
        deadletter_container({**environ, "DEADLETTER_CONTAINER": "../runs"})


class FailsFor:
    """The Durable client, except that starting a run on a folder whose path holds ``word`` fails (as when that
    folder's route cannot be served): those dead letters fail at every re-drive, the others go through."""

    def __init__(self, inner, word):
        self.inner, self.word = inner, word

    async def get_status(self, *args, **kwargs):
        return await self.inner.get_status(*args, **kwargs)

    async def start_new(self, name, instance_id=None, client_input=None):
        if self.word in json.dumps(client_input):
            raise ConnectionError("this folder's run cannot be started")
        return await self.inner.start_new(name, instance_id=instance_id, client_input=client_input)


def test_dead_letters_that_keep_failing_are_parked_and_leave_slots_for_the_rest(landing_env, host, container,
                                                                                 caplog):
    """Issue 16 case 4: more stuck blobs than slots, a good one listed after all of them."""
    from shared.reconcile.parking import ATTEMPTS_METADATA, PARKED_PREFIX, REASON_METADATA

    env = landing_env({"a": {"mode": "marker"}})
    for n in range(12):
        env.upload(f"a/stuck{n:02d}/x.csv")
        marker = env.upload(f"a/stuck{n:02d}/_SUCCESS", b"")
        event = blob_created_event(marker["url"], marker["eTag"], content_length=0)
        container.upload_blob(f"LANDING-A/2026/11/26/14/a{n:02d}.json", json.dumps([dead_letter(event)]))
    env.upload("a/good/x.csv")
    marker = env.upload("a/good/_SUCCESS", b"")
    event = blob_created_event(marker["url"], marker["eTag"], content_length=0)
    container.upload_blob("LANDING-A/2026/11/26/14/zz-good.json", json.dumps([dead_letter(event)]))
    client = FailsFor(DurableOrchestrationClient(host.client_binding()), "stuck")

    ticks = [run_async(redrive_deadletters(container, context(env), client, max_blobs=10, park_after=3))
             for _ in range(5)]
    assert ticks[0]["failed"] == 10 and ticks[0].get("redriven", 0) == 0  # every slot taken by stuck ones
    assert ticks[1]["redriven"] == 1  # the least-tried went first: the good one got a slot on the next tick
    assert sum(t.get("parked", 0) for t in ticks) == 12 and ticks[-1] == {}
    assert len(host.instance_ids()) == 1
    names = sorted(b.name for b in container.list_blobs())
    assert len(names) == 12 and all(n.startswith(PARKED_PREFIX) for n in names)
    parked = container.get_blob_client(names[0]).get_blob_properties().metadata
    assert parked[REASON_METADATA] == "ConnectionError" and parked[ATTEMPTS_METADATA] == "3"
    assert "parked as parked/" in caplog.text
