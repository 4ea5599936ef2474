"""Issue 9 item 4: a run that ended without knowing how its job ended is not a dead end.

``POST /api/runs/{id}/redeliver`` reads the job's status again (one status call) instead of refusing:
Completed → delivery, still running → the run watches it again, unreadable → 503. The run orchestration,
the SDK client and the replay engine are real (DurableTestHost serving the extension's HTTP API).
"""

from __future__ import annotations

import json

import azure.functions as func
import pytest
from azure.durable_functions import DurableOrchestrationClient

from shared.config.models import PollPolicy
from shared.http_api.redeliver import redeliver
from tests.runs.sim import FakeService, SimJob, drive, make_host, run_input, timeline
from tests.support.durable_host import run_async

RUN = "route-a-run1"
HOURS = 3600.0


@pytest.fixture
def ended_in_an_outage(app_functions):
    """A run whose job kept running through a 6 h status outage; at the deadline the cancel failed too."""
    host, svc = make_host(app_functions, lambda clock: FakeService(clock, SimJob(timeline(10 * HOURS)),
                                                                    status_errors=10 ** 6))
    host.start_server()
    host.activities["cancel_job"] = lambda payload: {"error": "404 workspace 'ws' not found"}
    host.start("run_orchestrator", run_input(PollPolicy(duration_aware=False, deadline_hours=6), RUN),
               instance_id=RUN)
    out = drive(host, RUN)["output"]
    assert out["outcome"] == "TimedOut" and "may still be running" in out["error"]
    assert "cancelling job job-1 failed" in out["error"] and "workspace" in out["error"]
    yield host, svc
    host.close()


def post_redeliver(host, read_status):
    req = func.HttpRequest("POST", f"http://localhost:7071/api/runs/{RUN}/redeliver", body=b"",
                           route_params={"run_id": RUN})
    client = DurableOrchestrationClient(host.client_binding())
    response = run_async(redeliver(req, client, read_status=read_status))
    return response.status_code, json.loads(response.get_body())


def test_redeliver_rechecks_a_job_still_running_and_the_run_watches_it_to_the_end(ended_in_an_outage):
    host, svc = ended_in_an_outage
    svc.status_errors = 0                                       # the outage is over; the job runs on
    code, body = post_redeliver(host, svc.get_job_status)
    assert code == 202 and body["resumes"] == "monitoring" and body["job_status"] == "Running"
    status = drive(host, RUN)
    assert status["output"]["outcome"] == "Succeeded" and "plan_delivery" in svc.calls
    assert svc.calls.count("submit_job") == 1 and status["customStatus"]["redeliveries"] == 1
    assert svc.detected_at is not None and svc.detected_at >= 10 * HOURS


def test_redeliver_rechecks_a_job_that_completed_meanwhile_and_delivers(ended_in_an_outage):
    host, svc = ended_in_an_outage
    svc.status_errors = 0
    svc.job = SimJob([(0, "Running"), (1 * HOURS, "Completed")])       # it ended during the outage
    code, body = post_redeliver(host, svc.get_job_status)
    assert code == 202 and body["resumes"] == "delivery"
    status = drive(host, RUN)
    assert status["output"]["outcome"] == "Succeeded" and "plan_delivery" in svc.calls
    assert svc.calls.count("submit_job") == 1


def test_redeliver_answers_503_while_the_status_is_still_unreadable(ended_in_an_outage):
    host, svc = ended_in_an_outage
    code, body = post_redeliver(host, svc.get_job_status)
    assert code == 503 and "job-1" in body["error"] and "503" in body["error"]
    assert host.status(RUN)["runtimeStatus"] == "Completed"     # not restarted


def test_redeliver_answers_409_when_the_recheck_says_the_job_failed(ended_in_an_outage):
    host, svc = ended_in_an_outage
    svc.status_errors = 0
    svc.job = SimJob([(0, "Running"), (1 * HOURS, "Failed")])
    code, body = post_redeliver(host, svc.get_job_status)
    assert code == 409 and "Failed" in body["error"]


def test_a_crashing_status_call_is_a_503_without_secrets(ended_in_an_outage):
    host, _ = ended_in_an_outage

    def crash(payload):
        raise ConnectionError("https://x.blob.core.windows.net/c?sig=SECRETSIG&se=2030 unreachable")

    code, body = post_redeliver(host, crash)
    assert code == 503 and "SECRETSIG" not in json.dumps(body)
