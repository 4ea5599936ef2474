"""The typed, versioned monitor state (pure) and how an execution starts from it (real replay engine)."""

from __future__ import annotations

import pytest

from shared.config.models import PollPolicy
from shared.runs.state import EVENT_IDS_KEPT, VERSION, CancelRequest, Claim, MonitorState
from tests.runs.sim import START, SimJob, drive, run_input, timeline

RUN = "route-a-run1"


def test_round_trip_keeps_everything_including_pending_requests():
    state = MonitorState(attempt=2, job_name="job-1", job_status="Running", polls=7, polls_here=3,
                         claim=Claim("Completed", "ev-9", "2024-06-01T12:10:00Z", "job-1"),
                         cancel=CancelRequest("stop"), events={"received": 2}, event_ids=["a", "b"])
    data = state.to_dict()
    assert data["version"] == VERSION and data["claim"]["status"] == "Completed" and data["cancel"] == {"reason": "stop"}
    assert MonitorState.from_dict(data) == state


def test_reads_a_version_1_monitor_dict_of_the_old_orchestrator():
    old = {"phase": "monitoring", "started_at": "2024-06-01T12:00:00Z", "deadline": "2024-06-02T12:00:00Z",
           "polls": 100, "polls_here": 0, "status_errors": 0, "job_status": "Running", "job_name": "job-1",
           "studio_url": None, "submitted_at": "2024-06-01T12:00:00Z", "next_poll_at": "2024-06-01T13:00:00Z",
           "poll_mode": "adaptive", "events": {"received": 1}, "event_ids": [str(i) for i in range(30)],
           "hint": "Running", "hint_time": "2024-06-01T12:01:00Z", "a_key_from_the_future": 1}
    state = MonitorState.from_dict(old, attempt=3)
    assert state.version == VERSION and state.attempt == 3 and state.polls == 100 and state.job_name == "job-1"
    assert state.claim is None and state.cancel is None
    assert len(state.event_ids) == EVENT_IDS_KEPT and state.event_ids[-1] == "29"
    assert MonitorState.from_dict(None).phase == "submitting"


def _continued(policy: PollPolicy, **monitor) -> dict:
    data = run_input(policy, RUN)
    data["monitor"] = {**MonitorState(phase="monitoring", started_at="2024-06-01T12:00:00Z",
                                      deadline="2024-06-02T12:00:00Z", job_name="job-1", job_status="Running",
                                      submitted_at="2024-06-01T12:00:00Z", polls=100).to_dict(), **monitor}
    return data


def test_a_claim_carried_across_continue_as_new_is_checked_first(sim):
    host, svc = sim(SimJob([(-100, "Running"), (-1, "Completed")]))
    svc.submitted_at = START
    claim = {"status": "Completed", "event_id": "ev-1", "event_time": "2024-06-01T11:59:59Z", "job_name": "job-1"}
    host.start("run_orchestrator", _continued(PollPolicy(events=True), claim=claim), instance_id=RUN)
    status = drive(host, RUN)
    assert status["output"]["outcome"] == "Succeeded"
    assert svc.status_calls == [(0.0, "Completed")]          # at once, not after the 900 s fallback
    assert "submit_job" not in svc.calls


def test_a_cancel_carried_across_continue_as_new_cancels_first(sim):
    host, svc = sim(SimJob(timeline(3600)))
    svc.submitted_at = START
    host.start("run_orchestrator", _continued(PollPolicy(), cancel={"reason": "carried"}), instance_id=RUN)
    out = drive(host, RUN)["output"]
    assert out["outcome"] == "Canceled" and out["error"] == "carried"
    assert svc.calls[0] == "cancel_job"


def test_an_old_execution_input_without_a_version_continues(sim):
    host, svc = sim(SimJob(timeline(300)))
    svc.submitted_at = START
    data = _continued(PollPolicy(duration_aware=False))
    for key in ("version", "claim", "cancel", "attempt", "adopted"):
        data["monitor"].pop(key)
    host.start("run_orchestrator", data, instance_id=RUN)
    status = drive(host, RUN)
    assert status["output"]["outcome"] == "Succeeded" and status["customStatus"]["version"] == VERSION
    assert status["output"]["polls"] == 100 + len(svc.status_calls)


def test_submit_payload_carries_the_attempt(sim):
    host, svc = sim(SimJob(timeline(60)))
    payloads = []
    original = svc.submit_job
    host.activities["submit_job"] = lambda p: (payloads.append(p), original(p))[1]
    data = run_input(PollPolicy(duration_aware=False), RUN)
    data["run"]["attempt"] = 2
    host.start("run_orchestrator", data, instance_id=RUN)
    status = drive(host, RUN)
    assert [p["attempt"] for p in payloads] == [2] and payloads[0]["run"]["run_id"] == RUN
    assert status["customStatus"]["attempt"] == 2


def test_an_adopted_job_is_watched_like_a_new_one(sim):
    host, svc = sim(SimJob(timeline(60)))
    original = svc.submit_job
    host.activities["submit_job"] = lambda p: {**original(p), "adopted": True}
    host.start("run_orchestrator", run_input(PollPolicy(duration_aware=False), RUN), instance_id=RUN)
    status = drive(host, RUN)
    assert status["output"]["outcome"] == "Succeeded" and status["customStatus"]["adopted"] is True


def test_a_submit_answer_without_a_job_name_fails_the_run_cleanly(sim):
    host, svc = sim(SimJob(timeline(60)))
    host.activities["submit_job"] = lambda p: {"status": "Queued"}
    host.start("run_orchestrator", run_input(PollPolicy(), RUN), instance_id=RUN)
    out = drive(host, RUN)["output"]
    assert out["outcome"] == "Failed" and "no job name" in out["error"]
