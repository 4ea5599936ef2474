"""The v1 PipelineEndpoint wire (issue 17, case 5): the app's requests against what azureml-pipeline-core 1.62.0
and azureml-core 1.61.0 really send.

``fixtures/v1_wire.json`` was recorded through the SDK's own REST layer with a recording transport
(``fixtures/generate_v1_wire.py.txt``): submit with a pipeline version, ``PipelineRun.cancel()``, and the run
query by tag that ``Run.list(experiment, tags=…)`` makes. The app must send the same method, URL, content type
and body; the one intended difference is ``Description`` (free text: the SDK repeats the experiment name, the
app names the run and route, which Studio shows).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.config import parse_settings
from shared.pipeline_v1 import requests as v1

SDK = json.loads((Path(__file__).parent / "fixtures" / "v1_wire.json").read_text(encoding="utf-8"))
WS = {"subscription_id": "00000000-0000-0000-0000-000000000000", "resource_group": "rg-local", "name": "ws-local"}
ACCOUNT = "https://lake.blob.core.windows.net"


def route():
    document = {
        "datastores": {"workspaceblobstore": {"account_url": ACCOUNT, "container": "out"},
                       "landingstore": {"account_url": ACCOUNT, "container": "landing"}},
        "routes": [{"name": "sales-v1", "kind": "pipeline_endpoint_v1", "match": {"container": "landing",
                                                                                 "prefix": "sales/"},
                    "pipeline_endpoint": {"api_url": "https://eastus2.api.azureml.ms", "id": "a275bc5d-0000",
                                          "version": "2", "experiment_name": "sales-v1-exp", "workspace": WS,
                                          "data_path_name": "sales", "datastore": "landingstore",
                                          "parameters": {"threshold": 100, "ratio": 0.5, "strict": True,
                                                         "label": "run-{date}"}},
                    "outputs": [{"name": "scores", "type": "uri_folder", "datastore": "workspaceblobstore",
                                 "path": "v1/{run_id}/scores"}]}]}
    # the landing connection is on the datastore's account, as the v1 datastore rule requires
    return parse_settings(document, {"AzureWebJobsStorage__blobServiceUri": ACCOUNT}).routes[0]


RUN = {"run_id": "r1", "route": "sales-v1", "requested_at": "2024-06-01T10:00:00Z",
       "input": {"type": "uri_folder", "uri": "azureml://datastores/landingstore/paths/sales/2024-06-01/",
                 "folder": "sales/2024-06-01", "path": "sales/2024-06-01/"},
       "outputs": {"scores": "azureml://datastores/workspaceblobstore/paths/v1/r1/scores/"}}


def wire(call) -> dict:
    return {"method": call.method, "url": call.url, "content_type": call.headers.get("Content-Type"),
            "body": call.body}


def test_submit_is_the_sdk_s_request():
    r = route()
    body = v1.submission_body(r, RUN, {"batchrun.attempt_id": "r1-a1"})
    got = wire(v1.submit_call(r, body, "request-1"))
    assert got["body"].pop("Description") == "batch run r1 of route sales-v1"
    expected = json.loads(json.dumps(SDK["submit"]))
    expected["body"].pop("Description")
    assert got == expected


def test_every_parameter_is_sent_as_the_string_python_makes_of_it():
    body = v1.submission_body(route(), RUN, {})
    assert body["ParameterAssignments"] == {"threshold": "100", "ratio": "0.5", "strict": "True",
                                            "label": "run-2024-06-01"}
    assert all(isinstance(v, str) for v in body["ParameterAssignments"].values())


def test_the_version_goes_in_the_path_and_the_query_and_none_without_one():
    import dataclasses

    r = route()
    assert v1.submit_url(r).endswith("/PipelineEndpointSubmit/Id/a275bc5d-0000/2?pipelineVersion=2")
    unversioned = dataclasses.replace(r, pipeline_endpoint=dataclasses.replace(r.pipeline_endpoint, version=None))
    assert v1.submit_url(unversioned).endswith("/PipelineEndpointSubmit/Id/a275bc5d-0000")


def test_cancel_is_the_sdk_s_delete_of_the_execution():
    assert wire(v1.cancel_call(route(), "run-1")) == SDK["cancel"]


def test_the_run_query_uses_azureml_core_s_filter_syntax():
    """This fixture is ``Run.list(tags=…)``'s filter; the app sends ``Experiment.get_runs(tags=…)``'s, which is the
    same term and'ed with ``(ParentRunId eq null)`` (top-level runs only; test_v1_fixtures holds that capture)."""
    expected = json.loads(json.dumps(SDK["query"]))
    expected["body"]["filter"] = f"({expected['body']['filter']} and {v1.TOP_LEVEL_ONLY})"
    assert wire(v1.query_call(route(), "batchrun.attempt_id", "r1-a1")) == expected


def test_a_value_the_filter_syntax_cannot_hold_is_refused_not_sent():
    with pytest.raises(ValueError):
        v1.query_call(route(), "batchrun.attempt_id", 'r1" or (Tags/x eq "y')


@pytest.mark.parametrize("status, read", [("Finished", "Completed"), ("finished", "Completed"),
                                          ("Completed", "Completed"), ("Failed", "Failed"),
                                          ("Canceled", "Canceled"), ("Running", "Running")])
def test_finished_is_success(status, read):
    assert v1.parse_run(route(), {"runId": "run-1", "status": status}).status == read
