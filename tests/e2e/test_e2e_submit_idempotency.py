"""Issue 9 item 1 end to end: a landed folder gets exactly one batch job and its predictions, although the
submit activity runs twice (Case A), the answer to its POST is lost after the job was created (Case B),
or a duplicate slipped through and fails on the existing output path.

Real parts throughout (Azurite, the emulator, the Durable replay engine, the app's activities); the
stand-ins are the emulator's knobs and, for Case A, running the real activity twice as a redelivery does.
"""
from __future__ import annotations

from typing import Iterator

import pytest

from .test_e2e import expected_predictions, finish, land_sample


@pytest.fixture(autouse=True)
def _reset_behaviour(emulator) -> Iterator[None]:
    yield
    emulator.emulator.behaviour = emulator.config.behaviour


def behave(stack, **spec) -> None:
    stack.emulator.emulator.behaviour = stack.emulator.emulator.behaviour.updated(spec)


def assert_delivered_once(stack, summary: dict, jobs: list) -> None:
    assert summary["outcome"] == "Succeeded", summary
    lines = stack.sink_blob("predictions.csv").download_blob().readall().decode().splitlines()
    assert sorted(lines) == sorted(expected_predictions())
    assert summary["job_name"] in {j.name for j in jobs}


@pytest.mark.parametrize("names", ["honour", "ignore"])
def test_case_a_submit_running_twice_makes_one_job(stack, host, names):
    behave(stack, job_names=names)
    real = host.activities["submit_job"]
    results = []

    def redelivered(payload):
        results.append(real(payload))      # the POST went through; the worker died before checkpointing
        results.append(real(payload))      # the host delivers the activity again
        return results[-1]

    host.activities["submit_job"] = redelivered
    before = stack.job_names()
    run_id, _ = land_sample(stack, host)
    summary = finish(host, run_id)
    jobs = stack.jobs_since(before)
    assert len(jobs) == 1, [j.name for j in jobs]
    assert results[1]["adopted"] is True and results[0]["job_name"] == results[1]["job_name"]
    assert_delivered_once(stack, summary, jobs)


@pytest.mark.parametrize("names, labels", [("honour", "keep"), ("ignore", "keep"), ("ignore", "drop")])
@pytest.mark.parametrize("lost", [{"effect": "drop"}, {"status": 503}])
def test_case_b_a_lost_answer_to_the_post_makes_one_job(stack, host, names, labels, lost):
    behave(stack, job_names=names, job_labels=labels)
    stack.emulator.emulator.faults.apply({"http": [{"target": "submit", "when": "after", **lost}]})
    before = stack.job_names()
    run_id, _ = land_sample(stack, host)
    summary = finish(host, run_id)
    jobs = stack.jobs_since(before)
    assert len(jobs) == 1, [j.name for j in jobs]
    assert stack.emulator.emulator.faults.to_json()["http"] == [], "the lost answer was served"
    assert_delivered_once(stack, summary, jobs)


def test_a_duplicate_failing_on_its_output_path_hands_the_run_to_the_owner(stack, host):
    """The worst case: names and labels ignored, the POST's answer lost, and the job invisible to the
    look-ups that follow (their list calls answer 404: no list on this plane), so a second POST goes out.
    The first job finishes first, so the tracked second one fails with "the path already exists": the run
    follows the first job, and its predictions are delivered."""
    emu = stack.emulator.emulator
    behave(stack, job_names="ignore", job_labels="drop")
    # 1st job: scored slowly; its answer is lost. Look-ups: before the POST (GET by name, list) and two
    # after it, each a GET by name and a list: six reads, the list ones answering 404.
    emu.faults.apply({"http": [{"target": "submit", "when": "after", "effect": "drop"},
                               {"target": "status", "status": 404, "count": 6}]})
    before = stack.job_names()
    run_id, _ = land_sample(stack, host)
    summary = finish(host, run_id)
    jobs = stack.jobs_since(before)
    assert len(jobs) == 2, "the duplicate slipped through, as this test intends"
    failed = [j for j in jobs if j.status.value == "Failed"]
    completed = [j for j in jobs if j.status.value == "Completed"]
    assert failed == [jobs[1]] and "the path already exists" in failed[0].error
    assert completed == [jobs[0]] and summary["job_name"] == jobs[0].name
    assert_delivered_once(stack, summary, jobs)
