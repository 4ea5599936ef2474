"""v1 PipelineEndpoint routes on the emulator: the submission body, polling, cancel, and idempotent submit
(the attempt's run is looked for before any POST, and after an answer lost once the run exists)."""
from __future__ import annotations

import time
import uuid

from shared.activities import cancel_job, find_attempt_job, get_job_status, submit_job
from shared.config import parse_settings
from tests.batch_endpoint.conftest import DATASTORE_CONTAINER, client_factory, control, datastore, emu  # noqa: F401
from tests.emulator.helpers import V1_PIPELINE_ENDPOINT_ID, pipeline_sales_files, upload_pipeline_assets

WS = {"subscription_id": "00000000-0000-0000-0000-000000000000", "resource_group": "rg-local", "name": "ws-local"}


def settings_for(server, azurite):
    document = {
        "datastores": {"workspaceblobstore": {"account_url": azurite.default.blob_url,
                                              "container": DATASTORE_CONTAINER, "connection": "AzureWebJobsStorage"}},
        "routes": [{"name": "v1", "kind": "pipeline_endpoint_v1", "match": {"container": "landing", "prefix": "v1/"},
                    "pipeline_endpoint": {"api_url": server.base_url, "id": V1_PIPELINE_ENDPOINT_ID,
                                          "experiment_name": "v1-exp", "workspace": WS, "data_path_name": "sales",
                                          "parameters": {"threshold": 100}}}],
        "management_url": server.management_url,
    }
    return parse_settings(document, {})


def new_run(datastore) -> dict:
    upload_pipeline_assets(datastore)
    suffix = uuid.uuid4().hex
    folder = f"v1/{suffix[:10]}"
    for name, data in pipeline_sales_files().items():
        datastore.upload_blob(f"{folder}/{name}", data)
    return {"run_id": f"v1-{suffix[:24]}", "route": "v1", "attempt": 1, "requested_at": "2024-06-01T00:00:00Z",
            "input": {"type": "uri_folder", "uri": f"azureml://datastores/workspaceblobstore/paths/{folder}/",
                      "folder": folder, "path": folder + "/"},
            "outputs": {}, "output_uri": None}


def wait_terminal(settings, run, job_name, factory) -> dict:
    deadline = time.monotonic() + 20
    while True:
        status = get_job_status({"route": "v1", "run_id": run["run_id"], "job_name": job_name}, settings, factory)
        if status["status"] in ("Completed", "Failed", "Canceled"):
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.05)


def test_submit_poll_and_the_body_the_endpoint_got(emu, control, datastore, azurite):
    settings, factory = settings_for(emu, azurite), client_factory()
    run = new_run(datastore)
    answer = submit_job({"run": run, "attempt": 1}, settings, factory)
    assert answer["adopted"] is False and answer["status"] == "NotStarted", answer
    status = wait_terminal(settings, run, answer["job_name"], factory)
    assert status["status"] == "Completed", status
    [job] = control.jobs()
    assert job["name"] == answer["job_name"] and job["experiment_name"] == "v1-exp"
    assert job["input_uri"] == f"azureml://datastores/workspaceblobstore/paths/{run['input']['folder']}"
    assert job["tags"]["batchrun.run_id"] == run["run_id"]
    found = find_attempt_job({"route": "v1", "run_id": run["run_id"], "attempt": 1}, settings, factory)
    assert found["job_name"] == answer["job_name"] and found["found_by"] == "tag"


def test_a_repeated_submit_adopts_the_run_instead_of_posting_again(emu, control, datastore, azurite):
    settings, factory = settings_for(emu, azurite), client_factory()
    run = new_run(datastore)
    first = submit_job({"run": run, "attempt": 1}, settings, factory)
    again = submit_job({"run": run, "attempt": 1}, settings, factory)  # the activity ran twice
    assert again["adopted"] is True and again["job_name"] == first["job_name"]
    assert len(control.jobs()) == 1


def test_an_answer_lost_after_the_run_was_created_is_followed_by_a_look_not_a_second_post(emu, control, datastore,
                                                                                          azurite):
    settings, factory = settings_for(emu, azurite), client_factory()
    control.faults({"http": [{"target": "submit", "when": "after", "effect": "drop"}]})
    run = new_run(datastore)
    answer = submit_job({"run": run, "attempt": 1}, settings, factory)
    assert answer["adopted"] is True, answer
    [job] = control.jobs()
    assert job["name"] == answer["job_name"]


def test_a_new_attempt_is_a_new_run_and_cancel_reaches_it(emu, control, datastore, azurite):
    settings, factory = settings_for(emu, azurite), client_factory()
    control.faults({"jobs": [{"effect": "hang"}]})
    run = new_run(datastore)
    first = submit_job({"run": run, "attempt": 1}, settings, factory)
    second = submit_job({"run": run, "attempt": 2}, settings, factory)
    assert second["job_name"] != first["job_name"] and not second["adopted"]
    assert cancel_job({"route": "v1", "run_id": run["run_id"], "job_name": first["job_name"]}, settings,
                      factory) == {"cancel_requested": True}
    assert wait_terminal(settings, run, first["job_name"], factory)["status"] == "Canceled"


def test_a_folder_outside_any_datastore_is_a_clear_error(emu, control, datastore, azurite):
    settings, factory = settings_for(emu, azurite), client_factory()
    run = new_run(datastore)
    run["input"]["uri"] = "http://127.0.0.1:1/devstoreaccount1/landing/v1/x/"
    answer = submit_job({"run": run, "attempt": 1}, settings, factory)
    assert "is not in a registered datastore" in answer["error"] and control.jobs() == []
