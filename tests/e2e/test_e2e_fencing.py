"""Issue 16 case 1 end to end: a ``start_new`` that stalls past the claim's lease, while a duplicate takes the
claim over, never executes the run a second time.

Real parts: Azurite (ledger, landing, sink), the emulator (the strictest profile: client job names ignored),
the Durable replay engine with the app's orchestrators and activities, the real Durable client over HTTP.
The stall is a gate in front of the real client's ``start_new`` (a fault at the boundary, nothing mocked);
the starters stall concurrently on one event loop of their own, as two function hosts would.
"""
from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest
from azure.durable_functions import DurableOrchestrationClient

from samples.heart.model import sample_files
from shared.config import load_settings
from shared.runs import claims, fencing
from shared.runs.ledger import RunLedger
from shared.runs.starter import ClaimPolicy, start_run
from shared.storage.uris import BlobLocation

from .conftest import LANDING_CONTAINER
from .test_e2e import expected_predictions, finish

COUNTED = ("submit_job", "copy_output", "write_receipt", "send_notification")
LEASE = 10.0


@pytest.fixture(autouse=True)
def _reset_behaviour(emulator) -> Iterator[None]:
    yield
    emulator.emulator.behaviour = emulator.config.behaviour


@pytest.fixture
def calls(host) -> dict:
    """Calls of each side-effecting activity, over every execution of every instance."""
    counted: dict = {name: 0 for name in COUNTED}
    for name in COUNTED:
        real = host.activities[name]

        def counting(payload, _real=real, _name=name):
            counted[_name] += 1
            return _real(payload)

        host.activities[name] = counting
    return counted


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One event loop on its own thread for every starter of a test (the SDK keeps one aiohttp session,
    bound to one loop), so starters can stall at once, as two function hosts would."""
    from azure.durable_functions.models.utils import http_utils

    running = asyncio.new_event_loop()
    thread = threading.Thread(target=running.run_forever, daemon=True)
    thread.start()
    yield running
    asyncio.run_coroutine_threadsafe(http_utils._close_session(), running).result(10)
    running.call_soon_threadsafe(running.stop)
    thread.join(10)
    running.close()


class GatedStarter:
    """One caller's ``start_run``; its ``start_new`` waits at a gate (the stall) before the real client's."""

    def __init__(self, loop: Any, host: Any, run_id: str, location: BlobLocation, *, lease_passed: bool):
        self.loop, self.host, self.run_id, self.location = loop, host, run_id, location
        self.reached, self.gate = threading.Event(), threading.Event()
        offset = timedelta(seconds=LEASE + 1 if lease_passed else 0)
        self.policy = ClaimPolicy(grace_seconds=LEASE, clock=lambda: datetime.now(timezone.utc) + offset)
        self.future: Any = None

    async def _main(self) -> Any:
        starter = self

        class Client:
            def __init__(self, real):
                self._real = real

            def __getattr__(self, name):
                return getattr(self._real, name)

            async def start_new(self, *args, **kwargs):
                starter.reached.set()
                await asyncio.to_thread(starter.gate.wait, 30)
                return await self._real.start_new(*args, **kwargs)

        settings = load_settings()
        client = Client(DurableOrchestrationClient(self.host.client_binding()))
        return await start_run(client, RunLedger.from_settings(settings), settings, settings.route("heart"),
                               self.location, run_id=self.run_id, source="event", policy=self.policy)

    def start(self) -> "GatedStarter":
        self.future = asyncio.run_coroutine_threadsafe(self._main(), self.loop)
        for _ in range(300):
            if self.reached.wait(0.1) or self.future.done():
                break
        assert self.reached.is_set(), f"the starter never reached start_new: {self.future.result(1)!r}"
        return self

    def release(self) -> Any:
        self.gate.set()
        return self.future.result(30)


def landed_folder(stack) -> BlobLocation:
    stack.upload_sample(sample_files())
    stack.upload("_SUCCESS", b"")
    return BlobLocation(stack.azurite.default.blob_url, LANDING_CONTAINER, f"{stack.folder}/")


def delivered(stack) -> list[str]:
    return sorted(stack.sink_blob("predictions.csv").download_blob().readall().decode().splitlines())


def stalled_start_lands_after_the_run_finished(stack, host, calls, loop) -> tuple[str, dict, dict]:
    """Owner A claims (epoch 1) and stalls in ``start_new``; a duplicate B finds the lease expired and no
    instance, takes the claim over (epoch 2) and starts the run, which finishes; then A's start lands."""
    stack.emulator.emulator.behaviour = stack.emulator.emulator.behaviour.updated({"job_names": "ignore"})
    location = landed_folder(stack)
    run_id = f"heart-fence-{uuid.uuid4().hex[:10]}"
    before = stack.job_names()
    stalled = GatedStarter(loop, host, run_id, location, lease_passed=False).start()
    assert claims.epoch_of(stack.ledger(run_id)) == 1
    duplicate = GatedStarter(loop, host, run_id, location, lease_passed=True).start()
    taken_over = duplicate.release()
    assert taken_over.started and taken_over.how == "taken_over"
    first = finish(host, run_id)
    assert first["outcome"] == "Succeeded", first
    record = stack.ledger(run_id)
    assert record["epoch"] == 2
    if fencing.fencing_enabled():
        assert record["began_epoch"] == 2 and record["outcome"] == "Succeeded"
    assert calls["submit_job"] == 1 and len(stack.jobs_since(before)) == 1
    side_effects = dict(calls)

    late = stalled.release()  # Durable starts a new execution of the finished instance
    assert late.started, "the late start_new went through (this is the fault under test)"
    status = host.run_until_complete(run_id, timeout_s=60)
    return run_id, side_effects, status


def test_a_stalled_start_landing_after_the_run_finished_does_not_execute_it_again(stack, host, calls, loop):
    before = stack.job_names()
    run_id, side_effects, status = stalled_start_lands_after_the_run_finished(stack, host, calls, loop)
    # the late execution ended at once: no submit, no copy, no receipt, no notification, no new job
    assert calls == side_effects, (calls, side_effects)
    assert len(stack.jobs_since(before)) == 1
    assert status["runtimeStatus"] == "Completed"
    output = status["output"]
    assert output["fenced"]["action"] == claims.ENDED and output["fenced"]["epoch"] == 1
    # the run stays Succeeded (its recorded summary), with its one job's predictions, once
    assert output["outcome"] == "Succeeded" and output["job_name"] in stack.job_names()
    assert status["customStatus"]["phase"] == "fenced"
    assert delivered(stack) == sorted(expected_predictions())
    record = stack.ledger(run_id)
    assert record["outcome"] == "Succeeded" and record["starts_begun"] == 1


def test_the_control_without_fencing_executes_the_finished_run_again(stack, host, calls, loop, monkeypatch):
    """The same stall with fencing switched off (the crash bench's control): the late start executes the
    finished run again, so this test's fault is real and the fencing above is what stops it."""
    monkeypatch.setattr(fencing, "FENCING_ENABLED", False)
    before = stack.job_names()
    run_id, side_effects, status = stalled_start_lands_after_the_run_finished(stack, host, calls, loop)
    assert calls["submit_job"] == side_effects["submit_job"] + 1  # executed again: submit, copy, receipt
    assert calls["copy_output"] > side_effects["copy_output"] and calls["write_receipt"] > side_effects["write_receipt"]
    assert status["output"].get("fenced") is None and status["customStatus"]["phase"] != "fenced"


def test_a_stale_start_landing_first_runs_the_run_and_the_owners_start_is_a_duplicate(stack, host, calls, loop):
    """The other order: B takes the claim over (epoch 2) but A's stalled start lands first. A's execution
    runs the run in B's place (ending it would lose the run: B's start_new is refused while A's execution
    runs, and B records a duplicate); B's start then starts nothing. One execution, one job."""
    location = landed_folder(stack)
    run_id = f"heart-fence-{uuid.uuid4().hex[:10]}"
    before = stack.job_names()
    stalled = GatedStarter(loop, host, run_id, location, lease_passed=False).start()
    owner = GatedStarter(loop, host, run_id, location, lease_passed=True).start()
    assert claims.epoch_of(stack.ledger(run_id)) == 2
    assert stalled.release().started
    host.run_until(lambda h: (stack.ledger(run_id) or {}).get("began_epoch") == 2, timeout_s=30)
    duplicate = owner.release()
    assert not duplicate.started and duplicate.how == "duplicate"
    summary = finish(host, run_id)
    assert summary["outcome"] == "Succeeded" and "fenced" not in summary
    assert calls["submit_job"] == 1 and len(stack.jobs_since(before)) == 1
    assert delivered(stack) == sorted(expected_predictions())
