"""End-to-end fixtures: Azurite, the batch-endpoint emulator and the real app, all in this process.

* ``azurite`` (tests/conftest.py): a private Azurite with two accounts (``devstoreaccount1``: landing,
  datastore, ledger; ``sinkaccount``: the sink).
* ``emulator``: the emulator in-process with the heart sample deployment, fast state dwell times
  (0.05 s), its datastore ``workspaceblobstore`` on a container of its own, on the ``strict`` profile
  (client job names ignored, tags dropped, only the SDK's body shape accepted: emulator/README.md).
* ``stack``: per test, the app configured through real app settings (``AzureWebJobsStorage``,
  ``BATCH_CONFIG_JSON``, ``AML_MANAGEMENT_URL``, ``STATE_CONTAINER``, the sink's connection) with
  containers and a landing folder unique to the test.
* ``host``: the in-process Durable host with the app's REAL orchestrators and activities on a scaled
  real-time clock (the emulator's jobs take real seconds; durable timers run ``SPEED`` times faster).

Nothing is mocked: the only stand-ins are the emulator's fault knobs.
"""
from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from emulator import EmulatorServer, load_config
from emulator.config import default_profile
from tests.emulator.helpers import SAMPLE, emulator_config_dict
from tests.support.durable_host import DurableTestHost, split_functions

#: orchestration seconds per real second. The validator's minimum poll interval is 1 s (and the cancel
#: confirmation waits ``initial_seconds`` between polls); at SPEED=5 those are 0.2 s of wall time.
SPEED = 5.0
#: emulator dwell time per early/late state (NotStarted, Queued, Preparing, Finalizing, CancelRequested)
STATE_SECONDS = 0.05

DATASTORE_CONTAINER = "e2e-blobstore"
LANDING_CONTAINER = "e2e-landing"
SINK_CONNECTION = "E2E_SINK"

REPO = Path(__file__).resolve().parents[2]
LOCAL_ROUTES = REPO / "config" / "routes.local.json"

#: the route's poll section (orchestration seconds): the validator's minimum interval (1 s) growing to 10 s.
POLL = {"initial_seconds": 1, "max_seconds": 10, "growth": 1.5, "deadline_hours": 1}


def shipped_local_document(emulator: EmulatorServer, azurite: Any) -> dict:
    """config/routes.local.json as shipped, with the default ports (emulator 5100, Azurite 10000)
    replaced by the test stack's ephemeral ones and the containers by the e2e ones."""
    text = LOCAL_ROUTES.read_text(encoding="utf-8")
    text = text.replace("http://127.0.0.1:5100", emulator.base_url)
    text = text.replace("http://127.0.0.1:10000/devstoreaccount1", azurite.default.blob_url)
    document = json.loads(text)
    document["datastores"]["workspaceblobstore"]["container"] = DATASTORE_CONTAINER
    document["routes"][0]["match"]["container"] = LANDING_CONTAINER
    return document


def routes_document(emulator: EmulatorServer, azurite: Any, sink_container: str, **route_changes: Any) -> dict:
    """The routes document (docs/configuration.md's format, like config/routes.local.json) pointing at the test
    stack."""
    route = {
        "name": "heart",
        "match": {"container": LANDING_CONTAINER, "prefix": "heart/"},
        "landing": {"mode": "marker", "marker_name": "_SUCCESS"},
        "endpoint": {
            "scoring_uri": emulator.scoring_uri("heart"),
            "deployment": None,
            "workspace": {"subscription_id": "00000000-0000-0000-0000-000000000000",
                          "resource_group": "rg-local", "name": "ws-local"},
        },
        "input": {"type": "uri_folder", "name": "heart_dataset"},
        "output": {"datastore": "workspaceblobstore", "path": "batch/heart/{run_id}/predictions.csv"},
        "overrides": {"mini_batch_size": 2, "instance_count": 1},
        "poll": dict(POLL),
        "sinks": [{"url": f"{azurite.sink.blob_url}/{sink_container}/scores/{{folder}}/",
                   "connection": SINK_CONNECTION}],
    }
    for key, value in route_changes.items():
        route[key] = {**route[key], **value} if isinstance(value, dict) and isinstance(route.get(key), dict) \
            else value
    return {
        "datastores": {"workspaceblobstore": {"account_url": azurite.default.blob_url,
                                              "container": DATASTORE_CONTAINER,
                                              "connection": "AzureWebJobsStorage"}},
        "routes": [route],
    }


@pytest.fixture(scope="session")
def emulator(azurite, request: pytest.FixtureRequest) -> Iterator[EmulatorServer]:
    """The emulator on the ``strict`` profile (``AML_EMULATOR_PROFILE`` can name another for a whole run);
    a test takes another one with ``@pytest.mark.parametrize("emulator", ["kind"], indirect=True)``."""
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(azurite.default.blob_connection_string)
    for name in (DATASTORE_CONTAINER, LANDING_CONTAINER):
        try:
            service.create_container(name)
        except ResourceExistsError:
            pass
    cfg = emulator_config_dict(azurite.default.blob_connection_string,
                               getattr(request, "param", None) or default_profile())
    cfg["datastores"]["workspaceblobstore"]["container"] = DATASTORE_CONTAINER
    # the landing container is a registered datastore too (a v1 pipeline reads the landed folder as a DataPath)
    cfg["datastores"]["landingstore"] = {"account": "devstoreaccount1", "container": LANDING_CONTAINER}
    cfg["timings"] = {k: STATE_SECONDS for k in cfg["timings"]}
    server = EmulatorServer(load_config(cfg, SAMPLE))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _reset_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "emulator" in request.fixturenames:
        request.getfixturevalue("emulator").emulator.faults.reset()


class Stack:
    """One test's view of the running parts: containers, settings, uploads and read-backs."""

    def __init__(self, azurite: Any, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch):
        from azure.storage.blob import BlobServiceClient

        self.azurite = azurite
        self.emulator = emulator
        self.monkeypatch = monkeypatch
        sfx = uuid.uuid4().hex[:10]
        self.folder = f"heart/{sfx}"              # the landing folder (no trailing '/')
        self.state_container = f"e2e-state-{sfx}"
        self.sink_container = f"e2e-sink-{sfx}"
        self.landing = BlobServiceClient.from_connection_string(azurite.default.connection_string)
        self.sink = BlobServiceClient.from_connection_string(azurite.sink.connection_string)
        self.sink.create_container(self.sink_container)
        monkeypatch.setenv("AzureWebJobsStorage", azurite.default.connection_string)
        monkeypatch.setenv(SINK_CONNECTION, azurite.sink.connection_string)
        monkeypatch.setenv("AML_MANAGEMENT_URL", emulator.management_url)
        monkeypatch.setenv("STATE_CONTAINER", self.state_container)
        for name in ("BATCH_CONFIG_PATH", "STATE_CONNECTION", "AZURE_CLIENT_ID"):
            monkeypatch.delenv(name, raising=False)
        self.configure()

    def configure(self, document: dict | None = None, **route_changes: Any) -> dict:
        if document is None:
            document = routes_document(self.emulator, self.azurite, self.sink_container, **route_changes)
        self.monkeypatch.setenv("BATCH_CONFIG_JSON", json.dumps(document))
        self.document = copy.deepcopy(document)
        return document

    # -- landing --------------------------------------------------------------------------------------
    def blob_url(self, name: str) -> str:
        return f"{self.azurite.default.blob_url}/{LANDING_CONTAINER}/{self.folder}/{name}"

    def upload(self, name: str, data: bytes) -> dict:
        """Upload one landing blob; returns what its BlobCreated event needs (url, etag, size)."""
        blob = self.landing.get_blob_client(LANDING_CONTAINER, f"{self.folder}/{name}")
        props = blob.upload_blob(data, overwrite=False)
        return {"url": self.blob_url(name), "etag": props["etag"], "content_length": len(data)}

    def upload_sample(self, files: list[Path]) -> list[dict]:
        return [self.upload(f.name, f.read_bytes()) for f in files]

    # -- sink -----------------------------------------------------------------------------------------
    @property
    def sink_prefix(self) -> str:
        return f"scores/{self.folder}/"

    def sink_names(self) -> list[str]:
        container = self.sink.get_container_client(self.sink_container)
        return sorted(b.name for b in container.list_blobs())

    def sink_blob(self, name: str):
        return self.sink.get_blob_client(self.sink_container, f"{self.sink_prefix}{name}")

    def ledger(self, run_id: str) -> dict | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            raw = self.landing.get_blob_client(self.state_container, f"runs/{run_id}.json").download_blob().readall()
        except ResourceNotFoundError:
            return None
        return json.loads(raw)

    # -- emulator -------------------------------------------------------------------------------------
    def job(self, name: str):
        return self.emulator.emulator.store.get(name)

    def jobs_since(self, before: set[str]) -> list:
        return [j for j in self.emulator.emulator.store.list() if j.name not in before]

    def job_names(self) -> set[str]:
        return {j.name for j in self.emulator.emulator.store.list()}


@pytest.fixture
def stack(azurite, emulator, monkeypatch) -> Stack:
    return Stack(azurite, emulator, monkeypatch)


@pytest.fixture
def host(app_functions) -> Iterator[DurableTestHost]:
    """The app's real orchestrators and activities (activities on threads, as the worker runs them)."""
    orchestrators, activities = split_functions(app_functions.values())
    with DurableTestHost(orchestrators, activities, clock="scaled", speed=SPEED) as durable_host:
        durable_host.start_server()
        yield durable_host
        assert not durable_host.pump_errors
