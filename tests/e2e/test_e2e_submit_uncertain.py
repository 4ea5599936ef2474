"""Issue 16 case 2 end to end: a lost submit answer on the strictest service (client job names ignored, tags
and properties dropped) where the app has nothing to search for the attempt's job never makes a second job.

The run waits, visibly, in ``SubmitUncertain``; the sweep looks again and, finding nothing it can recognise,
leaves it waiting for an operator; ``POST /api/runs/{id}/confirm-job`` hands it the job, ``.../resubmit``
posts exactly once more. Real parts: Azurite, the emulator, the Durable replay engine, the app's functions.
"""
from __future__ import annotations

import json
from collections import Counter
from typing import Iterator

import pytest
from azure.durable_functions import DurableOrchestrationClient

from shared.config import load_settings
from shared.reconcile.sweep import resolve_uncertain_submits
from shared.runs.ledger import RunLedger
from shared.runs.models import SUBMIT_UNCERTAIN
from tests.support.durable_host import run_async

from .test_e2e import expected_predictions, finish, http, land_sample

LOST = {"target": "submit", "when": "after", "effect": "drop"}  # the job is created, its answer lost


@pytest.fixture(autouse=True)
def _strict(emulator) -> Iterator[None]:
    emulator.emulator.behaviour = emulator.emulator.behaviour.updated({"job_names": "ignore", "job_labels": "drop"})
    yield
    emulator.emulator.behaviour = emulator.config.behaviour


def uncertain(host, run_id: str) -> dict:
    host.run_until(lambda h: ((h.status(run_id) or {}).get("customStatus") or {}).get("phase") == SUBMIT_UNCERTAIN,
                   timeout_s=30)
    return host.status(run_id)["customStatus"]


def sweep_uncertain(host) -> Counter:
    counts: Counter = Counter()
    client = DurableOrchestrationClient(host.client_binding())
    run_async(resolve_uncertain_submits(client, RunLedger.from_settings(load_settings()), counts))
    return counts


def post(host, name: str, run_id: str, action: str, body=None):
    response = http(name, host, "POST", f"http://localhost:7071/api/runs/{run_id}/{action}", body=body,
                    route_params={"run_id": run_id})
    return response.status_code, json.loads(response.get_body() or b"{}"), response.headers


def delivered(stack) -> list[str]:
    return sorted(stack.sink_blob("predictions.csv").download_blob().readall().decode().splitlines())


def no_list(reads: int) -> dict:
    """The data plane serves no job list (UNCONFIRMED on Azure): the first ``reads`` GETs (each look-up is a
    GET by name, which names-ignored makes a 404 anyway, and a list call) answer 404."""
    return {"target": "status", "status": 404, "count": reads}


def test_no_workspace_and_a_lost_answer_makes_one_job_and_waits_until_an_operator_confirms_it(stack, host):
    stack.configure(endpoint={"workspace": None})
    # look-ups: before the POST, twice after its lost answer, and the sweep's: 4 × (GET by name + list)
    stack.emulator.emulator.faults.apply({"http": [LOST, no_list(8)]})
    before = stack.job_names()
    run_id, _ = land_sample(stack, host)
    custom = uncertain(host, run_id)
    [job] = stack.jobs_since(before)  # the lost POST made it; nothing posted again
    assert custom["uncertain"]["attempt"] == 1 and "not posted again" in custom["uncertain"]["reason"]
    assert sum(1 for c in host.activity_calls if c["name"] == "submit_job") == 1
    # the sweep looks again, finds nothing it can recognise, and leaves the run waiting (never lost)
    assert sweep_uncertain(host)["submit_uncertain"] == 1
    assert host.status(run_id)["customStatus"]["phase"] == SUBMIT_UNCERTAIN
    # bad input is refused, naming the field; nothing reaches the run
    code, problem, _ = post(host, "confirm_run_job", run_id, "confirm-job", {"job_name": "../x"})
    assert code == 400 and problem.get("field") == "job_name", problem
    code, problem, _ = post(host, "confirm_run_job", run_id, "confirm-job", {"job_name": job.name, "extra": 1})
    assert code == 400, problem
    code, accepted, headers = post(host, "confirm_run_job", run_id, "confirm-job", {"job_name": job.name})
    assert code == 202 and accepted["confirmed_job"] == job.name and headers["Location"], accepted
    summary = finish(host, run_id)
    assert summary["outcome"] == "Succeeded" and summary["job_name"] == job.name, summary
    assert len(stack.jobs_since(before)) == 1
    assert delivered(stack) == sorted(expected_predictions())
    # the run no longer waits: a second confirm is refused, and the sweep drops its index entry
    assert post(host, "confirm_run_job", run_id, "confirm-job", {"job_name": job.name})[0] == 409
    assert sweep_uncertain(host)["uncertain_settled"] == 1


def test_the_sweep_hands_the_run_its_job_where_it_can_look_again(stack, host):
    """No workspace, and the data plane's list unavailable while the submit looked: the run waits. When the
    sweep looks, the list answers and holds the attempt's output path: the run gets its job, and finishes."""
    stack.configure(endpoint={"workspace": None})
    # a data plane that serves a job list (UNCONFIRMED on Azure; the strict profile serves none), down for a while
    emulator = stack.emulator.emulator
    emulator.behaviour = emulator.behaviour.updated({"data_plane_list": "serve"})
    stack.emulator.emulator.faults.apply({"http": [LOST, no_list(6)]})
    before = stack.job_names()
    run_id, _ = land_sample(stack, host)
    uncertain(host, run_id)
    [job] = stack.jobs_since(before)
    assert sweep_uncertain(host)["uncertain_resolved"] == 1
    summary = finish(host, run_id)
    assert summary["outcome"] == "Succeeded" and summary["job_name"] == job.name, summary
    assert len(stack.jobs_since(before)) == 1
    assert delivered(stack) == sorted(expected_predictions())


def test_a_resubmit_posts_exactly_one_more_job(stack, host):
    """The POST failed with a 503 that created nothing (the app cannot know): the operator checked the
    workspace and asks for a resubmit; the run posts once more, as attempt 2."""
    stack.configure(endpoint={"workspace": None})
    stack.emulator.emulator.faults.apply({"http": [{"target": "submit", "status": 503, "count": 1}]})
    before = stack.job_names()
    run_id, _ = land_sample(stack, host)
    uncertain(host, run_id)
    assert stack.jobs_since(before) == []
    code, accepted, _ = post(host, "resubmit_run", run_id, "resubmit")
    assert code == 202 and accepted["attempt"] == 2, accepted
    summary = finish(host, run_id)
    assert summary["outcome"] == "Succeeded", summary
    assert len(stack.jobs_since(before)) == 1
    assert sum(1 for c in host.activity_calls if c["name"] == "submit_job") == 2
    assert delivered(stack) == sorted(expected_predictions())


def test_a_route_with_no_output_of_its_own_makes_one_job_even_with_a_workspace(stack, host):
    stack.configure(output=None)
    stack.emulator.emulator.faults.apply({"http": [LOST]})
    before = stack.job_names()
    run_id, _ = land_sample(stack, host)
    uncertain(host, run_id)
    [job] = stack.jobs_since(before)
    assert sweep_uncertain(host)["submit_uncertain"] == 1  # its job list holds nothing of the attempt's own
    assert post(host, "confirm_run_job", run_id, "confirm-job", {"job_name": job.name})[0] == 202
    summary = finish(host, run_id)
    assert summary["outcome"] == "Succeeded" and summary["job_name"] == job.name, summary
    assert len(stack.jobs_since(before)) == 1


def test_a_submit_activity_run_twice_adopts_the_job_its_first_call_recorded(stack, host):
    """Nothing to search (no workspace, no list) and the worker died after the POST: the activity runs again.
    The first call recorded its job in the ledger (the write-ahead mark), so the second adopts it: one job."""
    stack.configure(endpoint={"workspace": None})
    stack.emulator.emulator.faults.apply({"http": [no_list(2)]})  # the first call's look: GET by name + list
    real = host.activities["submit_job"]
    results = []

    def redelivered(payload):
        results.append(real(payload))
        results.append(real(payload))
        return results[-1]

    host.activities["submit_job"] = redelivered
    before = stack.job_names()
    run_id, _ = land_sample(stack, host)
    summary = finish(host, run_id)
    assert results[1].get("adopted") is True and results[1].get("found_by") == "ledger", results
    assert results[0]["job_name"] == results[1]["job_name"] == summary["job_name"]
    assert len(stack.jobs_since(before)) == 1 and summary["outcome"] == "Succeeded", summary
