"""Client job names (honoured or ignored), labels, the job lists a client searches, and faults that lose
an answer after the work was done (issue 9 item 1: what the emulator must offer to test idempotent submit)."""
from __future__ import annotations

import time
import uuid

import httpx
import pytest

from emulator.config import ConfigError, load_config
from tests.emulator.helpers import SAMPLE, TOKEN, body, ds_uri, emulator_config_dict, emulator_job, unique, upload

API = "api-version=2024-04-01"
WS = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-local/providers/"
      "Microsoft.MachineLearningServices/workspaces/ws-local")


def behave(server, **spec) -> httpx.Response:
    return httpx.post(server.base_url + "/_emulator/behaviour", json=spec)


def set_faults(server, spec) -> httpx.Response:
    return httpx.post(server.base_url + "/_emulator/faults", json=spec)


def post(client, store, **props) -> httpx.Response:
    folder = unique("in/ident")
    upload(store, folder, {"a.csv": "ok"})
    return client.post("/endpoints/lab/jobs", json=body(ds_uri(folder), ds_uri(unique("out") + "/p.csv"), **props))


# -- client job names ----------------------------------------------------------------------------------
def test_an_honoured_name_becomes_the_job_name_and_a_reuse_is_a_conflict(server, client, store):
    name = f"mine-{uuid.uuid4().hex[:8]}"
    r = post(client, store, name=name)
    assert r.status_code == 201 and r.json()["name"] == name
    again = post(client, store, name=name)
    assert again.status_code == 409 and "already exists" in again.json()["error"]["message"]


def test_an_ignored_name_gets_a_generated_one_and_is_recorded(server, client, store):
    assert behave(server, job_names="ignore").status_code == 200
    name = f"mine-{uuid.uuid4().hex[:8]}"
    first, second = post(client, store, name=name), post(client, store, name=name)
    assert first.status_code == second.status_code == 201
    assert first.json()["name"].startswith("batchjob-") and first.json()["name"] != second.json()["name"]
    assert emulator_job(server, first.json()["name"])["requested_name"] == name


def test_dropped_labels_leave_only_the_output_path(server, client, store):
    behave(server, job_labels="drop")
    r = post(client, store, tags={"k": "v"}, properties={"p": "1"})
    props = r.json()["properties"]
    assert "k" not in props["tags"] and "p" not in props["properties"]
    assert props["outputData"]["score"]["uri"].endswith("/p.csv")


def test_behaviour_is_readable_resettable_and_validated(server):
    assert behave(server, job_names="ignore", reused_job_name="existing").json()["job_names"] == "ignore"
    assert httpx.get(server.base_url + "/_emulator/behaviour").json()["reused_job_name"] == "existing"
    assert httpx.delete(server.base_url + "/_emulator/behaviour").json()["job_names"] == "honour"
    for bad in ({"job_names": "sometimes"}, {"reused_job_name": "shrug"}, {"colour": 1}, {"list_page_size": 0}):
        r = behave(server, **bad)
        assert r.status_code == 400 and "behaviour" in r.json()["error"]["message"]


def test_behaviour_in_the_config_file(azurite):
    cfg = emulator_config_dict(azurite.default.blob_connection_string)
    cfg["behaviour"] = {"job_names": "ignore", "list_page_size": 3}
    loaded = load_config(cfg, SAMPLE)
    assert (loaded.behaviour.job_names, loaded.behaviour.list_page_size) == ("ignore", 3)
    cfg["behaviour"] = {"job_names": "maybe"}
    with pytest.raises(ConfigError, match="job_names"):
        load_config(cfg, SAMPLE)


# -- job lists -------------------------------------------------------------------------------------------
def submit_tagged(client, store, marker: str, n: int) -> list[str]:
    names = []
    for i in range(n):
        r = post(client, store, tags={"marker": marker, "i": str(i)}, properties={"marker": marker, "i": str(i)})
        assert r.status_code == 201
        names.append(r.json()["name"])
    return names


def all_pages(client, url: str) -> tuple[list[str], int]:
    names, pages = [], 0
    while url:
        r = client.get(url)
        assert r.status_code == 200, r.text
        pages += 1
        names += [j["name"] for j in r.json()["value"]]
        url = r.json().get("nextLink")
    return names, pages


def test_the_arm_job_list_filters_by_property_and_tag_newest_first_in_pages(server, client, store):
    marker = uuid.uuid4().hex[:8]
    names = submit_tagged(client, store, marker, 3)
    behave(server, list_page_size=2)
    base = f"{server.management_url}{WS}/jobs?{API}"
    listed, pages = all_pages(client, f"{base}&properties=marker={marker}")
    assert listed == names[::-1] and pages == 2
    assert all_pages(client, f"{base}&properties=marker={marker},i=1")[0] == [names[1]]
    assert all_pages(client, f"{base}&tag=marker=" + marker)[0] == names[::-1]
    assert set(names) <= set(all_pages(client, f"{base}&tag=marker")[0])
    assert all_pages(client, f"{base}&properties=marker=nope")[0] == []
    assert all_pages(client, f"{base}&jobType=Command")[0] == []
    arm = client.get(f"{base}&properties=marker={marker},i=0").json()["value"][0]
    assert arm["properties"]["outputs"]["score"]["uri"].endswith("/p.csv") and arm["id"].endswith(names[0])
    assert client.get(f"{server.management_url}{WS}/jobs").status_code == 400   # api-version is required


def test_the_data_plane_list_pages_and_filters_the_same_way(server, client, store):
    marker = uuid.uuid4().hex[:8]
    names = submit_tagged(client, store, marker, 3)
    behave(server, list_page_size=1)
    listed, pages = all_pages(client, f"{server.scoring_uri('lab')}?properties=marker={marker}")
    assert listed == names[::-1] and pages == 3
    assert client.get(f"{server.scoring_uri('lab')}?$skip=x").status_code == 400


# -- answers lost after the work was done ---------------------------------------------------------------
def count_jobs(server) -> int:
    return len(httpx.get(server.base_url + "/_emulator/jobs").json()["value"])


def test_a_dropped_answer_after_create_leaves_the_job(server, client, store):
    before = count_jobs(server)
    assert set_faults(server, {"http": [{"target": "submit", "when": "after", "effect": "drop"}]}).status_code == 200
    with pytest.raises(httpx.RemoteProtocolError):
        post(client, store)
    assert count_jobs(server) == before + 1


def test_a_503_after_create_leaves_the_job(server, client, store):
    before = count_jobs(server)
    set_faults(server, {"http": [{"target": "submit", "when": "after", "status": 503}]})
    r = post(client, store)
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    assert count_jobs(server) == before + 1


def test_a_stalled_answer_after_create_times_the_client_out(server, store):
    before = count_jobs(server)
    set_faults(server, {"http": [{"target": "submit", "when": "after", "effect": "stall", "seconds": 1.5}]})
    with httpx.Client(base_url=server.base_url, headers=TOKEN, timeout=0.3) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            post(impatient, store)
    assert count_jobs(server) == before + 1


def test_a_lost_answer_to_a_cancel_still_cancels(server, client, store):
    set_faults(server, {"jobs": [{"effect": "hang"}]})
    name = post(client, store).json()["name"]
    set_faults(server, {"http": [{"target": "cancel", "when": "after", "status": 500}]})
    r = client.post(f"{server.management_url}{WS}/jobs/{name}/cancel?{API}")
    assert r.status_code == 500
    deadline = time.monotonic() + 10
    while emulator_job(server, name)["status"] != "Canceled":
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_skip_lets_the_first_matching_calls_through(server, client, store):
    name = post(client, store).json()["name"]
    set_faults(server, {"http": [{"target": "status", "status": 503, "skip": 2}]})
    codes = [client.get(f"/endpoints/lab/jobs/{name}").status_code for _ in range(4)]
    assert codes == [200, 200, 503, 200]


@pytest.mark.parametrize("spec, message", [
    ({"target": "status", "when": "after"}, "applies to submit and cancel"),
    ({"target": "submit", "effect": "explode"}, "effect"),
    ({"target": "submit", "when": "later"}, "'when'"),
])
def test_bad_fault_specs_are_refused(server, spec, message):
    r = set_faults(server, {"http": [spec]})
    assert r.status_code == 400 and message in r.json()["error"]["message"]
