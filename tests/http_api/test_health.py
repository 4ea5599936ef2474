"""GET /api/health (anonymous: status and counts) and GET /api/health/details (function key: the problems),
called through the real function_app as the worker calls them."""

import copy
import json

import azure.functions as func

from tests.app_index import user_function

CONFIG = {
    "datastores": {"workspaceblobstore": {"account_url": "http://127.0.0.1:10000/devstoreaccount1",
                                          "container": "azureml-blobstore"}},
    "routes": [{
        "name": "heart",
        "match": {"container": "landing", "prefix": "heart/"},
        "endpoint": {"scoring_uri": "http://127.0.0.1:9/endpoints/heart/jobs"},
        "output": {"datastore": "workspaceblobstore", "path": "batch/heart/{run_id}/predictions.csv"},
    }],
}
KEY = "c2VjcmV0a2V5c2VjcmV0a2V5"
SIG = "SIGabcdef0123456789%2Bxyz%3D"


def call(name: str):
    response = user_function(name)(req=func.HttpRequest("GET", f"http://localhost/api/{name}", body=b""))
    return response, json.loads(response.get_body())


def test_a_valid_configuration_reports_ok_and_counts(monkeypatch):
    monkeypatch.setenv("BATCH_CONFIG_JSON", json.dumps(CONFIG))
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    response, body = call("health")
    assert response.status_code == 200
    assert body == {"status": "ok", "version": body["version"], "route_count": 1}
    assert response.headers.get("Cache-Control") == "no-store"
    response, body = call("health_details")
    assert response.status_code == 200 and body["routes"] == ["heart"]
    assert body["connections"] == {"AzureWebJobsStorage": "development"}


def test_an_invalid_configuration_shows_problems_only_with_a_function_key(monkeypatch):
    broken = copy.deepcopy(CONFIG)
    broken["routes"][0]["overrides"] = {"mini_batch_size": -3}
    broken["routes"][0]["sinks"] = [{"url": f"https://u:hunter2pw@curated.blob.core.windows.net/s/{{folder}}/"
                                            f"?sv=2022-11-02&sig={SIG}"}]
    broken["routes"][0]["notify"] = {"webhook": {"url": "https://hooks.example.com/x?code=FUNCKEYvalue123"}}
    monkeypatch.setenv("BATCH_CONFIG_JSON", json.dumps(broken))
    monkeypatch.setenv("AzureWebJobsStorage", f"DefaultEndpointsProtocol=https;AccountName=a;AccountKey={KEY}")

    response, body = call("health")
    assert response.status_code == 503
    assert body == {"status": "invalid_configuration", "version": body["version"], "problem_count": 3,
                    "details": "GET /api/health/details (function key)"}

    response, body = call("health_details")
    text = response.get_body().decode()
    assert response.status_code == 503
    assert body["problems"] == [
        "route 'heart': overrides.mini_batch_size: must be at least 1 and at most 1000000, got -3",
        "route 'heart': sinks[0].url: must not carry credentials (user:password@, a SAS, a key or a code in the"
        " query); the sink's connection carries the credential",
        "route 'heart': notify.webhook.url: must not carry credentials (user:password@, a SAS, a key or a code in"
        " the query); put the URL in an app setting (a Key Vault reference) and name it in url_setting; sign the"
        " body with secret_setting"]
    for secret in (KEY, SIG, "hunter2pw", "FUNCKEYvalue123"):
        assert secret not in text


def test_details_name_unconfigured_connections_without_values(monkeypatch):
    config = copy.deepcopy(CONFIG)
    config["routes"][0]["sinks"] = [{"url": "https://curated.blob.core.windows.net/scores/{folder}/",
                                     "connection": "CURATED"}]
    monkeypatch.setenv("BATCH_CONFIG_JSON", json.dumps(config))
    monkeypatch.setenv("AzureWebJobsStorage", f"DefaultEndpointsProtocol=https;AccountName=a;AccountKey={KEY}")
    monkeypatch.delenv("CURATED", raising=False)
    response, body = call("health_details")
    assert response.status_code == 200
    assert body["connections"]["AzureWebJobsStorage"] == "key"
    assert "CURATED__blobServiceUri" in body["connections"]["CURATED"]["problem"]
    assert KEY not in response.get_body().decode()
