from shared.batch_endpoint.requests import (DEPLOYMENT_HEADER, REPEATABILITY_HEADER, cancel_call, iso_duration,
                                            job_body, parse_job, status_call, submit_call)
from shared.config.models import EndpointConfig, JobOverrides, Workspace

ENDPOINT = EndpointConfig("https://heart.eastus.inference.ml.azure.com/jobs")
WORKSPACE = Workspace("sub-1", "rg-1", "ws-1")


def test_body_is_camel_case_as_the_sdk_sends_it_and_appends_the_output_file_name():
    body = job_body(input_name="heart_dataset", input_type="uri_folder",
                    input_uri="azureml://datastores/landing/paths/heart/2024/", output_name="score",
                    output_uri="azureml://datastores/ws/paths/batch/r1",
                    overrides=JobOverrides(mini_batch_size=10, instance_count=2, max_retries=3, timeout_seconds=300,
                                           error_threshold=-1, output_file_name="p.csv", experiment_name="exp"))
    assert body == {"properties": {
        "inputData": {"heart_dataset": {"jobInputType": "UriFolder",
                                        "uri": "azureml://datastores/landing/paths/heart/2024/"}},
        # the SDK appends output_file_name to the output folder; it is never sent beside outputData
        "outputData": {"score": {"jobOutputType": "UriFile", "uri": "azureml://datastores/ws/paths/batch/r1/p.csv"}},
        "miniBatchSize": 10, "compute": {"instanceCount": 2},
        "retrySettings": {"maxRetries": 3, "timeout": "PT5M"}, "errorThreshold": -1,
        "properties": {"experimentName": "exp"}}}


def test_unset_overrides_leave_the_deployment_defaults_alone():
    body = job_body(input_name="i", input_type="uri_file", input_uri="https://a/b/c.csv", output_name="score",
                    output_uri="azureml://datastores/ws/paths/o.csv", overrides=JobOverrides())
    assert set(body["properties"]) == {"inputData", "outputData"}
    assert body["properties"]["inputData"]["i"]["jobInputType"] == "UriFile"


def test_no_output_sends_no_output_data_but_the_output_file_name():
    body = job_body(input_name="i", input_type="uri_folder", input_uri="azureml://datastores/d/paths/in/",
                    output_name=None, output_uri=None, overrides=JobOverrides(output_file_name="s.csv"))
    assert body == {"properties": {"inputData": {"i": {"jobInputType": "UriFolder",
                                                       "uri": "azureml://datastores/d/paths/in/"}},
                                   "outputFileName": "s.csv"}}


def test_iso_durations():
    assert [iso_duration(s) for s in (30, 300, 3600, 3661, 0)] == ["PT30S", "PT5M", "PT1H", "PT1H1M1S", "PT0S"]


def test_deployment_header_only_when_named():
    assert DEPLOYMENT_HEADER not in submit_call(ENDPOINT, {}, "id").headers
    named = submit_call(EndpointConfig(ENDPOINT.scoring_uri, "blue"), {}, "id")
    assert named.headers[DEPLOYMENT_HEADER] == "blue" and named.headers[REPEATABILITY_HEADER] == "id"
    assert named.scope == "https://ml.azure.com/.default"


def test_status_uses_management_plane_when_workspace_is_known():
    data_plane = status_call(ENDPOINT, "job-1", "https://management.azure.com", "2024-04-01")
    assert data_plane.url == "https://heart.eastus.inference.ml.azure.com/jobs/job-1"
    assert data_plane.scope == "https://ml.azure.com/.default"
    managed = status_call(EndpointConfig(ENDPOINT.scoring_uri, None, WORKSPACE), "job-1",
                          "https://management.azure.com", "2024-04-01")
    assert managed.url == ("https://management.azure.com/subscriptions/sub-1/resourceGroups/rg-1/providers/"
                           "Microsoft.MachineLearningServices/workspaces/ws-1/jobs/job-1?api-version=2024-04-01")
    assert managed.scope == "https://management.azure.com/.default"


def test_cancel_needs_workspace_coordinates():
    assert cancel_call(ENDPOINT, "job-1", "https://management.azure.com", "2024-04-01") is None
    call = cancel_call(EndpointConfig(ENDPOINT.scoring_uri, None, WORKSPACE), "job-1",
                       "https://management.azure.com", "2024-04-01")
    assert call.method == "POST" and call.url.endswith("/jobs/job-1/cancel?api-version=2024-04-01")


def test_parse_job_reads_data_plane_and_arm_shapes():
    data_plane = parse_job({"id": "/x/jobs/job-1", "name": "job-1", "properties": {
        "status": "Preparing", "interactionEndpoints": {"Studio": {"endpoint": "https://ml.azure.com/runs/job-1"}}}})
    assert data_plane.name == "job-1" and data_plane.status == "Preparing"
    assert data_plane.studio_url == "https://ml.azure.com/runs/job-1"
    arm = parse_job({"id": "/x/jobs/job-2", "properties": {"status": "failed",
                                                            "services": {"Studio": {"endpoint": "s"}}}})
    assert (arm.name, arm.status, arm.studio_url) == ("job-2", "Failed", "s")
    assert parse_job({"name": "j", "properties": {"status": "Weird"}}).status == "Unknown"
