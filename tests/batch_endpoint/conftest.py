"""A fresh batch-endpoint emulator per test (so its job list is this test's alone) on the session Azurite,
and app settings whose route points at it, with or without workspace coordinates (ARM plane)."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Iterator

import httpx
import pytest
from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient, ContainerClient

from emulator import EmulatorServer, load_config
from shared.batch_endpoint.client import BatchEndpointClient, RetryPolicy
from shared.config import parse_settings
from tests.emulator.helpers import SAMPLE, emulator_config_dict

DATASTORE_CONTAINER = "idem-blobstore"  # its own: tests/emulator creates azureml-blobstore


@pytest.fixture(scope="session")
def datastore(azurite) -> ContainerClient:
    service = BlobServiceClient.from_connection_string(azurite.default.blob_connection_string)
    try:
        service.create_container(DATASTORE_CONTAINER)
    except ResourceExistsError:
        pass
    return service.get_container_client(DATASTORE_CONTAINER)


@pytest.fixture
def emu(azurite, datastore) -> Iterator[EmulatorServer]:
    # the kind profile: these tests switch each UNCONFIRMED behaviour (names, labels, lists) themselves
    config = emulator_config_dict(azurite.default.blob_connection_string, "kind")
    config["datastores"]["workspaceblobstore"]["container"] = DATASTORE_CONTAINER
    server = EmulatorServer(load_config(config, SAMPLE))
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Emu:
    """Test-side controls of one emulator: its knobs and its job list (the ground truth)."""

    def __init__(self, server: EmulatorServer):
        self.server = server

    def behave(self, **spec) -> None:
        r = httpx.post(self.server.base_url + "/_emulator/behaviour", json=spec)
        assert r.status_code == 200, r.text

    def faults(self, spec: dict) -> None:
        r = httpx.post(self.server.base_url + "/_emulator/faults", json=spec)
        assert r.status_code == 200, r.text

    def jobs(self) -> list[dict]:
        return httpx.get(self.server.base_url + "/_emulator/jobs").json()["value"]

    def pending_faults(self) -> list[dict]:
        return httpx.get(self.server.base_url + "/_emulator/faults").json()["http"]


@pytest.fixture
def control(emu) -> Emu:
    return Emu(emu)


def settings_for(server: EmulatorServer, azurite, *, workspace: bool = True):
    endpoint = {"scoring_uri": server.scoring_uri("lab"), "deployment": "flaky"}
    if workspace:
        endpoint["workspace"] = {"subscription_id": "00000000-0000-0000-0000-000000000000",
                                 "resource_group": "rg-local", "name": "ws-local"}
    document = {
        "datastores": {"workspaceblobstore": {"account_url": azurite.default.blob_url,
                                              "container": DATASTORE_CONTAINER, "connection": "AzureWebJobsStorage"}},
        "routes": [{"name": "lab", "match": {"container": "landing", "prefix": "lab/"},
                    "endpoint": endpoint, "input": {"type": "uri_folder", "name": "data"},
                    "output": {"datastore": "workspaceblobstore", "path": "lab/{run_id}/predictions.csv"}}],
        "management_url": server.management_url,
    }
    return parse_settings(document, {})


class StaticCredential:
    def get_token(self, *scopes, **kwargs):
        return SimpleNamespace(token="loopback-test-token", expires_on=2**31)


class NoWait:
    """The client's sleep: records delays instead of waiting (look-ups then run at once)."""

    def __init__(self):
        self.slept: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


def client_factory(timeout: float = 5.0, sleep=None, **retry):
    sleep = sleep or NoWait()

    def make(url: str) -> BatchEndpointClient:
        return BatchEndpointClient(StaticCredential(), timeout=timeout, sleep=sleep, random=lambda: 1.0,
                                   retry=RetryPolicy(**retry))
    return make


def new_run(datastore: ContainerClient, files: dict | None = None) -> dict:
    """A run input for the lab route (the orchestration's ``run``), with its input folder uploaded."""
    suffix = uuid.uuid4().hex
    folder = f"in/idem/{suffix[:10]}"
    for name, data in (files or {"a.csv": "ok"}).items():
        datastore.upload_blob(f"{folder}/{name}", data)
    run_id = f"lab-{suffix[:24]}"
    return {"run_id": run_id, "route": "lab", "attempt": 1,
            "input": {"type": "uri_folder", "uri": f"azureml://datastores/workspaceblobstore/paths/{folder}"},
            "output_uri": f"azureml://datastores/workspaceblobstore/paths/lab/{run_id}/predictions.csv"}
