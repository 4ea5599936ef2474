"""Hostile external events raised on a run's orchestration (``job_status`` from the Azure ML event handler,
``cancel`` from the API): the monitor counts or ignores them, never crashes, never stores a secret, and keeps
what it stores bounded. Real run orchestration on the real replay engine (simulated clock)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from shared.config.models import PollPolicy
from shared.runs.models import CANCEL_EVENT, JOB_STATUS_EVENT
from tests.runs.sim import START, FakeService, SimJob, drive, event_payload, make_host, run_input, timeline

RUN = "route-a-run1"
SAS = "sv=2024-05-04&sig=AbCdSECRETSIGNATURE0123456789%3D"
AT = START + timedelta(seconds=30)

HOSTILE_JOB_EVENTS = [
    ("not_json_text", "{not json", "malformed"),
    ("json_list", [1, 2, 3], "malformed"),
    ("status_not_a_string", {"job_name": "job-1", "status": {"$gt": ""}, "event_id": "e1"}, "malformed"),
    ("unknown_status", {"job_name": "job-1", "status": "Exploded", "event_id": "e2"}, "received"),
    ("huge_event_id", {"job_name": "job-1", "status": "Running", "event_id": "x" * 100_000}, "received"),
    ("other_job_claims_the_end", {"job_name": "job-evil", "status": "Completed", "event_id": "e3"}, "other_job"),
    ("secret_in_fields", {"job_name": "job-1", "status": "Running", "event_id": f"https://a/b?{SAS}",
                          "event_time": SAS}, "received"),
]


@pytest.fixture
def sim(app_functions):
    hosts = []

    def make(job):
        host, svc = make_host(app_functions, lambda clock: FakeService(clock, job))
        hosts.append(host)
        return host, svc

    yield make
    for host in hosts:
        host.close()


@pytest.mark.parametrize("name,value,counted", HOSTILE_JOB_EVENTS, ids=[c[0] for c in HOSTILE_JOB_EVENTS])
def test_hostile_job_status_events(catalogue, sim, name, value, counted):
    with catalogue.case("orchestrator.job_status", name, secrets=["AbCdSECRETSIGNATURE"]) as c:
        host, svc = sim(SimJob(timeline(120)))
        host.start("run_orchestrator", run_input(PollPolicy(duration_aware=False), RUN), instance_id=RUN)
        status = drive(host, RUN, [(AT, JOB_STATUS_EVENT, value)])
        c.check(status["output"]["outcome"] == "Succeeded", f"outcome {status['output']['outcome']}")
        c.check(status["customStatus"]["events"].get(counted) == 1, f"events {status['customStatus']['events']}")
        stored = json.dumps(status["customStatus"])
        c.check(len(stored) < 8_000, f"custom status is {len(stored)} characters")
        c.no_secret_in(stored, json.dumps(status["output"]))


HOSTILE_CANCELS = [
    ("cancel_reason_with_sas", {"reason": f"see https://acct.blob.core.windows.net/c/x?{SAS}"}),
    ("cancel_reason_huge", {"reason": "r" * 100_000}),
    ("cancel_not_json", "{{{"),
    ("cancel_null", None),
]


@pytest.mark.parametrize("name,value", HOSTILE_CANCELS, ids=[c[0] for c in HOSTILE_CANCELS])
def test_hostile_cancel_events(catalogue, sim, name, value):
    with catalogue.case("orchestrator.cancel", name, secrets=["AbCdSECRETSIGNATURE"]) as c:
        host, svc = sim(SimJob(timeline(3600)))
        host.start("run_orchestrator", run_input(PollPolicy(duration_aware=False), RUN), instance_id=RUN)
        status = drive(host, RUN, [(AT, CANCEL_EVENT, value)])
        c.check(status["output"]["outcome"] == "Canceled", f"outcome {status['output']['outcome']}")
        c.check(svc.cancelled_at == pytest.approx(30.0), "the job was not cancelled at once")
        c.check(len(status["output"]["error"] or "") <= 500, "the reason is not bounded")
        c.no_secret_in(json.dumps(status["customStatus"]), json.dumps(status["output"]))
