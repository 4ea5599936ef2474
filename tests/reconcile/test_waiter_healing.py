"""Waiters that heal (issue 16 case 3), on Azurite with the app's real waiters on the real replay engine: a quiet
or manifest waiter that failed (an outage exhausted ``landing_start_run``'s retries), was terminated or vanished
before its run started is restarted by the sweep with the same id and run id, exactly once even when two
sweeps race; a waiter that ended with a verdict on its folder is not."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest
from azure.durable_functions import DurableOrchestrationClient, Orchestrator

from shared.landing import healing
from shared.landing.handler import handle_blob_created
from shared.landing.rules import manifest_waiter_id, quiet_waiter_id
from shared.reconcile.sweep import SweepLimits, sweep
from tests.app_index import functions
from tests.runs.test_starter import FakeTime
from tests.support.durable_host import DurableTestHost, run_async, split_functions

BLOB_CREATED = "Microsoft.Storage.BlobCreated"


def _run_stub(context):
    """Stands in for run_orchestrator: these tests stop at "the run was started"."""
    return {"stub": True}
    yield  # noqa: unreachable - makes this a generator


class Outage:
    """Switch an activity's storage/Durable calls off: it raises as the real one does in an outage."""

    def __init__(self):
        self.on = False


@pytest.fixture
def app_host(monkeypatch):
    orchestrators, activities = split_functions(functions().values())
    orchestrators["run_orchestrator"] = Orchestrator.create(_run_stub)
    outage = Outage()
    for name in ("landing_start_run", "landing_check_manifest"):
        real = activities[name]

        def flaky(payload, *client, _real=real):
            if outage.on:
                raise ConnectionError("storage is unreachable")
            return _real(payload, *client)

        flaky.durable_client_arg = getattr(real, "durable_client_arg", None)  # the host passes its client
        activities[name] = flaky
    with DurableTestHost(orchestrators, activities) as host:
        host.start_server()
        host.outage = outage
        yield host


def configure(monkeypatch, env):
    for key, value in env.env.items():
        monkeypatch.setenv(key, value)


def client(host):
    return DurableOrchestrationClient(host.client_binding())


def deliver(env, host, data):
    return run_async(handle_blob_created("e", BLOB_CREATED, data, client(host), env.settings))


def sweep_once(env, host, durable=None):
    ctx = env.context()
    ctx.claim_policy = FakeTime().policy()
    return run_async(sweep(ctx, durable or client(host), limits=SweepLimits()))


def runs(host):
    return [i for i in host.instance_ids() if host.status(i)["name"] == "run_orchestrator"]


def waiter_claim(env, waiter_id):
    return json.loads(env.container(env.state).download_blob(f"landing/{waiter_id}.json").readall())


def failed_quiet_waiter(env, host, monkeypatch):
    configure(monkeypatch, env)
    for name in ("a.csv", "b.csv"):
        deliver(env, host, env.upload(f"q/f/{name}"))
    waiter = quiet_waiter_id("q", env.blob_url("q/f/"))
    host.outage.on = True  # every landing_start_run attempt fails
    status = host.run_until_complete(waiter)
    assert status["runtimeStatus"] == "Failed" and runs(host) == [] and env.ledger_records() == []
    host.outage.on = False
    return waiter


@pytest.mark.parametrize("death", ["failed", "terminated", "vanished"])
def test_a_dead_quiet_waiter_is_restarted_once_and_its_folder_runs(landing_env, app_host, monkeypatch, death):
    env = landing_env({"q": {"mode": "quiet_period", "quiet_seconds": 30}})
    if death == "terminated":  # an operator (or a host's cleanup) terminated it while it waited
        configure(monkeypatch, env)
        for name in ("a.csv", "b.csv"):
            deliver(env, app_host, env.upload(f"q/f/{name}"))
        waiter = quiet_waiter_id("q", env.blob_url("q/f/"))
        app_host.run_until_idle(fire_timers=False)
        app_host.terminate(waiter, "operator")
        assert app_host.status(waiter)["runtimeStatus"] == "Terminated"
    else:
        waiter = failed_quiet_waiter(env, app_host, monkeypatch)
    if death == "vanished":  # its history was purged (or the task hub replaced)
        run_async(client(app_host).purge_instance_history(waiter))
        assert app_host.status(waiter) is None
    first = sweep_once(env, app_host)
    assert first["waiter_restarted"] == 1 and first["repaired_total"] == 1, first
    claim = waiter_claim(env, waiter)
    assert claim["restarts"] == 1 and claim["state"] == "started"
    done = app_host.run_until_complete(waiter)
    assert done["runtimeStatus"] == "Completed" and done["output"]["started"] is True
    (run_id,) = runs(app_host)
    assert run_id == claim["run_id"]  # the same run id the waiter was started with
    again = sweep_once(env, app_host)
    assert again["exists"] == 1 and again.get("waiter_restarted", 0) == 0 and len(runs(app_host)) == 1


def test_two_sweeps_racing_restart_a_dead_waiter_once(landing_env, app_host, monkeypatch):
    env = landing_env({"q": {"mode": "quiet_period", "quiet_seconds": 30}})
    waiter = failed_quiet_waiter(env, app_host, monkeypatch)

    class Racing:
        """Both callers see the waiter Failed before either records its restart; start_new is counted."""

        def __init__(self, inner, barrier):
            self.inner, self.barrier, self.starts = inner, barrier, 0

        async def get_status(self, *args, **kwargs):
            status = await self.inner.get_status(*args, **kwargs)
            await self.barrier.wait()
            return status

        async def start_new(self, *args, **kwargs):
            self.starts += 1
            return await self.inner.start_new(*args, **kwargs)

    async def race():
        barrier = asyncio.Barrier(2)
        racers = [Racing(client(app_host), barrier) for _ in range(2)]
        outcomes = await asyncio.gather(*(healing.heal_waiter(env.context(), r, waiter) for r in racers))
        return sorted(outcomes), sum(r.starts for r in racers)

    outcomes, starts = run_async(race())
    assert outcomes == sorted([healing.RESTARTED, healing.TAKEN]) and starts == 1
    assert waiter_claim(env, waiter)["restarts"] == 1
    app_host.run_until_complete(waiter)
    assert len(runs(app_host)) == 1


def test_a_restart_whose_start_was_lost_is_taken_again_after_its_lease(landing_env, app_host, monkeypatch):
    env = landing_env({"q": {"mode": "quiet_period", "quiet_seconds": 30}})
    waiter = failed_quiet_waiter(env, app_host, monkeypatch)

    class StartLost:  # the restart is recorded, then the process dies before start_new
        def __init__(self, inner):
            self.inner = inner

        async def get_status(self, *args, **kwargs):
            return await self.inner.get_status(*args, **kwargs)

        async def start_new(self, *args, **kwargs):
            raise ConnectionError("died")

    now = datetime.now(timezone.utc)
    with pytest.raises(ConnectionError):
        run_async(healing.heal_waiter(env.context(), StartLost(client(app_host)), waiter, now=now))
    soon = run_async(healing.heal_waiter(env.context(), client(app_host), waiter, now=now + timedelta(seconds=5)))
    assert soon == healing.TAKEN and app_host.status(waiter)["runtimeStatus"] == "Failed"
    later = now + timedelta(seconds=healing.RESTART_LEASE_SECONDS + 1)
    assert run_async(healing.heal_waiter(env.context(), client(app_host), waiter, now=later)) == healing.RESTARTED
    assert waiter_claim(env, waiter)["restarts"] == 2
    app_host.run_until_complete(waiter)
    assert len(runs(app_host)) == 1


def test_restarts_are_capped(landing_env, app_host, monkeypatch, caplog):
    env = landing_env({"q": {"mode": "quiet_period", "quiet_seconds": 30}})
    waiter = failed_quiet_waiter(env, app_host, monkeypatch)
    app_host.outage.on = True  # the outage goes on: every restarted waiter fails again
    outcomes = []
    for _ in range(healing.MAX_WAITER_RESTARTS + 2):
        outcomes.append(run_async(healing.heal_waiter(env.context(), client(app_host), waiter)))
        app_host.run_until_complete(waiter)
    assert outcomes.count(healing.RESTARTED) == healing.MAX_WAITER_RESTARTS
    assert outcomes[-1] == healing.GIVEN_UP and "left for an operator" in caplog.text
    assert runs(app_host) == []


def test_a_new_files_event_restarts_a_dead_quiet_waiter(landing_env, app_host, monkeypatch):
    env = landing_env({"q": {"mode": "quiet_period", "quiet_seconds": 30}})
    waiter = failed_quiet_waiter(env, app_host, monkeypatch)
    outcome = deliver(env, app_host, env.upload("q/f/c.csv"))
    assert outcome.action == "signalled"  # not a "late file" of a run that never started
    done = app_host.run_until_complete(waiter)
    assert done["runtimeStatus"] == "Completed" and done["output"]["started"] is True
    (record,) = env.ledger_records()
    assert record["details"]["file_count"] == 3 and len(runs(app_host)) == 1


def test_a_manifest_waiter_failed_by_an_outage_is_restarted(landing_env, app_host, monkeypatch):
    env = landing_env({"m": {"mode": "manifest", "manifest_wait_minutes": 10}})
    configure(monkeypatch, env)
    env.upload("m/f/a.csv")
    m = env.upload("m/f/_manifest.json", json.dumps(["a.csv"]).encode())
    app_host.outage.on = True  # the check itself fails four times
    deliver(env, app_host, m)
    waiter = manifest_waiter_id("m", env.blob_url("m/f/"), m["eTag"])
    assert app_host.run_until_complete(waiter)["runtimeStatus"] == "Failed"
    app_host.outage.on = False
    assert sweep_once(env, app_host)["waiter_restarted"] == 1
    assert app_host.run_until_complete(waiter)["runtimeStatus"] == "Completed" and len(runs(app_host)) == 1


def test_a_waiter_with_a_verdict_on_its_folder_is_not_restarted(landing_env, app_host, monkeypatch):
    env = landing_env({"m": {"mode": "manifest", "manifest_wait_minutes": 1}})
    configure(monkeypatch, env)
    m = env.upload("m/g/_manifest.json", json.dumps(["never.csv"]).encode())
    deliver(env, app_host, m)
    waiter = manifest_waiter_id("m", env.blob_url("m/g/"), m["eTag"])
    status = app_host.run_until_complete(waiter)
    assert status["runtimeStatus"] == "Failed" and "still incomplete" in status["output"]
    first = sweep_once(env, app_host)
    assert first["waiter_ended"] == 1 and first.get("waiter_restarted", 0) == 0
    assert waiter_claim(env, waiter)["settled"] == "Failed"

    class NoStatus:  # a settled waiter costs no Durable call on later ticks
        async def get_status(self, *a, **k):
            raise AssertionError("asked the Durable client about a settled waiter")

    assert sweep_once(env, app_host, NoStatus())["waiter_ended"] == 1
    assert app_host.status(waiter)["runtimeStatus"] == "Failed" and runs(app_host) == []


def test_backfill_restarts_a_dead_waiter_and_a_dry_run_only_says_so(landing_env, app_host, monkeypatch):
    from shared.reconcile.backfill import backfill, parse_backfill

    env = landing_env({"q": {"mode": "quiet_period", "quiet_seconds": 30}})
    waiter = failed_quiet_waiter(env, app_host, monkeypatch)

    def call(dry_run):
        ctx = env.context()
        ctx.claim_policy = FakeTime().policy()
        request = parse_backfill({"route": "q", "dry_run": dry_run}, env.settings)
        return run_async(backfill(ctx, client(app_host), request, starts_per_second=0))

    assert call(True)["counts"] == {"would_restart": 1}  # nothing written, nothing started
    assert app_host.status(waiter)["runtimeStatus"] == "Failed" and "restarts" not in waiter_claim(env, waiter)
    counts = call(False)["counts"]
    assert counts["waiter_restarted"] == 1 and waiter_claim(env, waiter)["restarts"] == 1, counts
    assert app_host.run_until_complete(waiter)["runtimeStatus"] == "Completed" and len(runs(app_host)) == 1
