"""Fixtures of the run-orchestration tests."""

import pytest

from tests.runs.sim import FakeService, SimJob, make_host


@pytest.fixture
def sim(app_functions):
    """``sim(job, **service) -> (host, service)``: the real orchestrator on a simulated clock against a scripted
    batch endpoint (tests/runs/sim.py); every host made is closed after the test."""
    hosts = []

    def make(job: SimJob, **service):
        host, svc = make_host(app_functions, lambda clock: FakeService(clock, job, **service))
        hosts.append(host)
        return host, svc

    yield make
    for host in hosts:
        host.close()
