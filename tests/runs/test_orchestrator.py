"""The run orchestration through the real Durable replay engine (DurableTestHost, simulated clock).

Activities are plain functions over a simulated job (tests/runs/sim.py); the orchestrator, the SDK and
the host are real. No wall-clock assertions: times are the simulated clock's.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.config.models import PollPolicy
from shared.runs.models import CANCEL_EVENT, JOB_STATUS_EVENT
from tests.runs.sim import START, SimJob, drive, event_payload, job_events, run_input, timeline
from tests.support.history import ET

ADAPTIVE = PollPolicy(duration_aware=False)
EVENTS = PollPolicy(events=True)
RUN = "route-a-run1"


def start(host, policy: PollPolicy, **kw) -> None:
    host.start("run_orchestrator", run_input(policy, RUN, **kw), instance_id=RUN)


# --- the foundation's behaviour ---------------------------------------------------------------------

def test_submit_polls_with_growing_timers_then_completed_delivers(sim):
    host, svc = sim(SimJob(timeline(300)))
    start(host, ADAPTIVE)
    status = drive(host, RUN)
    out = status["output"]
    assert out["outcome"] == "Succeeded" and out["job_status"] == "Completed"
    times = [t for t, _ in svc.status_calls]
    gaps = [round(b - a, 3) for a, b in zip([0.0] + times, times)]
    assert gaps[:4] == [15.0, 22.5, 33.75, 50.625]      # initial 15 s × 1.5 per poll
    assert max(gaps) <= ADAPTIVE.max_seconds
    assert svc.calls[0] == "submit_job" and "plan_delivery" in svc.calls       # delivery ran
    assert svc.calls.index("record_job_duration") < svc.calls.index("plan_delivery")
    assert out["polls"] == len(svc.status_calls)


@pytest.mark.parametrize("final,outcome", [("Failed", "Failed"), ("Canceled", "Canceled")])
def test_terminal_failed_and_canceled(sim, final, outcome):
    host, svc = sim(SimJob(timeline(200, final=final)))
    start(host, ADAPTIVE)
    out = drive(host, RUN)["output"]
    assert out["outcome"] == outcome
    assert "plan_delivery" not in svc.calls and "record_job_duration" not in svc.calls
    if final == "Failed":
        assert out["error"] == "boom"


def test_not_responding_paused_unknown_keep_polling(sim):
    job = SimJob([(0, "Running"), (20, "NotResponding"), (60, "Paused"), (120, "Unknown"), (200, "Running"),
                  (260, "Completed")])
    host, svc = sim(job)
    start(host, ADAPTIVE)
    assert drive(host, RUN)["output"]["outcome"] == "Succeeded"
    seen = {s for _, s in svc.status_calls}
    assert {"NotResponding", "Paused", "Unknown"} <= seen


def test_deadline_cancels_and_times_out(sim):
    host, svc = sim(SimJob(timeline(10 * 3600)))
    start(host, PollPolicy(duration_aware=False, deadline_hours=0.05))   # 3 minutes
    out = drive(host, RUN)["output"]
    assert out["outcome"] == "TimedOut" and "0.05 h" in out["error"]
    assert "cancel_job" in svc.calls
    assert svc.cancelled_at == pytest.approx(180.0)


def test_cancel_event_cancels_the_job(sim):
    host, svc = sim(SimJob(timeline(3600)))
    start(host, ADAPTIVE)
    out = drive(host, RUN, [(START + timedelta(seconds=100), CANCEL_EVENT, {"reason": "operator said so"})])["output"]
    assert out["outcome"] == "Canceled" and out["error"] == "operator said so"
    assert svc.cancelled_at == pytest.approx(100.0)


def test_cancel_while_waiting_to_retry_submit_ends_without_a_job(sim):
    host, svc = sim(SimJob(timeline(3600)), submit_failures=1)        # submit retries after 30 s
    start(host, ADAPTIVE)
    out = drive(host, RUN, [(START + timedelta(seconds=5), CANCEL_EVENT, {"reason": "stop"})])["output"]
    assert out["outcome"] == "Canceled" and out["error"] == "stop" and out["job_name"] is None
    assert svc.calls == ["submit_job", "find_attempt_job"]     # looked for a job the failed submit made: none


def test_cancel_while_waiting_to_retry_submit_cancels_the_job_a_lost_answer_created(sim):
    """The failed submit's POST went through (its answer was lost): the cancel finds that job and cancels it,
    instead of ending the run while the job runs on unwatched."""
    host, svc = sim(SimJob(timeline(3600)), lost_submits=1)
    start(host, ADAPTIVE)
    status = drive(host, RUN, [(START + timedelta(seconds=5), CANCEL_EVENT, {"reason": "stop"})])
    out = status["output"]
    assert out["outcome"] == "Canceled" and out["error"] == "stop"
    assert out["job_name"] == "job-1" and status["customStatus"]["adopted"] is True
    assert svc.calls[:3] == ["submit_job", "find_attempt_job", "cancel_job"]
    assert svc.cancelled_at is not None and svc.status_now() == "Canceled"


def test_a_cancel_whose_look_for_the_job_fails_says_the_job_may_exist(sim):
    """The look-up is retried; when it keeps failing the run ends Canceled, and says a job may exist."""
    host, svc = sim(SimJob(timeline(3600)), submit_failures=1, find_errors=5)
    start(host, ADAPTIVE)
    out = drive(host, RUN, [(START + timedelta(seconds=5), CANCEL_EVENT, {"reason": "stop"})])["output"]
    assert out["outcome"] == "Canceled" and out["error"].startswith("stop; looking for a job the failed submit")
    assert "management API unreachable" in out["error"]
    assert svc.calls == ["submit_job"] + ["find_attempt_job"] * 3


def test_submit_failures_exhausted_adopt_the_job_a_lost_answer_created(sim):
    """Every submit attempt lost its answer although the job exists: the run adopts it and delivers, it does
    not end Failed with the job running on."""
    host, svc = sim(SimJob(timeline(120)), lost_submits=3)
    start(host, ADAPTIVE)
    status = drive(host, RUN)
    out = status["output"]
    assert out["outcome"] == "Succeeded" and out["job_name"] == "job-1" and status["customStatus"]["adopted"] is True
    assert svc.calls.count("submit_job") == 3 and svc.calls.count("find_attempt_job") == 1


def test_cancel_requested_while_submit_runs_cancels_the_new_job(sim):
    host, svc = sim(SimJob(timeline(3600)))
    original = svc.submit_job

    def submit_then_cancel(payload):
        host.raise_event(RUN, CANCEL_EVENT, {"reason": "changed my mind"})   # arrives mid-submit
        return original(payload)

    host.activities["submit_job"] = submit_then_cancel
    start(host, ADAPTIVE)
    out = drive(host, RUN)["output"]
    assert out["outcome"] == "Canceled" and out["error"] == "changed my mind"
    assert out["job_name"] == "job-1" and "cancel_job" in svc.calls


def test_continue_as_new_carries_state(sim):
    host, svc = sim(SimJob(timeline(1800)))
    start(host, PollPolicy(duration_aware=False, polls_per_execution=5))
    status = drive(host, RUN)
    assert status["output"]["outcome"] == "Succeeded"
    executions = host.executions(RUN)
    assert len(executions) >= 3
    assert status["output"]["polls"] == len(svc.status_calls)              # counted across executions
    assert status["output"]["submitted_at"] == "2024-06-01T12:00:00Z"
    assert svc.calls.count("submit_job") == 1


def test_submit_failure_is_retried(sim):
    host, svc = sim(SimJob(timeline(120)), submit_failures=2)
    start(host, ADAPTIVE)
    out = drive(host, RUN)["output"]
    assert out["outcome"] == "Succeeded"
    assert svc.calls[:3] == ["submit_job"] * 3


def test_submit_failures_exhausted_fail_the_run(sim):
    host, svc = sim(SimJob(timeline(120)), submit_failures=5)
    start(host, ADAPTIVE)
    out = drive(host, RUN)["output"]
    assert out["outcome"] == "Failed" and "endpoint unreachable" in out["error"]
    assert svc.calls.count("submit_job") == 3


def test_permanent_submit_error_fails_at_once(sim):
    host, svc = sim(SimJob(timeline(120)), submit_error="400 Bad Request: no such deployment")
    start(host, ADAPTIVE)
    out = drive(host, RUN)["output"]
    assert out["outcome"] == "Failed" and out["error"] == "400 Bad Request: no such deployment"
    assert svc.calls == ["submit_job"]


def test_a_status_outage_never_ends_the_run_it_backs_off_until_the_job_is_readable_again(sim):
    """Issue 9 item 4: 100 unreadable statuses in a row (max_status_errors=4) do not end the run."""
    host, svc = sim(SimJob(timeline(36000)), status_errors=100)
    start(host, PollPolicy(duration_aware=False, max_status_errors=4, deadline_hours=48))
    status = drive(host, RUN)
    out = status["output"]
    assert out["outcome"] == "Succeeded" and "cancel_job" not in svc.calls
    failing = [t for t, s in svc.status_calls if s is None]
    assert len(failing) == 100
    gaps = [round(b - a, 3) for a, b in zip([0.0] + failing, failing)]
    assert gaps[:6] == [15.0, 15.0, 30.0, 60.0, 120.0, 240.0]            # capped exponential back-off
    assert max(gaps) == 900.0 and gaps[-1] == 900.0


def test_a_permanent_status_outage_cancels_the_job_at_the_deadline(sim):
    """The run ends only once its job was asked to cancel: the deadline path, never 'too many errors'."""
    host, svc = sim(SimJob(timeline(10 * 24 * 3600)), status_errors=10 ** 6)
    start(host, PollPolicy(duration_aware=False, max_status_errors=3, deadline_hours=6))
    status = drive(host, RUN)
    out = status["output"]
    assert out["outcome"] == "TimedOut" and "6 h" in out["error"]
    assert svc.cancelled_at == pytest.approx(6 * 3600.0)
    assert svc.calls.count("cancel_job") == 1 and status["customStatus"]["status_errors"] > 3


def test_a_status_error_then_success_resets_the_count(sim):
    host, svc = sim(SimJob(timeline(300)), status_errors=3)
    start(host, PollPolicy(duration_aware=False, max_status_errors=4))
    assert drive(host, RUN)["output"]["outcome"] == "Succeeded"


# --- events -----------------------------------------------------------------------------------------

def test_events_detect_completion_with_one_confirming_call(sim):
    host, svc = sim(SimJob(timeline(1500)))
    start(host, EVENTS)
    status = drive(host, RUN, job_events(svc, latency=2.0))
    assert status["output"]["outcome"] == "Succeeded"
    # the first safety poll (1800 s: 2 x event_fallback_seconds with one channel) comes after the end; the
    # Finalizing hint (at 1492 s) brings a poll forward, and the Completed event wins with one confirming call
    assert svc.status_calls == [(1502.0, "Completed")]
    assert status["customStatus"]["events"] == {"received": 3}


def test_duplicate_event_is_ignored(sim):
    host, svc = sim(SimJob(timeline(600)))
    start(host, EVENTS)
    status = drive(host, RUN, job_events(svc, duplicate=True, drop=lambda s: s == "Completed"))
    events = status["customStatus"]["events"]
    assert events["duplicate"] == 2 and events["received"] == 2
    assert status["output"]["outcome"] == "Succeeded"


def test_lost_completed_event_is_caught_by_the_fallback(sim):
    host, svc = sim(SimJob(timeline(600, finalizing=10)))
    start(host, EVENTS)
    status = drive(host, RUN, job_events(svc, drop=lambda s: s == "Completed"))
    assert status["output"]["outcome"] == "Succeeded"
    # Finalizing event at 592 s → the fallback comes forward to max_seconds (120 s) after it
    assert svc.status_calls == [(712.0, "Completed")]


def test_all_events_lost_safety_polls_grow_with_the_jobs_age(sim):
    host, svc = sim(SimJob(timeline(2000)))
    start(host, EVENTS)
    status = drive(host, RUN)
    assert status["output"]["outcome"] == "Succeeded"
    # one channel: 2 x event_fallback_seconds, then 4 x the job's age (a lost end costs <= 4x the job's age)
    assert [t for t, _ in svc.status_calls] == [1800.0, 9000.0]


def test_completed_claim_that_the_status_call_denies_is_not_acted_on(sim):
    host, svc = sim(SimJob(timeline(900)))
    start(host, EVENTS)
    lie = event_payload("job-1", "Completed", START + timedelta(seconds=300), "ev-lie")
    status = drive(host, RUN, [(START + timedelta(seconds=300), JOB_STATUS_EVENT, lie)] + job_events(svc))
    assert status["output"]["outcome"] == "Succeeded"
    assert svc.status_calls[0] == (300.0, "Running")                    # confirmation said Running
    assert svc.status_calls[1] == (310.0, "Running")                    # one quick re-check, then fallback
    assert svc.detected_at == 902.0
    assert status["customStatus"]["events"]["unconfirmed"] == 1


def test_event_arriving_while_submit_runs_is_not_lost(sim):
    """Events raised while the submit activity is still running (Durable buffers them) are taken."""
    host, svc = sim(SimJob(timeline(60)), submit_failures=1)     # submit takes 30 s (one retry)
    start(host, EVENTS)
    early = [(START + timedelta(seconds=1), JOB_STATUS_EVENT,
              event_payload("job-1", "Running", START, "ev-a")),
             (START + timedelta(seconds=2), JOB_STATUS_EVENT,
              event_payload("job-1", "Completed", START + timedelta(seconds=2), "ev-b"))]
    svc.job = SimJob([(-60, "Running"), (-1, "Completed")])          # it ran and ended before submit returned
    status = drive(host, RUN, early)
    assert status["output"]["outcome"] == "Succeeded"
    assert len(svc.status_calls) == 1                                 # the confirmation only
    assert status["customStatus"]["events"]["received"] == 2


def test_event_parked_before_the_ledger_knew_the_job_is_collected(sim):
    """An event that reached the handler before submit recorded job → run is handed over after submit."""
    host, svc = sim(SimJob([(0, "Running"), (5, "Completed")]))
    svc.early_events = [event_payload("job-1", "Completed", START, "ev-parked") | {"source": "parked"}]
    start(host, EVENTS)
    status = drive(host, RUN)
    assert status["output"]["outcome"] == "Succeeded"
    assert svc.calls[:4] == ["submit_job", "estimate_job_duration", "take_early_job_events", "get_job_status"]
    assert svc.status_calls == [(0.0, "Running")] or svc.status_calls[-1][1] == "Completed"


def test_out_of_order_running_after_finalizing_is_ignored(sim):
    host, svc = sim(SimJob(timeline(600)))
    start(host, EVENTS)
    fin = event_payload("job-1", "Finalizing", START + timedelta(seconds=500), "ev-f")
    run_ = event_payload("job-1", "Running", START + timedelta(seconds=20), "ev-r")
    status = drive(host, RUN, [(START + timedelta(seconds=501), JOB_STATUS_EVENT, fin),
                               (START + timedelta(seconds=502), JOB_STATUS_EVENT, run_)]
                   + [d for d in job_events(svc) if d[2]["status"] == "Completed"])
    assert status["customStatus"]["events"]["out_of_order"] == 1
    assert status["output"]["outcome"] == "Succeeded"


def test_event_for_another_job_is_ignored(sim):
    host, svc = sim(SimJob(timeline(600)))
    start(host, EVENTS)
    other = event_payload("job-zzz", "Completed", START + timedelta(seconds=50), "ev-o")
    status = drive(host, RUN, [(START + timedelta(seconds=50), JOB_STATUS_EVENT, other)] + job_events(svc))
    assert status["customStatus"]["events"]["other_job"] == 1
    assert svc.status_calls[0][0] > 50


def test_malformed_event_is_counted(sim):
    host, svc = sim(SimJob(timeline(600)))
    start(host, EVENTS)
    status = drive(host, RUN, [(START + timedelta(seconds=50), JOB_STATUS_EVENT, "not json")] + job_events(svc))
    assert status["customStatus"]["events"]["malformed"] == 1
    assert status["output"]["outcome"] == "Succeeded"


def test_cancel_arriving_during_a_status_call_is_not_lost(sim):
    """The standing cancel wait: a cancel raised while a status call is in flight still cancels."""
    host, svc = sim(SimJob(timeline(3600)))
    start(host, ADAPTIVE)
    fired = []

    def cancel_mid_call(h):
        if not fired and len(svc.status_calls) == 2:
            fired.append(True)
            h.raise_event(RUN, CANCEL_EVENT, {"reason": "now"})

    original = svc.get_job_status

    def status_then_cancel(payload):
        result = original(payload)
        if len(svc.status_calls) == 2 and not fired:
            fired.append(True)
            host.raise_event(RUN, CANCEL_EVENT, {"reason": "mid-call"})
        return result

    host.activities["get_job_status"] = status_then_cancel
    out = drive(host, RUN, on_idle=cancel_mid_call)["output"]
    assert out["outcome"] == "Canceled" and out["error"] == "mid-call"


# --- duration-aware --------------------------------------------------------------------------------

def test_duration_history_makes_polling_sparse_then_dense(sim):
    history = [{"seconds": s} for s in (3500, 3600, 3700, 3650, 3550)]
    host, svc = sim(SimJob(timeline(3620, finalizing=30)), history=history)
    start(host, PollPolicy())
    status = drive(host, RUN)
    assert status["output"]["outcome"] == "Succeeded"
    times = [t for t, _ in svc.status_calls]
    before_window = [t for t in times if t < 3300]
    assert len(before_window) <= 4                         # sparse: every max(240 s, 25 % of 3600 s)
    assert svc.detected_at - 3620 <= 30
    assert len(times) < 3620 / 120                         # fewer calls than fixed 120 s
    assert status["customStatus"]["estimate"]["samples"] == 5
    assert svc.recorded and svc.recorded[0] == pytest.approx(svc.detected_at, abs=1)


def test_no_history_falls_back_to_adaptive(sim):
    host, svc = sim(SimJob(timeline(300)), history=[{"seconds": 100}])    # fewer than min_history
    start(host, PollPolicy())
    drive(host, RUN)
    assert [t for t, _ in svc.status_calls][:2] == [15.0, 37.5]


def test_history_is_replay_safe_no_wall_clock(sim):
    """Same inputs → same history, event for event (determinism across two hosts)."""
    runs = []
    for _ in range(2):
        host, svc = sim(SimJob(timeline(700)), history=[{"seconds": s} for s in (650, 700, 720)])
        start(host, PollPolicy())
        drive(host, RUN)
        runs.append([(e["EventType"], e.get("Name"), e.get("FireAt")) for h in host.executions(RUN) for e in h
                     if e["EventType"] in (int(ET.TASK_SCHEDULED), int(ET.TIMER_CREATED))])
    assert runs[0] == runs[1]


def test_a_job_outliving_1750_polls_is_watched_to_the_end(sim):
    """Issue 9 item 4: ``growth ** polls`` overflowed after about 1,750 polls and orphaned the job. The run
    resumes (as after continue_as_new) at poll 1,740 of a 60-hour job and polls on past 1,751."""
    from shared.runs.state import MonitorState

    host, svc = sim(SimJob(timeline(1760 * 120.0)))
    svc.submitted_at = START - timedelta(seconds=1740 * 120.0)
    data = run_input(PollPolicy(duration_aware=False, deadline_hours=90 * 24, polls_per_execution=10), RUN)
    data["monitor"] = MonitorState(phase="monitoring", started_at="2024-05-29T10:00:00Z", deadline="2024-08-29T10:00:00Z",
                                   job_name="job-1", job_status="Running", submitted_at="2024-05-29T10:00:00Z",
                                   polls=1740).to_dict()
    host.start("run_orchestrator", data, instance_id=RUN)
    status = drive(host, RUN)
    assert status["output"]["outcome"] == "Succeeded"
    assert status["output"]["polls"] == 1740 + len(svc.status_calls) >= 1760
    assert {round(b - a) for (a, _), (b, _) in zip(svc.status_calls, svc.status_calls[1:])} == {120}


def test_a_workspace_renamed_mid_run_is_waited_out_not_a_failed_run(sim):
    """Permanent-looking 404s for two hours (the workspace was renamed, then renamed back): still watching."""
    host, svc = sim(SimJob(timeline(4 * 3600)))
    original = svc.get_job_status

    def renamed_for_two_hours(payload):
        if 600 <= svc.t() < 600 + 2 * 3600:
            svc.status_calls.append((svc.t(), None))
            return {"status": None, "error": "404 ResourceNotFound: workspace 'ws' was not found", "transient": False}
        return original(payload)

    host.activities["get_job_status"] = renamed_for_two_hours
    start(host, PollPolicy(duration_aware=False, max_status_errors=3))
    status = drive(host, RUN)
    assert status["output"]["outcome"] == "Succeeded" and "cancel_job" not in svc.calls
    assert status["customStatus"]["status_errors"] == 0 and status["customStatus"]["last_error"] is None
    unreadable = [t for t, s in svc.status_calls if s is None]
    assert len(unreadable) < 20                                           # backed off, not hammering


# --- output events: a hint that one status call confirms ----------------------------------------------

OUTPUT_ONLY = PollPolicy(events=False, output_events=True, duration_aware=False)


def output_hint(at_seconds: float, event_id: str = "out-1") -> tuple:
    payload = {"status": "Finalizing", "signal": "output", "output": "score", "event_id": event_id,
               "event_time": None, "source": "output_event", "run_id": RUN}
    return (START + timedelta(seconds=at_seconds), JOB_STATUS_EVENT, payload)


def test_an_output_hint_at_the_end_is_confirmed_within_seconds(sim):
    host, svc = sim(SimJob(timeline(3000, finalizing=30)))
    start(host, OUTPUT_ONLY)
    status = drive(host, RUN, [output_hint(2998.0)])    # the output blob's event, 2 s before Completed
    assert status["output"]["outcome"] == "Succeeded"
    # the safety poll at 1800 s, then the hint: confirmed 5 s later (Completed by then)
    assert svc.status_calls == [(1800.0, "Running"), (3003.0, "Completed")]
    assert svc.detected_at - 3000 <= 5
    assert status["customStatus"]["events"]["output_hint"] == 1


def test_an_output_hint_while_finalizing_brings_a_close_watch(sim):
    host, svc = sim(SimJob(timeline(1000, finalizing=30)))
    start(host, OUTPUT_ONLY)
    status = drive(host, RUN, [output_hint(975.0)])
    assert status["output"]["outcome"] == "Succeeded"
    assert svc.status_calls == [(980.0, "Finalizing"), (985.0, "Finalizing"), (995.0, "Finalizing"),
                                (1015.0, "Completed")]   # 5 s after the hint, then doubling with its age


def test_an_early_output_hint_costs_one_call_and_no_wrong_answer(sim):
    host, svc = sim(SimJob(timeline(5000, finalizing=30)))
    start(host, OUTPUT_ONLY)
    status = drive(host, RUN, [output_hint(600.0), output_hint(4995.0, "out-2")])
    out = status["output"]
    assert out["outcome"] == "Succeeded" and svc.detected_at >= 5000   # never taken for the end
    early = [c for c in svc.status_calls if c[0] < 1800]
    assert early == [(605.0, "Running")]                 # one call, then the normal schedule resumes
    assert svc.status_calls[1] == (3025.0, "Running")    # the safety poll: 4 x the job's age after it
    assert svc.detected_at - 5000 <= 5
