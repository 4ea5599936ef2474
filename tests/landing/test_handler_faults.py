"""Landing under faults: a crash or a lost answer after every write of every completion rule, then the
event is redelivered as Azure would. Exactly one run (or waiter) start per landing, every time. Azurite,
the real Durable client and the in-process Durable host; faults from tests/support/faults.py."""

from __future__ import annotations

import json
import logging

import pytest
from azure.durable_functions import DurableOrchestrationClient
from azure.storage.blob import BlobServiceClient

from shared.landing.handler import handle_blob_created
from shared.runs import claims
from tests.runs.test_starter import FakeTime
from tests.support.durable_host import DurableTestHost, run_async
from tests.support.faults import Crash, FaultPlan, FaultyDurableClient, FaultyService, LostAnswer

BLOB_CREATED = "Microsoft.Storage.BlobCreated"
MODES = {
    "marker": ({"mode": "marker"}, "_SUCCESS"),
    "per_file": ({"mode": "per_file"}, None),
    "manifest": ({"mode": "manifest", "manifest_wait_minutes": 5}, "_manifest.json"),
    "quiet_period": ({"mode": "quiet_period", "quiet_seconds": 30}, None),
}


@pytest.fixture
def host():
    with DurableTestHost({}, {}) as h:  # instances stay Pending: these tests count starts
        h.start_server()
        yield h


class Deliverer:
    """Delivers one event through a handler whose storage and Durable client carry a fault plan."""

    def __init__(self, env, host):
        self.env, self.host = env, host
        self.service = BlobServiceClient.from_connection_string(env.azurite.default.connection_string)
        self.service.get_container_client(env.state).create_container()
        self.time = FakeTime()
        self.starts: list[str] = []

    def context(self, plan):
        ctx = self.env.context(store_factory=lambda _c: FaultyService(self.service, plan))
        ctx.claim_policy = self.time.policy()
        return ctx

    def deliver(self, data, plan, ctx=None):
        ctx = ctx or self.context(plan)
        client = FaultyDurableClient(DurableOrchestrationClient(self.host.client_binding()), plan)
        try:
            outcome = run_async(handle_blob_created("e", BLOB_CREATED, data, client, self.env.settings, context=ctx))
        except (Crash, LostAnswer):
            outcome = None
        finally:
            self.starts += client.starts
        return outcome, ctx


def landed(env, mode, folder):
    """Upload a complete folder for ``mode``; return the event data of the blob that completes it."""
    rule, control = MODES[mode]
    data = env.upload(f"{mode}/{folder}/part-0.csv", b"a,b\n1,2\n")
    if mode == "manifest":
        return env.upload(f"{mode}/{folder}/{control}", json.dumps(["part-0.csv"]).encode())
    if control:
        return env.upload(f"{mode}/{folder}/{control}", b"")
    return data


def claim_records(env):
    state = env.container(env.state)
    return {b.name: json.loads(state.download_blob(b.name).readall()) for b in state.list_blobs()}


@pytest.mark.parametrize("kind", ["crash", "lost"])
@pytest.mark.parametrize("mode", list(MODES))
def test_a_fault_after_every_write_of_a_landing_still_starts_it_once(landing_env, host, mode, kind):
    env = landing_env({mode: MODES[mode][0]})
    d = Deliverer(env, host)
    clean = FaultPlan()
    outcome, _ = d.deliver(landed(env, mode, "clean"), clean)
    assert outcome.action in ("started", "waiter_started"), outcome
    writes = clean.points
    assert [p.split(" ")[0] for p in writes] == ["blob:upload", "durable:start_new", "blob:upload"], writes
    for at in range(len(writes)):
        before = list(d.starts)
        data = landed(env, mode, f"f{at}")
        plan = FaultPlan(at=at, kind=kind)
        first, ctx = d.deliver(data, plan)
        assert plan.fired is not None
        plan.disarm()
        # Azure redelivers; after a crash it is a new process (a new context), after a lost answer the same
        second, _ = d.deliver(data, plan, ctx=None if kind == "crash" else ctx)
        new = d.starts[len(before):]
        assert len(new) == 1, f"{mode}: {kind} after {plan.fired}: started {new}"
        outcomes = [o.action for o in (first, second) if o is not None]
        assert outcomes.count("started") + outcomes.count("waiter_started") <= 1, outcomes
        # a third delivery after the instance has ended starts nothing new: no other instance, and a run
        # instance is never started again (a quiet waiter terminated before its run started is restarted
        # with the same id and takes the file: issue 16 case 3, shared/landing/healing.py)
        host.terminate(new[0], "finished")
        third, _ = d.deliver(data, FaultPlan())
        assert third.action in ("duplicate", "late_file", "signalled")
        again = d.starts[len(before):]
        assert set(again) == set(new) and (again == new or (mode == "quiet_period" and len(again) == 2))
    records = claim_records(env)
    assert {claims.state_of(r) for r in records.values()} == {claims.STARTED}, records


def test_a_marker_that_does_not_exist_starts_nothing_and_warns(landing_env, host, caplog):
    env = landing_env({"a": {"mode": "marker"}})
    env.upload("a/f/x.csv")
    forged = {"api": "PutBlob", "url": env.blob_url("a/f/_SUCCESS"), "eTag": "0x8DFORGED", "contentLength": 0}
    client = DurableOrchestrationClient(host.client_binding())
    with caplog.at_level(logging.INFO):
        outcome = run_async(handle_blob_created("e", BLOB_CREATED, forged, client, env.settings, context=env.context()))
    assert (outcome.action, outcome.reason) == ("skipped", "marker_missing")
    assert any(r.levelno == logging.WARNING and "marker_missing" in r.getMessage() for r in caplog.records)
    assert host.instance_ids() == [] and env.ledger_records() == []


def test_invented_etags_for_a_real_marker_start_one_run_keyed_on_the_real_one(landing_env, host, caplog):
    env = landing_env({"a": {"mode": "marker"}})
    env.upload("a/f/x.csv")
    real = env.upload("a/f/_SUCCESS", b"")
    client = DurableOrchestrationClient(host.client_binding())
    ctx = env.context()
    outcomes = [run_async(handle_blob_created("e", BLOB_CREATED, {**real, "eTag": etag}, client, env.settings,
                                              context=ctx))
                for etag in ("0x1", "0x2", real["eTag"], f'"{real["eTag"]}"', "0x3")]
    assert [o.action for o in outcomes] == ["started"] + ["duplicate"] * 4
    assert len({o.run_id for o in outcomes}) == 1 and host.instance_ids() == [outcomes[0].run_id]
    (record,) = env.ledger_records()
    assert record["details"]["marker_etag"] == real["eTag"]
    assert "carries ETag 0x1, the blob's is" in caplog.text


def test_per_file_and_manifest_events_for_missing_blobs_start_nothing(landing_env, host, caplog):
    env = landing_env({"p": {"mode": "per_file"}, "m": {"mode": "manifest"}})
    client = DurableOrchestrationClient(host.client_binding())
    ctx = env.context()
    for url, reason in ((env.blob_url("p/in/ghost.csv"), "blob_missing"),
                        (env.blob_url("m/f/_manifest.json"), "manifest_missing")):
        data = {"api": "PutBlob", "url": url, "eTag": "0x9", "contentLength": 10}
        outcome = run_async(handle_blob_created("e", BLOB_CREATED, data, client, env.settings, context=ctx))
        assert (outcome.action, outcome.reason) == ("skipped", reason)
    assert host.instance_ids() == []


def test_a_marker_named_blob_where_no_route_looks_is_not_a_warning(landing_env, host, caplog):
    """Only a route's own marker or manifest (at its container and prefix) is a WARNING when skipped
    (tests/landing/test_intake_azurite.py); Spark and Hadoop write ``_SUCCESS`` into every folder they touch,
    so a marker-named blob elsewhere is an ordinary INFO skip."""
    env = landing_env({"a": {"mode": "marker"}})
    client = DurableOrchestrationClient(host.client_binding())
    ctx = env.context()
    data = {"api": "PutBlob", "url": f"{env.account_url}/elsewhere/a/f/_SUCCESS", "eTag": "0x1"}
    with caplog.at_level(logging.INFO):
        outcome = run_async(handle_blob_created("e", BLOB_CREATED, data, client, env.settings, context=ctx))
        other = run_async(handle_blob_created("e", BLOB_CREATED, {**data, "url": data["url"][:-8] + "x.csv"},
                                              client, env.settings, context=ctx))
    assert outcome.reason == other.reason == "no_route"
    skips = [r for r in caplog.records if "skipped event" in r.getMessage()]
    assert [(r.levelno, "_SUCCESS" in r.getMessage()) for r in skips] == [(logging.INFO, True),
                                                                          (logging.INFO, False)]
