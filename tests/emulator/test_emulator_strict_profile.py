"""Issue 17, "the emulator becomes the strict one": each answer of the ``strict`` profile (the default of the
e2e tests and the benchmarks), against the ``kind`` profile where the difference is the point.

Strict answers: a body is refused unless it has the shape the SDK's ``invoke()`` sends (key casing, enum
spelling, unknown properties: 400 in the service's validation-error shape); client job names are ignored;
tags are dropped; user properties are kept only on pipeline-component deployments; the scoring URI serves
no job list; ``repeatability_request-id`` is not honoured; cancelling a finished job is refused.
"""
from __future__ import annotations

import json
import uuid

import httpx
import pytest

from emulator.config import PROFILE_ENV, ConfigError, load_config
from tests.emulator.helpers import (SAMPLE, TOKEN, ds_uri, emulator_config_dict, emulator_job, pipeline_sales_files,
                                    unique, upload, upload_pipeline_assets, wait_for)

API = "api-version=2024-04-01"
WS = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-local/providers/"
      "Microsoft.MachineLearningServices/workspaces/ws-local")
VALIDATION_HEADER = ("The Job request provided has the following validation errors. Please resolve them and "
                     "try again.")


@pytest.fixture()
def strict(strict_server):
    with httpx.Client(base_url=strict_server.base_url, headers=TOKEN, timeout=30) as c:
        yield c


def sdk_body(store, **props) -> dict:
    """A model-deployment body exactly as azure-ai-ml's invoke() sends it (tests/fidelity/fixtures)."""
    folder = unique("in/strict")
    upload(store, folder, {"a.csv": "ok"})
    p = {"inputData": {"heart_data": {"jobInputType": "UriFolder", "uri": ds_uri(folder + "/")}},
         "outputData": {"score": {"jobOutputType": "UriFile", "uri": ds_uri(unique("out") + "/p.csv")}}}
    p.update(props)
    return {"properties": p}


def refused(r: httpx.Response) -> list[dict]:
    """The 400's details, after checking the error has the service's validation-error shape."""
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "UserError" and error["message"].startswith(VALIDATION_HEADER)
    listed = json.loads(error["message"].split("Errors:\n", 1)[1])
    assert [i["PropertyName"] for i in listed] == [d["target"] for d in error["details"]]
    return error["details"]


def test_the_sdks_shape_is_accepted(strict, store):
    r = strict.post("/endpoints/lab/jobs", json=sdk_body(store, miniBatchSize=1, compute={"instanceCount": 1},
                                                         retrySettings={"maxRetries": 1, "timeout": "PT30S"}))
    assert r.status_code == 201, r.text
    assert wait_for(strict, "lab", r.json()["name"])["properties"]["status"] == "Completed"


# -- key casing ------------------------------------------------------------------------------------------
def test_the_documented_pascal_case_is_refused(strict_server, strict, store):
    before = len(strict_server.emulator.store.list())
    body = sdk_body(store)
    props = body["properties"]
    props["InputData"] = {"heart_data": {"JobInputType": "UriFolder", "Uri": props.pop("inputData")["heart_data"]["uri"]}}
    details = refused(strict.post("/endpoints/lab/jobs", json=body))
    assert details == [{"code": "PropertyCasing", "target": "properties.InputData",
                        "message": "[emulator] 'InputData' is spelled 'inputData' by the SDK's invoke() (property "
                                   "names are matched exactly)."}]
    assert len(strict_server.emulator.store.list()) == before  # nothing was created


def test_a_nested_key_in_another_case_is_refused(strict, store):
    body = sdk_body(store)
    body["properties"]["outputData"]["score"]["Uri"] = body["properties"]["outputData"]["score"].pop("uri")
    body["properties"]["retrySettings"] = {"MaxRetries": 1}
    targets = [d["target"] for d in refused(strict.post("/endpoints/lab/jobs", json=body))]
    assert targets == ["properties.outputData.score.Uri", "properties.retrySettings.MaxRetries"]


# -- enum spelling ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("where, value", [("inputData", "uri_folder"), ("inputData", "urifolder"),
                                          ("outputData", "uri_file")])
def test_an_enum_value_spelled_otherwise_is_refused(strict, store, where, value):
    body = sdk_body(store)
    entry = next(iter(body["properties"][where].values()))
    key = "jobInputType" if where == "inputData" else "jobOutputType"
    entry[key] = value
    [detail] = refused(strict.post("/endpoints/lab/jobs", json=body))
    assert detail["code"] == "EnumValue" and detail["target"] == f"properties.{where}.{next(iter(body['properties'][where]))}.{key}"
    assert f"'{value}' is not one of" in detail["message"]


def test_a_logging_level_in_lower_case_is_refused(strict, store):
    [detail] = refused(strict.post("/endpoints/lab/jobs", json=sdk_body(store, loggingLevel="info")))
    assert detail["target"] == "properties.loggingLevel" and "Info, Warning, Debug" in detail["message"]


# -- unknown properties ----------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [("globalConfiguration",), ("inputData", "heart_data", "path"),
                                  ("compute", "instances")])
def test_an_unknown_property_is_refused(strict, store, path):
    body = sdk_body(store)
    node = body["properties"]
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = 1
    [detail] = refused(strict.post("/endpoints/lab/jobs", json=body))
    assert detail["code"] == "UnknownProperty" and detail["target"] == "properties." + ".".join(path)
    assert detail["message"].startswith(f"[emulator] '{path[-1]}' is not a property of this object; known: ")


def test_a_pipeline_component_body_is_held_to_the_same_shape(strict):
    body = {"properties": {"inputData": {"sales": {"jobInputType": "uri_folder", "uri": ds_uri("x/")},
                                         "threshold": {"JobInputType": "Literal", "Value": 100}}}}
    details = refused(strict.post("/endpoints/sales/jobs", json=body))
    assert [(d["code"], d["target"]) for d in details] == [
        ("EnumValue", "properties.inputData.sales.jobInputType"),
        ("PropertyCasing", "properties.inputData.threshold.JobInputType"),
        ("PropertyCasing", "properties.inputData.threshold.Value")]


def test_a_key_beside_properties_is_refused(strict, store):
    body = {**sdk_body(store), "name": "x"}
    assert refused(strict.post("/endpoints/lab/jobs", json=body))[0]["target"] == "name"


def test_the_kind_profile_reads_any_casing(client, store):
    """The documented PascalCase body and snake_case enums: accepted on the kind profile."""
    folder = unique("in/kind")
    upload(store, folder, {"a.csv": "ok"})
    r = client.post("/endpoints/lab/jobs", json={"properties": {
        "InputData": {"d": {"JobInputType": "uri_folder", "Uri": ds_uri(folder)}},
        "OutputData": {"score": {"JobOutputType": "UriFile", "Uri": ds_uri(unique("out") + "/p.csv")}}}})
    assert r.status_code == 201, r.text


# -- names, labels ---------------------------------------------------------------------------------------
def test_client_job_names_are_ignored(strict_server, strict, store):
    name = f"mine-{uuid.uuid4().hex[:8]}"
    first = strict.post("/endpoints/lab/jobs", json=sdk_body(store, name=name))
    second = strict.post("/endpoints/lab/jobs", json=sdk_body(store, name=name))
    assert first.status_code == second.status_code == 201
    names = {first.json()["name"], second.json()["name"]}
    assert len(names) == 2 and name not in names and all(n.startswith("batchjob-") for n in names)
    assert emulator_job(strict_server, first.json()["name"])["requested_name"] == name
    assert strict.get(f"/endpoints/lab/jobs/{name}").status_code == 404


def test_tags_and_user_properties_are_dropped_on_a_model_deployment(strict_server, strict, store):
    r = strict.post("/endpoints/lab/jobs", json=sdk_body(store, tags={"k": "v"},
                                                         properties={"p": "1", "experimentName": "mine"}))
    assert r.status_code == 201, r.text
    name = r.json()["name"]
    arm = strict.get(f"{strict_server.management_url}{WS}/jobs/{name}?{API}").json()["properties"]
    assert "k" not in arm["tags"] and arm["tags"]["azureml.batchrun"] == "true"
    assert "p" not in arm["properties"] and arm["experimentName"] == "lab"  # the endpoint's name
    assert emulator_job(strict_server, name)["tags"] == {} and emulator_job(strict_server, name)["properties"] == {}


def test_a_pipeline_component_deployment_keeps_user_properties_but_not_tags(strict_server, strict, store):
    upload_pipeline_assets(store)
    folder = unique("sales")
    upload(store, folder, pipeline_sales_files())
    body = {"properties": {
        "inputData": {"sales": {"jobInputType": "UriFolder", "uri": ds_uri(folder + "/")},
                      "threshold": {"jobInputType": "Literal", "value": 100}},
        "properties": {"experimentName": "sales-exp", "batchrun.attempt_id": "a-1"}, "tags": {"k": "v"}}}
    r = strict.post("/endpoints/sales/jobs", json=body)
    assert r.status_code == 201, r.text
    arm = strict.get(f"{strict_server.management_url}{WS}/jobs/{r.json()['name']}?{API}").json()["properties"]
    assert arm["properties"]["batchrun.attempt_id"] == "a-1" and arm["experimentName"] == "sales-exp"
    assert "k" not in arm["tags"]
    found = strict.get(f"{strict_server.management_url}{WS}/jobs?{API}&properties=batchrun.attempt_id=a-1").json()
    assert [j["name"] for j in found["value"]] == [r.json()["name"]]


# -- lists, repeatability, cancel ------------------------------------------------------------------------
def test_the_scoring_uri_serves_no_job_list(strict_server, strict, store):
    r = strict.get("/endpoints/lab/jobs")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NotFound"
    assert strict.get(f"{strict_server.management_url}{WS}/jobs?{API}").status_code == 200  # ARM Jobs_List


def test_a_repeated_request_id_is_not_deduplicated(strict, store):
    headers = {"repeatability_request-id": str(uuid.uuid4())}
    body = sdk_body(store)
    first = strict.post("/endpoints/lab/jobs", json=body, headers=headers)
    second = strict.post("/endpoints/lab/jobs", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["name"] != second.json()["name"]


def test_cancelling_a_finished_job_is_refused(strict_server, strict, store):
    name = strict.post("/endpoints/lab/jobs", json=sdk_body(store)).json()["name"]
    assert wait_for(strict, "lab", name)["properties"]["status"] == "Completed"
    r = strict.post(f"{strict_server.management_url}{WS}/jobs/{name}/cancel?{API}")
    assert r.status_code == 400
    assert r.json() == {"error": {"code": "UserError",
                                  "message": f"[emulator] Job '{name}' is already Completed and cannot be canceled."}}
    assert wait_for(strict, "lab", name)["properties"]["status"] == "Completed"


def test_cancelling_a_running_job_is_a_long_running_operation(strict_server, strict, store):
    httpx.post(strict_server.base_url + "/_emulator/faults", json={"jobs": [{"effect": "hang"}]})
    name = strict.post("/endpoints/lab/jobs", json=sdk_body(store)).json()["name"]
    wait_for(strict, "lab", name, {"Running"})
    r = strict.post(f"{strict_server.management_url}{WS}/jobs/{name}/cancel?{API}")
    assert r.status_code == 202 and r.headers["Retry-After"] == "1" and "/operationResults/" in r.headers["Location"]
    assert wait_for(strict, "lab", name)["properties"]["status"] == "Canceled"


# -- the switch ------------------------------------------------------------------------------------------
def test_the_profile_is_readable_and_switchable_at_runtime(strict_server, store):
    base = strict_server.base_url
    got = httpx.get(base + "/_emulator/behaviour").json()
    assert (got["profile"], got["job_names"], got["job_labels"], got["body_shape"], got["data_plane_list"],
            got["finished_cancel"]) == ("strict", "ignore", "pipeline_properties", "sdk", "none", "refuse")
    kind = httpx.post(base + "/_emulator/behaviour", json={"profile": "kind", "list_page_size": 7}).json()
    assert (kind["profile"], kind["job_names"], kind["body_shape"], kind["list_page_size"]) == \
        ("kind", "honour", "lenient", 7)
    assert httpx.get(base + "/endpoints/lab/jobs", headers=TOKEN).status_code == 200
    assert httpx.delete(base + "/_emulator/behaviour").json()["profile"] == "strict"
    assert httpx.post(base + "/_emulator/behaviour", json={"profile": "lenient"}).status_code == 400


def test_the_profile_comes_from_the_config_then_the_environment_then_strict(azurite, monkeypatch):
    cfg = emulator_config_dict(azurite.default.blob_connection_string)
    monkeypatch.delenv(PROFILE_ENV, raising=False)
    assert load_config(cfg, SAMPLE).behaviour.profile == "strict"
    monkeypatch.setenv(PROFILE_ENV, "kind")
    assert load_config(cfg, SAMPLE).behaviour.job_names == "honour"
    assert load_config({**cfg, "profile": "strict"}, SAMPLE).behaviour.body_shape == "sdk"
    strict_with_names = load_config({**cfg, "profile": "strict", "behaviour": {"job_names": "honour"}}, SAMPLE)
    assert (strict_with_names.behaviour.job_names, strict_with_names.behaviour.job_labels) == \
        ("honour", "pipeline_properties")
    monkeypatch.setenv(PROFILE_ENV, "gentle")
    with pytest.raises(ConfigError, match=PROFILE_ENV):
        load_config(cfg, SAMPLE)
    with pytest.raises(ConfigError, match="profile"):
        load_config({**cfg, "profile": "gentle"}, SAMPLE)
