"""Invoke-time contract: rejections with the service's statuses and messages, body spellings, job resource."""
from __future__ import annotations

import httpx

from tests.emulator.helpers import TOKEN, body, ds_uri, emulator_job, unique, upload, wait_for

NO_ROUTE = ("No valid deployments to route to. Please check that the endpoint has at least one deployment with "
            "positive weight values or use a deployment specific header to route.")


def _any_input(store) -> str:
    folder = unique("in/contract")
    upload(store, folder, {"a.csv": "ok"})
    return ds_uri(folder)


def test_missing_or_empty_bearer_token_is_401(server, store):
    b = body(_any_input(store))
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic abc"}):
        r = httpx.post(server.scoring_uri("heart"), json=b, headers=headers)
        assert r.status_code == 401, headers
        assert r.json()["error"]["code"] in ("AuthenticationFailed", "InvalidAuthenticationToken")
        assert "Authorization" in r.json()["error"]["message"]
    r = httpx.get(server.scoring_uri("heart") + "/whatever")
    assert r.status_code == 401


def test_no_header_and_no_default_deployment_is_404_with_service_message(client, store):
    r = client.post("/endpoints/nodefault/jobs", json=body(_any_input(store)))
    assert r.status_code == 404
    assert r.json()["error"]["message"] == NO_ROUTE
    # the header routes it
    r = client.post("/endpoints/nodefault/jobs", json=body(_any_input(store), ds_uri(unique("out") + "/p.csv")),
                    headers={"azureml-model-deployment": "classifier"})
    assert r.status_code == 201, r.text


def test_unknown_endpoint_is_404(client, store):
    r = client.post("/endpoints/nope/jobs", json=body(_any_input(store)))
    assert r.status_code == 404
    assert "nope" in r.json()["error"]["message"]


def test_unknown_deployment_header_is_404_naming_it(client, store):
    r = client.post("/endpoints/heart/jobs", json=body(_any_input(store)), headers={"azureml-model-deployment": "blue"})
    assert r.status_code == 404
    msg = r.json()["error"]["message"]
    assert "'blue'" in msg and "azureml-model-deployment" in msg and "classifier" in msg


def test_urifolder_output_is_400_with_service_validation_text(client, store):
    for value, attempted in (("UriFolder", "uri_folder"), ("uri_folder", "uri_folder")):
        b = body(_any_input(store))
        b["properties"]["OutputData"] = {"score": {"JobOutputType": value, "Uri": ds_uri("out/folder/")}}
        r = client.post("/endpoints/heart/jobs", json=b)
        assert r.status_code == 400
        err = r.json()["error"]
        assert err["message"].startswith("The Job request provided has the following validation errors.")
        assert "Job output type must be 'uri_file'." in err["message"]
        assert '"PropertyName": "OutputData.Values[0].JobOutputType"' in err["message"]
        assert f'"AttemptedValue": "{attempted}"' in err["message"]
        assert err["details"][0] == {"code": "PredicateValidator", "target": "OutputData.Values[0].JobOutputType",
                                     "message": "Job output type must be 'uri_file'."}


def test_literal_input_is_400_for_model_deployment(client):
    b = {"properties": {"InputData": {"x": {"JobInputType": "Literal", "Value": "append"}}}}
    r = client.post("/endpoints/heart/jobs", json=b)
    assert r.status_code == 400
    assert ("The specified job input type 'LiteralJobInput' is not supported. The supported types are: "
            "UriFileJobInput, UriFolderJobInput.") in r.json()["error"]["message"]
    assert r.json()["error"]["details"][0]["target"] == "InputData.Values[0]"


def test_malformed_json_and_missing_inputdata_are_400(client):
    r = client.post("/endpoints/heart/jobs", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["error"]["message"]
    r = client.post("/endpoints/heart/jobs", json={"properties": {"OutputData": {}}})
    assert r.status_code == 400 and "'Input Data' must not be empty." in r.json()["error"]["message"]
    r = client.post("/endpoints/heart/jobs", json={"foo": 1})
    assert r.status_code == 400
    r = client.post("/endpoints/heart/jobs", json=body(ds_uri("x"), miniBatchSize=0))
    assert r.status_code == 400 and "MiniBatchSize" in r.json()["error"]["message"]
    r = client.post("/endpoints/heart/jobs", json=body(ds_uri("x"), retrySettings={"timeout": "soon"}))
    assert r.status_code == 400 and "ISO-8601" in r.json()["error"]["message"]


def test_unknown_datastore_and_non_datastore_output_are_400(client, store, azurite):
    r = client.post("/endpoints/heart/jobs", json=body(ds_uri("in/x", "nostore")))
    assert r.status_code == 400 and "Datastore 'nostore' not found" in r.json()["error"]["message"]
    blob_url = f"{azurite.default.blob_url}/azureml-blobstore/out/x.csv"
    r = client.post("/endpoints/heart/jobs", json=body(_any_input(store), blob_url))
    assert r.status_code == 400 and "Data Store attached to the Machine Learning workspace" in r.text


def test_camelcase_body_with_overrides_as_the_sdk_sends(server, client, store):
    folder = unique("in/camel")
    upload(store, folder, {f"f{i}.csv": "ok" for i in range(5)})
    out = unique("out") + "/camel.csv"
    name = "camel-" + unique("job").split("/")[1]
    wire = {"properties": {
        "inputData": {"input_data": {"jobInputType": "uri_folder", "uri": ds_uri(folder)}},
        "outputData": {"output_name": {"jobOutputType": "uri_file", "uri": ds_uri(out)}},
        "miniBatchSize": 2, "compute": {"instanceCount": 3}, "errorThreshold": 4,
        "retrySettings": {"maxRetries": 1, "timeout": "PT5M"}, "outputFileName": "ignored.csv",
        "name": name, "properties": {"experimentName": "my-exp"}}}
    r = client.post("/endpoints/lab/jobs", json=wire)
    assert r.status_code == 201, r.text
    res = r.json()
    assert res["name"] == name and res["id"].endswith(f"/batchEndpoints/lab/jobs/{name}")
    assert res["type"] == "Microsoft.MachineLearningServices/workspaces/batchEndpoints/jobs"
    p = res["properties"]
    assert p["status"] in ("NotStarted", "Queued")
    assert p["interactionEndpoints"]["Studio"]["endpoint"].startswith(f"https://ml.azure.com/runs/{name}?wsid=")
    assert p["inputData"] == {"input_data": {"jobInputType": "UriFolder", "uri": ds_uri(folder)}}
    assert p["outputData"] == {"output_name": {"jobOutputType": "UriFile", "uri": ds_uri(out)}}
    assert p["miniBatchSize"] == 2 and p["compute"]["instanceCount"] == 3 and p["errorThreshold"] == 4
    assert p["retrySettings"] == {"maxRetries": 1, "timeout": "PT300S"}
    assert p["experimentName"] == "my-exp"
    assert "createdAt" in res["systemData"]
    done = wait_for(client, "lab", name)
    assert done["properties"]["status"] == "Completed"
    info = emulator_job(server, name)
    assert info["counters"]["mini_batches"] == 3  # 5 files / miniBatchSize 2
    assert info["settings"]["timeout"] == 300.0 and info["settings"]["max_retries"] == 1
    # the UriFile output is the full file path; outputFileName does not rename it
    assert store.get_blob_client(out).exists()
    # a job name is unique
    r = client.post("/endpoints/lab/jobs", json=wire)
    assert r.status_code == 409


def test_pascalcase_uri_file_input_and_deployment_header(client, store):
    folder = unique("in/file")
    upload(store, folder, {"only.csv": "ok", "other.csv": "ok"})
    out = unique("out") + "/one.csv"
    r = client.post("/endpoints/lab/jobs", json=body(ds_uri(f"{folder}/only.csv"), ds_uri(out), input_type="UriFile"),
                    headers={"azureml-model-deployment": "flaky", "repeatability_request-id": "abc"})
    assert r.status_code == 201, r.text
    assert wait_for(client, "lab", r.json()["name"])["properties"]["status"] == "Completed"
    assert store.download_blob(out).readall().decode() == "only.csv ok\n"
    # like the service (as far as is known), a repeated request id is not de-duplicated
    r2 = client.post("/endpoints/lab/jobs", json=body(ds_uri(f"{folder}/only.csv"), ds_uri(out), input_type="UriFile"),
                     headers={"repeatability_request-id": "abc"})
    assert r2.status_code == 201 and r2.json()["name"] != r.json()["name"]


def test_blob_url_input_azurite_path_style(client, store, azurite):
    folder = unique("in/url")
    upload(store, folder, {"u.csv": "ok"})
    url = f"{azurite.default.blob_url}/azureml-blobstore/{folder}"
    out = unique("out") + "/u.csv"
    r = client.post("/endpoints/lab/jobs", json=body(url, ds_uri(out)))
    assert r.status_code == 201, r.text
    assert wait_for(client, "lab", r.json()["name"])["properties"]["status"] == "Completed"
    assert store.download_blob(out).readall().decode() == "u.csv ok\n"


def test_default_output_location_without_outputdata(client, store):
    folder = unique("in/default")
    upload(store, folder, {"d.csv": "ok"})
    r = client.post("/endpoints/lab/jobs", json=body(ds_uri(folder)))
    name = r.json()["name"]
    assert wait_for(client, "lab", name)["properties"]["status"] == "Completed"
    assert store.download_blob(f"azureml/{name}/score/predictions.csv").readall().decode() == "d.csv ok\n"


def test_get_list_and_unknown_job(client, store):
    r = client.get("/endpoints/heart/jobs/does-not-exist")
    assert r.status_code == 404 and r.json()["error"]["code"] == "ResourceNotFound"
    r = client.get("/endpoints/heart/jobs")
    assert r.status_code == 200 and isinstance(r.json()["value"], list)
    assert client.get("/endpoints/nope/jobs").status_code == 404
