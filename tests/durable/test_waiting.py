"""shared/durable/waiting.py on the real replay engine (DurableTestHost, simulated clock): standing waits,
retries raced against events, and the drain before continue_as_new, with batched episodes."""

from __future__ import annotations

from datetime import timedelta

import azure.durable_functions as df
import pytest

from shared.durable.waiting import ActivityFailed, StandingWaits
from tests.support.durable_host import DurableTestHost
from tests.support.history import ET

app = df.DFApp()
TICKS_PER_EXECUTION = 3


@app.orchestration_trigger(context_name="context")
def ticker(context: df.DurableOrchestrationContext):
    """Counts ``ping`` events across executions; continues as new after 3 ticks of 10 s; ends on ``stop``."""
    carried = context.get_input() or {"pings": 0, "executions": 0}
    waits = StandingWaits(context, ["ping"], latched=["stop"])
    pings = [carried["pings"]]

    def on_arrival(arrival):
        if arrival.name == "ping":
            pings[0] += 1
        return arrival.name == "stop"

    for _ in range(TICKS_PER_EXECUTION):
        if (yield from waits.sleep_until(context.current_utc_datetime + timedelta(seconds=10), on_arrival)):
            return {"pings": pings[0], "stopped": waits.latched["stop"]}
    if (yield from waits.drain(on_arrival)):
        return {"pings": pings[0], "stopped": waits.latched["stop"]}
    context.continue_as_new({"pings": pings[0], "executions": carried["executions"] + 1})
    return None


FLAKY = {"failures": 0}


@app.orchestration_trigger(context_name="context")
def retrying(context: df.DurableOrchestrationContext):
    waits = StandingWaits(context, ["ping"])
    seen = []
    try:
        _, result = yield from waits.call_with_retry("flaky", 1, lambda a: seen.append(a.value) or False,
                                                     attempts=3, first_delay=timedelta(seconds=5))
    except ActivityFailed as exc:
        return {"failed": str(exc), "seen": seen}
    return {"result": result, "seen": seen}


@app.activity_trigger(input_name="value")
def flaky(value):
    if FLAKY["failures"] > 0:
        FLAKY["failures"] -= 1
        raise RuntimeError("transient")
    return value * 2


FUNCS = {f.get_function_name(): f for f in app.get_functions()}


@pytest.fixture
def host():
    from tests.support.durable_host import split_functions

    orchestrators, activities = split_functions(FUNCS.values())
    with DurableTestHost(orchestrators, activities) as h:
        yield h


def test_events_batched_with_the_last_timer_of_an_execution_are_drained(host):
    iid = host.start("ticker", None, instance_id="t")
    host.run_until_idle(fire_timers=False)
    host.advance(10)
    host.advance(10)
    with host.hold(iid):
        host.advance(10, run=False)                     # the execution's last timer ...
        for i in range(3):
            host.raise_event(iid, "ping", i)             # ... and three pings, one episode
    host.run_until_idle(fire_timers=False)
    assert len(host.executions(iid)) == 2
    host.raise_event(iid, "stop", {"reason": "done"})
    status = host.run_until_complete(iid)
    assert status["output"] == {"pings": 3, "stopped": {"reason": "done"}}


def test_a_stop_batched_with_the_last_timer_ends_in_this_execution(host):
    iid = host.start("ticker", None, instance_id="s")
    host.run_until_idle(fire_timers=False)
    host.advance(10)
    host.advance(10)
    with host.hold(iid):
        host.advance(10, run=False)
        host.raise_event(iid, "ping", 1)
        host.raise_event(iid, "stop", "now")
    status = host.run_until_complete(iid)
    assert status["output"] == {"pings": 1, "stopped": "now"} and len(host.executions(iid)) == 1


def test_retries_take_events_while_they_wait(host):
    FLAKY["failures"] = 2
    iid = host.start("retrying", None, instance_id="r")
    host.run_until_idle(fire_timers=False)              # first attempt failed; a 5 s retry timer waits
    host.raise_event(iid, "ping", "during the retry wait")
    status = host.run_until_complete(iid)
    assert status["output"] == {"result": 2, "seen": ["during the retry wait"]}
    assert host.count(iid, ET.TIMER_CREATED) == 2   # 5 s, then 10 s


def test_retries_exhausted_raise_activity_failed_naming_the_activity(host):
    FLAKY["failures"] = 5
    iid = host.start("retrying", None, instance_id="x")
    status = host.run_until_complete(iid)
    assert status["output"]["failed"].startswith("activity flaky failed 3 times") and "transient" in status["output"]["failed"]

