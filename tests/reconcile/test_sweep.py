"""The reconcile sweep on Azurite with the real Durable client and the in-process Durable host: folders
whose events were lost, orphaned claims, waiters, bounded pages with a persisted continuation, undelivered
runs, and idempotence (a second sweep starts nothing)."""

from __future__ import annotations

import json

import pytest
from azure.durable_functions import DurableOrchestrationClient, Orchestrator

from shared.landing.handler import handle_blob_created
from shared.reconcile.sweep import SweepLimits, sweep
from shared.runs import claims
from tests.runs.test_starter import FakeTime
from tests.support.durable_host import DurableTestHost, run_async
from tests.support.faults import Crash, FaultPlan, FaultyDurableClient

BLOB_CREATED = "Microsoft.Storage.BlobCreated"


@pytest.fixture
def host():
    with DurableTestHost({}, {}) as h:
        h.start_server()
        yield h


def sweep_once(env, host, ctx=None, **limits):
    ctx = ctx or env.context()
    ctx.claim_policy = FakeTime().policy()
    client = DurableOrchestrationClient(host.client_binding())
    return run_async(sweep(ctx, client, limits=SweepLimits(**limits)))


def test_folders_whose_events_were_lost_are_started_once(landing_env, host):
    env = landing_env({"a": {"mode": "marker"}, "p": {"mode": "per_file"}})
    for day in ("d1", "d2", "d3"):
        env.upload(f"a/{day}/x.csv")
        marker = env.upload(f"a/{day}/_SUCCESS", b"")
    env.upload("a/d4/x.csv")  # no marker: not complete, never started
    env.upload("p/in/one.csv")
    ctx = env.context()
    delivered = run_async(handle_blob_created("e", BLOB_CREATED, marker, DurableOrchestrationClient(
        host.client_binding()), env.settings, context=ctx))  # only d3's event arrived
    assert delivered.action == "started"
    first = sweep_once(env, host)
    assert (first["started"], first["exists"], first["repaired_total"]) == (3, 1, 3), first
    assert len(host.instance_ids()) == 4
    folders = sorted(json.loads(host.status(i)["input"])["run"]["input"]["path"] for i in host.instance_ids())
    assert folders == ["a/d1/", "a/d2/", "a/d3/", "p/in/one.csv"]
    again = sweep_once(env, host)
    assert again.get("started", 0) == 0 and again["exists"] == 4 and again["repaired_total"] == 0
    assert len(host.instance_ids()) == 4


def test_an_orphaned_claim_is_repaired_by_the_sweep(landing_env, host):
    env = landing_env({"a": {"mode": "marker"}})
    env.upload("a/f/x.csv")
    marker = env.upload("a/f/_SUCCESS", b"")
    plan = FaultPlan(at=0, kind="crash")  # the event's handler died right after its claim
    env.container(env.state).create_container()
    client = FaultyDurableClient(DurableOrchestrationClient(host.client_binding()), plan)
    from azure.storage.blob import BlobServiceClient

    from tests.support.faults import FaultyService

    service = BlobServiceClient.from_connection_string(env.azurite.default.connection_string)
    ctx = env.context(store_factory=lambda _c: FaultyService(service, plan))
    with pytest.raises(Crash):
        run_async(handle_blob_created("e", BLOB_CREATED, marker, client, env.settings, context=ctx))
    (orphan,) = env.ledger_records()
    assert orphan["state"] == claims.CLAIMED and host.instance_ids() == []
    result = sweep_once(env, host)
    assert result["repaired"] == 1 and result["repaired_total"] == 1, result
    (record,) = env.ledger_records()
    assert record["state"] == claims.STARTED and host.instance_ids() == [record["run_id"]]


def test_work_per_tick_is_bounded_and_the_continuation_is_persisted(landing_env, host):
    env = landing_env({"a": {"mode": "marker"}})
    for n in range(5):
        env.upload(f"a/f{n}/x.csv")
        env.upload(f"a/f{n}/_SUCCESS", b"")
    ticks = []
    while not ticks or not ticks[-1].get("passes_completed"):
        ticks.append(sweep_once(env, host, page_size=3, pages_per_route=1))
        assert ticks[-1]["blobs_listed"] <= 3
        assert len(ticks) < 10
    assert sum(t.get("started", 0) for t in ticks) == 5 and len(ticks) == 4
    cursor = json.loads(env.container(env.state).download_blob("reconcile/a.json").readall())
    assert cursor["continuation"] is None  # the pass completed; the next tick starts over
    assert len(host.instance_ids()) == 5


def test_manifest_and_quiet_folders_get_their_waiters_once(landing_env, host):
    env = landing_env({"m": {"mode": "manifest"}, "q": {"mode": "quiet_period", "quiet_seconds": 30}})
    env.upload("m/f/a.csv")
    env.upload("m/f/_manifest.json", json.dumps(["a.csv"]).encode())
    for n in range(3):
        env.upload(f"q/f/{n}.csv")
    first = sweep_once(env, host)
    assert first["started"] == 2, first
    names = sorted(host.status(i)["name"] for i in host.instance_ids())
    assert names == ["landing_manifest_orchestrator", "landing_quiet_orchestrator"]
    again = sweep_once(env, host)
    assert again["waiting"] == 2 and again.get("started", 0) == 0 and len(host.instance_ids()) == 2


def _flaky_delivery_run(context):
    """A run orchestration whose job completed but whose delivery failed; a redelivery (its input carries the
    monitor state) delivers."""
    run_input = context.get_input()
    context.set_custom_status({"job_name": "job-1", "job_status": "Completed", "phase": "delivering"})
    if "monitor" not in run_input:
        raise RuntimeError("sink unreachable")
    return {"outcome": "Succeeded", "job_name": "job-1", "job_status": "Completed"}
    yield  # noqa: unreachable - a generator, like every orchestrator


def test_a_run_whose_delivery_failed_is_redelivered_once_then_settled(landing_env):
    env = landing_env({"a": {"mode": "marker"}})
    with DurableTestHost({"run_orchestrator": Orchestrator.create(_flaky_delivery_run)}, {}) as host:
        host.start_server()
        env.upload("a/f/x.csv")
        marker = env.upload("a/f/_SUCCESS", b"")
        outcome = run_async(handle_blob_created("e", BLOB_CREATED, marker, DurableOrchestrationClient(
            host.client_binding()), env.settings, context=env.context()))
        host.run_until_idle()
        assert host.status(outcome.run_id)["runtimeStatus"] == "Failed"
        first = sweep_once(env, host)
        assert first["redelivered"] == 1 and first["exists"] == 1, first
        host.run_until_idle()
        assert host.status(outcome.run_id)["runtimeStatus"] == "Completed"
        second = sweep_once(env, host)
        assert second.get("redelivered", 0) == 0 and second["runs_checked"] == 1
        (record,) = env.ledger_records()
        assert record["settled"] == "Succeeded"
        third = sweep_once(env, host)
        assert third.get("runs_checked", 0) == 0  # settled runs cost nothing more


def test_the_redelivery_cap_leaves_a_run_to_an_operator(landing_env, caplog):
    def always_failing(context):
        context.set_custom_status({"job_name": "job-1", "job_status": "Completed",
                                   "redeliveries": (context.get_input().get("monitor") or {}).get("redeliveries", 0)})
        raise RuntimeError("sink unreachable")
        yield  # noqa: unreachable

    env = landing_env({"a": {"mode": "marker"}})
    with DurableTestHost({"run_orchestrator": Orchestrator.create(always_failing)}, {}) as host:
        host.start_server()
        env.upload("a/f/x.csv")
        marker = env.upload("a/f/_SUCCESS", b"")
        run_async(handle_blob_created("e", BLOB_CREATED, marker, DurableOrchestrationClient(host.client_binding()),
                                      env.settings, context=env.context()))
        redelivered = 0
        for _ in range(6):
            host.run_until_idle()
            redelivered += sweep_once(env, host, max_auto_redeliveries=2).get("redelivered", 0)
        assert redelivered == 2
        (record,) = env.ledger_records()
        assert record["settled"] == "undelivered"
        assert "leaving it to an operator" in caplog.text
