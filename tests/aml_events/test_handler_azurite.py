"""The Azure ML event handler on Azurite (ledger + job event state) with the real Durable client.

The client talks to DurableTestHost's loopback RPC server; the run orchestration runs there for real, so a
forwarded event must reach the waiting orchestration.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import azure.functions as func
import pytest
from azure.durable_functions import DurableOrchestrationClient
from azure.storage.blob import BlobServiceClient

from shared.aml_events.events import RUN_COMPLETED, RUN_STATUS_CHANGED
from shared.aml_events.handler import EVENT_COUNTS, handle_job_event, take_early_job_events
from shared.aml_events.store import JobEventStore
from shared.config.models import PollPolicy
from shared.runs.ledger import RunLedger
from tests.runs.sim import START, FakeService, SimJob, make_host, run_input, timeline
from tests.support.durable_host import run_async

RUN = "route-a-run1"


@pytest.fixture
def storage(azurite):
    service = BlobServiceClient.from_connection_string(azurite.connection_string())
    container = service.get_container_client(f"state{uuid.uuid4().hex[:12]}")
    return RunLedger(container), JobEventStore(container)


@pytest.fixture
def running(app_functions):
    """A run orchestration waiting on its job (events policy: fallback in 900 s), submitted as job-1."""
    host, svc = make_host(app_functions, lambda clock: FakeService(clock, SimJob(timeline(3600))))
    host.start_server()
    host.start("run_orchestrator", run_input(PollPolicy(events=True), RUN), instance_id=RUN)
    host.run_until_idle(fire_timers=False)
    try:
        yield host, svc
    finally:
        host.close()


def grid_event(job: str, status: str | None, *, event_id: str | None = None, minutes: float = 0,
               event_type: str = RUN_STATUS_CHANGED) -> func.EventGridEvent:
    data = {"experimentId": "e1", "experimentName": "batch", "runId": job, "runType": "azureml.PipelineRun",
            "runTags": {}, "runProperties": {}}
    if status is not None:
        data["runStatus"] = status
    return func.EventGridEvent(id=event_id or uuid.uuid4().hex, data=data, topic="/subscriptions/s/workspaces/w",
                               subject=f"experiments/e1/runs/{job}", event_type=event_type,
                               event_time=START + timedelta(minutes=minutes), data_version="2")


def handle(host, storage, event) -> str:
    ledger, store = storage
    client = DurableOrchestrationClient(host.client_binding())
    return run_async(handle_job_event(event, client, ledger=ledger, store=store))


def job_status_events(host) -> int:
    from tests.support.history import ET

    return host.count(RUN, ET.EVENT_RAISED, name="job_status")


def test_event_for_an_unknown_job_is_parked_and_counted(running, storage):
    host, _ = running
    before = EVENT_COUNTS["unknown_job"]
    assert handle(host, storage, grid_event("someone-elses-job", "Completed")) == "unknown_job"
    assert EVENT_COUNTS["unknown_job"] == before + 1
    assert job_status_events(host) == 0
    assert storage[1].get("someone-elses-job")["parked"][0]["status"] == "Completed"


def test_forwarded_event_reaches_the_orchestration_and_it_completes(running, storage):
    host, svc = running
    storage[0].index_job("job-1", RUN)
    host.clock.advance(timedelta(seconds=3601))
    assert handle(host, storage, grid_event("job-1", "Completed", minutes=60)) == "forwarded"
    host.run_until_idle(fire_timers=False)
    status = host.status(RUN)
    assert status["runtimeStatus"] == "Completed" and status["output"]["outcome"] == "Succeeded"
    assert len(svc.status_calls) == 1                         # the one confirming call


def test_duplicate_event_is_forwarded_once(running, storage):
    host, _ = running
    storage[0].index_job("job-1", RUN)
    event = grid_event("job-1", "Running", event_id="same-id", minutes=1)
    assert handle(host, storage, event) == "forwarded"
    assert handle(host, storage, event) == "duplicate"                                    # redelivery
    assert handle(host, storage, grid_event("job-1", "Running", minutes=2)) == "duplicate"  # same status
    host.run_until_idle(fire_timers=False)
    assert job_status_events(host) == 1


def test_out_of_order_and_after_terminal_events_are_ignored(running, storage):
    host, _ = running
    storage[0].index_job("job-1", RUN)
    assert handle(host, storage, grid_event("job-1", "Finalizing", minutes=30)) == "forwarded"
    assert handle(host, storage, grid_event("job-1", "Running", minutes=2)) == "out_of_order"
    assert handle(host, storage, grid_event("job-1", "Completed", event_type=RUN_COMPLETED, minutes=31)) == "forwarded"
    assert handle(host, storage, grid_event("job-1", "Finalizing", minutes=32)) == "after_terminal"


def test_not_a_run_event_and_malformed_are_counted(running, storage):
    host, _ = running
    other = func.EventGridEvent(id="x", data={"runId": "job-1"}, topic="t", subject="s",
                                event_type="Microsoft.MachineLearningServices.ModelRegistered",
                                event_time=START, data_version="2")
    assert handle(host, storage, other) == "not_a_run_event"
    assert handle(host, storage, grid_event("job-1", "Sleeping")) == "malformed"


def test_event_before_submit_recorded_the_job_is_not_lost(running, storage):
    """The event reaches the handler before ``jobs/job-1`` exists: it is parked; after submit recorded the
    job, the run's take_early_job_events activity hands it to the orchestration."""
    host, svc = running
    ledger, store = storage
    assert handle(host, storage, grid_event("job-1", "Completed", event_id="early")) == "unknown_job"
    ledger.index_job("job-1", RUN)                                        # the submit activity's write
    taken = take_early_job_events({"job_name": "job-1", "run_id": RUN}, store=store)
    assert [e["event_id"] for e in taken["events"]] == ["early"]
    assert take_early_job_events({"job_name": "job-1", "run_id": RUN}, store=store) == {"events": []}
    # and the orchestration acts on such a payload: confirm with one status call, then finish
    host.clock.advance(timedelta(seconds=3601))
    host.raise_event(RUN, "job_status", taken["events"][0])
    host.run_until_idle(fire_timers=False)
    assert host.status(RUN)["output"]["outcome"] == "Succeeded"


def test_park_then_mapping_appears_forwards_on_second_look(running, storage):
    """The race's other order: the handler parks, the submit activity writes the mapping, the handler's
    second read of the ledger finds it and forwards the event itself."""
    host, _ = running
    ledger, store = storage

    class LateLedger:
        reads = 0

        def run_for_job(self, job):
            LateLedger.reads += 1
            if LateLedger.reads == 1:
                return None                           # first read: submit has not recorded the job yet
            ledger.index_job("job-1", RUN)
            return ledger.run_for_job(job)

    client = DurableOrchestrationClient(host.client_binding())
    outcome = run_async(handle_job_event(grid_event("job-1", "Running", minutes=1), client,
                                         ledger=LateLedger(), store=store))
    assert outcome == "forwarded"
    host.run_until_idle(fire_timers=False)
    assert job_status_events(host) == 1


def test_event_for_a_finished_run_is_counted(running, storage):
    host, _ = running
    storage[0].index_job("job-1", RUN)
    host.terminate(RUN, "test")
    assert handle(host, storage, grid_event("job-1", "Completed")) == "run_not_running"


@pytest.mark.parametrize("schema", ["eventgrid", "cloudevents"])
def test_a_traversing_run_id_never_reaches_another_run_or_another_blob(running, storage, schema):
    """``runId`` ``../runs/<run>.json`` once read the run's own ledger record as a job index entry (it holds a
    ``run_id``) and raised ``job_status`` on that run, and its parked state was written outside job-events/."""
    from tools.events import run_status_changed_event, to_cloud_event

    host, _ = running
    ledger, store = storage
    ledger.claim(RUN, {"route": "route-a"})                       # runs/route-a-run1.json holds "run_id"
    ledger.index_job("job-1", RUN)
    before = sorted(b.name for b in ledger._container.list_blobs())
    for run_id in ("../runs/route-a-run1.json", "..%2fruns%2froute-a-run1.json", "job-1/../../runs/route-a-run1.json"):
        event = run_status_changed_event(run_id, "Completed")
        event = to_cloud_event(event) if schema == "cloudevents" else event
        assert handle(host, storage, event) == "unsafe_name"
    host.run_until_idle(fire_timers=False)
    assert job_status_events(host) == 0
    assert sorted(b.name for b in ledger._container.list_blobs()) == before
