"""Fixtures for the emulator tests: the emulator in-process on the session's Azurite, an httpx client.

`azurite` is the shared session fixture in tests/conftest.py (tests/support/azurite.py starts a private
Azurite on free ports). Nothing here skips: a missing Azurite fails with the reason.
"""
from __future__ import annotations

from typing import Iterator

import httpx
import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient

from emulator import EmulatorServer, load_config
from tests.emulator.helpers import SAMPLE, TOKEN, emulator_config_dict
from tests.support.azurite import Azurite


@pytest.fixture(scope="session")
def blob_service(azurite: Azurite) -> BlobServiceClient:
    svc = BlobServiceClient.from_connection_string(azurite.default.blob_connection_string)
    for name in ("azureml-blobstore", "landing"):
        svc.create_container(name)
    return svc


@pytest.fixture(scope="session")
def store(blob_service: BlobServiceClient) -> ContainerClient:
    """The workspaceblobstore datastore's container."""
    return blob_service.get_container_client("azureml-blobstore")


def _started(azurite: Azurite, profile: str) -> EmulatorServer:
    srv = EmulatorServer(load_config(emulator_config_dict(azurite.default.blob_connection_string, profile), SAMPLE))
    srv.start()
    return srv


@pytest.fixture(scope="session")
def server(azurite: Azurite, blob_service: BlobServiceClient) -> Iterator[EmulatorServer]:
    """The emulator on the ``kind`` profile: these tests drive its mechanics with the documented PascalCase
    body and switch each UNCONFIRMED behaviour themselves (``strict_server`` is the e2e default)."""
    srv = _started(azurite, "kind")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def strict_server(azurite: Azurite, blob_service: BlobServiceClient) -> Iterator[EmulatorServer]:
    """The emulator on the ``strict`` profile (tests/emulator/test_emulator_strict_profile.py)."""
    srv = _started(azurite, "strict")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(autouse=True)
def _reset_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    for name in ("server", "strict_server"):
        if name in request.fixturenames:
            base = request.getfixturevalue(name).base_url
            httpx.delete(base + "/_emulator/faults")
            httpx.delete(base + "/_emulator/behaviour")


@pytest.fixture()
def client(server: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, headers=TOKEN, timeout=30) as c:
        yield c
