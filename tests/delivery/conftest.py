"""Delivery fixtures: a route with two sinks in two Azurite accounts, and the real orchestrator and
activities running in the in-process Durable host."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from tests.support.durable_host import DurableTestHost, split_functions

START = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)


class DeliveryEnv:
    """Containers unique to one test, the app settings that point at them, and helpers to read them."""

    def __init__(self, azurite, monkeypatch):
        self.azurite = azurite
        self.monkeypatch = monkeypatch
        self.sfx = uuid.uuid4().hex[:10]
        self.source_container = f"aml{self.sfx}"
        self.curated_container = f"curated{self.sfx}"
        self.lake_container = f"lake{self.sfx}"
        self.queue = f"done{self.sfx}"
        self.connections = {"AML_DS": azurite.default.connection_string, "CURATED": azurite.default.connection_string,
                            "LAKE": azurite.sink.connection_string}
        for name, value in self.connections.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AzureWebJobsStorage", azurite.default.connection_string)
        monkeypatch.delenv("BATCH_CONFIG_PATH", raising=False)
        self.route = {
            "name": "heart",
            "match": {"container": "landing", "prefix": "heart/"},
            "endpoint": {"scoring_uri": "http://127.0.0.1:9/endpoints/heart/jobs",
                         "workspace": {"subscription_id": "s", "resource_group": "rg", "name": "ws"}},
            "input": {"type": "uri_folder", "name": "heart_dataset"},
            "output": {"datastore": "workspaceblobstore", "path": "batch/heart/{run_id}/predictions.csv"},
            "sinks": [
                {"name": "curated", "url": f"{azurite.default.blob_url}/{self.curated_container}/{{folder}}/",
                 "connection": "CURATED"},
                {"name": "lake", "url": f"{azurite.sink.blob_url}/{self.lake_container}/scores/{{date}}/{{run_id}}/",
                 "connection": "LAKE"},
            ],
        }
        self.configure()
        self.source_service.create_container(self.source_container)

    def configure(self, **route_changes) -> dict:
        route = {**self.route, **route_changes}
        config = {"datastores": {"workspaceblobstore": {"account_url": self.azurite.default.blob_url,
                                                        "container": self.source_container,
                                                        "connection": "AML_DS"}},
                  "routes": [route]}
        self.monkeypatch.setenv("BATCH_CONFIG_JSON", json.dumps(config))
        return route

    @property
    def source_service(self):
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.azurite.default.connection_string)

    @property
    def sink_service(self):
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.azurite.sink.connection_string)

    def run_input(self, run_id: str = None) -> dict:
        """A run whose job has completed: the orchestrator goes straight to delivery."""
        from shared.config import load_settings
        from shared.runs.models import iso, new_run_input
        from shared.storage.uris import BlobLocation

        settings = load_settings()
        route = settings.route("heart")
        run_id = run_id or f"heart-{uuid.uuid4().hex[:12]}"
        run = new_run_input(settings, route, run_id,
                            BlobLocation(self.azurite.default.blob_url, "landing", "heart/2024-06-01/"),
                            source="test", now=START)
        monitor = {"job_name": "job-1", "job_status": "Completed", "deadline": iso(START + timedelta(hours=1)),
                   "polls": 3, "polls_here": 0, "status_errors": 0, "started_at": iso(START)}
        return {"run": run, "monitor": monitor}

    def output_folder(self, run_id: str) -> str:
        return f"batch/heart/{run_id}"

    def put_output(self, run_id: str, name: str, data: bytes) -> None:
        self.source_service.get_blob_client(self.source_container, f"{self.output_folder(run_id)}/{name}") \
            .upload_blob(data, overwrite=True)

    def curated_path(self, name: str) -> str:
        return f"heart/2024-06-01/{name}"

    def lake_path(self, run_id: str, name: str) -> str:
        return f"scores/2024-06-01/{run_id}/{name}"

    def read(self, service, container: str, path: str) -> bytes:
        return service.get_blob_client(container, path).download_blob().readall()

    def names(self, service, container: str) -> list[str]:
        return sorted(b.name for b in service.get_container_client(container).list_blobs())


def payload_bytes(size: int, seed: int = 1) -> bytes:
    """Deterministic, incompressible-looking test data."""
    out = bytearray()
    block = hashlib.sha256(str(seed).encode()).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block * 64
    return bytes(out[:size])


@pytest.fixture
def env(azurite, monkeypatch) -> DeliveryEnv:
    return DeliveryEnv(azurite, monkeypatch)


@pytest.fixture
def durable(app_functions):
    """The real orchestrators and activities, in the in-process Durable host; ``activities`` can be wrapped."""
    orchestrators, activities = split_functions(app_functions.values())
    with DurableTestHost(orchestrators, activities, start=START) as host:
        yield host


def run_to_end(host: DurableTestHost, run_input: dict) -> dict:
    run_id = run_input["run"]["run_id"]
    host.start("run_orchestrator", run_input, instance_id=run_id)
    host.run_until_complete(run_id)
    return host.status(run_id)


def secrets_in(text: str, env: DeliveryEnv) -> list[str]:
    """Any SAS signature or account key found in ``text``."""
    found = [k for k in ("sig=", "AccountKey", env.azurite.default.key, env.azurite.sink.key) if k in text]
    return found
