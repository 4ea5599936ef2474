"""The ``batchscoring`` child run (emulator/children.py): Run History run and children, the child's ARM job
with its ``score`` output, events that name the child, and the switches that make the service stricter."""
from __future__ import annotations

import httpx
import pytest

from tests.emulator.helpers import body, ds_uri, unique, upload, wait_for
from tests.emulator.test_emulator_management_faults import _events_for, arm_job_url, receiver, set_faults  # noqa: F401

WS = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-local/providers/"
      "Microsoft.MachineLearningServices/workspaces/ws-local")
API = "?api-version=2024-04-01"


@pytest.fixture
def switches(server):
    def apply(**spec):
        r = httpx.post(server.base_url + "/_emulator/child_runs", json=spec)
        assert r.status_code == 200, r.text
        return r.json()
    yield apply
    apply(events="job", parent_outputs="listed", children="served")


def submit_without_output(client, store) -> str:
    folder = unique("in/child")
    upload(store, folder, {"a.csv": "ok"})
    r = client.post("/endpoints/lab/jobs", json=body(ds_uri(folder)), headers={"azureml-model-deployment": "flaky"})
    assert r.status_code == 201, r.text
    return r.json()["name"]


def test_a_job_has_one_batchscoring_child_with_the_score_output(server, client, store, switches):
    name = submit_without_output(client, store)
    wait_for(client, "lab", name)
    [child] = client.get(f"/history/v1.0{WS}/runs/{name}/children").json()["value"]
    assert child["parentRunId"] == name and child["properties"]["azureml.moduleName"] == "batchscoring"
    run = client.get(f"/history/v1.0{WS}/runs/{child['runId']}").json()
    assert run["parentRunId"] == name and run["status"] == "Completed"
    assert client.get(f"/history/v1.0{WS}/runs/{name}").json()["parentRunId"] is None
    arm = client.get(arm_job_url(server, child["runId"]) + API).json()
    assert arm["properties"]["displayName"] == "batchscoring"
    assert arm["properties"]["outputs"]["score"]["uri"].endswith(f"/azureml/{name}/score/")
    # the stricter service: the job lists no output of its own, and a caller may not see its children
    switches(parent_outputs="omitted")
    assert "outputs" not in client.get(arm_job_url(server, name) + API).json()["properties"]
    assert "outputData" not in client.get(f"/endpoints/lab/jobs/{name}").json()["properties"]
    switches(children="absent")
    assert client.get(f"/history/v1.0{WS}/runs/{name}/children").status_code == 404


def test_events_name_the_child_when_asked(server, client, store, receiver, switches):
    url, events = receiver
    set_faults(server, {"events": {"url": url}})
    switches(events="child")
    name = submit_without_output(client, store)
    wait_for(client, "lab", name)
    [child] = client.get(f"/history/v1.0{WS}/runs/{name}/children").json()["value"]
    mine = _events_for(events, child["runId"])
    assert sorted(e["data"]["runStatus"] for e in mine) == sorted(
        ["NotStarted", "Queued", "Preparing", "Running", "Finalizing", "Completed"])
    assert not [e for e in events if e["data"]["runId"] == name]
    assert mine[0]["data"]["runProperties"]["azureml.pipelinerunid"] == name
    assert mine[0]["subject"].endswith(f"/runs/{child['runId']}")


def test_a_bad_switch_is_refused(server):
    r = httpx.post(server.base_url + "/_emulator/child_runs", json={"events": "sometimes"})
    assert r.status_code == 400 and "events must be one of" in r.json()["error"]["message"]
