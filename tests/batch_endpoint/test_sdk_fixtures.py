"""The app's invoke bodies are the azure-ai-ml SDK's, for every input and output form.

The fixtures (tests/batch_endpoint/fixtures/sdk_*.json) are what azure-ai-ml 1.35.2 serialises for the same call:
``BatchJobSchema(context={PARAMS_OVERRIDE_KEY: ...}).load({})`` exactly as ``BatchEndpointOperations.invoke``
builds it, written out once by fixtures/generate_with_sdk.py.txt (a throwaway script; the SDK is not a
dependency of the app or its tests). Data assets appear as the ARM id the SDK resolves them to.

Two documented differences are taken out before comparing:
* the app adds its run-attempt identity (``tags``, and the same labels in user ``properties``), which the SDK
  does not send (docs/exactly-once.md, "Submit idempotency");
* the SDK's ``ComputeBindingSchema`` adds ``compute.isLocal: true`` whenever an instance count is given; the
  app sends the documented ``{"instanceCount": N}`` only.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from shared.batch_endpoint.attempts import TAG_ATTEMPT, TAG_ATTEMPT_ID, TAG_RUN_ID, AttemptIdentity
from shared.batch_endpoint.job_spec import job_spec, resolve_latest
from shared.config import parse_settings

FIXTURES = Path(__file__).parent / "fixtures"
WS = {"subscription_id": "00000000-0000-0000-0000-000000000000", "resource_group": "rg-local", "name": "ws-local"}
DATASTORES = {"workspaceblobstore": {"account_url": "https://ws.blob.core.windows.net", "container": "blobs"}}
ENV = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}


def sdk(name: str) -> dict:
    return json.loads((FIXTURES / f"sdk_{name}.json").read_text(encoding="utf-8"))


def without_identity(body: dict) -> dict:
    body = copy.deepcopy(body)
    props = body["properties"]
    props.pop("tags", None)
    user = {k: v for k, v in props.get("properties", {}).items() if k not in (TAG_RUN_ID, TAG_ATTEMPT, TAG_ATTEMPT_ID)}
    if user:
        props["properties"] = user
    else:
        props.pop("properties", None)
    return body


def without_is_local(body: dict) -> dict:
    body = copy.deepcopy(body)
    body["properties"].get("compute", {}).pop("isLocal", None)
    return body


def route(**changes) -> object:
    base = {"name": "heart", "match": {"container": "landing", "prefix": "heart/"},
            "endpoint": {"scoring_uri": "https://heart.eastus.inference.ml.azure.com/jobs", "workspace": WS},
            "input": {"name": "heart_dataset"},
            "output": {"datastore": "workspaceblobstore", "path": "batch/heart/{run_id}/predictions.csv"}}
    for key, value in changes.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return parse_settings({"datastores": DATASTORES, "routes": [base]}, ENV).routes[0]


def run(outputs: dict, *, folder="heart/2024-06-01", input_type="uri_folder") -> dict:
    uri = f"azureml://datastores/workspaceblobstore/paths/{folder}" + ("/" if input_type == "uri_folder" else "")
    return {"run_id": "r1", "route": "heart", "requested_at": "2024-06-01T10:00:00Z",
            "input": {"type": input_type, "uri": uri, "folder": folder}, "outputs": outputs}


def test_model_deployment_folder_input_and_file_output():
    r = route(overrides={"experiment_name": "heart-exp"})
    body = job_spec(r, run({"score": "azureml://datastores/workspaceblobstore/paths/batch/heart/r1/predictions.csv"}),
                    job_name="heart-0123456789abcdef0123-a1").body
    assert body == sdk("model_folder_file_output")


def test_model_deployment_output_file_name_is_appended_to_the_output_folder():
    from datetime import datetime, timezone

    from shared.batch_endpoint.job_spec import render_outputs

    r = route(output={"name": "output_name", "datastore": "workspaceblobstore", "path": "batch/heart/{run_id}"},
              overrides={"output_file_name": "scores.csv"})
    outputs = render_outputs(r, "r1", 1, datetime(2024, 6, 1, tzinfo=timezone.utc))
    body = job_spec(r, run(outputs)).body
    assert body == sdk("model_output_file_name_folded")
    assert "outputFileName" not in body["properties"]


def test_model_deployment_without_output_sends_no_output_data():
    r = route(output=None, overrides={"output_file_name": "scores.csv", "mini_batch_size": 2, "instance_count": 1,
                                      "max_retries": 2, "timeout_seconds": 300, "error_threshold": 5})
    body = job_spec(r, run({})).body
    assert "outputData" not in body["properties"]
    assert body == without_is_local(sdk("model_no_output"))


def test_model_deployment_uri_file_input():
    r = route(landing={"mode": "per_file"}, input={"name": "heart_dataset", "type": "uri_file"})
    body = job_spec(r, run({"score": "azureml://datastores/workspaceblobstore/paths/batch/heart/r1/predictions.csv"},
                           folder="heart/a.csv", input_type="uri_file")).body
    assert body == sdk("model_uri_file_input")


def pipeline_route() -> object:
    return route(
        name="sales", match={"container": "landing", "prefix": "sales/"},
        endpoint={"scoring_uri": "https://sales.eastus.inference.ml.azure.com/jobs", "workspace": WS,
                  "deployment_kind": "pipeline_component"},
        input={"name": "input_data"}, output=None,
        inputs=[
            {"name": "lookup", "path": "azureml:regions:2"},
            {"name": "long_form", "path": "azureml://subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/"
                                          "rg-local/workspaces/ws-local/datastores/workspaceblobstore/paths/ref/"},
            {"name": "public", "type": "uri_file",
             "path": "https://azuremlexampledata.blob.core.windows.net/data/heart-disease-uci/data/heart.csv"},
            {"name": "lake", "path": "abfss://ref@devstoreaccount1.dfs.core.windows.net/regions/"},
            {"name": "threshold", "type": "literal", "value": 0.5},
            {"name": "top_k", "type": "literal", "value": 3},
            {"name": "label", "type": "literal", "value": "run-{date}"},
            {"name": "strict", "type": "literal", "value": True},
        ],
        outputs=[{"name": "scores", "type": "uri_folder", "datastore": "workspaceblobstore", "path": "pipe/{run_id}/scores"},
                 {"name": "summary", "datastore": "workspaceblobstore", "path": "pipe/{run_id}/summary.json"}],
        overrides={"experiment_name": "sales-exp"})


def test_pipeline_component_deployment_with_every_input_form_and_named_outputs():
    from datetime import datetime, timezone

    from shared.batch_endpoint.job_spec import render_outputs

    r = pipeline_route()
    outputs = render_outputs(r, "r1", 1, datetime(2024, 6, 1, tzinfo=timezone.utc))
    assert outputs == {"scores": "azureml://datastores/workspaceblobstore/paths/pipe/r1/scores/",
                       "summary": "azureml://datastores/workspaceblobstore/paths/pipe/r1/summary.json"}
    spec = job_spec(r, run(outputs, folder="sales/2024-06-01"), job_name="sales-0123456789abcdef0123-a1")
    assert spec.latest_assets == ()
    expected = copy.deepcopy(sdk("pipeline_component"))
    # the fixture came through the SDK's schema classes; its invoke() refuses abfss://, so the app sends the
    # same location's https blob URL (issue 17, case 6; docs/route-kinds.md, "Route kinds, inputs and outputs")
    lake = expected["properties"]["inputData"]["lake"]
    assert lake["uri"] == "abfss://ref@devstoreaccount1.dfs.core.windows.net/regions/"
    lake["uri"] = "https://devstoreaccount1.blob.core.windows.net/ref/regions/"
    assert spec.body == expected


def test_latest_data_asset_is_resolved_to_the_arm_id_of_its_latest_version():
    r = route(endpoint={"scoring_uri": "https://s.eastus.inference.ml.azure.com/jobs", "workspace": WS,
                        "deployment_kind": "pipeline_component"},
              inputs=[{"name": "lookup", "path": "azureml:regions@latest"}])
    spec = job_spec(r, run({}))
    assert [(a.input_name, a.asset) for a in spec.latest_assets] == [("lookup", "regions")]
    body = resolve_latest(spec, {"regions": "7"})
    expected = sdk("pipeline_component")["properties"]["inputData"]["lookup"]["uri"].replace("/versions/2",
                                                                                              "/versions/7")
    assert body["properties"]["inputData"]["lookup"] == {"jobInputType": "UriFolder", "uri": expected}


def test_identity_labels_are_the_only_addition():
    r = route()
    identity = AttemptIdentity.of("r1", 1)
    outputs = {"score": "azureml://datastores/workspaceblobstore/paths/batch/heart/r1/predictions.csv"}
    labelled = job_spec(r, run(outputs), job_name=identity.job_name, labels=identity.labels).body
    plain = job_spec(r, run(outputs), job_name=identity.job_name).body
    assert labelled["properties"]["tags"] == identity.labels
    assert without_identity(labelled) == plain


@pytest.mark.parametrize("name", sorted(p.stem[4:] for p in FIXTURES.glob("sdk_*.json")))
def test_every_fixture_is_camel_case(name):
    def keys(value):
        if isinstance(value, dict):
            for k, v in value.items():
                yield k
                if k not in ("inputData", "outputData", "properties") or not isinstance(v, dict):
                    yield from keys(v)
                else:
                    for inner in v.values():
                        yield from keys(inner)

    assert all(k[0].islower() for k in keys(sdk(name)))
