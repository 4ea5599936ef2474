"""Route kinds, deployment kinds, inputs and outputs: the cross-field rules (shared/config/route_kinds.py)."""
from __future__ import annotations

import copy

import pytest

from shared.config import ConfigError, parse_settings

ENV = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}
WS = {"subscription_id": "00000000-0000-0000-0000-000000000000", "resource_group": "rg", "name": "ws"}
DOC = {"datastores": {"ws": {"account_url": "https://ws.blob.core.windows.net", "container": "out"}},
       "routes": [{"name": "r", "match": {"container": "landing", "prefix": "in/"},
                   "endpoint": {"scoring_uri": "https://r.eastus.inference.ml.azure.com/jobs", "workspace": WS},
                   "output": {"datastore": "ws", "path": "o/{run_id}/p.csv"},
                   "sinks": [{"url": "https://sink.blob.core.windows.net/s/{folder}/", "connection": "SINK"}]}]}


def doc(**route_changes) -> dict:
    document = copy.deepcopy(DOC)
    for key, value in route_changes.items():
        if value is None:
            document["routes"][0].pop(key, None)
        elif isinstance(value, dict) and isinstance(document["routes"][0].get(key), dict):
            document["routes"][0][key] = {**document["routes"][0][key], **value}
        else:
            document["routes"][0][key] = value
    return document


def problems(document: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(document, ENV)
    return caught.value.problems


PIPELINE = {"deployment_kind": "pipeline_component"}
OUTPUTS = [{"name": "scores", "type": "uri_folder", "datastore": "ws", "path": "o/{run_id}/scores"},
           {"name": "summary", "datastore": "ws", "path": "o/{run_id}/summary.json"}]


def test_existing_single_input_single_output_routes_stay_valid():
    route = parse_settings(DOC, ENV).routes[0]
    assert route.kind == "batch_endpoint" and route.endpoint.deployment_kind == "model"
    assert [o.name for o in route.job_outputs] == ["score"] and route.inputs == ()


def test_every_input_form_of_a_pipeline_component_deployment():
    inputs = [{"name": "asset", "path": "azureml:regions:2"}, {"name": "latest", "path": "azureml:regions@latest"},
              {"name": "ds", "path": "azureml://datastores/ws/paths/ref/"},
              {"name": "long", "path": "azureml://subscriptions/0-0/resourcegroups/rg/workspaces/ws/datastores/ws/"
                                       "paths/ref/"},
              {"name": "url", "type": "uri_file", "path": "https://pub.blob.core.windows.net/c/f.csv"},
              {"name": "lake", "path": "abfss://fs@acct.dfs.core.windows.net/p/"},
              {"name": "s", "type": "literal", "value": "{route}-{date}-{folder}-{run_id}"},
              {"name": "i", "type": "literal", "value": 3}, {"name": "f", "type": "literal", "value": 0.5},
              {"name": "b", "type": "literal", "value": False}]
    sinks = [{"url": "https://sink.blob.core.windows.net/s/{folder}/", "connection": "SINK", "output": "scores"}]
    route = parse_settings(doc(endpoint=PIPELINE, inputs=inputs, output=None, outputs=OUTPUTS, sinks=sinks),
                           ENV).routes[0]
    assert [i.name for i in route.inputs] == [i["name"] for i in inputs]
    assert [i.value for i in route.inputs[-3:]] == [3, 0.5, False]
    assert [s.name for s in route.sinks_for("scores")] == ["sink/s"] and route.sinks_for("summary") == ()


@pytest.mark.parametrize("changes, expected", [
    ({"inputs": [{"name": "x", "path": "azureml:a:1"}]},
     "route 'r': inputs: a model deployment takes exactly one data input"),
    ({"outputs": OUTPUTS, "output": None},
     "route 'r': outputs: a model deployment has exactly one output, got 2"),
    ({"output": {"type": "uri_folder"}}, "route 'r': output.type: must be 'uri_file' for a model deployment"),
    ({"input": {"type": "uri_file"}}, "route 'r': input.type: 'uri_file' needs landing.mode 'per_file'"),
    ({"landing": {"mode": "per_file"}}, "route 'r': input.type: must be 'uri_file' when landing.mode is 'per_file'"),
    ({"endpoint": PIPELINE, "overrides": {"mini_batch_size": 3}},
     "route 'r': overrides.mini_batch_size: applies to model deployments only"),
    ({"endpoint": PIPELINE, "output": None, "outputs": OUTPUTS},
     "route 'r': sinks[0].output: is required: the route has several outputs (scores, summary)"),
    ({"endpoint": PIPELINE, "inputs": [{"name": "l", "type": "literal"}]},
     "route 'r': inputs[0].value: is required for a literal input"),
    ({"endpoint": PIPELINE, "inputs": [{"name": "l", "path": "azureml:a:1", "value": 1}]},
     "route 'r': inputs[0].value: only literal inputs have a value"),
    ({"endpoint": PIPELINE, "inputs": [{"name": "input_data", "path": "azureml:a:1"}]},
     "route 'r': inputs[0].name: 'input_data' is already an input of the route"),
    ({"endpoint": {"deployment_kind": "pipeline_component", "workspace": None},
      "inputs": [{"name": "a", "path": "azureml:a@latest"}]},
     "route 'r': inputs[0].path: a data asset is sent as its ARM id, which needs endpoint.workspace"),
    ({"endpoint": PIPELINE, "inputs": [{"name": "a", "path": "https://x.blob.core.windows.net/c/p?sv=1&sig=abc"}]},
     "route 'r': inputs[0].path: must not carry credentials"),
    ({"endpoint": PIPELINE, "inputs": [{"name": "a", "path": "azureml://datastores/ws/paths/../up"}]},
     "route 'r': inputs[0].path: must not contain a '.' or '..' segment"),
    ({"endpoint": PIPELINE, "inputs": [{"name": "a", "type": "literal", "value": "{user}"}]},
     "route 'r': inputs[0].value: unknown placeholder(s) {user}"),
    ({"endpoint": PIPELINE, "inputs": [{"name": "a", "type": "literal", "value": [1]}]},
     "route 'r': inputs[0].value: must be a boolean or an integer or a number or a string, got a list"),
    ({"sinks": [{"url": "https://sink.blob.core.windows.net/s/x/", "connection": "S", "output": "nope"}]},
     "route 'r': sinks[0].output: 'nope' is not an output of the route (outputs: score)"),
    ({"endpoint": None}, "route 'r': endpoint: is required (kind batch_endpoint)"),
    ({"kind": "pipeline_endpoint_v1"}, "route 'r': pipeline_endpoint: is required (kind pipeline_endpoint_v1)"),
])
def test_rules_name_the_field(changes, expected):
    found = problems(doc(**changes))
    assert any(p.startswith(expected) for p in found), found


V1 = {"api_url": "https://eastus2.api.azureml.ms", "id": "a275bc5d-0000-4000-8000-000000000001",
      "experiment_name": "exp", "workspace": WS, "parameters": {"p": "{date}", "n": 2}}


def test_a_v1_route_and_its_rules():
    route = parse_settings(doc(kind="pipeline_endpoint_v1", endpoint=None, output=None, sinks=[],
                               pipeline_endpoint=V1), ENV).routes[0]
    assert route.deprecated and "2026-06-30" in route.deprecated
    found = problems(doc(kind="pipeline_endpoint_v1", output=None, pipeline_endpoint={**V1, "parameters": {"p": "{x}"}}))
    assert "route 'r': endpoint: is only for kind batch_endpoint (this route submits to a v1 PipelineEndpoint:" \
           " see pipeline_endpoint)" in found
    assert any(p.startswith("route 'r': sinks: a v1 pipeline run lists no outputs to deliver") for p in found)
    assert any(p.startswith("route 'r': pipeline_endpoint.parameters.p: unknown placeholder(s) {x}") for p in found)
    found = problems(doc(kind="pipeline_endpoint_v1", endpoint=None, pipeline_endpoint=V1))
    assert "route 'r': output.type: a v1 pipeline output is a DataPath (a folder): use uri_folder" in found
