"""Pipeline-component deployments, data assets, abfss inputs and the v1 PipelineEndpoint in the emulator.

The sample pipeline (samples/pipeline) has two data inputs (the landed sales folder, the ``regions`` data
asset), a literal (``threshold``) and two outputs (``scores`` folder, ``summary`` file).
"""
from __future__ import annotations

import json

import httpx

from tests.emulator.helpers import (V1_PIPELINE_ENDPOINT_ID, ds_uri, pipeline_sales_files, unique, upload,
                                    upload_pipeline_assets, wait_for)

WS = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-local/providers/"
      "Microsoft.MachineLearningServices/workspaces/ws-local")


def asset_id(version: str) -> str:
    return f"{WS}/data/regions/versions/{version}"


def pipeline_body(sales_uri: str, out: str, *, regions: str | None = None, threshold=100, outputs=True) -> dict:
    props: dict = {"inputData": {
        "sales": {"jobInputType": "UriFolder", "uri": sales_uri},
        "regions": {"jobInputType": "UriFolder", "uri": regions or asset_id("2")},
        "threshold": {"jobInputType": "Literal", "value": threshold}}}
    if outputs:
        props["outputData"] = {"scores": {"jobOutputType": "UriFolder", "uri": ds_uri(f"{out}/scores/")},
                               "summary": {"jobOutputType": "UriFile", "uri": ds_uri(f"{out}/summary.json")}}
    return {"properties": props}


def test_pipeline_component_runs_with_an_asset_a_literal_and_two_outputs(client, store):
    upload_pipeline_assets(store)
    folder, out = unique("sales"), unique("pipe-out")
    upload(store, folder, pipeline_sales_files())
    r = client.post("/endpoints/sales/jobs", json=pipeline_body(ds_uri(folder + "/"), out, threshold=100))
    assert r.status_code == 201, r.text
    job = wait_for(client, "sales", r.json()["name"])
    assert job["properties"]["status"] == "Completed", job["properties"].get("error")
    assert job["properties"]["outputData"]["scores"] == {"jobOutputType": "UriFolder", "uri": ds_uri(f"{out}/scores/")}
    assert job["properties"]["inputData"]["threshold"] == {"jobInputType": "Literal", "value": 100.0}
    summary = json.loads(store.download_blob(f"{out}/summary.json").readall())
    assert summary == {"threshold": 100.0, "totals": {"East": 300.0, "North": 130.0, "South": 80.0}}
    day1 = store.download_blob(f"{out}/scores/day1.csv").readall().decode()
    assert "n,North,120,true" in day1 and "s,South,80,false" in day1


def test_no_output_data_writes_to_the_default_datastore_and_the_job_lists_where(client, store):
    upload_pipeline_assets(store)
    folder = unique("sales")
    upload(store, folder, pipeline_sales_files())
    r = client.post("/endpoints/sales/jobs", json=pipeline_body(ds_uri(folder + "/"), "", outputs=False))
    assert r.status_code == 201, r.text
    name = r.json()["name"]
    job = wait_for(client, "sales", name)
    assert job["properties"]["status"] == "Completed", job["properties"].get("error")
    outputs = job["properties"]["outputData"]
    assert outputs["scores"]["uri"] == ds_uri(f"azureml/{name}/scores/")
    assert store.get_blob_client(f"azureml/{name}/summary/summary").exists()
    arm = client.get(f"/management{WS}/jobs/{name}", params={"api-version": "2024-04-01"}).json()
    assert arm["properties"]["outputs"]["summary"]["jobOutputType"] == "uri_file"


def test_latest_data_asset_version_and_unknown_assets(client):
    r = client.get(f"/management{WS}/data/regions", params={"api-version": "2024-04-01"})
    assert r.status_code == 200 and r.json()["properties"]["latestVersion"] == "2"
    assert client.get(f"/management{WS}/data/nope", params={"api-version": "2024-04-01"}).status_code == 404
    r = client.post("/endpoints/sales/jobs", json=pipeline_body(ds_uri("x/"), "o", regions=asset_id("9")))
    assert r.status_code == 404 and "version '9' was not found" in r.json()["error"]["message"]
    r = client.post("/endpoints/sales/jobs", json=pipeline_body(ds_uri("x/"), "o", regions="azureml:regions:2"))
    assert r.status_code == 400 and "resolved by the SDK/CLI" in r.json()["error"]["message"]


def test_pipeline_inputs_are_checked_against_the_component(client):
    body = pipeline_body(ds_uri("x/"), "o")
    body["properties"]["inputData"]["extra"] = {"jobInputType": "Literal", "value": 1}
    r = client.post("/endpoints/sales/jobs", json=body)
    assert r.status_code == 400 and "'extra' is not an input" in r.json()["error"]["message"]
    body = pipeline_body(ds_uri("x/"), "o")
    del body["properties"]["inputData"]["sales"]
    r = client.post("/endpoints/sales/jobs", json=body)
    assert r.status_code == 400 and "Required input 'sales'" in r.json()["error"]["message"]
    body = pipeline_body(ds_uri("x/"), "o", threshold="lots")
    r = client.post("/endpoints/sales/jobs", json=body)
    assert r.status_code == 400 and "not a valid number" in r.json()["error"]["message"]
    body = pipeline_body(ds_uri("x/"), "o")
    body["properties"]["outputData"]["scores"]["uri"] = "azureml://datastores/nowhere/paths/o/"
    r = client.post("/endpoints/sales/jobs", json=body)
    assert r.status_code == 400 and "Data Store attached" in r.json()["error"]["message"]


def test_abfss_input_on_a_model_deployment(client, store):
    from tests.emulator.helpers import body as model_body

    folder, out = unique("heart"), unique("out")
    upload(store, folder, {"a.csv": "age,sex,cp,trestbps,chol,fbs,restecg,thalach,exang,oldpeak,slope,ca,thal\n"
                                    "63,1,1,145,233,1,2,150,0,2.3,3,0,fixed\n"})
    uri = f"abfss://azureml-blobstore@devstoreaccount1.dfs.core.windows.net/{folder}/"
    r = client.post("/endpoints/heart/jobs", json=model_body(uri, ds_uri(f"{out}/p.csv")))
    assert r.status_code == 201, r.text
    job = wait_for(client, "heart", r.json()["name"])
    assert job["properties"]["status"] == "Completed", job["properties"].get("error")
    assert store.get_blob_client(f"{out}/p.csv").exists()


def test_v1_pipeline_endpoint_submit_poll_query_and_cancel(server, client, store):
    upload_pipeline_assets(store)
    folder = unique("sales")
    upload(store, folder, pipeline_sales_files())
    base = f"/pipelines/v1.0{WS}/PipelineRuns/PipelineEndpointSubmit/Id/{V1_PIPELINE_ENDPOINT_ID}"
    body = {"ExperimentName": "sales-exp", "RunSource": "API", "Tags": {"batchrun.attempt_id": "a-1"},
            "ParameterAssignments": {"threshold": 50},
            "DataPathAssignments": {"sales": {"DataStoreName": "workspaceblobstore", "RelativePath": folder}}}
    r = client.post(base, json=body)
    assert r.status_code == 200, r.text
    run_id = r.json()["Id"]
    history = f"/history/v1.0{WS}/runs/{run_id}"
    import time

    deadline = time.monotonic() + 20
    while (run := client.get(history).json())["status"] not in ("Finished", "Failed", "Canceled"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert run["status"] == "Finished", run.get("error")   # Run History's word for a pipeline run's success
    assert run["experimentName"] == "sales-exp" and run["tags"]["batchrun.attempt_id"] == "a-1"
    assert store.get_blob_client(f"azureml/{run_id}/summary/summary").exists()
    found = client.post(f"/history/v1.0{WS}/experiments/sales-exp/runs:query",
                        json={"filter": "tags/batchrun.attempt_id eq 'a-1'"}).json()["value"]
    assert [f["runId"] for f in found] == [run_id]
    found = client.post(f"/history/v1.0{WS}/experiments/sales-exp/runs:query",   # azureml-core's syntax
                        json={"filter": '(Tags/batchrun.attempt_id eq "a-1")', "orderby": "StartTimeUtc desc",
                              "top": 10}).json()["value"]
    assert [f["runId"] for f in found] == [run_id]
    assert client.post(base, json={**body, "ExperimentName": ""}).status_code == 400
    assert client.post(base, params={"pipelineVersion": "7"}, json=body).status_code == 404
    assert client.post(base.replace(V1_PIPELINE_ENDPOINT_ID, "nope"), json=body).status_code == 404
    r = client.post(f"/pipelines/v1.0{WS}/PipelineRuns/{run_id}/Cancel")
    assert r.status_code == 200  # a finished run stays finished
    r = client.delete(f"/pipelines/v1.0{WS}/PipelineRuns/{run_id}/Execution")   # PipelineRun.cancel()
    assert r.status_code == 200
    assert client.get(history).json()["status"] == "Finished"


def test_v1_wants_a_management_token(server):
    import base64

    claims = base64.urlsafe_b64encode(json.dumps({"aud": "https://ml.azure.com"}).encode()).decode().rstrip("=")
    token = f"e30.{claims}.sig"
    r = httpx.get(f"{server.base_url}/history/v1.0{WS}/runs/x", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"
