"""The whole flow on real parts: data lands in Azurite, Event Grid's BlobCreated events reach the real
``on_blob_created`` function, the run's orchestration runs through the real Durable replay engine with its
real activities calling the batch-endpoint emulator (which runs the sample's scoring script) and Azurite,
and the predictions arrive in the sink.

The only stand-ins are the emulator's fault knobs (a failing job, a hanging job, throttling).
Run with ``-s`` to see the measured marker → sink wall time (also recorded as a junit property).
"""
from __future__ import annotations

import json
import time

import azure.functions as func

from samples.heart.model import expected_lines, load_model, sample_files
from tests.app_index import user_function
from tests.support.durable_host import run_async
from tools.events import blob_created_event

from .conftest import LANDING_CONTAINER, STATE_SECONDS, shipped_local_document

RUN_TIMEOUT_S = 60.0
MODEL = load_model()


# --- helpers ---------------------------------------------------------------------------------------------

def event_grid_event(landed: dict) -> func.EventGridEvent:
    """The ``Microsoft.Storage.BlobCreated`` event as the Functions worker hands it to the trigger."""
    raw = blob_created_event(landed["url"], landed["etag"], content_length=landed["content_length"])
    return func.EventGridEvent(id=raw["id"], data=raw["data"], topic=raw["topic"], subject=raw["subject"],
                               event_type=raw["eventType"], event_time=raw["eventTime"],
                               data_version=raw["dataVersion"])


def deliver(host, landed: dict) -> None:
    """Event Grid → the real on_blob_created function, with the durable client binding of the test host."""
    run_async(user_function("on_blob_created")(event=event_grid_event(landed), client=host.client_binding()))


def http(name: str, host, method: str, url: str, *, body=None, route_params=None) -> func.HttpResponse:
    raw = json.dumps(body).encode() if body is not None else b""
    req = func.HttpRequest(method, url, headers={"Content-Type": "application/json"}, params={},
                           route_params=route_params or {}, body=raw)
    return run_async(user_function(name)(req=req, client=host.client_binding()))


def land_sample(stack, host) -> tuple[str, float]:
    """Upload the sample CSVs and the marker, deliver every BlobCreated event (data first, as Event Grid
    mostly does); returns (run_id, monotonic time the marker landed)."""
    before = set(host.instance_ids())
    for landed in stack.upload_sample(sample_files()):
        deliver(host, landed)
    assert set(host.instance_ids()) == before, "a data file must not start a run in marker mode"
    marker = stack.upload("_SUCCESS", b"")
    marker_landed = time.monotonic()
    deliver(host, marker)
    started = set(host.instance_ids()) - before
    assert len(started) == 1, f"the marker must start exactly one run, got {started}"
    return started.pop(), marker_landed


def expected_predictions() -> list[str]:
    lines = []
    for path in sample_files():
        lines.extend(expected_lines(path.name, path.read_text(encoding="utf-8"), MODEL))
    return lines


def wait_for_job(stack, host, run_id: str, status: str, timeout_s: float = 20.0):
    """Drive the host until the run's emulator job is in ``status``; returns the emulator job."""
    def reached(h):
        name = ((h.status(run_id) or {}).get("customStatus") or {}).get("job_name")
        job = stack.job(name) if name else None
        return job is not None and job.status.value == status
    host.run_until(reached, timeout_s=timeout_s)
    return stack.job(host.status(run_id)["customStatus"]["job_name"])


def run_view(host, run_id: str) -> dict:
    response = http("get_run", host, "GET", f"http://localhost:7071/api/runs/{run_id}",
                    route_params={"run_id": run_id})
    assert response.status_code == 200, response.get_body()
    return json.loads(response.get_body())


def finish(host, run_id: str) -> dict:
    status = host.run_until_complete(run_id, timeout_s=RUN_TIMEOUT_S)
    assert status["runtimeStatus"] == "Completed", f"{status['runtimeStatus']}: {status['output']}"
    return status["output"]


def statuses(job) -> list[str]:
    return [s for s, _ in job.history]


# --- the sample, end to end ------------------------------------------------------------------------------

def test_landed_sample_folder_is_scored_and_predictions_reach_the_sink(stack, host, record_property):
    run_id, marker_landed = land_sample(stack, host)

    # "predictions in sink": the moment the delivered file exists in the sink account
    predictions = stack.sink_blob("predictions.csv")
    host.run_until(lambda h: predictions.exists(), timeout_s=RUN_TIMEOUT_S)
    in_sink = time.monotonic()
    wall = in_sink - marker_landed
    record_property("marker_to_sink_seconds", round(wall, 3))
    print(f"\n[e2e] marker landed -> predictions in sink: {wall:.2f} s wall time "
          f"(emulator {STATE_SECONDS} s per state, durable timers x{host.clock.speed:g})")

    summary = finish(host, run_id)
    assert summary["outcome"] == "Succeeded", summary
    job = stack.job(summary["job_name"])
    assert job.status.value == "Completed"
    assert statuses(job)[:6] == ["NotStarted", "Queued", "Preparing", "Running", "Finalizing", "Completed"]

    # the job scored the landed folder (blob URL input), not anything else
    assert json.loads(host.status(run_id)["input"])["run"]["input"]["url"] == \
        f"{stack.azurite.default.blob_url}/{LANDING_CONTAINER}/{stack.folder}/"

    # row count and content: the model applied to the inputs, one line per data row
    text = predictions.download_blob().readall().decode("utf-8")
    lines = text.splitlines()
    expected = expected_predictions()
    assert len(lines) == len(expected) == 80
    assert sorted(lines) == sorted(expected)
    by_file = {}
    for line in lines:
        name, row, prediction, probability = line.split(" ")
        by_file.setdefault(name, []).append(int(row))
        assert prediction in ("0", "1") and 0.0 <= float(probability) <= 1.0
    assert {n: sorted(r) for n, r in by_file.items()} == {p.name: list(range(20)) for p in sample_files()}

    # the job's own output stays where the route put it, and the sink has the receipt
    assert "_RESULT.json" in {n.rsplit("/", 1)[-1] for n in stack.sink_names()}
    view = run_view(host, run_id)
    assert view["status"] == "Succeeded" and view["job_status"] == "Completed"
    assert view["job_name"] == summary["job_name"]
    assert (stack.ledger(run_id) or {}).get("job_name") == summary["job_name"]

    # a redelivered marker event (Event Grid is at-least-once) starts nothing new
    marker_props = stack.landing.get_blob_client(LANDING_CONTAINER, f"{stack.folder}/_SUCCESS").get_blob_properties()
    deliver(host, {"url": stack.blob_url("_SUCCESS"), "etag": marker_props.etag, "content_length": 0})
    assert host.instance_ids() == [run_id]


def test_a_run_started_over_http_reaches_the_sink(stack, host):
    stack.upload_sample(sample_files())
    stack.upload("_SUCCESS", b"")
    response = http("start_run", host, "POST", "http://localhost:7071/api/runs",
                    body={"route": "heart", "path": f"{stack.folder}/"})
    assert response.status_code == 202, response.get_body()
    run_id = json.loads(response.get_body())["run_id"]
    assert response.headers["Location"].endswith(f"/api/runs/{run_id}?async=true")  # async request-reply

    summary = finish(host, run_id)
    assert summary["outcome"] == "Succeeded", summary
    lines = stack.sink_blob("predictions.csv").download_blob().readall().decode().splitlines()
    assert sorted(lines) == sorted(expected_predictions())


def test_the_shipped_local_routes_document_runs_end_to_end(stack, host):
    """config/routes.local.json (what scripts/dev.sh runs) on the test stack: its poll, overrides, landing,
    output and sink sections as shipped; only ports and the landing/datastore containers differ."""
    from azure.core.exceptions import ResourceExistsError

    document = shipped_local_document(stack.emulator, stack.azurite)
    stack.configure(document)
    health = user_function("health")(req=func.HttpRequest("GET", "http://localhost:7071/api/health", body=b""))
    assert health.status_code == 200, health.get_body()
    scores = stack.landing.get_container_client("scores")          # the shipped sink: devstoreaccount1/scores
    try:
        scores.create_container()
    except ResourceExistsError:
        pass
    run_id, _ = land_sample(stack, host)

    summary = finish(host, run_id)
    assert summary["outcome"] == "Succeeded", summary
    [delivered] = summary["outputs"]
    assert delivered["receipt"].startswith(f"{stack.azurite.default.blob_url}/scores/{stack.folder}/")
    data = scores.get_blob_client(f"{stack.folder}/predictions.csv").download_blob().readall()
    assert sorted(data.decode().splitlines()) == sorted(expected_predictions())


# --- what goes wrong, end to end ---------------------------------------------------------------------------

def test_a_failing_job_ends_the_run_failed_and_delivers_nothing(stack, host):
    stack.emulator.emulator.faults.apply({"jobs": [{"effect": "fail", "message": "Injected: node lost"}]})
    run_id, _ = land_sample(stack, host)

    summary = finish(host, run_id)
    assert summary["outcome"] == "Failed", summary
    assert "Injected: node lost" in (summary.get("error") or ""), summary
    job = stack.job(summary["job_name"])
    assert job.status.value == "Failed"
    assert stack.sink_names() == []
    view = run_view(host, run_id)
    assert view["status"] == "Failed" and view["job_status"] == "Failed"


def test_cancel_over_http_cancels_the_running_job(stack, host):
    stack.emulator.emulator.faults.apply({"jobs": [{"effect": "hang"}]})
    run_id, _ = land_sample(stack, host)
    job = wait_for_job(stack, host, run_id, "Running")

    response = http("cancel_run", host, "POST", f"http://localhost:7071/api/runs/{run_id}/cancel",
                    body={"reason": "wrong input"}, route_params={"run_id": run_id})
    assert response.status_code == 202, response.get_body()
    assert json.loads(response.get_body())["cancel_requested"] is True

    summary = finish(host, run_id)
    assert summary["outcome"] == "Canceled", summary
    assert "wrong input" in (summary.get("error") or "")
    assert job.status.value == "Canceled"
    assert "CancelRequested" in statuses(job)
    assert stack.sink_names() == []
    again = http("cancel_run", host, "POST", f"http://localhost:7071/api/runs/{run_id}/cancel",
                 route_params={"run_id": run_id})
    assert again.status_code == 409


def test_a_throttling_endpoint_is_retried_and_the_run_succeeds(stack, host):
    faults = stack.emulator.emulator.faults
    faults.apply({"http": [{"target": "submit", "status": 429, "count": 2, "retry_after": 1},
                           {"target": "status", "status": 429, "count": 2, "retry_after": 1}]})
    run_id, _ = land_sample(stack, host)

    summary = finish(host, run_id)
    assert summary["outcome"] == "Succeeded", summary
    assert faults.to_json()["http"] == [], "every injected 429 was served"
    # one job only: the throttled submit was retried, not resubmitted as a second job
    assert sum(1 for c in host.activity_calls if c["name"] == "submit_job") == 1
    assert len([j for j in stack.emulator.emulator.store.list() if j.name == summary["job_name"]]) == 1
    lines = stack.sink_blob("predictions.csv").download_blob().readall().decode().splitlines()
    assert sorted(lines) == sorted(expected_predictions())


def test_a_job_still_running_at_the_deadline_is_cancelled_and_the_run_times_out(stack, host):
    stack.configure(poll={"deadline_hours": 0.002})  # 7.2 s of orchestration time, 1.4 s of wall time
    stack.emulator.emulator.faults.apply({"jobs": [{"effect": "hang"}]})
    run_id, _ = land_sample(stack, host)

    summary = finish(host, run_id)
    assert summary["outcome"] == "TimedOut", summary
    job = stack.job(summary["job_name"])
    assert job.status.value == "Canceled", statuses(job)
    assert "Running" in statuses(job)
    assert stack.sink_names() == []
    assert run_view(host, run_id)["status"] == "TimedOut"

