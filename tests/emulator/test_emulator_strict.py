"""Issue 11, "strict where the service is strict": what the emulator refuses, each with the service's message
(contract §1.2, §1.6, §1.11; ARM's api-version answer as ARM gives it) or, where no source quotes one, our
own wording marked [emulator]."""
from __future__ import annotations

import httpx
import pytest

from emulator.app import token_audience
from shared.batch_endpoint import exceptions as errors
from shared.batch_endpoint.client import BatchEndpointClient, RetryPolicy
from shared.config.models import EndpointConfig, Workspace
from shared.identity import LoopbackCredential, unsigned_token
from tests.emulator.helpers import TOKEN, body, ds_uri, unique, upload

WS = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-local/providers/"
      "Microsoft.MachineLearningServices/workspaces/ws-local")


def bearer(audience: str) -> dict:
    return {"Authorization": f"Bearer {unsigned_token(audience, 2**31)}"}


def input_folder(store) -> str:
    folder = unique("in/strict")
    upload(store, folder, {"a.csv": "ok"})
    return ds_uri(folder)


# -- api-version -----------------------------------------------------------------------------------------
def test_an_unknown_arm_api_version_is_refused_as_arm_refuses_it(server, client):
    r = client.get(f"{server.management_url}{WS}/jobs/any?api-version=2099-01-01")
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "NoRegisteredProviderFound"
    assert error["message"].startswith("No registered resource provider found for location 'local' and API version "
                                       "'2099-01-01' for type 'workspaces/jobs'. The supported api-versions are '")
    assert "2024-04-01" in error["message"]
    r = client.post(f"{server.management_url}{WS}/jobs/any/cancel?api-version=2024-13-01")
    assert r.status_code == 400 and r.json()["error"]["code"] == "NoRegisteredProviderFound"
    assert client.get(f"{server.management_url}{WS}/jobs?api-version=latest").status_code == 400


def test_known_api_versions_are_served(server, client):
    for version in ("2024-04-01", "2025-12-01", "2023-04-01-preview"):
        assert client.get(f"{server.management_url}{WS}/jobs?api-version={version}").status_code == 200


# -- token audience --------------------------------------------------------------------------------------
def test_a_management_token_on_the_scoring_uri_is_refused(server, store):
    r = httpx.post(server.scoring_uri("lab"), json=body(input_folder(store), ds_uri(unique("out") + "/p.csv")),
                   headers=bearer("https://management.azure.com"))
    assert r.status_code == 401 and r.json()["error"]["message"] == "Audience or service not allowed"


def test_a_data_plane_token_on_arm_is_refused_with_arms_message(server):
    r = httpx.get(f"{server.management_url}{WS}/jobs?api-version=2024-04-01", headers=bearer("https://ml.azure.com"))
    assert r.status_code == 401
    error = r.json()["error"]
    assert error["code"] == "InvalidAuthenticationTokenAudience"
    assert error["message"].startswith("The access token has been obtained for wrong audience or resource "
                                       "'https://ml.azure.com'. It should exactly match with one of the allowed "
                                       "audiences ")


@pytest.mark.parametrize("audience", ["https://ml.azure.com", "https://ml.azure.com/"])
def test_the_right_audience_is_accepted(server, store, audience):
    r = httpx.post(server.scoring_uri("lab"), json=body(input_folder(store), ds_uri(unique("out") + "/p.csv")),
                   headers=bearer(audience))
    assert r.status_code == 201, r.text


def test_the_apps_loopback_credential_carries_the_audience_of_each_call(server, store):
    """The app's own client and local credential against the strict emulator: submit (data plane), status
    and cancel (ARM) each get a token for their plane."""
    credential = LoopbackCredential()
    assert token_audience(credential.get_token("https://ml.azure.com/.default").token) == "https://ml.azure.com"
    endpoint = EndpointConfig(server.scoring_uri("lab"), "flaky", Workspace(
        "00000000-0000-0000-0000-000000000000", "rg-local", "ws-local"))
    with BatchEndpointClient(credential) as client:
        job = client.submit(endpoint, body(input_folder(store), ds_uri(unique("out") + "/p.csv")), "r-1")
        assert client.get_job(endpoint, job.name, server.management_url, "2024-04-01").name == job.name
        client.cancel(endpoint, job.name, server.management_url, "2024-04-01")


def test_a_credential_for_the_wrong_resource_fails_with_the_services_message(server, store):
    class WrongAudience:
        def get_token(self, *scopes, **kwargs):
            return LoopbackCredential().get_token("https://management.azure.com/.default")

    endpoint = EndpointConfig(server.scoring_uri("lab"), "flaky")
    with BatchEndpointClient(WrongAudience(), retry=RetryPolicy(max_attempts=1)) as client:
        with pytest.raises(errors.AuthenticationError, match="Audience or service not allowed") as caught:
            client.submit(endpoint, body(input_folder(store), ds_uri(unique("out") + "/p.csv")), "r-1")
    assert "The token must be for https://ml.azure.com" in str(caught.value)


# -- body --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("timeout", [300, "300", "5 minutes", "PT", 30.5])
def test_a_retry_timeout_that_is_not_an_iso_duration_is_refused(client, store, timeout):
    r = client.post("/endpoints/lab/jobs", json=body(input_folder(store), ds_uri(unique("out") + "/p.csv"),
                                                     retrySettings={"maxRetries": 1, "timeout": timeout}))
    assert r.status_code == 400
    detail = r.json()["error"]["details"][0]
    assert detail == {"code": "PredicateValidator", "target": "RetrySettings.Timeout",
                      "message": "'Timeout' must be an ISO-8601 duration."}


def test_an_iso_retry_timeout_is_accepted(client, store):
    r = client.post("/endpoints/lab/jobs", json=body(input_folder(store), ds_uri(unique("out") + "/p.csv"),
                                                     retrySettings={"maxRetries": 1, "timeout": "PT5M"}))
    assert r.status_code == 201 and r.json()["properties"]["retrySettings"]["timeout"] == "PT300S"


def test_a_second_output_on_a_model_deployment_is_refused(client, store):
    b = body(input_folder(store), ds_uri(unique("out") + "/p.csv"))
    b["properties"]["OutputData"]["extra"] = {"JobOutputType": "UriFile", "Uri": ds_uri(unique("out") + "/q.csv")}
    r = client.post("/endpoints/lab/jobs", json=b)
    assert r.status_code == 400
    message = r.json()["error"]["message"]
    assert message.startswith("The Job request provided has the following validation errors. Please resolve them "
                              "and try again.")
    assert '"PropertyName": "OutputData"' in message and "exactly one output" in message


def test_an_output_on_an_unknown_datastore_is_refused(client, store):
    r = client.post("/endpoints/lab/jobs", json=body(input_folder(store), ds_uri("out/p.csv", "nostore")))
    assert r.status_code == 400
    message = r.json()["error"]["message"]
    assert message.startswith("Invalid output URI 'azureml://datastores/nostore/paths/out/p.csv'. It must be a path "
                              "to an output file in a Data Store attached to the Machine Learning workspace. No other "
                              "type of URIs is supported.")
    assert "Datastore 'nostore' not found" in message


def test_opaque_test_tokens_still_pass(client, store):
    """Tokens without a JWT shape carry no audience; the emulator cannot check them (documented)."""
    assert TOKEN["Authorization"] == "Bearer local-test-token"
    r = client.post("/endpoints/lab/jobs", json=body(input_folder(store), ds_uri(unique("out") + "/p.csv")))
    assert r.status_code == 201
