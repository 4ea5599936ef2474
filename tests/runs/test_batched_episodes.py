"""Issue 9 item 3: what arrives in the same episode as the end of an execution is not lost.

The real host hands an orchestrator every message that arrived since its last episode at once; the test host
does the same inside ``host.hold(...)``. The cases: a cancel batched with the last status result of an
execution (the API said 202: the job must be cancelled), a terminal job event batched with it (detected at
once, not one fallback interval later), and with a poll timer. Real replay engine, simulated clock.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from shared.config.models import PollPolicy
from shared.durable.waiting import StandingWaits
from shared.runs.models import CANCEL_EVENT, JOB_STATUS_EVENT
from tests.runs.sim import START, FakeService, SimJob, drive, event_payload, run_input, timeline
from tests.support.history import ET

RUN = "route-a-run1"
PER_EXECUTION = 3


def status_calls_scheduled(host) -> int:
    return host.count(RUN, ET.TASK_SCHEDULED, name="get_job_status")


def until_status_call_scheduled(host, n: int) -> None:
    """Drive until the n-th status call of this execution is scheduled (its activity has not run yet)."""
    host.run_until(lambda h: status_calls_scheduled(h) >= n, fire_timers=True)


def episodes_with(history: list, *event_types: ET) -> list[list[dict]]:
    """The episodes of a history whose new events include all of ``event_types``."""
    episodes, current = [], None
    for event in history:
        if event["EventType"] == int(ET.ORCHESTRATOR_STARTED):
            current = []
            episodes.append(current)
        elif current is not None:
            current.append(event)
    wanted = {int(t) for t in event_types}
    return [e for e in episodes if wanted <= {ev["EventType"] for ev in e}]


def last_poll_with(host, raise_events) -> None:
    """Run the execution's last status call and raise ``raise_events`` so that all land in one episode:
    [TaskCompleted(status), EventRaised...]."""
    until_status_call_scheduled(host, PER_EXECUTION)
    with host.hold(RUN):
        assert host.step(fire_timers=False)            # the status activity runs; its result is queued
        for name, payload in raise_events:
            host.raise_event(RUN, name, payload)
        queued = [e["EventType"] for e in host.inbox(RUN)]
        assert queued == [int(ET.TASK_COMPLETED)] + [int(ET.EVENT_RAISED)] * len(raise_events)


def test_cancel_batched_with_the_last_poll_of_an_execution_cancels_the_job(sim):
    host, svc = sim(SimJob(timeline(3600)))
    host.start("run_orchestrator", run_input(PollPolicy(duration_aware=False, polls_per_execution=PER_EXECUTION),
                                             RUN), instance_id=RUN)
    last_poll_with(host, [(CANCEL_EVENT, {"reason": "stop it"})])
    status = drive(host, RUN)
    out = status["output"]
    assert out["outcome"] == "Canceled" and out["error"] == "stop it"
    assert svc.calls.count("cancel_job") == 1 and svc.status_now() == "Canceled"
    (execution,) = host.executions(RUN)                   # acted on before any continue_as_new
    assert episodes_with(execution, ET.TASK_COMPLETED, ET.EVENT_RAISED)  # the batch really was one episode


def test_without_the_drain_the_batched_cancel_would_be_lost(sim, monkeypatch):
    """Control: the test host reproduces the fault the drain fixes (continue_as_new drops the episode's rest)."""
    def no_drain(self, on_arrival):
        return None
        yield  # noqa: unreachable - a generator

    monkeypatch.setattr(StandingWaits, "drain", no_drain)
    host, svc = sim(SimJob(timeline(600)))
    host.start("run_orchestrator", run_input(PollPolicy(duration_aware=False, polls_per_execution=PER_EXECUTION),
                                             RUN), instance_id=RUN)
    last_poll_with(host, [(CANCEL_EVENT, {"reason": "stop it"})])
    out = drive(host, RUN)["output"]
    assert out["outcome"] == "Succeeded" and "cancel_job" not in svc.calls   # the symptom


def test_terminal_event_batched_with_the_last_poll_is_confirmed_at_once_not_a_fallback_later(sim):
    host, svc = sim(SimJob([(0, "Running"), (45005, "Completed")]))
    host.start("run_orchestrator", run_input(PollPolicy(events=True, polls_per_execution=PER_EXECUTION), RUN),
               instance_id=RUN)
    until_status_call_scheduled(host, PER_EXECUTION)      # the third safety poll, at 45,000 s
    with host.hold(RUN):
        assert host.step(fire_timers=False)               # it reads Running ...
        host.clock.advance(timedelta(seconds=5))          # ... and the job ends; its event rides along
        host.raise_event(RUN, JOB_STATUS_EVENT,
                         event_payload("job-1", "Completed", START + timedelta(seconds=45005), "ev-end"))
    status = drive(host, RUN)
    assert status["output"]["outcome"] == "Succeeded"
    assert svc.status_calls == [(1800.0, "Running"), (9000.0, "Running"), (45000.0, "Running"),
                                (45005.0, "Completed")]   # confirmed at once, not at the next safety poll
    assert len(host.executions(RUN)) == 1


def test_terminal_event_batched_with_a_poll_timer_is_taken(sim):
    host, svc = sim(SimJob(timeline(5000)))
    host.start("run_orchestrator", run_input(PollPolicy(events=True), RUN), instance_id=RUN)
    host.run_until_idle(fire_timers=False)                 # submitted; the 1800 s safety timer is pending
    svc.job = SimJob([(0, "Running"), (800, "Completed")])
    with host.hold(RUN):
        host.advance(1800, run=False)                      # TimerFired queued ...
        host.raise_event(RUN, JOB_STATUS_EVENT, event_payload("job-1", "Completed", START + timedelta(seconds=800),
                                                              "ev-end"))
        assert [e["EventType"] for e in host.inbox(RUN)] == [int(ET.TIMER_FIRED), int(ET.EVENT_RAISED)]
    status = drive(host, RUN)
    assert status["output"]["outcome"] == "Succeeded"
    assert svc.status_calls == [(1800.0, "Completed")]
    assert svc.recorded == [pytest.approx(800.0)]          # the event's time, not the poll's


def test_cancel_batched_with_a_poll_timer_cancels(sim):
    host, svc = sim(SimJob(timeline(5000)))
    host.start("run_orchestrator", run_input(PollPolicy(duration_aware=False), RUN), instance_id=RUN)
    host.run_until_idle(fire_timers=False)
    with host.hold(RUN):
        host.advance(15, run=False)
        host.raise_event(RUN, CANCEL_EVENT, {"reason": "batched with a timer"})
    out = drive(host, RUN)["output"]
    assert out["outcome"] == "Canceled" and out["error"] == "batched with a timer"
    assert svc.cancelled_at == pytest.approx(15.0)


def test_several_events_batched_with_the_last_poll_are_all_taken_and_carried(sim):
    """A hint, its duplicate and another job's event ride along with the last poll: all are taken before
    continue_as_new, and what they taught (counts, the Finalizing hint) is in the next execution's state."""
    host, svc = sim(SimJob(timeline(3600, finalizing=600)))
    host.start("run_orchestrator", run_input(PollPolicy(duration_aware=False, polls_per_execution=PER_EXECUTION),
                                             RUN), instance_id=RUN)
    fin = event_payload("job-1", "Finalizing", START + timedelta(seconds=60), "ev-fin")
    other = event_payload("job-zzz", "Completed", START + timedelta(seconds=60), "ev-other")
    last_poll_with(host, [(JOB_STATUS_EVENT, fin), (JOB_STATUS_EVENT, fin), (JOB_STATUS_EVENT, other)])
    host.run_until(lambda h: len(h.executions(RUN)) == 2)
    carried = json.loads(host.status(RUN)["input"])["monitor"]
    assert carried["events"] == {"received": 1, "duplicate": 1, "other_job": 1}
    assert carried["hint"] == "Finalizing" and carried["polls_here"] == 0 and carried["version"] == 2
    assert drive(host, RUN)["output"]["outcome"] == "Succeeded"


def test_every_event_of_a_fully_batching_host_is_taken(app_functions):
    """The whole run on a host that always delivers everything queued in one episode."""
    from tests.runs.sim import job_events
    from tests.support.durable_host import DurableTestHost, split_functions

    orchestrators, _ = split_functions(app_functions.values())
    with DurableTestHost({"run_orchestrator": orchestrators["run_orchestrator"]}, {}, start=START,
                         events_per_episode=None) as host:
        svc = FakeService(host.clock, SimJob(timeline(1500)))
        host.activities.update(svc.activities())
        host.start("run_orchestrator", run_input(PollPolicy(events=True, polls_per_execution=2), RUN), instance_id=RUN)
        status = drive(host, RUN, job_events(svc, duplicate=True))
    assert status["output"]["outcome"] == "Succeeded"
    assert status["customStatus"]["events"] == {"received": 3, "duplicate": 2}   # the last came after the end
