"""The app settings infra/main.bicep sets are exactly the ones the app reads: each setting the code (or the
host) reads is set, each one set is read. local.settings.sample.json lists the same for local runs."""

from __future__ import annotations

import json

from tests.infra import settings as reads
from tests.infra.bicep import app_settings

ROOT = reads.ROOT


def identity_settings(connection: str) -> set[str]:
    """What an identity-based connection needs in Azure: the service URI and the user-assigned identity."""
    return {f"{connection}__blobServiceUri", f"{connection}__clientId"}


def test_the_code_reads_what_the_analysis_expects():
    names, suffixes = reads.code_reads()
    assert {"BATCH_CONFIG_PATH", "BATCH_CONFIG_JSON", "AML_MANAGEMENT_URL", "STATE_CONNECTION", "STATE_CONTAINER",
            "AZURE_CLIENT_ID", "APPLICATIONINSIGHTS_CONNECTION_STRING"} <= names
    assert {"blobServiceUri", "clientId"} <= suffixes
    assert reads.host_json_reads() == {"TASK_HUB_NAME"}


def test_every_setting_the_app_reads_is_set():
    names, _ = reads.code_reads()
    document = reads.deployed_routes_document()
    needed = (names - set(reads.OPTIONAL_IN_AZURE)) | reads.host_json_reads() | set(reads.HOST_READS)
    for connection in reads.route_connections(document) - {"AzureWebJobsStorage"}:
        needed |= identity_settings(connection)
    needed |= reads.route_secret_settings(document)
    missing = needed - set(app_settings())
    assert not missing, f"read by the app but not set by infra/main.bicep: {sorted(missing)}"


def test_every_setting_that_is_set_is_read():
    names, suffixes = reads.code_reads()
    document = reads.deployed_routes_document()
    read = names | reads.host_json_reads() | set(reads.HOST_READS) | reads.route_secret_settings(document)
    for connection in reads.route_connections(document):
        read |= {connection} | {f"{connection}__{suffix}" for suffix in suffixes}
    unread = set(app_settings()) - read - set(reads.PENDING_READERS)
    assert not unread, f"set by infra/main.bicep but read by nothing: {sorted(unread)}"


def test_the_exceptions_are_current():
    names, _ = reads.code_reads()
    assert set(reads.OPTIONAL_IN_AZURE) <= names, "an optional setting the code no longer reads"
    assert not set(reads.OPTIONAL_IN_AZURE) & set(app_settings())
    assert set(reads.PENDING_READERS) <= set(app_settings())


def test_local_settings_sample_lists_every_setting_with_a_local_value():
    values = json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]
    names, _ = reads.code_reads()
    assert (names | reads.host_json_reads()) - set(values) == set(), "read by the app, missing locally"
    for path in sorted((ROOT / "config").glob("routes*.json")):
        document = json.loads(path.read_text())
        for connection in reads.route_connections(document) | reads.route_secret_settings(document):
            assert connection in values, f"{path.name} uses {connection}, which local settings don't set"
            assert values[connection], f"{connection} has no local value"
    for setting in set(reads.PENDING_READERS):
        assert setting in values
    for value in values.values():
        assert "core.windows.net" not in value, "local values point at Azurite and the emulator, not Azure"
