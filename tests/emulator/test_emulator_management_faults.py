"""ARM job API + cancel, fault knobs (runtime and config file), Event Grid events, CLI entry point."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.emulator.helpers import REPO, SAMPLE, TOKEN, body, ds_uri, emulator_config_dict, emulator_job, unique, upload, wait_for
from emulator import EmulatorServer, load_config

API = "?api-version=2024-04-01"


def arm_job_url(server, name: str, ws: str = "ws-local") -> str:
    return (f"{server.management_url}/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-local"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{ws}/jobs/{name}")


def submit_lab(client, store, files=None, deployment="flaky", **props) -> str:
    folder = unique("in/mgmt")
    upload(store, folder, files or {"a.csv": "ok"})
    r = client.post("/endpoints/lab/jobs", json=body(ds_uri(folder), ds_uri(unique("out") + "/p.csv"), **props),
                    headers={"azureml-model-deployment": deployment})
    assert r.status_code == 201, r.text
    return r.json()["name"]


def set_faults(server, spec) -> dict:
    r = httpx.post(server.base_url + "/_emulator/faults", json=spec)
    assert r.status_code == 200, r.text
    return r.json()


# -- management plane ----------------------------------------------------------------------------------
def test_arm_get_job_shape(server, client, store):
    name = submit_lab(client, store, tags={"team": "x"})
    wait_for(client, "lab", name)
    r = client.get(arm_job_url(server, name) + API)
    assert r.status_code == 200
    job = r.json()
    assert job["id"].endswith(f"/workspaces/ws-local/jobs/{name}") and job["name"] == name
    p = job["properties"]
    assert p["status"] == "Completed" and p["experimentName"] == "lab"
    assert p["services"]["Studio"]["endpoint"].startswith(f"https://ml.azure.com/runs/{name}")
    assert p["tags"]["azureml.batchrun"] == "true" and p["tags"]["team"] == "x"
    assert p["outputs"]["score"]["jobOutputType"] == "uri_file"
    # ARM paths are case-insensitive
    assert client.get(arm_job_url(server, name).replace("resourceGroups", "resourcegroups") + API).status_code == 200


def test_arm_errors(server, client):
    assert client.get(arm_job_url(server, "nope") + API).status_code == 404
    r = client.get(arm_job_url(server, "nope"))
    assert r.status_code == 400 and r.json()["error"]["code"] == "MissingApiVersionParameter"
    assert client.get(arm_job_url(server, "nope", ws="other") + API).status_code == 404
    assert httpx.get(arm_job_url(server, "nope") + API).status_code == 401
    assert client.post(arm_job_url(server, "nope") + "/cancel" + API).status_code == 404


def test_cancel_via_management_url(server, client, store):
    set_faults(server, {"jobs": [{"effect": "hang"}]})
    name = submit_lab(client, store)
    wait_for(client, "lab", name, {"Running"})
    time.sleep(0.2)
    assert client.get(arm_job_url(server, name) + API).json()["properties"]["status"] == "Running"  # hung
    r = client.post(arm_job_url(server, name) + "/cancel" + API)
    assert r.status_code == 202
    location = r.headers["Location"]
    assert "operationResults" in location
    job = wait_for(client, "lab", name)
    assert job["properties"]["status"] == "Canceled"
    assert emulator_job(server, name)["history"][-2:] == ["CancelRequested", "Canceled"]
    assert client.get(location).status_code == 200  # the cancel operation finished
    # cancelling a terminal job is harmless
    assert client.post(arm_job_url(server, name) + "/cancel" + API).status_code == 202
    assert wait_for(client, "lab", name)["properties"]["status"] == "Canceled"


def test_cancel_a_running_script_kills_it(server, client, store):
    name = submit_lab(client, store, {"s.csv": "sleep:20"})
    wait_for(client, "lab", name, {"Running"})
    time.sleep(0.3)
    t0 = time.monotonic()
    assert client.post(arm_job_url(server, name) + "/cancel" + API).status_code == 202
    assert wait_for(client, "lab", name)["properties"]["status"] == "Canceled"
    assert time.monotonic() - t0 < 5


def test_cancel_completed_job_is_harmless(server, client, store):
    name = submit_lab(client, store)
    wait_for(client, "lab", name)
    assert client.post(arm_job_url(server, name) + "/cancel" + API).status_code == 202
    assert wait_for(client, "lab", name)["properties"]["status"] == "Completed"


# -- fault knobs ---------------------------------------------------------------------------------------
def test_submit_throttled_with_retry_after(server, client, store):
    set_faults(server, {"http": [{"target": "submit", "status": 429, "count": 2, "retry_after": 2}]})
    b = body(ds_uri("in/x"), ds_uri(unique("out") + "/p.csv"))
    for _ in range(2):
        r = client.post("/endpoints/lab/jobs", json=b)
        assert r.status_code == 429 and r.headers["Retry-After"] == "2"
        assert r.json()["error"]["code"] == "TooManyRequests"
    assert client.post("/endpoints/lab/jobs", json=b).status_code == 201


def test_submit_500_and_status_503(server, client, store):
    set_faults(server, {"http": [{"target": "submit", "status": 500, "message": "boom"}]})
    r = client.post("/endpoints/lab/jobs", json=body(ds_uri("in/x")))
    assert r.status_code == 500 and r.json()["error"]["message"] == "boom"
    name = submit_lab(client, store)
    set_faults(server, {"http": [{"target": "status", "status": 503, "count": 2}]})
    r = client.get(f"/endpoints/lab/jobs/{name}")
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    assert client.get(arm_job_url(server, name) + API).status_code == 503  # ARM GET is a status call too
    assert client.get(f"/endpoints/lab/jobs/{name}").status_code == 200


def test_response_delay(server, client):
    set_faults(server, {"delay": {"status": 0.4}})
    t0 = time.monotonic()
    assert client.get("/endpoints/lab/jobs/nope").status_code == 404
    assert time.monotonic() - t0 >= 0.4


def test_next_job_fails_with_message(server, client, store):
    set_faults(server, {"jobs": [{"effect": "fail", "message": "Injected: node lost"}]})
    first = submit_lab(client, store)
    second = submit_lab(client, store)
    j1 = wait_for(client, "lab", first)
    assert j1["properties"]["status"] == "Failed" and j1["properties"]["error"]["message"] == "Injected: node lost"
    assert "Injected: node lost" in client.get(f"/endpoints/lab/jobs/{first}/logs").text
    assert client.get(arm_job_url(server, first) + API).json()["properties"]["error"]["message"] == "Injected: node lost"
    assert wait_for(client, "lab", second)["properties"]["status"] == "Completed"


def test_deployment_scoped_job_fault(server, client, store):
    set_faults(server, {"jobs": [{"effect": "fail", "deployment": "summary", "count": -1, "message": "sick"}]})
    ok = submit_lab(client, store, {"a.csv": "write"}, deployment="flaky")
    bad1 = submit_lab(client, store, {"a.csv": "write"}, deployment="summary")
    bad2 = submit_lab(client, store, {"a.csv": "write"}, deployment="summary")
    assert wait_for(client, "lab", ok)["properties"]["status"] == "Completed"
    assert wait_for(client, "lab", bad1)["properties"]["status"] == "Failed"
    assert wait_for(client, "lab", bad2)["properties"]["error"]["message"] == "sick"


def test_not_responding_then_continues(server, client, store):
    set_faults(server, {"jobs": [{"effect": "not_responding", "seconds": 0.5}]})
    name = submit_lab(client, store)
    assert wait_for(client, "lab", name, {"NotResponding"})["properties"]["status"] == "NotResponding"
    assert wait_for(client, "lab", name)["properties"]["status"] == "Completed"
    assert emulator_job(server, name)["history"] == ["NotStarted", "Queued", "Preparing", "Running", "NotResponding",
                                                     "Running", "Finalizing", "Completed"]


def test_fault_endpoints_get_reset_and_validate(server):
    set_faults(server, {"http": [{"target": "status", "status": 429, "count": -1}], "delay": {"submit": 0.1}})
    got = httpx.get(server.base_url + "/_emulator/faults").json()
    assert got["http"][0]["status"] == 429 and got["delay"]["submit"] == 0.1
    got = httpx.delete(server.base_url + "/_emulator/faults").json()
    assert got["http"] == [] and got["jobs"] == [] and got["delay"]["submit"] == 0
    assert httpx.post(server.base_url + "/_emulator/faults", json={"http": [{"target": "x"}]}).status_code == 400
    assert httpx.post(server.base_url + "/_emulator/faults", json={"jobs": [{"effect": "melt"}]}).status_code == 400


def test_faults_from_config_file(azurite, tmp_path):
    cfg = emulator_config_dict(azurite.default.blob_connection_string)
    cfg["faults"] = {"http": [{"target": "submit", "status": 503, "retry_after": 3}]}
    with EmulatorServer(load_config(cfg, SAMPLE)) as srv:
        r = httpx.post(srv.scoring_uri("heart"), json=body(ds_uri("in/x")), headers=TOKEN)
        assert r.status_code == 503 and r.headers["Retry-After"] == "3"


# -- events ---------------------------------------------------------------------------------------------
class _Receiver(BaseHTTPRequestHandler):
    events: list = []

    def do_POST(self):  # noqa: N802
        data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).events.extend(data)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture()
def receiver(server):
    _Receiver.events = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/events", _Receiver.events
    set_faults(server, {"events": {"url": None, "duplicate": False, "drop_statuses": [], "drop_next": 0}})
    httpd.shutdown()


def _events_for(events, name, timeout=5.0, expect=6):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mine = [e for e in events if e["data"]["runId"] == name]
        if len(mine) >= expect:
            return mine
        time.sleep(0.05)
    return [e for e in events if e["data"]["runId"] == name]


def test_run_status_changed_events(server, client, store, receiver):
    url, events = receiver
    set_faults(server, {"events": {"url": url}})
    name = submit_lab(client, store)
    wait_for(client, "lab", name)
    mine = _events_for(events, name)
    assert sorted(e["data"]["runStatus"] for e in mine) == sorted(
        ["NotStarted", "Queued", "Preparing", "Running", "Finalizing", "Completed"])
    e = mine[0]
    assert e["eventType"] == "Microsoft.MachineLearningServices.RunStatusChanged"
    assert e["topic"].endswith("/workspaces/ws-local") and e["subject"].endswith(f"/runs/{name}")
    assert e["data"]["experimentName"] == "lab" and e["data"]["runTags"]["azureml.batchrun"] == "true"
    assert {"id", "eventTime", "dataVersion", "metadataVersion"} <= set(e)


def test_events_can_be_dropped_or_duplicated(server, client, store, receiver):
    url, events = receiver
    set_faults(server, {"events": {"url": url, "duplicate": True, "drop_statuses": ["Running"]}})
    name = submit_lab(client, store)
    wait_for(client, "lab", name)
    mine = _events_for(events, name, expect=10)
    statuses = [e["data"]["runStatus"] for e in mine]
    assert "Running" not in statuses and statuses.count("Completed") == 2 and len(mine) == 10


# -- CLI ------------------------------------------------------------------------------------------------
def test_cli_starts_on_loopback_and_serves(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "--config", str(SAMPLE / "emulator.sample.json"),
                             "--port", "0"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        assert "emulator on http://127.0.0.1:" in line, line
        base = line.split(" on ")[1].split()[0]
        assert httpx.get(base + "/_emulator/health").json() == {"status": "ok"}
        assert httpx.post(base + "/endpoints/heart/jobs", json={}).status_code == 401
    finally:
        proc.terminate()
        proc.wait(10)
