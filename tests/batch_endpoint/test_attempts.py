"""The identity a run attempt's job carries, and how a listed job is recognised (pure)."""

import pytest

from shared.batch_endpoint.attempts import (BY_NAME, BY_OUTPUT, BY_TAG, TAG_ATTEMPT, TAG_ATTEMPT_ID, TAG_RUN_ID,
                                            AttemptIdentity, attempt_job_name, choose, failed_on_existing_path,
                                            identity_of_job, output_key)
from shared.batch_endpoint.requests import JobInfo, job_body, parse_job
from shared.config.models import JobOverrides
from shared.paths import InvalidName, check_job_name

RUN = "heart-0123456789abcdef01234567"
OUT = "azureml://datastores/workspaceblobstore/paths/batch/heart/x/predictions.csv"


def test_the_job_name_is_deterministic_short_lower_case_and_valid():
    name = attempt_job_name(RUN, 1)
    assert name == attempt_job_name(RUN, 1) and name == name.lower()
    assert name.startswith("heart-") and name.endswith("-a1") and len(name) <= 64
    assert check_job_name(name) == name


def test_attempts_runs_and_routes_differing_in_case_get_different_names():
    names = {attempt_job_name(RUN, 1), attempt_job_name(RUN, 2), attempt_job_name("Heart-0123456789abcdef01234567", 1),
             attempt_job_name("heart-0123456789abcdef01234568", 1)}
    assert len(names) == 4


def test_odd_routes_still_give_a_valid_name():
    name = attempt_job_name("My_Route__x-" + "f" * 24, 3)
    assert check_job_name(name) == name and name.startswith("my-route-x-")


@pytest.mark.parametrize("run_id, attempt", [("../etc", 1), ("a/b", 1), (RUN, 0), (RUN, True), (RUN, "1")])
def test_a_bad_run_id_or_attempt_is_refused(run_id, attempt):
    with pytest.raises((InvalidName, ValueError)):
        attempt_job_name(run_id, attempt)


@pytest.mark.parametrize("uri", [
    OUT,
    "azureml://datastores/WorkspaceBlobStore/paths/batch/heart/x/predictions.csv",
    "azureml://subscriptions/s/resourcegroups/rg/workspaces/ws/datastores/workspaceblobstore/paths/batch/heart/x/"
    "predictions.csv",
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/datastores/"
    "workspaceblobstore/paths/batch/heart/x/predictions.csv",
])
def test_every_form_of_a_datastore_uri_names_the_same_output(uri):
    assert output_key(uri) == ("workspaceblobstore", "batch/heart/x/predictions.csv")


def test_non_datastore_uris_have_no_output_key():
    assert output_key("https://acct.blob.core.windows.net/c/p.csv") is None and output_key(None) is None


def test_the_body_carries_name_tags_and_properties_beside_the_experiment_name():
    identity = AttemptIdentity.of(RUN, 2, OUT)
    body = job_body(input_name="in", input_type="uri_folder", input_uri="azureml://datastores/d/paths/in",
                    output_name="score", output_uri=OUT, overrides=JobOverrides(experiment_name="exp"),
                    job_name=identity.job_name, labels=identity.labels)["properties"]
    assert body["name"] == identity.job_name
    assert body["tags"] == {TAG_RUN_ID: RUN, TAG_ATTEMPT: "2", TAG_ATTEMPT_ID: identity.job_name}
    assert body["properties"] == {**body["tags"], "experimentName": "exp"}


def job(name, status="Running", tags=None, properties=None, outputs=(), error=None):
    return JobInfo(name, status, error=error, tags=tags or {}, properties=properties or {}, output_uris=tuple(outputs))


def test_a_job_is_recognised_by_name_then_labels_then_output():
    me = AttemptIdentity.of(RUN, 1, OUT)
    assert me.match(job(me.job_name)) == BY_NAME
    assert me.match(job("batchjob-1", tags={TAG_ATTEMPT_ID: me.job_name})) == BY_TAG
    assert me.match(job("batchjob-2", properties={TAG_RUN_ID: RUN, TAG_ATTEMPT: "1"})) == BY_TAG
    assert me.match(job("batchjob-3", outputs=[OUT.replace("workspaceblobstore", "WORKSPACEBLOBSTORE")])) == BY_OUTPUT
    assert me.match(job("batchjob-4", tags={TAG_RUN_ID: RUN, TAG_ATTEMPT: "2"})) is None   # another attempt
    assert me.match(job("batchjob-5", outputs=[OUT + ".other"])) is None


def test_choose_prefers_completed_then_running_and_owners_only_skips_failed():
    me = AttemptIdentity.of(RUN, 1, OUT)
    failed = job(me.job_name, "Failed")
    running = job("dup", "Running", outputs=[OUT])
    done = job("orig", "Completed", tags={TAG_ATTEMPT_ID: me.job_name})
    assert choose(me, [failed, running, done]) == (done, BY_TAG)
    assert choose(me, [failed, running]) == (running, BY_OUTPUT)
    assert choose(me, [failed]) == (failed, BY_NAME)        # the attempt's own failure is still its job
    assert choose(me, [failed], owners_only=True) is None
    assert choose(me, [running, done], exclude="orig") == (running, BY_OUTPUT)


def test_a_duplicate_that_lost_the_race_for_its_path_is_recognised():
    resource = {"name": "batchjob-9", "properties": {
        "status": "Failed", "error": {"code": "UserError",
                                      "message": "Cannot write output 'x': the path already exists. Use a unique"},
        "tags": {TAG_RUN_ID: RUN, TAG_ATTEMPT: "3"},
        "outputs": {"score": {"jobOutputType": "uri_file", "uri": OUT}}}}
    info = parse_job(resource)
    assert failed_on_existing_path(info) and info.output_uris == (OUT,)
    identity = identity_of_job(info)
    assert (identity.run_id, identity.attempt, identity.output_uri) == (RUN, 3, OUT)
    assert not failed_on_existing_path(job("x", "Failed", error="scoring script crashed"))


def test_a_job_without_labels_takes_the_run_id_it_is_tracked_under():
    info = job("batchjob-9", "Failed", outputs=[OUT])
    assert identity_of_job(info) is None
    assert identity_of_job(info, fallback_run_id=RUN) == AttemptIdentity.of(RUN, 1, OUT)
