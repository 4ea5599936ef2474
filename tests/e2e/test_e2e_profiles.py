"""The same landed folder on each emulator profile (emulator/README.md, "Profiles"): on ``strict`` (the default)
the service names the job itself and keeps none of the attempt's labels, and the run still succeeds with its
predictions delivered; on ``kind`` the job carries the attempt's name and labels."""
from __future__ import annotations

import pytest

from shared.batch_endpoint.attempts import TAG_ATTEMPT_ID, TAG_RUN_ID

from .test_e2e import expected_predictions, finish, land_sample


def delivered(stack, host) -> tuple[str, object]:
    run_id, _ = land_sample(stack, host)
    summary = finish(host, run_id)
    assert summary["outcome"] == "Succeeded", summary
    lines = stack.sink_blob("predictions.csv").download_blob().readall().decode().splitlines()
    assert sorted(lines) == sorted(expected_predictions())
    return run_id, stack.job(summary["job_name"])


@pytest.mark.parametrize("emulator", ["strict"], indirect=True)
def test_on_the_strict_profile_the_job_is_named_by_the_service_and_keeps_no_labels(stack, host):
    run_id, job = delivered(stack, host)
    assert stack.emulator.emulator.behaviour.profile == "strict"
    assert job.name.startswith("batchjob-") and job.requested_name not in (None, job.name)
    assert dict(job.request.tags) == {} and dict(job.request.properties) == {}


@pytest.mark.parametrize("emulator", ["kind"], indirect=True)
def test_on_the_kind_profile_the_job_carries_the_attempts_name_and_labels(stack, host):
    run_id, job = delivered(stack, host)
    assert stack.emulator.emulator.behaviour.profile == "kind"
    assert job.name == job.requested_name
    assert job.request.tags[TAG_RUN_ID] == run_id and job.request.properties[TAG_ATTEMPT_ID] == job.name
