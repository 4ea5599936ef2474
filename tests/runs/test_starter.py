"""Start-once through crashes and lost answers: the run ledger on Azurite, the real Durable client talking to
the in-process Durable host, and a fault after every write of the start path (tests/support/faults.py)."""

from __future__ import annotations

import copy
import itertools
import json
from datetime import datetime, timedelta, timezone

import pytest
from azure.durable_functions import DurableOrchestrationClient
from azure.storage.blob import BlobServiceClient

from shared.config import parse_settings
from shared.runs import claims
from shared.runs.ledger import ClaimBook, RunLedger
from shared.runs.starter import ClaimMismatch, ClaimPolicy, start_once, start_run
from shared.storage.uris import BlobLocation
from tests.support.durable_host import DurableTestHost, run_async
from tests.support.faults import Crash, FaultPlan, FaultyContainer, FaultyDurableClient, LostAnswer

_n = itertools.count()

CONFIG = {
    "datastores": {"out": {"account_url": "http://127.0.0.1:10000/devstoreaccount1", "container": "out"}},
    "routes": [{"name": "heart", "match": {"container": "landing", "prefix": "heart/"},
                "endpoint": {"scoring_uri": "http://127.0.0.1:9/endpoints/heart/jobs"},
                "input": {"type": "uri_folder"},
                "output": {"datastore": "out", "path": "scores/{run_id}/predictions.csv"}}],
}
LOCATION = BlobLocation("http://127.0.0.1:10000/devstoreaccount1", "landing", "heart/day1/")

# The writes of one clean start, in order: these are the crash points.
CLEAN_START = ["blob:create_container", "blob:upload runs/{id}.json", "durable:start_new {id}",
               "blob:upload runs/{id}.json"]


class FakeTime:
    """A clock that a sleep moves forward (so waiting for a lease costs no real time)."""

    def __init__(self, offset: float = 0.0):
        self.base = datetime.now(timezone.utc)
        self.offset = offset
        self.slept = 0.0

    def now(self) -> datetime:
        return self.base + timedelta(seconds=self.offset)

    async def sleep(self, seconds: float) -> None:
        self.offset += seconds
        self.slept += seconds

    def policy(self, grace: float = 10.0) -> ClaimPolicy:
        return ClaimPolicy(grace_seconds=grace, clock=self.now, sleep=self.sleep)


@pytest.fixture
def host():
    with DurableTestHost({}, {}) as h:  # instances stay Pending: these tests count starts, not runs
        h.start_server()
        yield h


@pytest.fixture
def world(azurite, host):
    settings = parse_settings(copy.deepcopy(CONFIG), {"AzureWebJobsStorage": azurite.connection_string()})
    service = BlobServiceClient.from_connection_string(azurite.connection_string())

    def make(plan: FaultPlan):
        container = service.get_container_client(f"starter{next(_n)}")
        ledger = RunLedger(FaultyContainer(container, plan))
        client = FaultyDurableClient(DurableOrchestrationClient(host.client_binding()), plan)
        return ledger, client, RunLedger(container)

    return settings, make


def start(settings, ledger, client, run_id, policy, location=LOCATION):
    return run_async(start_run(client, ledger, settings, settings.route("heart"), location, run_id=run_id,
                               source="event", policy=policy))


def test_a_clean_start_makes_exactly_these_writes(world, host):
    settings, make = world
    plan = FaultPlan()
    ledger, client, _ = make(plan)
    result = start(settings, ledger, client, "heart-clean", FakeTime().policy())
    assert result.started and result.how == "started"
    assert plan.points == [p.format(id="heart-clean") for p in CLEAN_START]


@pytest.mark.parametrize("kind", ["crash", "lost"])
@pytest.mark.parametrize("at", range(len(CLEAN_START)), ids=[p.split(" ")[0] + f"#{i}"
                                                             for i, p in enumerate(CLEAN_START)])
def test_a_fault_after_any_write_still_ends_in_exactly_one_start(world, host, kind, at):
    settings, make = world
    run_id = f"heart-{kind}-{at}-{next(_n)}"
    plan = FaultPlan(at=at, kind=kind)
    ledger, client, clean = make(plan)
    time = FakeTime()
    try:
        first = start(settings, ledger, client, run_id, time.policy())
    except (Crash, LostAnswer):
        first = None
    assert plan.fired == CLEAN_START[at].format(id=run_id)
    plan.disarm()
    # Azure redelivers the event (and, for a crash, nobody else will finish the job)
    again = start(settings, ledger, client, run_id, time.policy())
    assert client.starts == [run_id], f"{kind} after {plan.fired}: starts {client.starts}"
    assert clean.get(run_id)["state"] == claims.STARTED
    assert [first is not None and first.started, again.started].count(True) <= 1
    if kind == "lost" and CLEAN_START[at].startswith("blob:upload") and at == 1:
        assert first.started and first.how == "started"  # a lost create answer: our own token, our claim
    if kind == "lost" and CLEAN_START[at].startswith("durable:start_new"):
        assert first.started and first.how == "started_lost_answer"  # not released: get_status said it exists
    # the run finishes; one more redelivery starts nothing, and a finished instance is not started again
    host.terminate(run_id, "done")
    third = start(settings, ledger, client, run_id, time.policy())
    assert not third.started and client.starts == [run_id]


def test_an_orphaned_claim_is_waited_for_then_taken_over(world, host, caplog):
    """A crash right after the claim: a redelivery within the lease waits for the claimant's start; once the
    lease has expired and get_status says the instance does not exist, it takes the claim over."""
    settings, make = world
    plan = FaultPlan(at=1, kind="crash")
    ledger, client, clean = make(plan)
    time = FakeTime()
    with pytest.raises(Crash):
        start(settings, ledger, client, "heart-orphan", time.policy(grace=10))
    orphan = clean.get("heart-orphan")
    assert orphan["state"] == claims.CLAIMED and orphan["owner"] and orphan["expires_at"]
    plan.disarm()
    result = start(settings, ledger, client, "heart-orphan", time.policy(grace=10))
    assert result.started and result.how == "taken_over"
    assert 10 <= time.slept < 40  # it waited out the lease, no more
    record = clean.get("heart-orphan")
    assert record["state"] == claims.STARTED and record["owner"] != orphan["owner"] and record["attempts"] == 2
    assert "took over an orphaned claim" in caplog.text
    # the take-over advanced the fencing epoch, and the started input carries the new one
    assert (orphan["epoch"], record["epoch"]) == (1, 2)
    given = host.status("heart-orphan")["input"]
    given = json.loads(given) if isinstance(given, str) else given
    assert given["run"]["fence"] == {"book": "runs", "key": "heart-orphan", "epoch": 2}


def test_a_fresh_claim_whose_instance_appears_is_a_duplicate(world, host):
    settings, make = world
    ledger, client, clean = make(FaultPlan())
    book = clean.claims
    book.store.ensure()
    now = datetime.now(timezone.utc)
    book.create("heart-busy", claims.new_claim({}, token="other", fingerprint_=None, now=now, grace_seconds=10))
    host.start("run_orchestrator", {"run": {}}, instance_id="heart-busy")  # the other caller's start landed
    result = start(settings, ledger, client, "heart-busy", FakeTime().policy())
    assert not result.started and result.how == "repaired" and client.starts == []
    assert clean.get("heart-busy")["state"] == claims.STARTED


def test_a_released_claim_of_a_finished_instance_is_never_started_again(world, host):
    """A lost start_new answer that get_status could not confirm released the claim; the start had landed
    after all and the run has finished: the next event records it and starts nothing."""
    settings, make = world
    ledger, client, clean = make(FaultPlan())
    clean.ensure()
    now = datetime.now(timezone.utc)
    record = claims.new_claim({}, token="gone", fingerprint_=None, now=now, grace_seconds=10)
    clean.claims.create("heart-done", {**record, "state": claims.RELEASED})
    host.start("run_orchestrator", {"run": {}}, instance_id="heart-done")
    host.terminate("heart-done", "finished")
    result = start(settings, ledger, client, "heart-done", FakeTime().policy())
    assert not result.started and client.starts == []
    assert host.status("heart-done")["runtimeStatus"] == "Terminated"


def test_a_failed_start_new_releases_only_after_get_status_says_no_instance(world, host):
    settings, make = world
    ledger, client, clean = make(FaultPlan())

    class Refusing:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        async def start_new(self, *args, **kwargs):
            raise ConnectionError("connection refused before the request was sent")

    with pytest.raises(ConnectionError):
        start(settings, ledger, Refusing(client), "heart-refused", FakeTime().policy())
    assert clean.get("heart-refused")["state"] == claims.RELEASED
    result = start(settings, ledger, client, "heart-refused", FakeTime().policy())  # no wait for a release
    assert result.started and result.how == "taken_over" and client.starts == ["heart-refused"]


def test_the_same_key_for_a_different_request_is_a_mismatch(world, host):
    settings, make = world
    ledger, client, clean = make(FaultPlan())
    start(settings, ledger, client, "heart-key", FakeTime().policy())
    other = BlobLocation(LOCATION.account_url, "landing", "heart/day2/")
    with pytest.raises(ClaimMismatch):
        start(settings, ledger, client, "heart-key", FakeTime().policy(), location=other)
    assert client.starts == ["heart-key"]


def test_two_callers_taking_over_one_orphan_start_it_once(world, host):
    settings, make = world
    ledger, client, clean = make(FaultPlan())
    clean.ensure()
    old = datetime.now(timezone.utc) - timedelta(minutes=5)
    clean.claims.create("heart-race", claims.new_claim({}, token="dead", fingerprint_=None, now=old,
                                                       grace_seconds=10))
    seen = clean.claims.read("heart-race")
    mine = claims.new_claim(seen, token="a", fingerprint_=None, now=datetime.now(timezone.utc), grace_seconds=10)
    theirs = claims.new_claim(seen, token="b", fingerprint_=None, now=datetime.now(timezone.utc), grace_seconds=10)
    assert clean.claims.take_over("heart-race", seen, mine) is True
    assert clean.claims.take_over("heart-race", seen, theirs) is False  # the record changed since it was seen
    assert clean.claims.read("heart-race")["owner"] == "a"


def test_waiter_claims_use_the_same_book(world, host):
    """``start_once`` is what landing waiters go through too: a crash after their claim is taken over."""
    _, make = world
    plan = FaultPlan(at=1, kind="crash")
    ledger, client, clean = make(plan)
    book = ClaimBook(ledger, "landing/")
    time = FakeTime()
    with pytest.raises(Crash):
        run_async(start_once(client, book, "lq-x", "landing_quiet_orchestrator", {"a": 1}, {"a": 1},
                             fingerprint="f", policy=time.policy()))
    plan.disarm()
    result = run_async(start_once(client, book, "lq-x", "landing_quiet_orchestrator", {"a": 1}, {"a": 1},
                                  fingerprint="f", policy=time.policy()))
    assert result.started and client.starts == ["lq-x"]
    assert json.loads(host.status("lq-x")["input"]) == {"a": 1}
