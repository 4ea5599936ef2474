"""A v1 route names its landed folder as (DataStoreName, RelativePath) with the path relative to the landing
container: pipeline_endpoint.datastore must be registered for that container on that account."""
from __future__ import annotations

import copy

import pytest

from shared.config import ConfigError, parse_settings
from shared.pipeline_v1.requests import submission_body

ENV = {"AzureWebJobsStorage": "UseDevelopmentStorage=true",
       "LANDING__blobServiceUri": "https://landacct.blob.core.windows.net"}
WS = {"subscription_id": "00000000-0000-0000-0000-000000000000", "resource_group": "rg", "name": "ws"}
V1 = {"api_url": "https://eastus2.api.azureml.ms", "id": "a275bc5d-0000-4000-8000-000000000001",
      "experiment_name": "exp", "workspace": WS}
DOC = {"datastores": {
           "landing_ds": {"account_url": "https://landacct.blob.core.windows.net", "container": "landing",
                          "connection": "LANDING"},
           "other_container": {"account_url": "https://landacct.blob.core.windows.net", "container": "curated",
                               "connection": "LANDING"},
           "other_account": {"account_url": "https://elsewhere.blob.core.windows.net", "container": "landing",
                             "connection": "LANDING"}},
       "routes": [{"name": "v1", "kind": "pipeline_endpoint_v1",
                   "match": {"container": "landing", "prefix": "in/", "connection": "LANDING"},
                   "pipeline_endpoint": V1}]}


def with_datastore(name):
    document = copy.deepcopy(DOC)
    document["routes"][0]["pipeline_endpoint"]["datastore"] = name
    return document


@pytest.mark.parametrize("name, where", [("other_container", "container 'curated'"),
                                         ("other_account", "account https://elsewhere.blob.core.windows.net")])
def test_a_datastore_on_another_container_or_account_is_refused_naming_both(name, where):
    with pytest.raises(ConfigError) as caught:
        parse_settings(with_datastore(name), ENV)
    [problem] = caught.value.problems
    assert problem.startswith(f"route 'v1': pipeline_endpoint.datastore: datastore {name!r} is on {where}, but the"
                              " route lands on ")
    assert "name a datastore registered for the landing container" in problem


def test_the_landing_containers_datastore_is_accepted_and_names_the_landed_path():
    route = parse_settings(with_datastore("landing_ds"), ENV).routes[0]
    run = {"run_id": "r1", "route": "v1", "folder": "in/batch1", "date": "2024-01-01",
           "input": {"uri": "azureml://datastores/landing_ds/paths/in/batch1/", "path": "in/batch1"}}
    body = submission_body(route, run, {"batchrun_attempt": "a1"})
    assert body["DataPathAssignments"]["input_datapath"] == {"DataStoreName": "landing_ds",
                                                              "RelativePath": "in/batch1"}
