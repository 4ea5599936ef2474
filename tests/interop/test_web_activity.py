"""adf/pipeline.json replayed as Data Factory documents its activities (tests/interop/adf.py) against the
in-process API: POST, follow ``Location`` on 202 honouring ``Retry-After``, succeed on 200, fail on 4xx/5xx,
for runs that succeed, fail, are cancelled and time out."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.interop.adf import Run
from tests.interop.conftest import APP_URL, FUNCTION_KEY, VAULT_URL, ScriptedJob

PIPELINE = json.loads((Path(__file__).resolve().parents[2] / "adf" / "pipeline.json").read_text())
PARAMETERS = {"functionAppUrl": APP_URL, "keyVaultUrl": VAULT_URL, "endpoint": "heart",
              "input": "heart/2024-06-01/"}


def replay(app, pipeline=PIPELINE, **parameters) -> Run:
    return Run(pipeline, {**PARAMETERS, **parameters}, app.http, app.sleep).execute()


def activity(run: Run, name: str):
    return [a for a in run.activity_runs if a.name == name]


def test_a_run_that_succeeds_passes_the_pipeline_after_following_location(app, job):
    run = replay(app)
    assert run.status == "Succeeded", run.failure
    assert run.variables["runStatus"] == "Succeeded"
    follow = activity(run, "FollowRun")
    assert len(follow) == 1 and follow[0].status == "Succeeded"
    # the Web activity polled the run's Location while it answered 202, then stopped at the 200
    polls = follow[0].requests
    assert len(polls) >= 3 and all(method == "GET" for method, _ in polls)
    assert all("async=true" in url for _, url in polls)
    assert follow[0].output["status"] == "Succeeded"
    assert follow[0].output["ADFWebActivityResponseHeaders"].get("X-Run-Status") == "Succeeded"
    assert job.calls.count("submit") == 1


def test_the_web_activity_honours_retry_after_and_needs_no_headers_on_polls(app):
    waits: list[float] = []

    def sleep(seconds):
        waits.append(seconds)
        app.sleep(seconds)

    run = Run(PIPELINE, PARAMETERS, app.http, sleep).execute()
    assert run.status == "Succeeded", run.failure
    assert waits and set(waits) == {10.0}  # the API's Retry-After
    polls = [(m, u, h) for m, u, h in app.requests if m == "GET" and "/api/runs/" in u]
    assert polls and all(h == {} for _, _, h in polls[:-1])  # the Web activity's own polls send no headers


def test_the_function_key_comes_from_key_vault_and_is_never_in_an_error(app):
    run = replay(app)
    assert run.status == "Succeeded"
    vault = [u for m, u, _ in app.requests if u.startswith(VAULT_URL)]
    assert vault == [f"{VAULT_URL}/secrets/batchruns-function-key?api-version=7.4"]
    start = [(m, u, h) for m, u, h in app.requests if m == "POST"]
    assert len(start) == 1 and start[0][2]["Idempotency-Key"] == run.run_id
    assert start[0][1] == f"{APP_URL}/api/runs" and start[0][2]["x-functions-key"] == FUNCTION_KEY
    # the Location that comes back carries the key, so polls need no headers
    status_url = run.variables["statusUrl"]
    assert status_url.startswith(f"{APP_URL}/api/runs/") and "async=true" in status_url
    assert parse_qs(urlsplit(status_url).query)["code"] == [FUNCTION_KEY]
    failed = replay(app, input="elsewhere/2024-06-01/")
    assert failed.failure is not None and FUNCTION_KEY not in str(failed.failure)
    assert "fn-key" not in str(failed.failure)


@pytest.mark.parametrize("job", [ScriptedJob(polls=2, final="Failed")], indirect=False)
def test_a_failed_run_fails_the_pipeline_with_its_error(app, job):
    run = replay(app)
    assert run.status == "Failed"
    assert run.failure.code == "BatchRunFailed"
    assert "ended Failed" in run.failure.message and "scoring script raised ValueError" in run.failure.message
    # the Web activity itself succeeded on the 200: it is the pipeline's check that fails the run
    assert activity(run, "FollowRun")[0].status == "Succeeded"
    assert activity(run, "FollowRun")[0].output["status"] == "Failed"


@pytest.mark.parametrize("job", [ScriptedJob(polls=1000)])
def test_a_cancelled_run_fails_the_pipeline_as_canceled(app, job):
    def cancel_on_third_read(reads):
        if reads == 3:
            app.on_status_read = None
            status_url = [u for m, u, _ in app.requests if m == "GET" and "/api/runs/" in u][-1]
            run_id = status_url.split("/api/runs/")[1].split("?")[0]
            status, _, _ = app.http("POST", f"{APP_URL}/api/runs/{run_id}/cancel", {"x-functions-key": FUNCTION_KEY},
                                    b'{"reason": "stopped from the factory"}')
            assert status == 202

    app.on_status_read = cancel_on_third_read
    run = replay(app)
    assert run.status == "Failed" and run.failure.code == "BatchRunCanceled"
    assert "cancel" in job.calls


@pytest.mark.parametrize("routes_deadline", [0.01])
def test_a_run_past_its_deadline_fails_the_pipeline_as_timed_out(app_functions, azurite, monkeypatch, request,
                                                                  routes, routes_deadline):
    from tests.interop.conftest import InProcessApp
    from tests.support.durable_host import DurableTestHost, split_functions

    routes["routes"][0]["poll"]["deadline_hours"] = routes_deadline  # 36 s
    job = ScriptedJob(final=None)
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string())
    monkeypatch.setenv("BATCH_CONFIG_JSON", json.dumps(routes))
    monkeypatch.setenv("STATE_CONTAINER", f"interop{abs(hash(request.node.name)) % 10**8}")
    orchestrators, activities = split_functions(app_functions.values())
    with DurableTestHost(orchestrators, {**activities, **job.activities()}) as host:
        host.start_server()
        run = replay(InProcessApp(host))
    assert run.status == "Failed" and run.failure.code == "BatchRunTimedOut"
    assert "cancel" in job.calls  # the deadline cancelled the job at the service


@pytest.mark.parametrize("job", [ScriptedJob(polls=40)])
def test_a_run_longer_than_the_web_activity_limit_is_picked_up_by_the_until_loop(app, job):
    pipeline = json.loads(json.dumps(PIPELINE))
    loop = next(a for a in pipeline["properties"]["activities"] if a["name"] == "WaitForRun")
    follow = next(a for a in loop["typeProperties"]["activities"] if a["name"] == "FollowRun")
    follow["policy"]["timeout"] = "0.00:02:00"  # the Web activity gives up long before the run ends
    run = replay(app, pipeline)
    assert run.status == "Succeeded", run.failure
    passes = activity(run, "FollowRun")
    assert len(passes) >= 2 and passes[0].status == "Failed" and passes[0].error.code == "ActivityTimedOut"
    assert passes[-1].status == "Succeeded"
    assert [a.output["status"] for a in activity(run, "ReadRun")][-1] == "Succeeded"


@pytest.mark.parametrize("parameters, status_code", [
    ({"endpoint": "lungs"}, "404"),                        # no such route
    ({"input": "https://evil.example/heart/"}, "400"),     # a URL, not a path in the landing container
    ({"input": "other/2024-06-01/"}, "400"),               # outside the route's prefix
])
def test_a_rejected_start_fails_the_pipeline_with_the_web_activity_error(app, parameters, status_code):
    run = replay(app, **parameters)
    assert run.status == "Failed" and run.failure.code == "2108"
    assert f"Response status code: '{status_code}'" in run.failure.message
    assert activity(run, "WaitForRun") == [] or activity(run, "WaitForRun")[0].status == "Skipped"


def test_a_stale_function_key_in_key_vault_fails_at_the_start(app):
    app.vault_secret = "rotated-away"
    run = replay(app)
    assert run.status == "Failed" and "Response status code: '401'" in run.failure.message
    assert "rotated-away" not in str(run.failure)


def test_a_run_that_disappears_ends_the_loop_as_unreachable(app):
    def purge(reads):
        if reads == 2:
            app.on_status_read = None
            app.host._instances.clear()  # the task hub lost the instance: the run's URL answers 404

    app.on_status_read = purge
    run = replay(app)
    assert run.status == "Failed" and run.failure.code == "BatchRunUnreachable"
    assert activity(run, "FollowRun")[0].error.code == "2108"


def test_the_output_parameter_must_match_a_delivered_file(app):
    run = replay(app, output="https://curated.blob.core.windows.net/scores/")
    assert run.status == "Failed" and run.failure.code == "BatchRunOutputMissing"
