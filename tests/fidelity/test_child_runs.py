"""The ``batchscoring`` child run (issue 17, cases 2 and 3) on real parts: Azurite, the emulator, the app's
real orchestrations on the in-process Durable host.

* Case 2: run events that name the child run are mapped to the submitted job by one Run History look-up,
  remembered in the child's event state, counted (``forwarded_child_run``) and shown in the run's details
  (``events.named_child_run``). Events naming the job itself still need no look-up.
* Case 3: a route with no output finds its outputs the way the SDK does (the child's ``score`` output), with
  the parent job's ``outputs`` as the fallback; the run's summary and receipt say which answered.
"""
from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
from azure.durable_functions import DurableOrchestrationClient
import azure.functions as func

from emulator.children import child_run_id, rewrite_event, switches
from emulator.events import run_status_changed
from emulator.jobs import JobStatus
from shared.aml_events.handler import EVENT_COUNTS, handle_job_event
from shared.aml_events.parents import ParentLookup
from shared.aml_events.store import JobEventStore
from shared.config import load_settings
from shared.runs.ledger import RunLedger
from tests.e2e.conftest import _reset_faults, emulator, host, routes_document, stack  # noqa: F401 - fixtures
from tests.e2e.test_e2e import finish, land_sample, user_function, wait_for_job
from tests.support.durable_host import run_async


@contextmanager
def child_runs(emulator, **spec):
    state = switches(emulator.emulator)
    before = (state.events, state.parent_outputs, state.children)
    state.update(spec)
    try:
        yield
    finally:
        state.events, state.parent_outputs, state.children = before


def grid_events(emulator, job, status: JobStatus, mode: str) -> list[dict]:
    """The RunStatusChanged events the emulator publishes for ``job`` reaching ``status``."""
    emu = emulator.emulator
    with child_runs(emulator, events=mode):
        return rewrite_event(emu, job, run_status_changed(job, status, emu.config.workspace))


def handle(host, settings, event: dict, lookup: ParentLookup) -> str:
    import azure.functions as func

    grid = func.EventGridEvent(id=event["id"], data=event["data"], topic=event["topic"], subject=event["subject"],
                               event_type=event["eventType"], event_time=None, data_version="2")
    client = DurableOrchestrationClient(host.client_binding())
    return run_async(handle_job_event(grid, client, ledger=RunLedger.from_settings(settings),
                                      store=JobEventStore.from_settings(settings), parents=lookup))


def events_route(stack) -> None:
    """Events drive the run: polling only every 600 s (orchestration time) as a fallback."""
    stack.configure(routes_document(stack.emulator, stack.azurite, stack.sink_container,
                                    poll={"events": True, "event_fallback_seconds": 600, "initial_seconds": 600,
                                          "max_seconds": 600}))


@pytest.mark.parametrize("named", ["child", "job"])
def test_completion_events_reach_the_run_whichever_run_id_they_name(stack, host, named):
    events_route(stack)
    run_id, _ = land_sample(stack, host)
    job = wait_for_job(stack, host, run_id, "Completed")
    settings = load_settings()
    lookup = ParentLookup(settings)
    before = EVENT_COUNTS["forwarded_child_run"]
    running, completed = (grid_events(stack.emulator, job, s, named) for s in (JobStatus.RUNNING,
                                                                            JobStatus.COMPLETED))
    assert running[0]["data"]["runId"] == (child_run_id(job) if named == "child" else job.name)

    expected = "forwarded_child_run" if named == "child" else "forwarded"
    assert handle(host, settings, running[0], lookup) == expected
    assert handle(host, settings, completed[0], lookup) == expected
    # one Run History look-up for the child, remembered for its next event; none for the job's own events
    assert lookup.calls == (1 if named == "child" else 0)
    store = JobEventStore.from_settings(settings)
    if named == "child":
        assert store.get(child_run_id(job))["parent_job"] == job.name
        assert EVENT_COUNTS["forwarded_child_run"] == before + 2
    summary = finish(host, run_id)
    assert summary["outcome"] == "Succeeded", summary
    assert summary["polls"] <= 2, summary   # the event ended the wait, not the 600 s fallback poll
    events = debug_view(host, run_id)["events"]   # the monitor's event counts: operator detail (?view=debug)
    assert events.get("named_child_run", 0) == (2 if named == "child" else 0), events
    assert events["received"] == 2, events


def debug_view(host, run_id: str) -> dict:
    req = func.HttpRequest("GET", f"http://localhost:7071/api/runs/{run_id}", params={"view": "debug"},
                           route_params={"run_id": run_id}, body=b"")
    response = run_async(user_function("get_run")(req=req, client=host.client_binding()))
    assert response.status_code == 200, response.get_body()
    return json.loads(response.get_body())


def test_an_event_of_a_run_no_route_knows_is_looked_up_once_and_parked(stack, host):
    events_route(stack)
    settings = load_settings()
    lookup = ParentLookup(settings)
    event = {"id": "e-1", "topic": stack.emulator.emulator.config.workspace.arm_id, "subject": "experiments/x/runs/r",
             "eventType": "Microsoft.MachineLearningServices.RunStatusChanged",
             "data": {"runId": "not-a-run-of-this-app", "runStatus": "Completed"}}
    assert handle(host, settings, event, lookup) == "unknown_job"
    assert handle(host, settings, {**event, "id": "e-2"}, lookup) == "unknown_job"
    assert lookup.calls == 1
    assert JobEventStore.from_settings(settings).get("not-a-run-of-this-app")["parent_job"] == ""


@pytest.mark.parametrize("switch, found_on", [
    ({}, "child_run"),                              # the SDK's way answers
    ({"parent_outputs": "omitted"}, "child_run"),   # only the child knows (the strictest service)
    ({"children": "absent"}, "parent_job"),         # no Run History children: the parent's outputs
])
def test_a_route_with_no_output_finds_its_outputs_as_the_sdk_does(stack, host, switch, found_on):
    document = routes_document(stack.emulator, stack.azurite, stack.sink_container)
    del document["routes"][0]["output"]
    stack.configure(document)
    with child_runs(stack.emulator, **switch):
        run_id, _ = land_sample(stack, host)
        summary = finish(host, run_id)
    assert summary["outcome"] == "Succeeded", summary
    job = stack.job(summary["job_name"])
    [delivered] = summary["outputs"]
    assert delivered["outputs_found_on"] == found_on, delivered
    if found_on == "child_run":
        assert delivered["child_run"] == child_run_id(job)
    lines = stack.sink_blob("predictions.csv").download_blob().readall().decode().splitlines()
    assert len(lines) == 80
    receipt = json.loads(stack.sink_blob("_RESULT.json").download_blob().readall())
    assert receipt["outputs_found_on"] == found_on
