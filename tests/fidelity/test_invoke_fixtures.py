"""The SDK oracle: for every form in the "Route kinds, inputs and outputs" table (docs/route-kinds.md), the app's
invoke request is the one azure-ai-ml's public ``BatchEndpointOperations.invoke()`` sends for the same call.

The fixtures (tests/fidelity/fixtures/invoke/*.json) were captured through ``invoke()`` itself, with a recording
transport and no network, by tests/fidelity/capture_invoke.py (azure-ai-ml in a throwaway venv; not a project
dependency, not run in CI). A form ``invoke()`` refuses is recorded with ``refused`` and no request.

The app's request is built by the same pure code its submit activity uses (``job_spec``, ``resolve_latest``,
``submit_call``), with the run attempt's real labels. Only values that legitimately differ are normalised:

* the job name: ``invoke()`` sends ``properties.name`` only when given ``job_name``, the app always sends its
  attempt's name there (``AttemptIdentity``); the strict service ignores either (emulator/README.md,
  "Profiles"). That both use ``properties.name`` is asserted once, with ``job_name`` given;
* the attempt labels (``tags``, and the same keys among the user ``properties``): the app's run-attempt identity
  (docs/exactly-once.md, "Submit idempotency"), which ``invoke()`` has no argument for; the keys are the REST
  model's own;
* ``repeatability_request-id``: the SDK draws a uuid4 per call, the app derives a uuid5 per run attempt (stable
  across retries of one submit); both are UUIDs and the service's use of it is UNCONFIRMED;
* ``compute.isLocal``: the SDK's ``ComputeBindingSchema`` adds ``isLocal: true`` whenever an instance count is
  given; the app sends the documented ``{"instanceCount": N}`` alone.
"""
from __future__ import annotations

import copy
import json
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

from shared.batch_endpoint import requests as wire
from shared.batch_endpoint.attempts import TAG_ATTEMPT, TAG_ATTEMPT_ID, TAG_RUN_ID, AttemptIdentity
from shared.batch_endpoint.job_spec import job_spec, render_outputs, resolve_latest
from shared.config import ConfigError, parse_settings

FIXTURES = Path(__file__).parent / "fixtures" / "invoke"
SUB, RG, WS_NAME = "00000000-0000-0000-0000-000000000000", "rg-local", "ws-local"
WS = {"subscription_id": SUB, "resource_group": RG, "name": WS_NAME}
ARM_WS = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/workspaces/{WS_NAME}"
DATASTORES = {"workspaceblobstore": {"account_url": "https://ws.blob.core.windows.net", "container": "blobs"}}
ENV = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}
RUN_ID = "r1"
IDENTITY = AttemptIdentity.of(RUN_ID, 1)
STARTED = datetime(2024, 6, 1, tzinfo=timezone.utc)
LABEL_KEYS = (TAG_RUN_ID, TAG_ATTEMPT, TAG_ATTEMPT_ID)

#: docs/route-kinds.md's form (its table's words) → the fixture that holds what invoke() sends for it.
README_FORMS = {
    "landed folder → input.name (uri_folder), a registered container": "model_folder_input_file_output",
    "landed folder → input.name (uri_folder), its blob URL": "model_folder_input_blob_url",
    "landed file (input.type: uri_file, per_file only)": "model_uri_file_input",
    "data asset azureml:<name>:<version>": "pipeline_asset_name_version",
    "data asset by its ARM id": "pipeline_asset_arm_id",
    "data asset azureml:<name>@latest": "pipeline_asset_latest",
    "datastore path azureml://datastores/<ds>/paths/… and the long azureml://subscriptions/…":
        "pipeline_every_input_form_and_named_outputs",
    "datastore ARM-id path /subscriptions/…/datastores/<ds>/paths/…": "pipeline_datastore_arm_id_path",
    "public storage URL https://…blob…, https://…dfs…": "pipeline_every_input_form_and_named_outputs",
    "public storage URL abfss://… (pipeline component)": "pipeline_abfss_input",
    "public storage URL abfss://… (model)": "model_abfss_input",
    "literal string / integer / number / boolean": "pipeline_every_input_form_and_named_outputs",
    "one uri_file output (model deployment)": "model_folder_input_file_output",
    "overrides.output_file_name with an output": "model_output_file_name_with_output_path",
    "overrides.output_file_name beside outputs= (the SDK's other way; the app never sends it)":
        "model_output_file_name_with_output",
    "no output (outputFileName if set) and the model-deployment overrides": "model_no_output_with_overrides",
    "named outputs, uri_folder and uri_file": "pipeline_every_input_form_and_named_outputs",
    "route kind batch_endpoint + model, a named deployment": "model_deployment_header",
    "route kind batch_endpoint + pipeline_component": "pipeline_every_input_form_and_named_outputs",
}
REFUSED_BY_THE_SDK = {"pipeline_datastore_arm_id_path", "pipeline_abfss_input", "model_abfss_input"}


def fixture(key: str) -> dict:
    return json.loads((FIXTURES / f"{key}.json").read_text(encoding="utf-8"))


def sdk_request(key: str) -> dict:
    record = fixture(key)
    assert "request" in record, f"{key}: the SDK refused this form: {record.get('refused')}"
    return record["request"]


def route(**changes):
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


def pipeline_route(*inputs: dict, outputs: list | None = None, **changes):
    return route(name="sales", match={"container": "landing", "prefix": "sales/"},
                 endpoint={"scoring_uri": "https://sales.eastus.inference.ml.azure.com/jobs", "workspace": WS,
                           "deployment_kind": "pipeline_component"},
                 input={"name": "input_data"}, output=None, inputs=list(inputs), outputs=outputs, **changes)


def run_of(r, *, uri: str = "azureml://datastores/workspaceblobstore/paths/heart/2024-06-01/",
           input_type: str = "uri_folder", folder: str = "heart/2024-06-01") -> dict:
    return {"run_id": RUN_ID, "route": r.name, "requested_at": "2024-06-01T10:00:00Z",
            "input": {"type": input_type, "uri": uri, "folder": folder},
            "outputs": render_outputs(r, RUN_ID, 1, STARTED)}


def app_request(r, run: dict, latest: dict[str, str] | None = None) -> dict:
    """What the submit activity sends: the attempt's name and labels, ``@latest`` resolved, the POST call."""
    spec = job_spec(r, run, job_name=IDENTITY.job_name, labels=IDENTITY.labels)
    body = resolve_latest(spec, latest or {}) if spec.latest_assets else spec.body
    call = wire.submit_call(r.endpoint, body, str(uuid.uuid5(uuid.NAMESPACE_URL, "attempt")))
    return {"method": call.method, "url": call.url, "headers": call.headers, "body": call.body}


def normalised(request: dict, *, app: bool) -> dict:
    """The request with only the legitimately different values replaced (module docstring says why)."""
    request = copy.deepcopy(request)
    headers = dict(request["headers"])
    uuid.UUID(headers["repeatability_request-id"] if app else str(uuid.uuid4()))
    headers["repeatability_request-id"] = "<uuid>"
    props = request["body"]["properties"]
    props.pop("name", None)  # the app always names its attempt's job; invoke() only when given job_name
    if app:
        assert props.pop("tags") == IDENTITY.labels  # the labels, and nothing else, as tags
        user = {k: v for k, v in props["properties"].items() if k not in LABEL_KEYS}
        assert {k: v for k, v in props["properties"].items() if k in LABEL_KEYS} == IDENTITY.labels
        if user:
            props["properties"] = user
        else:
            del props["properties"]
    else:
        props.get("compute", {}).pop("isLocal", None)
    return {"method": request["method"], "url": request["url"], "headers": dict(sorted(headers.items())),
            "body": request["body"]}


def assert_same(app: dict, key: str) -> None:
    assert normalised(app, app=True) == normalised(sdk_request(key), app=False)


def _config_refuses(**changes) -> bool:
    try:
        route(**changes)
    except ConfigError:
        return True
    return False


# -- the fixtures themselves -----------------------------------------------------------------------------
def test_every_readme_form_has_a_fixture_and_every_fixture_a_form():
    keys = {p.stem for p in FIXTURES.glob("*.json")}
    assert set(README_FORMS.values()) == keys


@pytest.mark.parametrize("key", sorted(REFUSED_BY_THE_SDK))
def test_forms_the_sdk_refuses_are_marked_so(key):
    record = fixture(key)
    assert "request" not in record and record["refused"]["type"] == "ValidationException"


@pytest.mark.parametrize("key", sorted(set(README_FORMS.values()) - REFUSED_BY_THE_SDK))
def test_each_captured_request_went_through_invoke(key):
    request = sdk_request(key)
    assert request["method"] == "POST" and request["url"].endswith(".inference.ml.azure.com/jobs")
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["repeatability_request-id"] == "<uuid4>"
    assert set(request["body"]) == {"properties"}


# -- model deployments -----------------------------------------------------------------------------------
def test_landed_folder_and_one_uri_file_output_with_job_name_and_experiment():
    r = route(overrides={"experiment_name": "heart-exp"})
    request = app_request(r, run_of(r))
    assert request["body"]["properties"]["name"] == IDENTITY.job_name
    assert sdk_request("model_folder_input_file_output")["body"]["properties"]["name"] == "heart-0123456789abcdef0123-a1"
    assert_same(request, "model_folder_input_file_output")


def test_landed_folder_as_its_blob_url():
    r = route()
    assert_same(app_request(r, run_of(r, uri="https://acct.blob.core.windows.net/landing/heart/2024-06-01/")),
                "model_folder_input_blob_url")


def test_a_named_deployment_goes_in_the_deployment_header():
    r = route(endpoint={"scoring_uri": "https://heart.eastus.inference.ml.azure.com/jobs", "workspace": WS,
                        "deployment": "blue"})
    request = app_request(r, run_of(r))
    assert request["headers"][wire.DEPLOYMENT_HEADER] == "blue"
    assert_same(request, "model_deployment_header")


def test_landed_file_as_uri_file():
    r = route(landing={"mode": "per_file"}, input={"name": "heart_dataset", "type": "uri_file"})
    run = run_of(r, uri="azureml://datastores/workspaceblobstore/paths/heart/a.csv", input_type="uri_file",
                 folder="heart/a.csv")
    assert_same(app_request(r, run), "model_uri_file_input")


def test_no_output_and_the_model_deployment_overrides():
    r = route(output=None, overrides={"output_file_name": "scores.csv", "mini_batch_size": 2, "instance_count": 1,
                         "max_retries": 2, "timeout_seconds": 300, "error_threshold": 5})
    assert_same(app_request(r, run_of(r)), "model_no_output_with_overrides")


_FOLDER_OUTPUT = {"name": "output_name", "datastore": "workspaceblobstore", "path": "batch/heart/{run_id}"}


@pytest.mark.xfail(condition=not hasattr(wire, "append_output_file_name"), strict=True,
                   reason="issue 17 case 1: output_file_name replaces the output's last segment instead of being "
                          "appended to its folder as invoke() does; fixed on branch `fidelity` (362b63d)")
def test_output_file_name_is_appended_to_the_output_folder_as_invoke_does():
    r = route(output=_FOLDER_OUTPUT, overrides={"output_file_name": "scores.csv"})
    assert_same(app_request(r, run_of(r)), "model_output_file_name_with_output_path")


def test_invoke_also_sends_output_file_name_beside_outputs_which_the_app_never_does():
    """invoke(outputs=..., params_override=[output_file_name]) keeps the output URI and adds ``outputFileName``
    (whether the service then renames the file is UNCONFIRMED); the app's form is the one above."""
    sdk = sdk_request("model_output_file_name_with_output")["body"]["properties"]
    assert sdk["outputFileName"] == "scores.csv" and sdk["outputData"]["score"]["uri"].endswith("/predictions.csv")
    r = route(overrides={"output_file_name": "scores.csv"})
    app = app_request(r, run_of(r))["body"]["properties"]
    assert "outputFileName" not in app and app["outputData"]["score"]["uri"].endswith("/scores.csv")


# -- pipeline-component deployments ---------------------------------------------------------------------
def test_every_input_form_literals_and_named_outputs():
    r = pipeline_route(
        {"name": "lookup", "path": "azureml:regions:2"},
        {"name": "long_form", "path": f"azureml://subscriptions/{SUB}/resourcegroups/{RG}/workspaces/{WS_NAME}/"
                                      "datastores/workspaceblobstore/paths/ref/"},
        {"name": "public", "type": "uri_file",
         "path": "https://azuremlexampledata.blob.core.windows.net/data/heart-disease-uci/data/heart.csv"},
        {"name": "lake_https", "path": "https://acct.dfs.core.windows.net/ref/regions/"},
        {"name": "threshold", "type": "literal", "value": 0.5},
        {"name": "top_k", "type": "literal", "value": 3},
        {"name": "label", "type": "literal", "value": "run-{date}"},
        {"name": "strict", "type": "literal", "value": True},
        outputs=[{"name": "scores", "type": "uri_folder", "datastore": "workspaceblobstore",
                  "path": "pipe/{run_id}/scores"},
                 {"name": "summary", "datastore": "workspaceblobstore", "path": "pipe/{run_id}/summary.json"}],
        overrides={"experiment_name": "sales-exp"})
    run = run_of(r, uri="azureml://datastores/workspaceblobstore/paths/sales/2024-06-01/", folder="sales/2024-06-01")
    assert_same(app_request(r, run), "pipeline_every_input_form_and_named_outputs")


def test_data_asset_name_and_version_is_sent_as_its_arm_id():
    r = pipeline_route({"name": "lookup", "path": "azureml:regions:2"})
    assert_same(app_request(r, run_of(r)), "pipeline_asset_name_version")


def test_latest_data_asset_is_sent_as_the_arm_id_of_its_latest_version():
    r = pipeline_route({"name": "lookup", "path": "azureml:regions@latest"})
    assert_same(app_request(r, run_of(r), latest={"regions": "7"}), "pipeline_asset_latest")


_ASSET_ARM_ID = {"name": "lookup", "path": ARM_WS + "/data/regions/versions/2"}


@pytest.mark.xfail(condition=_config_refuses(name="sales", match={"container": "landing", "prefix": "sales/"},
                                             endpoint={"scoring_uri": "https://sales.eastus.inference.ml.azure.com/"
                                                                      "jobs", "workspace": WS,
                                                       "deployment_kind": "pipeline_component"},
                                             input={"name": "input_data"}, output=None, inputs=[_ASSET_ARM_ID]),
                   strict=True, reason="issue 17 case 6: config refuses a data asset given by its ARM id, a form "
                                       "invoke() sends; accepted on branch `fidelity`")
def test_data_asset_by_its_arm_id_is_sent_as_written():
    r = pipeline_route(_ASSET_ARM_ID)
    assert_same(app_request(r, run_of(r)), "pipeline_asset_arm_id")


# -- the strict emulator accepts exactly this shape -----------------------------------------------------
@pytest.mark.parametrize("key", sorted(set(README_FORMS.values()) - REFUSED_BY_THE_SDK))
def test_the_strict_emulator_accepts_every_body_invoke_sends(key):
    from emulator.shape import check_sdk_shape

    check_sdk_shape(sdk_request(key)["body"])  # raises the 400 it would answer


def test_the_strict_emulator_refuses_the_documented_pascal_case_of_the_same_body():
    from emulator.contract import ContractError
    from emulator.shape import check_sdk_shape

    props = copy.deepcopy(sdk_request("model_folder_input_file_output")["body"]["properties"])
    pascal = {"InputData": {n: {"JobInputType": v["jobInputType"], "Uri": v["uri"]} for n, v in props["inputData"].items()}}
    with pytest.raises(ContractError) as refused:
        check_sdk_shape({"properties": pascal})
    assert refused.value.status == 400 and [d["target"] for d in refused.value.details] == ["properties.InputData"]
