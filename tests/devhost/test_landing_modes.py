"""Quiet-period and manifest routes through ``python -m devhost`` (a real process) over HTTP: BlobCreated events
posted to its Event Grid webhook, the waiters' ``landing_start_run`` activity given its durable client by the
host (issue 16 case 6: it failed with ``KeyError: 'client'``), each run finished by the batch-endpoint emulator
and delivered to the sink."""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from samples.heart.model import sample_files
from tests.e2e.conftest import emulator, routes_document, stack  # noqa: F401 - fixtures reused
from tools.events import blob_created_event

REPO = Path(__file__).resolve().parents[2]
KEY = {"x-functions-key": "local"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def devhost_process(stack, tmp_path):  # noqa: F811 - the e2e stack sets the app settings in os.environ
    base = routes_document(stack.emulator, stack.azurite, stack.sink_container)
    route = base["routes"][0]
    quiet, manifest = copy.deepcopy(route), copy.deepcopy(route)
    quiet.update(name="hq", match={**route["match"], "prefix": "hq/"},
                 landing={"mode": "quiet_period", "quiet_seconds": 2})
    manifest.update(name="hm", match={**route["match"], "prefix": "hm/"},
                    landing={"mode": "manifest", "manifest_wait_minutes": 5})
    stack.configure({**base, "routes": [quiet, manifest]})
    port = free_port()
    log_path = tmp_path / "devhost.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "devhost", "--port", str(port), "--settings", str(tmp_path / "none.json"),
             "--state", str(tmp_path / "state")], cwd=REPO, env=dict(os.environ), stdout=log_file,
            stderr=subprocess.STDOUT)
        base_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, log_path.read_text(errors="replace")[-3000:]
                try:
                    if httpx.get(f"{base_url}/api/health", timeout=5).status_code < 500:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "devhost did not come up"
                time.sleep(0.2)
            yield base_url, log_path
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def post_events(base_url: str, landed: list[dict]) -> None:
    events = [blob_created_event(x["url"], x["etag"], content_length=x["content_length"]) for x in landed]
    answer = httpx.post(f"{base_url}/runtime/webhooks/eventgrid?functionName=on_blob_created", json=events,
                        headers={"aeg-event-type": "Notification"}, timeout=60)
    assert answer.status_code == 202, answer.text


def finished_runs(base_url: str, count: int, log_path: Path, timeout_s: float = 90.0) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while True:
        runs = httpx.get(f"{base_url}/api/runs", headers=KEY, timeout=30).json()["runs"]
        if len(runs) >= count and all(r["status"] != "Running" for r in runs):
            return runs
        assert time.monotonic() < deadline, (json.dumps(runs)[:800], log_path.read_text(errors="replace")[-3000:])
        time.sleep(0.5)


def test_quiet_period_and_manifest_routes_run_to_the_end_on_devhost(stack, devhost_process):  # noqa: F811
    base_url, log_path = devhost_process
    files = sample_files()[:2]
    suffix = stack.folder.split("/", 1)[1]

    stack.folder = f"hq/{suffix}"
    post_events(base_url, stack.upload_sample(files))  # each file signals the folder's quiet waiter

    stack.folder = f"hm/{suffix}"
    landed = stack.upload_sample(files)
    manifest = stack.upload("_manifest.json", json.dumps([f.name for f in files]).encode())
    post_events(base_url, landed + [manifest])  # the data files wait; the manifest starts its waiter

    runs = finished_runs(base_url, 2, log_path)
    assert sorted(r["route"] for r in runs) == ["hm", "hq"]
    assert all(r["status"] == "Succeeded" for r in runs), runs
    delivered = stack.sink_names()
    for route in ("hq", "hm"):
        assert any(name.startswith(f"scores/{route}/{suffix}/") for name in delivered), delivered
    assert "KeyError" not in log_path.read_text(errors="replace")
