"""Parsing Azure ML run events and the forwarding rules (pure)."""

import pytest

from shared.aml_events.events import (RUN_COMPLETED, RUN_STATUS_CHANGED, NotAJobEvent, parse_job_event,
                                      payload_from_orchestration)
from shared.aml_events.rules import FORWARD, IGNORE, PARK, decide, take_parked


def raw(status="Completed", *, event_type=RUN_STATUS_CHANGED, time="2024-06-01T12:00:01.1234567Z", id_="e1"):
    data = {"runId": "job-1", "experimentName": "x", "runType": "azureml.PipelineRun", "runTags": {},
            "runProperties": {}}
    if status is not None:
        data["runStatus"] = status
    return {"id": id_, "eventType": event_type, "eventTime": time, "subject": "experiments/e/runs/job-1",
            "topic": "/subscriptions/s", "data": data, "dataVersion": "2"}


def test_parse_event_grid_json_with_seven_fraction_digits():
    ev = parse_job_event(raw("completed"))
    assert (ev.job_name, ev.status, ev.event_id, ev.event_time) == ("job-1", "Completed", "e1",
                                                                   "2024-06-01T12:00:01.123Z")
    assert ev.terminal


def test_run_completed_has_no_status_and_means_completed():
    assert parse_job_event(raw(None, event_type=RUN_COMPLETED)).status == "Completed"


@pytest.mark.parametrize("event,reason", [
    (raw(event_type="Microsoft.Storage.BlobCreated"), "not_a_run_event"),
    ({**raw(), "data": {"runStatus": "Running"}}, "malformed"),
    (raw("Sleeping"), "malformed"),
    ({**raw(), "data": "x"}, "malformed"),
])
def test_unusable_events(event, reason):
    with pytest.raises(NotAJobEvent) as info:
        parse_job_event(event)
    assert info.value.reason == reason


def test_payload_from_orchestration_accepts_json_text_and_dicts():
    payload = parse_job_event(raw()).to_payload()
    import json
    assert payload_from_orchestration(json.dumps(payload)) == payload
    assert payload_from_orchestration(json.dumps(json.dumps(payload))) == payload
    assert payload_from_orchestration(payload) == payload
    assert payload_from_orchestration("nope") is None and payload_from_orchestration(None) is None


def test_rules_forward_dedupe_order_and_park():
    state = {}
    running = parse_job_event(raw("Running", time="2024-06-01T12:00:05Z", id_="a"))
    queued_old = parse_job_event(raw("Queued", time="2024-06-01T12:00:01Z", id_="b"))
    done = parse_job_event(raw("Completed", time="2024-06-01T12:00:09Z", id_="c"))
    d, state = decide(state, running, "run-1")
    assert d.action == FORWARD
    d, state2 = decide(state, running, "run-1")
    assert (d.action, d.reason) == (IGNORE, "duplicate")
    d, state = decide(state, queued_old, "run-1")
    assert (d.action, d.reason) == (IGNORE, "out_of_order")
    d, state = decide(state, done, "run-1")
    assert d.action == FORWARD
    late = parse_job_event(raw("Running", time="2024-06-01T12:00:10Z", id_="d"))
    assert decide(state, late, "run-1")[0].reason == "after_terminal"
    d, parked_state = decide({}, done, None)
    assert d.action == PARK and parked_state["parked"][0]["event_id"] == "c"
    taken, after = take_parked(parked_state, "run-1")
    assert [t["event_id"] for t in taken] == ["c"] and after["parked"] == [] and after["last"]["status"] == "Completed"
    assert take_parked(after, "run-1") == ([], after)


def test_the_emulators_events_parse():
    """emulator/events.py (the emulator's state-change hook) emits what this handler reads."""
    from types import SimpleNamespace

    from emulator.events import run_status_changed
    from emulator.jobs import JobStatus

    job = SimpleNamespace(name="batchjob-1", experiment_name="heart", endpoint="heart-ep",
                          deployment=SimpleNamespace(name="blue"), request=SimpleNamespace(tags={}))
    ws = SimpleNamespace(arm_id="/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w")
    ev = parse_job_event(run_status_changed(job, JobStatus("Finalizing"), ws))
    assert (ev.job_name, ev.status) == ("batchjob-1", "Finalizing") and ev.event_time.endswith("Z")


def test_cloudevents_in_any_shape_parse_like_event_grid_with_the_time_from_time():
    import json

    from azure.functions import meta
    from azure.functions.eventgrid import EventGridEventInConverter

    from tools.events import run_status_changed_event, to_cloud_event

    grid = run_status_changed_event("job-1", "Running", event_id="c1", event_time="2024-06-01T12:00:01.1234567Z")
    cloud = to_cloud_event(grid)
    worker = EventGridEventInConverter.decode(meta.Datum(json.dumps(cloud), "json"), trigger_metadata={})
    for event in (cloud, worker):
        ev = parse_job_event(event)
        assert (ev.job_name, ev.status, ev.event_id, ev.event_time) == ("job-1", "Running", "c1",
                                                                       "2024-06-01T12:00:01.123Z")
    lost_type = {k: v for k, v in cloud.items() if k not in ("type", "specversion")}
    assert parse_job_event(lost_type).status == "Running"


@pytest.mark.parametrize("run_id", ["../runs/other", "job/1", "job?x=1", "job#1", "..", "j" * 300, "job\n1",
                                    "job%2f..%2f", "job 1", "\u0130job"])
def test_a_run_id_outside_the_job_name_grammar_is_refused_before_it_names_a_blob(run_id):
    event = raw()
    event["data"]["runId"] = run_id
    with pytest.raises(NotAJobEvent) as info:
        parse_job_event(event)
    assert info.value.reason == "unsafe_name" and "\n" not in str(info.value)


def test_the_event_state_path_is_built_from_a_checked_job_name():
    from shared.aml_events.store import state_path
    from shared.paths import InvalidName

    assert state_path("batchjob-1.a_b") == "job-events/batchjob-1.a_b.json"
    for bad in ("../x", "a/b", ".."):
        with pytest.raises(InvalidName):
            state_path(bad)


def test_parsing_any_event_raises_only_not_a_job_event():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    values = st.none() | st.booleans() | st.integers() | st.text(max_size=12) | st.sampled_from(
        ["Running", "Completed", "../x", "job-1", RUN_STATUS_CHANGED, RUN_COMPLETED, "1.0"])
    data = st.dictionaries(st.sampled_from(["runId", "runStatus", "experimentName"]), values, max_size=3)
    events = st.fixed_dictionaries({}, optional={
        "id": values, "eventType": values, "type": values, "specversion": values, "eventTime": values,
        "time": values, "subject": values, "topic": values, "data": data | values})

    @settings(max_examples=500, deadline=None)
    @given(event=events)
    def run(event):
        try:
            parsed = parse_job_event(event)
        except NotAJobEvent as exc:
            assert exc.reason in ("not_a_run_event", "malformed", "unsafe_name")
            return
        assert parsed.job_name and "/" not in parsed.job_name and parsed.job_name not in (".", "..")

    run()
