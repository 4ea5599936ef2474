"""Issue 9, item 1: one job per run attempt, whatever answers get lost and however often submit runs.

Against the real emulator on loopback (its job list is the ground truth), through the real activity
bodies. Each case runs with the service honouring client job names and ignoring them (UNCONFIRMED, contract
§1.8), and where it matters with the job's tags/properties kept or dropped (§1.7).
"""

from __future__ import annotations

import time

import httpx
import pytest

from shared import activities
from shared.batch_endpoint import exceptions as errors
from shared.batch_endpoint.attempts import TAG_ATTEMPT_ID, AttemptIdentity

from .conftest import NoWait, client_factory, new_run, settings_for

# (job_names, job_labels): what the service keeps of the attempt's identity.
SERVICES = [pytest.param("honour", "keep", id="names-honoured"),
            pytest.param("ignore", "keep", id="names-ignored"),
            pytest.param("ignore", "drop", id="names-and-labels-ignored")]
FOUND_BY = {("honour", "keep"): "name", ("ignore", "keep"): "tag", ("ignore", "drop"): "output"}


@pytest.fixture
def settings(emu, azurite):
    return settings_for(emu, azurite)


def submit(run: dict, settings, **factory) -> dict:
    return activities.submit_job({"run": run, "attempt": run["attempt"]}, settings, client_factory(**factory))


def jobs_of(control, run: dict) -> list[dict]:
    return [j for j in control.jobs() if j["output_uri"] == run["output_uri"]]


def wait_terminal(control, name: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = next(j for j in control.jobs() if j["name"] == name)
        if job["status"] in ("Completed", "Failed", "Canceled"):
            return job
        assert time.monotonic() < deadline, f"job {name} still {job['status']}"
        time.sleep(0.05)


# -- the job carries the attempt's identity --------------------------------------------------------------

def test_the_job_carries_the_attempts_name_tags_and_properties(control, datastore, settings):
    run = new_run(datastore)
    result = submit(run, settings)
    identity = AttemptIdentity.of(run["run_id"], 1)
    [job] = control.jobs()
    assert result == {"job_name": identity.job_name, "status": "NotStarted", "studio_url": result["studio_url"],
                      "attempt": 1, "adopted": False, "found_by": None}
    assert job["name"] == job["requested_name"] == identity.job_name
    assert job["tags"] == job["properties"] == identity.labels


def test_attempt_defaults_to_the_runs_and_then_to_1(control, datastore, settings):
    run = new_run(datastore)
    del run["attempt"]
    result = activities.submit_job({"run": run}, settings, client_factory())
    assert result["attempt"] == 1 and result["job_name"].endswith("-a1")


def test_a_new_attempt_is_a_new_job(control, datastore, settings):
    run = new_run(datastore)
    first = submit(run, settings)
    second = submit({**run, "attempt": 2, "output_uri": run["output_uri"].replace(".csv", "-2.csv")}, settings)
    assert first["job_name"] != second["job_name"] and not second["adopted"]
    assert len(control.jobs()) == 2


# -- Case A: the activity runs again after its POST went through ----------------------------------------

@pytest.mark.parametrize("names, labels", SERVICES)
def test_case_a_a_repeated_submit_adopts_the_job_its_first_run_created(control, datastore, settings, names, labels):
    control.behave(job_names=names, job_labels=labels)
    run = new_run(datastore)
    first = submit(run, settings)          # the POST went through; the worker died before the result was saved
    again = submit(run, settings)          # Durable runs the activity again with the same input
    assert again["job_name"] == first["job_name"]
    assert again["adopted"] is True and again["found_by"] == FOUND_BY[(names, labels)]
    assert len(jobs_of(control, run)) == 1 and len(control.jobs()) == 1


@pytest.mark.parametrize("names, labels", SERVICES)
def test_case_a_a_repeat_after_the_job_finished_adopts_the_finished_job(control, datastore, settings, names, labels):
    control.behave(job_names=names, job_labels=labels)
    run = new_run(datastore)
    first = submit(run, settings)
    assert wait_terminal(control, first["job_name"])["status"] == "Completed"
    again = submit(run, settings)
    assert (again["job_name"], again["status"], again["adopted"]) == (first["job_name"], "Completed", True)
    assert len(control.jobs()) == 1


# -- Case B: the answer to the POST is lost after the job was created ----------------------------------

LOST_ANSWERS = [
    pytest.param({"effect": "drop"}, id="connection-dropped"),
    pytest.param({"effect": "status", "status": 503}, id="503"),
    pytest.param({"effect": "status", "status": 500}, id="500"),
    pytest.param({"effect": "stall", "seconds": 2.0}, id="read-timeout"),
]


@pytest.mark.parametrize("names, labels", SERVICES)
@pytest.mark.parametrize("lost", LOST_ANSWERS)
def test_case_b_a_lost_answer_is_followed_by_a_look_not_a_second_post(control, datastore, settings, names, labels,
                                                                      lost):
    control.behave(job_names=names, job_labels=labels)
    control.faults({"http": [{"target": "submit", "when": "after", **lost}]})
    run = new_run(datastore)
    result = submit(run, settings, timeout=0.5)
    [job] = control.jobs()
    assert control.pending_faults() == [], "the lost answer was served"
    assert result["job_name"] == job["name"] and result["adopted"] is True
    assert result["found_by"] == FOUND_BY[(names, labels)]
    if names == "honour":
        assert job["name"] == AttemptIdentity.of(run["run_id"], 1).job_name


@pytest.mark.parametrize("names, labels", SERVICES)
def test_case_b_on_a_route_without_workspace_the_data_plane_is_searched(control, datastore, emu, azurite, names,
                                                                        labels):
    control.behave(job_names=names, job_labels=labels)
    control.faults({"http": [{"target": "submit", "when": "after", "effect": "drop"}]})
    run = new_run(datastore)
    result = submit(run, settings_for(emu, azurite, workspace=False))
    assert result["adopted"] is True and len(control.jobs()) == 1


def test_case_b_answers_lost_twice_then_a_repeated_activity_still_makes_one_job(control, datastore, settings):
    """The POST is answered 503 after creating the job; the look-ups after it fail too (the activity gives
    up), then Durable retries the activity: it looks first and adopts."""
    control.behave(job_names="ignore", job_labels="keep")
    # the first look (GET by name, filtered list, list scan) passes; every later read fails for a while
    control.faults({"http": [{"target": "submit", "when": "after", "status": 503},
                             {"target": "status", "status": 503, "count": -1, "skip": 3}]})
    run = new_run(datastore)
    with pytest.raises(errors.JobLookupError):
        submit(run, settings, max_attempts=2)
    assert len(control.jobs()) == 1, "no second POST was sent while the look-ups failed"
    httpx.delete(control.server.base_url + "/_emulator/faults")  # the outage is over
    result = submit(run, settings)
    assert result["adopted"] is True and len(control.jobs()) == 1


@pytest.mark.parametrize("names", ["honour", "ignore"])
def test_a_post_that_created_nothing_is_sent_again_after_looking(control, datastore, settings, names):
    """503 before the job was created: the look finds nothing, so the second POST is the only job."""
    control.behave(job_names=names)
    control.faults({"http": [{"target": "submit", "when": "before", "status": 503}]})
    run = new_run(datastore)
    sleep = NoWait()
    result = submit(run, settings, sleep=sleep)
    assert result["adopted"] is False and len(control.jobs()) == 1
    assert len(sleep.slept) == 2, "two look-ups (with backoff) before the second POST"


def test_throttling_is_retried_without_looking(control, datastore, settings):
    control.faults({"http": [{"target": "submit", "status": 429, "count": 2, "retry_after": 1}]})
    run = new_run(datastore)
    sleep = NoWait()
    result = submit(run, settings, sleep=sleep)
    assert result["adopted"] is False and len(control.jobs()) == 1 and sleep.slept == [1.0, 1.0]


# -- the service's answer to a reused client name (UNCONFIRMED; each answer is handled) --------------------

@pytest.mark.parametrize("answer", ["conflict", "existing", "bad_request"])
def test_a_reused_name_answer_means_the_job_exists_and_is_adopted(control, datastore, settings, answer):
    """The first POST's job is not visible to reads yet (two 404s: the GET by name and the list), so the
    repeated activity POSTs again with the same name: the service's answer to the reused name is enough."""
    control.behave(job_names="honour", reused_job_name=answer)
    run = new_run(datastore)
    first = submit(run, settings)
    control.faults({"http": [{"target": "status", "status": 404, "count": 2}]})
    again = submit(run, settings)
    assert again["job_name"] == first["job_name"] and len(control.jobs()) == 1
    assert control.pending_faults() == []


def test_the_emulators_reused_name_answers_carry_the_status_the_behaviour_names(control, emu, datastore, settings):
    run = new_run(datastore)
    name = submit(run, settings)["job_name"]
    body = {"properties": {"name": name, "InputData": {"d": {"JobInputType": "UriFolder", "Uri": run["input"]["uri"]}},
                           "OutputData": {"score": {"JobOutputType": "UriFile", "Uri": run["output_uri"]}}}}
    seen = {}
    for answer in ("conflict", "existing", "bad_request"):
        control.behave(reused_job_name=answer)
        r = httpx.post(emu.scoring_uri("lab"), json=body, headers={"Authorization": "Bearer t"})
        seen[answer] = (r.status_code, r.json().get("name") or r.json()["error"]["message"])
    assert seen["conflict"][0] == 409 and "already exists" in seen["conflict"][1]
    assert seen["existing"] == (200, name)
    assert seen["bad_request"][0] == 400 and "already exists" in seen["bad_request"][1]
    assert len(control.jobs()) == 1


# -- a duplicate that slipped through: the run follows the job that owns the output path ------------------

def post_duplicate(emu, run: dict, labels: dict | None) -> str:
    props = {"InputData": {"d": {"JobInputType": "UriFolder", "Uri": run["input"]["uri"]}},
             "OutputData": {"score": {"JobOutputType": "UriFile", "Uri": run["output_uri"]}}}
    if labels:
        props["tags"] = labels
    r = httpx.post(emu.scoring_uri("lab"), json={"properties": props}, headers={"Authorization": "Bearer t"})
    assert r.status_code == 201, r.text
    return r.json()["name"]


@pytest.mark.parametrize("names, labels", SERVICES)
def test_a_duplicate_failing_on_the_existing_path_hands_the_run_to_the_owner(control, emu, datastore, settings,
                                                                             names, labels):
    control.behave(job_names=names, job_labels=labels)
    run = new_run(datastore)
    owner = submit(run, settings)["job_name"]
    assert wait_terminal(control, owner)["status"] == "Completed"
    identity = AttemptIdentity.of(run["run_id"], 1)
    duplicate = post_duplicate(emu, run, identity.labels)   # e.g. sent by an older version, or a lagging list
    assert "the path already exists" in wait_terminal(control, duplicate)["error"]

    status = activities.get_job_status({"route": "lab", "run_id": run["run_id"], "job_name": duplicate},
                                       settings, client_factory())
    assert status["job_name"] == owner and status["replaces"] == duplicate
    assert status["status"] == "Completed" and status["job_error"] is None
    assert len(control.jobs()) == 2  # nothing new was started to recover


def test_an_existing_path_without_an_owner_job_stays_a_failure(control, emu, datastore, settings):
    run = new_run(datastore)
    datastore.upload_blob(run["output_uri"].split("/paths/", 1)[1], b"left over from elsewhere")
    failed = submit(run, settings)["job_name"]
    assert wait_terminal(control, failed)["status"] == "Failed"
    status = activities.get_job_status({"route": "lab", "run_id": run["run_id"], "job_name": failed},
                                       settings, client_factory())
    assert status["status"] == "Failed" and "path already exists" in status["job_error"]
    assert "job_name" not in status


def test_a_duplicate_of_another_run_is_never_adopted(control, emu, datastore, settings):
    """Another run's job writing our path (a misconfigured output template) owns nothing of ours."""
    control.behave(job_labels="keep")
    run = new_run(datastore)
    mine = submit(run, settings)["job_name"]
    assert wait_terminal(control, mine)["status"] == "Completed"
    other = AttemptIdentity.of("lab-ffffffffffffffffffffffff", 1)
    duplicate = post_duplicate(emu, run, other.labels)
    wait_terminal(control, duplicate)
    status = activities.get_job_status({"route": "lab", "run_id": run["run_id"], "job_name": duplicate},
                                       settings, client_factory())
    assert status["status"] == "Failed" and "job_name" not in status


def test_find_attempt_job_reports_the_attempts_job_or_none(control, datastore, settings):
    control.behave(job_names="ignore")
    run = new_run(datastore)
    payload = {"route": "lab", "run_id": run["run_id"], "attempt": 1, "output_uri": run["output_uri"]}
    assert activities.find_attempt_job(payload, settings, client_factory())["job_name"] is None
    name = submit(run, settings)["job_name"]
    found = activities.find_attempt_job(payload, settings, client_factory())
    assert (found["job_name"], found["found_by"]) == (name, "tag")
    assert control.jobs()[0]["tags"][TAG_ATTEMPT_ID] == found["attempt_job_name"]


class GarbledSubmitAnswer(httpx.HTTPTransport):
    """The real emulator creates the job; the 2xx answer's body is lost on the way (a proxy's HTML page)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.method == "POST" and request.url.path.endswith("/jobs"):
            response.read()
            return httpx.Response(response.status_code, content=b"<html>gateway</html>",
                                  headers={"content-type": "text/html"})
        return response


@pytest.mark.parametrize("names", ["honour", "ignore"])
def test_a_2xx_whose_job_cannot_be_read_is_adopted_not_failed_and_never_posted_again(control, datastore, settings,
                                                                                       names):
    from shared.batch_endpoint.client import BatchEndpointClient, RetryPolicy

    from .conftest import StaticCredential

    control.behave(job_names=names, job_labels="keep")
    run = new_run(datastore)

    def factory(url: str) -> BatchEndpointClient:
        return BatchEndpointClient(StaticCredential(), transport=GarbledSubmitAnswer(), sleep=NoWait(),
                                   random=lambda: 1.0, retry=RetryPolicy())

    result = activities.submit_job({"run": run, "attempt": 1}, settings, factory)
    [job] = jobs_of(control, run)
    assert "error" not in result and result["job_name"] == job["name"] and result["adopted"] is True
