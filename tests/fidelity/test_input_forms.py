"""Every documented input form (issue 17, case 6): configuration accepts it, the body carries what the SDK's
``invoke()`` would send, and a pipeline-component job on the emulator reads it (Azurite + emulator + the app's
real orchestration).

Forms (contract §1.5): ``azureml:<name>:<version>`` / ``@latest`` (resolved to the ARM id), a data asset's ARM
id, ``azureml://locations/…/data/<name>/versions/<v>``, ``azureml://datastores/<ds>/paths/…``, its long
``azureml://subscriptions/…`` form, ``$DATASTORE_ID/paths/…``, https storage URLs, and ``abfss://``, which
``invoke()`` refuses: the app sends that location's https blob URL instead (docs/route-kinds.md).
"""
from __future__ import annotations

import copy

import pytest

from shared.batch_endpoint.job_spec import job_spec
from shared.config import ConfigError, parse_settings
from tests.e2e.conftest import (DATASTORE_CONTAINER, _reset_faults, emulator, host, stack)  # noqa: F401 - fixtures
from tests.e2e.test_e2e_kinds import land, pipeline_document
from tests.e2e.test_e2e import finish
from tests.emulator.helpers import pipeline_sales_files, upload_pipeline_assets

SUB, RG, WS = "00000000-0000-0000-0000-000000000000", "rg-local", "ws-local"
ARM_WS = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/workspaces/{WS}"
FOLDER = "assets/regions/2/"

#: form → (configured path, what the job receives)
FORMS = {
    "asset name:version": ("azureml:regions:2", f"{ARM_WS}/data/regions/versions/2"),
    "asset ARM id": (f"{ARM_WS}/data/regions/versions/2", f"{ARM_WS}/data/regions/versions/2"),
    "asset azureml://locations": (f"azureml://locations/local/workspaces/{WS}/data/regions/versions/2",
                                  f"azureml://locations/local/workspaces/{WS}/data/regions/versions/2"),
    "datastore short": (f"azureml://datastores/workspaceblobstore/paths/{FOLDER}",
                        f"azureml://datastores/workspaceblobstore/paths/{FOLDER}"),
    "datastore long": (f"azureml://subscriptions/{SUB}/resourcegroups/{RG}/workspaces/{WS}/datastores/"
                       f"workspaceblobstore/paths/{FOLDER}",
                       f"azureml://subscriptions/{SUB}/resourcegroups/{RG}/workspaces/{WS}/datastores/"
                       f"workspaceblobstore/paths/{FOLDER}"),
    "$DATASTORE_ID/paths": (f"{ARM_WS}/datastores/workspaceblobstore/paths/{FOLDER}",
                            f"{ARM_WS}/datastores/workspaceblobstore/paths/{FOLDER}"),
    "abfss (sent as https)": (f"abfss://{DATASTORE_CONTAINER}@devstoreaccount1.dfs.core.windows.net/{FOLDER}",
                              f"https://devstoreaccount1.blob.core.windows.net/{DATASTORE_CONTAINER}/{FOLDER}"),
}


def configured(stack, path: str) -> dict:
    document = pipeline_document(stack)
    document["routes"][0]["inputs"][0]["path"] = path
    return document


@pytest.mark.parametrize("form", list(FORMS))
def test_every_documented_input_form_reaches_the_job(stack, host, form):
    path, sent = FORMS[form]
    upload_pipeline_assets(stack.landing.get_container_client(DATASTORE_CONTAINER))
    stack.configure(configured(stack, path))
    run_id, _, planned = land(stack, host, pipeline_sales_files(), "sales")
    assert planned["request"]["body"]["properties"]["inputData"]["regions"] == {"jobInputType": "UriFolder",
                                                                                 "uri": sent}
    summary = finish(host, run_id)
    assert summary["outcome"] == "Succeeded", summary
    job = stack.job(summary["job_name"])
    assert job.bindings["regions"] == ("UriFolder", sent)   # what the emulator received, as the body said
    assert not job.bindings["regions"][1].startswith("abfs")


@pytest.mark.parametrize("path, message", [
    (f"{ARM_WS}/computes/cpu/paths/x/", "an ARM id must be a data asset's"),
    (f"{ARM_WS}/datastores/workspaceblobstore/paths/../x/", "path"),
    ("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a/data/x/versions/1",
     "an ARM id must be a data asset's"),
    ("abfss://c@acct.dfs.core.windows.net/x/?sv=1&sig=abc", "credentials"),
])
def test_malformed_arm_ids_and_secrets_are_refused_naming_the_field(path, message):
    document = {"datastores": {"ws": {"account_url": "https://ws.blob.core.windows.net", "container": "out"}},
                "routes": [{"name": "r", "match": {"container": "landing", "prefix": "in/"},
                            "endpoint": {"scoring_uri": "https://r.eastus.inference.ml.azure.com/jobs",
                                         "deployment_kind": "pipeline_component",
                                         "workspace": {"subscription_id": SUB, "resource_group": RG, "name": WS}},
                            "inputs": [{"name": "ref", "path": path}],
                            "outputs": [{"name": "o", "type": "uri_folder", "datastore": "ws", "path": "o/{run_id}"}]}]}
    with pytest.raises(ConfigError) as caught:
        parse_settings(copy.deepcopy(document), {"AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    assert any("inputs[0].path" in p and message in p for p in caught.value.problems), caught.value.problems


def test_an_asset_arm_id_needs_no_workspace_coordinates_and_goes_as_written():
    document = {"datastores": {"ws": {"account_url": "https://ws.blob.core.windows.net", "container": "out"}},
                "routes": [{"name": "r", "match": {"container": "landing", "prefix": "in/"},
                            "endpoint": {"scoring_uri": "https://r.eastus.inference.ml.azure.com/jobs",
                                         "deployment_kind": "pipeline_component"},
                            "inputs": [{"name": "ref", "path": f"{ARM_WS}/data/regions/versions/2"}],
                            "outputs": [{"name": "o", "type": "uri_folder", "datastore": "ws", "path": "o/{run_id}"}]}]}
    route = parse_settings(document, {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}).routes[0]
    run = {"run_id": "r1", "route": "r", "requested_at": "2024-06-01T00:00:00Z",
           "input": {"type": "uri_folder", "uri": "azureml://datastores/ws/paths/in/x/", "folder": "in/x"},
           "outputs": {"o": "azureml://datastores/ws/paths/o/r1/"}}
    body = job_spec(route, run).body
    assert body["properties"]["inputData"]["ref"] == {"jobInputType": "UriFolder",
                                                      "uri": f"{ARM_WS}/data/regions/versions/2"}
