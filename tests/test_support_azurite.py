"""tests/support/azurite.py: a private Azurite with two accounts, on loopback, started by the tests."""
from __future__ import annotations

import socket
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.storage.blob import BlobSasPermissions, BlobServiceClient, generate_blob_sas
from azure.storage.queue import QueueServiceClient

from tests.support import azurite as azurite_mod
from tests.support.azurite import DEVSTORE_ACCOUNT, SINK_ACCOUNT, start_azurite


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_two_accounts_on_loopback(azurite):
    assert set(azurite.accounts) == {DEVSTORE_ACCOUNT, SINK_ACCOUNT}
    for acc in azurite.accounts.values():
        for url in (acc.blob_url, acc.queue_url, acc.table_url):
            assert url.startswith("http://127.0.0.1:") and url.endswith("/" + acc.name)
        assert f"BlobEndpoint={acc.blob_url};QueueEndpoint={acc.queue_url};" in acc.connection_string
    assert azurite.account_url(SINK_ACCOUNT, "queue") == azurite.sink.queue_url
    assert azurite.is_running()


def test_cross_account_copy_with_sas(azurite):
    src_svc = BlobServiceClient.from_connection_string(azurite.default.connection_string)
    dst_svc = BlobServiceClient.from_connection_string(azurite.sink.connection_string)
    src_c, dst_c = _name("landing"), _name("sink")
    src_svc.create_container(src_c)
    dst_svc.create_container(dst_c)
    src = src_svc.get_blob_client(src_c, "in/2024/a.csv")
    src.upload_blob(b"a,b\n1,2\n")

    sas = generate_blob_sas(account_name=DEVSTORE_ACCOUNT, container_name=src_c,
                            blob_name="in/2024/a.csv", account_key=azurite.default.key,
                            permission=BlobSasPermissions(read=True),
                            expiry=datetime.now(timezone.utc) + timedelta(minutes=10))
    dst = dst_svc.get_blob_client(dst_c, "out/a.csv")
    props = dst.start_copy_from_url(f"{src.url}?{sas}")
    assert props["copy_status"] == "success"
    assert dst.download_blob().readall() == b"a,b\n1,2\n"

    synced = dst_svc.get_blob_client(dst_c, "out/a-sync.csv")
    synced.start_copy_from_url(f"{src.url}?{sas}", requires_sync=True)
    assert synced.download_blob().readall() == b"a,b\n1,2\n"

    # without a SAS the sink account cannot read the source (same as Azure)
    with pytest.raises(HttpResponseError) as info:
        dst_svc.get_blob_client(dst_c, "out/nosas.csv").start_copy_from_url(src.url)
    assert info.value.status_code == 403


def test_if_missing_create_race_has_exactly_one_winner(azurite):
    svc = BlobServiceClient.from_connection_string(azurite.default.connection_string)
    container = svc.create_container(_name("state"))
    start = threading.Barrier(16)
    outcomes: list[str] = []
    lock = threading.Lock()

    def claim(i: int) -> None:
        start.wait()
        try:
            container.upload_blob("runs/run-1.json", f'{{"winner": {i}}}'.encode(),
                                  match_condition=MatchConditions.IfMissing)
            result = f"won:{i}"
        except ResourceExistsError:
            result = "lost"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    winners = [o for o in outcomes if o.startswith("won")]
    assert len(outcomes) == 16 and len(winners) == 1
    body = container.download_blob("runs/run-1.json").readall()
    assert body == f'{{"winner": {winners[0].split(":")[1]}}}'.encode()


def test_queue_service_works(azurite):
    qsvc = QueueServiceClient.from_connection_string(azurite.sink.connection_string)
    q = qsvc.create_queue(_name("notify"))
    q.send_message("hello")
    assert [m.content for m in q.receive_messages()] == ["hello"]


def test_stop_terminates_the_process_and_frees_the_port():
    az = start_azurite()
    port = az.blob_port
    az.stop()
    assert az.process.poll() is not None
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    az.stop()   # idempotent


def test_missing_binary_fails_with_install_instructions(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(azurite_mod, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(azurite_mod, "FALLBACK_BINS", [tmp_path / "nope"])
    monkeypatch.setattr(azurite_mod, "SEARCH_PATH", False)
    monkeypatch.delenv("AZURITE_BIN", raising=False)
    with pytest.raises(azurite_mod.AzuriteNotFound, match="npm ci"):
        azurite_mod.find_azurite()
