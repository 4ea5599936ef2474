"""tests/support/history.py: explicit histories replayed by the real SDK replay engine."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import azure.durable_functions as df
import azure.functions as func
import pytest

from tests.support.history import History, OrchestratorFailed, format_ts, parse_ts, replay

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):
    job = yield context.call_activity_with_retry("submit", df.RetryOptions(5000, 2),
                                                 context.get_input())
    timer = context.create_timer(context.current_utc_datetime + timedelta(minutes=10))
    event = context.wait_for_external_event("Approval")
    winner = yield context.task_any([event, timer])
    if winner == event:
        timer.cancel()
        return {"job": job, "approved": event.result}
    return {"job": job, "approved": None}


FUNCS = {f.get_function_name(): f for f in app.get_functions()}   # index once
HANDLE = FUNCS["approval"].get_user_function()
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def test_first_episode_with_host_schema_yields_compound_retry_action():
    state = replay(HANDLE, History("approval", {"m": 1}))
    assert state["isDone"] is False
    assert state["schemaVersion"] == 2                 # host payload → ReplaySchema.V3
    (actions,) = state["actions"]
    assert actions == [{"actionType": 12, "compoundActions": [{
        "actionType": 1, "functionName": "submit", "input": '{"m": 1}',
        "retryOptions": {"firstRetryIntervalInMilliseconds": 5000, "maxNumberOfAttempts": 2}}]}]


@pytest.mark.parametrize("schema", ["host", 0, 1])
def test_event_wins_task_any_and_cancels_timer(schema):
    h = History("approval", {"m": 1})
    h.task_scheduled(0, "submit").next_episode().task_completed(0, "job-1")
    h.timer_created(1, T0 + timedelta(minutes=10))
    h.next_episode(advance=timedelta(minutes=1)).event_raised("Approval", {"by": "alice"})
    state = replay(HANDLE, h, schema=schema)
    assert state["isDone"] is True
    assert state["output"] == {"job": "job-1", "approved": {"by": "alice"}}
    timers = [a for group in state["actions"] for a in _leaves(group) if a["actionType"] == 5]
    assert timers == [{"actionType": 5, "fireAt": format_ts(T0 + timedelta(minutes=10)),
                       "isCanceled": True}]


def test_timer_wins_without_event():
    h = History("approval", None)
    h.task_scheduled(0, "submit").next_episode().task_completed(0, "job-1")
    fire = T0 + timedelta(minutes=10)
    h.timer_created(1, fire).next_episode(at=fire).timer_fired(1, fire)
    assert replay(HANDLE, h)["output"] == {"job": "job-1", "approved": None}


def test_retry_exhaustion_needs_one_extra_timer():
    h = History("approval", {"m": 1})
    h.task_scheduled(0, "submit").next_episode().task_failed(0, "boom", "details")
    h.timer_created(1, T0 + timedelta(seconds=5))
    h.next_episode(advance=timedelta(seconds=5)).timer_fired(1, h.now)
    h.task_scheduled(2, "submit").next_episode().task_failed(2, "boom again", "details")
    h.timer_created(3, h.now + timedelta(seconds=5))
    # both attempts failed, but the SDK waits for the extra retry timer before failing the task
    state = replay(HANDLE, h)
    assert state["isDone"] is False and "error" not in state
    h.next_episode(advance=timedelta(seconds=5)).timer_fired(3, h.now)
    state = replay(HANDLE, h)
    assert state["error"].startswith("boom again")
    with pytest.raises(OrchestratorFailed, match="boom again") as info:
        replay(HANDLE, h, raise_on_error=True)
    assert info.value.state["isDone"] is False


def test_event_raised_before_the_wait_is_buffered_by_the_sdk():
    h = History("approval", {"m": 1})
    h.task_scheduled(0, "submit").next_episode().event_raised("Approval", "early")
    h.next_episode().task_completed(0, "job-1")
    with pytest.warns(UserWarning, match="Potential duplicate Task completion"):
        state = replay(HANDLE, h)
    assert state["output"] == {"job": "job-1", "approved": "early"}


def test_timestamps_round_trip():
    dt = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)
    assert format_ts(dt) == "2024-05-06T07:08:09.123456Z"
    assert parse_ts(format_ts(dt)) == dt
    assert parse_ts("2024-05-06T07:08:09.1234567Z").microsecond == 123456   # .NET 7 digits


def _leaves(action):
    if isinstance(action, list):
        for a in action:
            yield from _leaves(a)
    elif action.get("actionType") in (11, 12):
        for a in action["compoundActions"]:
            yield from _leaves(a)
    else:
        yield action
