"""Issue 11, "reject what the service rejects: a SAS on an input it cannot read".

An https/http blob input URL that carries a SAS is read with that SAS and without the emulator's account key,
against Azurite, which checks SAS tokens for real (signature, expiry, permissions, resource). The reference
(contract §1.5, §1.11) names no submit-time check of input credentials, so a SAS the storage service refuses
fails the job when it reads its input, with the storage error code. The SAS never appears in a job error, a
log line, or any job resource the emulator returns (shared/redact.py masks its ``sig``).
"""
from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, quote

import pytest
from azure.storage.blob import (BlobServiceClient, ContainerClient, ContainerSasPermissions, generate_blob_sas,
                                generate_container_sas)

from samples.heart.model import expected_lines, load_model, sample_files
from tests.emulator.helpers import body, ds_uri, emulator_job, unique, upload, wait_for
from tests.support.azurite import DEVSTORE_ACCOUNT, DEVSTORE_KEY, SINK_ACCOUNT, SINK_KEY

CONTAINER = "landing"  # created by the blob_service fixture; not a datastore, so only a URL reaches it
WS = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-local/providers/"
      "Microsoft.MachineLearningServices/workspaces/ws-local")
REFUSED = re.compile(r"storage answered 403 (AuthorizationPermissionMismatch|AuthorizationFailure|AuthenticationFailed)")


def _hour(sign: int = 1) -> datetime:
    return datetime.now(timezone.utc) + sign * timedelta(hours=1)


def container_sas(permission: str = "rl", expiry: datetime | None = None, container: str = CONTAINER,
                  account: str = DEVSTORE_ACCOUNT, key: str = DEVSTORE_KEY) -> str:
    return generate_container_sas(account_name=account, container_name=container, account_key=key,
                                  permission=ContainerSasPermissions.from_string(permission),
                                  expiry=expiry or _hour())


def blob_sas(blob: str, permission: str = "r") -> str:
    return generate_blob_sas(account_name=DEVSTORE_ACCOUNT, container_name=CONTAINER, blob_name=blob,
                             account_key=DEVSTORE_KEY, permission=permission, expiry=_hour())


def with_bad_signature(sas: str) -> str:
    return re.sub(r"sig=[^&]+", "sig=" + quote("A" * 43 + "=", safe=""), sas)


@pytest.fixture()
def landing(blob_service: BlobServiceClient) -> ContainerClient:
    return blob_service.get_container_client(CONTAINER)


def azurite_url(landing: ContainerClient, path: str, sas: str) -> str:
    """Azurite's path-style URL, http://127.0.0.1:<port>/devstoreaccount1/landing/<path>?<sas>."""
    return f"{landing.url}/{path}?{sas}"


def heart_folder(landing: ContainerClient) -> str:
    folder = unique("sas/heart")
    upload(landing, folder, {f.name: f.read_bytes() for f in sample_files()})
    return folder


def secrets_of(sas: str) -> list[str]:
    """The SAS as sent, and its signature raw and percent-encoded: none may leave the emulator."""
    sig = parse_qs(sas)["sig"][0]
    return [sas, sig, quote(sig, safe="")]


def assert_no_secret(text: str, sas: str, where: str) -> None:
    for secret in secrets_of(sas):
        assert secret not in text, f"the SAS leaked into {where}"


def everything_the_emulator_returns(server, client, name: str, submit_text: str) -> dict[str, str]:
    arm = client.get(f"{server.management_url}{WS}/jobs/{name}?api-version=2024-04-01")
    assert arm.status_code == 200, arm.text
    return {
        "the submit answer": submit_text,
        "the data-plane job": client.get(f"/endpoints/heart/jobs/{name}").text,
        "the data-plane job list": client.get("/endpoints/heart/jobs").text,
        "the ARM job": arm.text,
        "the ARM job list": client.get(f"{server.management_url}{WS}/jobs?api-version=2024-04-01").text,
        "the job logs": client.get(f"/endpoints/heart/jobs/{name}/logs").text,
        "/_emulator/jobs": client.get(server.base_url + "/_emulator/jobs").text,
    }


def submit(client, input_uri: str, input_type: str = "UriFolder") -> tuple[str, str]:
    r = client.post("/endpoints/heart/jobs",
                    json=body(input_uri, ds_uri(unique("out/sas") + "/predictions.csv"), input_type=input_type))
    assert r.status_code == 201, r.text
    return r.json()["name"], r.text


# -- a SAS that grants read ------------------------------------------------------------------------------
def test_a_read_list_container_sas_reads_the_folder_and_the_job_completes(server, client, store, landing, caplog):
    caplog.set_level(logging.DEBUG)
    folder, sas = heart_folder(landing), container_sas("rl")
    out = unique("out/sas") + "/predictions.csv"
    r = client.post("/endpoints/heart/jobs", json=body(azurite_url(landing, folder, sas), ds_uri(out)))
    assert r.status_code == 201, r.text
    name = r.json()["name"]
    job = wait_for(client, "heart", name)
    assert job["properties"]["status"] == "Completed", job["properties"].get("error")
    model = load_model()
    expected = [line for f in sample_files() for line in expected_lines(f.name, f.read_text(), model)]
    got = store.download_blob(out).readall().decode().splitlines()
    assert len(got) == 80 and sorted(got) == sorted(expected)
    assert emulator_job(server, name)["counters"]["files"] == 4
    returned = everything_the_emulator_returns(server, client, name, r.text)
    assert "read with the SAS token of its URI" in returned["the job logs"]
    # the echo keeps what is not secret (where the input is, the SAS's permissions), the signature is masked
    echoed = job["properties"]["inputData"]["heart_data"]["uri"]
    assert echoed.startswith(f"{landing.url}/{folder}?") and "sp=rl" in echoed and "sig=***" in echoed
    for where, text in returned.items():
        assert_no_secret(text, sas, where)
    assert_no_secret("\n".join(rec.getMessage() for rec in caplog.records), sas, "a log record")


def test_the_public_https_form_of_the_url_reads_the_configured_account_with_the_sas(client, store, landing):
    folder, sas = heart_folder(landing), container_sas("rl")
    uri = f"https://{DEVSTORE_ACCOUNT}.blob.core.windows.net/{CONTAINER}/{folder}?{sas}"
    name, _ = submit(client, uri)
    job = wait_for(client, "heart", name)
    assert job["properties"]["status"] == "Completed", job["properties"].get("error")


def test_a_read_only_blob_sas_reads_a_uri_file_input(server, client, landing):
    folder = heart_folder(landing)
    blob = f"{folder}/{sample_files()[0].name}"
    sas = blob_sas(blob, "r")
    name, _ = submit(client, azurite_url(landing, blob, sas), input_type="UriFile")
    job = wait_for(client, "heart", name)
    assert job["properties"]["status"] == "Completed", job["properties"].get("error")
    assert emulator_job(server, name)["counters"]["files"] == 1


def test_a_query_without_a_signature_is_not_a_sas_and_is_ignored(client, landing):
    folder = heart_folder(landing)
    name, _ = submit(client, f"{landing.url}/{folder}?comp=unrelated")
    job = wait_for(client, "heart", name)
    assert job["properties"]["status"] == "Completed", job["properties"].get("error")


# -- a SAS the storage service refuses: the job fails when it reads its input ------------------------------
REFUSALS = {
    # case: (how to make the SAS from the folder, the storage error code Azurite answers; Azure: see emulator/README.md)
    "expired": (lambda folder: container_sas("rl", expiry=_hour(-1)), "AuthorizationFailure"),
    "write-only": (lambda folder: container_sas("w"), "AuthorizationPermissionMismatch"),
    "read without list, on a folder": (lambda folder: container_sas("r"), "AuthorizationPermissionMismatch"),
    "bad signature": (lambda folder: with_bad_signature(container_sas("rl")), "AuthorizationFailure"),
    "another container": (lambda folder: container_sas("rl", container="azureml-blobstore"), "AuthorizationFailure"),
    "another account's key": (lambda folder: container_sas("rl", account=SINK_ACCOUNT, key=SINK_KEY),
                              "AuthorizationFailure"),
    "a blob SAS on a folder": (lambda folder: blob_sas(f"{folder}/{sample_files()[0].name}", "r"),
                               "AuthorizationFailure"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_sas_the_storage_service_refuses_fails_the_job_with_its_error_code(case, server, client, store, landing,
                                                                            caplog):
    caplog.set_level(logging.DEBUG)
    make_sas, code = REFUSALS[case]
    folder = heart_folder(landing)
    sas = make_sas(folder)
    name, submitted = submit(client, azurite_url(landing, folder, sas))  # accepted: nothing is read at submit
    job = wait_for(client, "heart", name)
    assert job["properties"]["status"] == "Failed"
    error = job["properties"]["error"]["message"]
    assert error.startswith(f"Cannot read input '{DEVSTORE_ACCOUNT}/{CONTAINER}/{folder}' with the SAS token of "
                            f"its URI: storage answered 403 {code}: "), error
    assert REFUSED.search(error)
    info = emulator_job(server, name)
    assert info["history"][-2:] == ["Preparing", "Failed"] and info["counters"]["files"] == 0
    returned = everything_the_emulator_returns(server, client, name, submitted)
    assert code in returned["the ARM job"] and code in returned["the job logs"]
    for where, text in returned.items():
        assert_no_secret(text, sas, where)
    assert_no_secret("\n".join(rec.getMessage() for rec in caplog.records), sas, "a log record")


def test_a_refused_uri_file_sas_fails_the_job(client, landing):
    folder = heart_folder(landing)
    blob = f"{folder}/{sample_files()[0].name}"
    sas = blob_sas(blob, "w")
    name, _ = submit(client, azurite_url(landing, blob, sas), input_type="UriFile")
    job = wait_for(client, "heart", name)
    assert job["properties"]["status"] == "Failed"
    error = job["properties"]["error"]["message"]
    assert "storage answered 403 AuthorizationPermissionMismatch" in error and blob in error
    assert_no_secret(error, sas, "the job error")


# -- a submit-time refusal quoting the URL masks the SAS too ---------------------------------------------
def test_a_submit_refusal_that_quotes_a_sas_url_masks_its_signature(client, landing):
    sas = container_sas("rl")
    uri = f"https://unconfigured.blob.core.windows.net/{CONTAINER}/x?{sas}"
    r = client.post("/endpoints/heart/jobs", json=body(uri, ds_uri(unique("out/sas") + "/predictions.csv")))
    assert r.status_code == 400
    message = r.json()["error"]["message"]
    assert "Storage account 'unconfigured'" in message and "sig=***" in message
    assert_no_secret(r.text, sas, "the 400 answer")


# -- pipeline-component deployments read their data inputs the same way ----------------------------------
@pytest.mark.parametrize("permission, status", [("rl", "Completed"), ("w", "Failed")])
def test_a_pipeline_input_with_a_sas_is_read_with_it(permission, status, server, client, store, landing):
    from tests.emulator.helpers import pipeline_sales_files, upload_pipeline_assets
    from tests.emulator.test_emulator_pipelines import pipeline_body

    upload_pipeline_assets(store)
    folder, out, sas = unique("sas/sales"), unique("pipe-out/sas"), container_sas(permission)
    upload(landing, folder, pipeline_sales_files())
    r = client.post("/endpoints/sales/jobs", json=pipeline_body(azurite_url(landing, folder + "/", sas), out))
    assert r.status_code == 201, r.text
    name = r.json()["name"]
    job = wait_for(client, "sales", name)
    assert job["properties"]["status"] == status, job["properties"].get("error")
    if status == "Completed":
        assert "n,North,120,true" in store.download_blob(f"{out}/scores/day1.csv").readall().decode()
    else:
        assert "storage answered 403 AuthorizationPermissionMismatch" in job["properties"]["error"]["message"]
    logs = client.get(f"/endpoints/sales/jobs/{name}/logs").text
    assert "input sales: read with the SAS token of its URI" in logs
    arm = client.get(f"{server.management_url}{WS}/jobs/{name}?api-version=2024-04-01").text
    for where, text in {"the submit answer": r.text, "the job": str(job), "the logs": logs, "the ARM job": arm,
                        "/_emulator/jobs": client.get(server.base_url + "/_emulator/jobs").text}.items():
        assert_no_secret(text, sas, where)
