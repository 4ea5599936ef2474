"""The HTTP functions, called as the worker calls them: real HttpRequest objects, the real Durable client
talking to the in-process Durable host, the run ledger on Azurite."""

import copy
import json
import re

import azure.functions as func
import pytest

from shared.runs.ledger import RunLedger
from tests.app_index import user_function
from tests.support.scripted_job import ScriptedJob  # noqa: F401 - also imported from here by tests/hostile
from tests.support.durable_host import DurableTestHost, run_async, split_functions
from tests.support.history import ET

CONFIG = {
    "datastores": {"workspaceblobstore": {"account_url": "http://127.0.0.1:10000/devstoreaccount1",
                                          "container": "azureml-blobstore"}},
    "routes": [{
        "name": "heart",
        "match": {"container": "landing", "prefix": "heart/"},
        "endpoint": {"scoring_uri": "http://127.0.0.1:9/endpoints/heart/jobs",
                     "workspace": {"subscription_id": "s", "resource_group": "rg", "name": "ws"}},
        "input": {"type": "uri_folder", "name": "heart_dataset"},
        "output": {"datastore": "workspaceblobstore", "path": "batch/heart/{run_id}/predictions.csv"},
        "poll": {"initial_seconds": 10, "max_seconds": 60, "deadline_hours": 1},
    }],
}


@pytest.fixture
def job():
    return ScriptedJob()


@pytest.fixture
def host(app_functions, job):
    orchestrators, activities = split_functions(app_functions.values())
    with DurableTestHost(orchestrators, {**activities, **job.activities()}) as durable_host:
        durable_host.start_server()
        yield durable_host


@pytest.fixture
def app_env(azurite, monkeypatch, request):
    container = f"state{abs(hash(request.node.name)) % 10**8}"
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string())
    monkeypatch.setenv("BATCH_CONFIG_JSON", json.dumps(CONFIG))
    monkeypatch.setenv("STATE_CONTAINER", container)
    monkeypatch.delenv("BATCH_CONFIG_PATH", raising=False)
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(azurite.connection_string())
    for folder in LANDED:  # the pre-flight of POST /api/runs lists the folder: these are complete
        land(service, folder)
    return RunLedger(service.get_container_client(container))


LANDED = ("heart/2024-06-01/", "heart/2024-06-02/", "heart/100%25 done/")


def land(service, folder, files=(("part-0.csv", b"age,chol\n63,233\n"), ("_SUCCESS", b""))):
    """A folder as landing leaves it (data files, then the route's marker)."""
    landing = service.get_container_client("landing")
    if not landing.exists():
        try:
            landing.create_container()
        except Exception:  # created meanwhile by a parallel test
            pass
    for name, data in files:
        landing.upload_blob(folder + name, data, overwrite=True)


def call(name, host, method="GET", url="http://localhost:7071/api/runs", *, body=None, headers=None,
         params=None, route_params=None):
    raw = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
    req = func.HttpRequest(method, url, headers=headers or {}, params=params or {}, route_params=route_params or {},
                           body=raw)
    return run_async(user_function(name)(req=req, client=host.client_binding()))


def run_until_monitoring(host, run_id):
    """Until the orchestration has recorded the submitted job and waits for its first poll."""
    host.run_until(lambda h: ((h.status(run_id) or {}).get("customStatus") or {}).get("job_name"),
                   fire_timers=False)


def body_of(response):
    return json.loads(response.get_body())


DEFAULT_START = {"route": "heart", "path": "heart/2024-06-01/"}


def start(host, body=DEFAULT_START, headers=None, params=None):
    return call("start_run", host, "POST", body=body, headers=headers, params=params)


def test_start_answers_202_with_location_and_retry_after(host, app_env):
    response = start(host, params={"code": "caller-key"})
    assert response.status_code == 202
    run = body_of(response)
    assert run["route"] == "heart" and run["status"] == "Running" and run["duplicate"] is False
    assert response.headers["Location"] == \
        f"http://localhost:7071/api/runs/{run['run_id']}?async=true&code=caller-key"
    assert response.headers["Retry-After"] == "10"
    status = host.status(run["run_id"])
    assert status["name"] == "run_orchestrator"
    run_input = json.loads(status["input"])["run"]
    assert run_input["input"]["url"].endswith("/landing/heart/2024-06-01/")
    assert run_input["output_uri"] == f"azureml://datastores/workspaceblobstore/paths/batch/heart/" \
                                      f"{run['run_id']}/predictions.csv"
    assert app_env.get(run["run_id"])["state"] == "started"


def test_an_idempotency_key_makes_a_retry_return_the_same_run(host, app_env):
    first = body_of(start(host, headers={"Idempotency-Key": "adf-run-42"}))
    second = body_of(start(host, headers={"Idempotency-Key": "adf-run-42"}))
    assert second["run_id"] == first["run_id"] and second["duplicate"] is True
    assert host.instance_ids() == [first["run_id"]]
    other = body_of(start(host, headers={"Idempotency-Key": "adf-run-43"}))
    assert other["run_id"] != first["run_id"]


@pytest.mark.parametrize("body, status, message", [
    (b"", 400, "request body is empty"),
    (b"{not json", 400, "not valid JSON"),
    (b"[1, 2]", 400, "must be a JSON object"),
    ({"path": "heart/x/"}, 400, "field 'route' is required"),
    ({"route": "lungs", "path": "lungs/x/"}, 404, "unknown route 'lungs'"),
    ({"route": "heart", "url": "https://evil.example/x"}, 400, "not as URLs"),
    ({"route": "heart", "path": "https://evil.example/heart/"}, 400, "field 'path' must be a blob path"),
    ({"route": "heart", "path": "other/x/"}, 400, "must start with the route's prefix 'heart/'"),
    ({"route": "heart", "path": "heart/x/", "container": "secrets"}, 400, "reads only from container 'landing'"),
    ({"route": 7, "path": "heart/x/"}, 400, "field 'route' must be a string, not a JSON number"),
    (b"x" * (64 * 1024 + 1), 413, "the limit is 65536"),
])
def test_bad_requests_get_a_clear_error_and_start_nothing(host, app_env, body, status, message):
    response = start(host, body=body)
    assert response.status_code == status
    assert message in body_of(response)["error"]
    assert host.instance_ids() == []


def test_a_run_is_read_while_running_and_after_it_ends(host, app_env, job):
    run_id = body_of(start(host))["run_id"]
    run_until_monitoring(host, run_id)
    running = call("get_run", host, route_params={"run_id": run_id})
    assert running.status_code == 200
    view = body_of(running)
    assert (view["status"], view["stage"], view["job_name"]) == ("Running", "monitoring", "job-1")
    assert view["studio_url"] == "https://ml.azure.com/runs/job-1"
    assert view["api_version"] == "2026-12-01"
    internal = {"phase", "hint", "hint_time", "recheck", "event_ids", "claim", "polls_here", "events", "version"}
    assert not internal & set(view), "the public run resource carries no monitor state"
    assert all(view[t] is None or re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", view[t])
               for t in ("created_at", "updated_at", "started_at", "submitted_at")), view
    debug = body_of(call("get_run", host, route_params={"run_id": run_id}, params={"view": "debug"}))
    assert debug["phase"] == "monitoring" and "event_ids" in debug  # operators still see the monitor
    bad = call("get_run", host, route_params={"run_id": run_id}, params={"view": "everything"})
    assert bad.status_code == 400 and body_of(bad)["field"] == "view"

    async_style = call("get_run", host, route_params={"run_id": run_id}, params={"async": "true"})
    assert async_style.status_code == 202 and async_style.headers["Location"].endswith(f"/api/runs/{run_id}?async=true")

    host.run_until_complete(run_id)
    done = call("get_run", host, route_params={"run_id": run_id}, params={"async": "true"})
    assert done.status_code == 200
    view = body_of(done)
    assert view["status"] == "Succeeded" and view["job_status"] == "Completed"
    assert view["outputs"] == [] and view["error"] is None
    assert view["polls"] == 2 and view["stage"] is None and "phase" not in view
    assert view["finished_at"].endswith("Z") and view["created_at"].endswith("Z")


def test_unknown_runs_are_404(host, app_env):
    assert call("get_run", host, route_params={"run_id": "heart-nope"}).status_code == 404
    assert call("cancel_run", host, "POST", route_params={"run_id": "heart-nope"}).status_code == 404


def test_cancel_reaches_the_orchestration_which_cancels_the_job(host, app_env, job):
    run_id = body_of(start(host))["run_id"]
    run_until_monitoring(host, run_id)
    response = call("cancel_run", host, "POST", route_params={"run_id": run_id}, body={"reason": "wrong input"})
    assert response.status_code == 202 and body_of(response)["cancel_requested"] is True
    final = host.run_until_complete(run_id)
    assert final["output"]["outcome"] == "Canceled"
    assert "cancel" in job.calls
    again = call("cancel_run", host, "POST", route_params={"run_id": run_id})
    assert again.status_code == 409 and "already ended (Canceled)" in body_of(again)["error"]


def test_list_filters_by_route_and_status(host, app_env, job):
    finished = body_of(start(host))["run_id"]
    host.run_until_complete(finished)
    running = body_of(start(host, body={"route": "heart", "path": "heart/2024-06-02/"}))["run_id"]
    since = "2000-01-01T00:00:00Z"  # the simulated host clock is not today's date
    listing = body_of(call("list_runs", host, params={"route": "heart", "since": since}))
    assert {r["run_id"] for r in listing["runs"]} == {finished, running}
    only_done = body_of(call("list_runs", host, params={"status": "Succeeded", "since": since}))
    assert [r["run_id"] for r in only_done["runs"]] == [finished]
    assert {r["api_version"] for r in listing["runs"]} == {"2026-12-01"} and not any("phase" in r for r in listing["runs"])
    debug = body_of(call("list_runs", host, params={"since": since, "view": "debug"}))
    assert any("phase" in r for r in debug["runs"])  # the running run's monitor state
    assert call("list_runs", host, params={"limit": "0"}).status_code == 400
    assert call("list_runs", host, params={"status": "Done"}).status_code == 400
    assert call("list_runs", host, params={"since": "yesterday"}).status_code == 400


def test_start_is_refused_while_the_configuration_is_invalid(host, monkeypatch):
    monkeypatch.setenv("BATCH_CONFIG_JSON", '{"routes": []}')
    response = start(host)
    assert response.status_code == 503 and "GET /api/health" in body_of(response)["error"]


# --- hostile inputs, at their root (issue 10) ---------------------------------------------------------

DEEP = b'{"route": ' + b"[" * 5000 + b"]" * 5000 + b"}"


def test_deeply_nested_json_is_a_400_on_every_body(host, app_env, job):
    assert start(host, body=DEEP).status_code == 400
    run_id = body_of(start(host))["run_id"]
    run_until_monitoring(host, run_id)
    for name in ("cancel_run", "redeliver_run"):
        response = call(name, host, "POST", body=b"[" * 60_000, route_params={"run_id": run_id})
        assert response.status_code == 400 and "nested too deeply" in body_of(response)["error"], name
    assert host.instance_ids() == [run_id] and "cancel" not in job.calls


def test_list_reads_limit_and_since_strictly(host, app_env):
    run_id = body_of(start(host))["run_id"]          # created at the host's clock: 2024-01-01T00:00:00Z
    for params, field in [({"limit": "²"}, "limit"), ({"limit": "٣"}, "limit"), ({"since": "2024-01-01T00:00:00+2"}, "since"),
                          ({"route": "../x"}, "route"), ({"limt": "5"}, "limt"), ({"status": "running"}, "status")]:
        response = call("list_runs", host, params=params)
        assert response.status_code == 400 and body_of(response)["field"] == field, params

    def listed(since):
        response = call("list_runs", host, params={"since": since})
        assert response.status_code == 200, body_of(response)
        return [r["run_id"] for r in body_of(response)["runs"]]

    assert listed("2024-01-01T00:30:00+01:00") == [run_id]   # 2023-12-31T23:30Z: before the run
    assert listed("2023-12-31T23:30:00-01:00") == []         # 2024-01-01T00:30Z: after it
    assert listed("2024-01-01T00:30:00 01:00") == [run_id]   # an unencoded '+' arrives as a space
    assert listed("0500-01-01T00:00:00Z") == [run_id]        # years before 1000: from the beginning
    assert listed("9999-01-01") == []


@pytest.mark.parametrize("bad", ["{id}?x=", "{id}/", "{id}#x", ".", "..", "../instances", "{id}/../other",
                                 "{id}%3Fx", "{id}\x00", " {id}", "{id}\n"])
def test_run_ids_in_paths_are_checked_before_the_durable_client(host, app_env, bad):
    run_id = body_of(start(host))["run_id"]
    run_until_monitoring(host, run_id)
    for name, method in [("get_run", "GET"), ("cancel_run", "POST"), ("redeliver_run", "POST")]:
        response = call(name, host, method, route_params={"run_id": bad.format(id=run_id)})
        assert response.status_code == 400, (name, response.get_body())
        assert body_of(response)["field"] == "run_id"
    assert host.instance_ids() == [run_id] and body_of(call("get_run", host, route_params={"run_id": run_id}))[
        "status"] == "Running"


def test_landing_waiters_are_not_runs(host, app_env):
    from shared.landing.rules import manifest_waiter_id, quiet_waiter_id

    run_id = body_of(start(host))["run_id"]
    waiters = [quiet_waiter_id("heart", "http://x/landing/heart/a/"),
               manifest_waiter_id("heart", "http://x/landing/heart/b/", '"0x1"')]
    host.start("landing_quiet_orchestrator", {"not": "a run"}, instance_id=waiters[0])
    host.start("landing_manifest_orchestrator", {"not": "a run"}, instance_id=waiters[1])
    listing = body_of(call("list_runs", host, params={"since": "2000-01-01"}))
    assert [r["run_id"] for r in listing["runs"]] == [run_id] and listing["count"] == 1
    for waiter in waiters:
        for name, method in [("get_run", "GET"), ("cancel_run", "POST"), ("redeliver_run", "POST")]:
            response = call(name, host, method, route_params={"run_id": waiter})
            assert response.status_code == 404, (name, waiter)
    assert set(host.instance_ids()) == {run_id, *waiters}
    assert all(host.count(w, ET.EVENT_RAISED) == 0 for w in waiters)


def test_cancel_refuses_unknown_fields_and_long_reasons_and_cleans_the_reason(host, app_env, job):
    run_id = body_of(start(host))["run_id"]
    run_until_monitoring(host, run_id)
    for body, field in [({"reson": "typo"}, "reson"), ({"reason": "x" * 501}, "reason"), ({"reason": 5}, "reason"),
                        ({"reason": ["a"]}, "reason")]:
        response = call("cancel_run", host, "POST", route_params={"run_id": run_id}, body=body)
        assert response.status_code == 400 and body_of(response)["field"] == field, body
    assert host.count(run_id, ET.EVENT_RAISED) == 0
    response = call("cancel_run", host, "POST", route_params={"run_id": run_id},
                    body={"reason": "bad\r\ninput\x1b[31m sig=abc https://a.blob.core.windows.net/c?sv=1&sig=SECRETSIG"})
    assert response.status_code == 202
    reason = body_of(response)["reason"]
    assert "\r" not in reason and "\x1b" not in reason and "SECRETSIG" not in reason
    final = host.run_until_complete(run_id)
    assert final["output"]["outcome"] == "Canceled" and "SECRETSIG" not in json.dumps(host.executions(run_id))


@pytest.mark.parametrize("path", ["heart/%2e%2e/%2e%2e/victim/", "heart/..\\victim/", "heart/a\x00b/", "heart/a\r\nb/",
                                  "heart/a?x=1/", "heart/a#x/", "heart/\uff0e\uff0e/victim/", "heart/" + "a/" * 30_000,  # a 60 KB path in a body under 64 KiB
                                 
                                  "heart/%2E%2E/", "heart/./x/", "heart//x/", "/heart/x/", "heart/\u2025/x/"])
def test_start_refuses_paths_that_could_escape_or_truncate(host, app_env, path):
    response = start(host, body={"route": "heart", "path": path})
    assert response.status_code == 400 and body_of(response)["field"] == "path"
    assert host.instance_ids() == []


@pytest.mark.parametrize("body, field", [
    ({"route": "heart", "path": "heart/x/", "reason": "no longer a start field"}, "reason"),
    ({"route": "heart", "path": "heart/x/", "Route": "heart"}, "Route"),
    ({"route": "heart", "path": ["heart/x/"]}, "path"),
    ({"route": "heart", "path": "heart/x/", "container": 1}, "container"),
    ({"route": True, "path": "heart/x/"}, "route"),
    ({"route": "he art", "path": "heart/x/"}, "route"),
    ({"route": "heart", "path": "  "}, "path"),
])
def test_start_types_every_field_and_names_unknown_ones(host, app_env, body, field):
    response = start(host, body=body)
    assert response.status_code == 400 and body_of(response)["field"] == field
    assert host.instance_ids() == []


def test_a_path_with_literal_percent_is_the_blob_name_itself(host, app_env):
    response = start(host, body={"route": "heart", "path": "heart/100%25 done/"})
    assert response.status_code == 202
    assert body_of(response)["input"].endswith("/landing/heart/100%2525%20done/")


SAS = "sv=2024-05-04&ss=b&srt=sco&sp=rl&sig=Zm9vYmFyU0VDUkVUc2lnbmF0dXJl%3D"


def test_run_answers_carry_no_secret_from_errors(host, app_env, job):
    def submit_job(payload):
        raise RuntimeError("cannot connect: BlobEndpoint=https://a.blob.core.windows.net/;"
                           f"SharedAccessSignature={SAS}; AccountKey=QUNDT1VOVEtFWQ==")

    host.activities["submit_job"] = submit_job
    failed = body_of(start(host))["run_id"]
    host.run_until_complete(failed)
    terminated = body_of(start(host, body={"route": "heart", "path": "heart/2024-06-02/"}))["run_id"]
    host.terminate(terminated, reason=f"operator pasted https://a.blob.core.windows.net/c/x?{SAS}")
    host.run_until_idle()
    texts = [call("get_run", host, route_params={"run_id": r}).get_body().decode() for r in (failed, terminated)]
    texts.append(call("list_runs", host, params={"since": "2000-01-01"}).get_body().decode())
    for text in texts:
        assert "Zm9vYmFyU0VDUkVUc2lnbmF0dXJl" not in text and "QUNDT1VOVEtFWQ" not in text, text
    assert "terminated" in texts[1] and "sig=***" in texts[1]
