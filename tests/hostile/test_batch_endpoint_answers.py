"""Catalogue: hostile answers from a batch endpoint (or whatever answers at its URL) to the submit and status
activities. A job name from an answer goes into URLs and the run's state, so it must match the job-name
grammar; links in a body are never followed to another host with our token; no secret from an answer
reaches the activity's result or a log line."""

from __future__ import annotations

import httpx
import pytest

from shared import activities
from shared.batch_endpoint import exceptions as errors
from shared.batch_endpoint.client import BatchEndpointClient, RetryPolicy
from shared.config import parse_settings

SCORING = "https://lab.eastus.inference.ml.azure.com/jobs"
MGMT = "https://management.azure.com"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL21sLmF6dXJlLmNvbSJ9.c2lnbmF0dXJlLXNlY3JldA"
SAS_SIG = "sig=SuperSecretSignature0123456789%3D"
RUN = {"run_id": "lab-0123456789abcdef01234567", "route": "lab", "attempt": 1,
       "input": {"type": "uri_folder", "uri": "azureml://datastores/workspaceblobstore/paths/in/x"},
       "output_uri": "azureml://datastores/workspaceblobstore/paths/lab/r/predictions.csv"}

SETTINGS = parse_settings({
    "datastores": {"workspaceblobstore": {"account_url": "https://acct.blob.core.windows.net",
                                          "container": "azureml-blobstore"}},
    "routes": [{"name": "lab", "match": {"container": "landing", "prefix": "lab/"},
                "endpoint": {"scoring_uri": SCORING, "workspace": {"subscription_id": "s", "resource_group": "rg",
                                                                   "name": "ws"}},
                "input": {"type": "uri_folder", "name": "data"},
                "output": {"datastore": "workspaceblobstore", "path": "lab/{run_id}/predictions.csv"}}],
    "management_url": MGMT,
}, {})


class Credential:
    def get_token(self, *scopes, **kwargs):
        from types import SimpleNamespace
        return SimpleNamespace(token=TOKEN, expires_on=2**31)


def factory(handler, seen):
    def record(request):
        seen.append(request)
        return handler(request)

    def make(url):
        return BatchEndpointClient(Credential(), transport=httpx.MockTransport(record), sleep=lambda s: None,
                                   random=lambda: 1.0, retry=RetryPolicy(max_attempts=2))
    return make


def job(name, status="Running", **props):
    return {"name": name, "properties": {"status": status, **props}}


BAD_NAMES = {"traversal": "../../subscriptions", "slash": "a/b", "query": "job?api-version=x", "hash": "job#x",
             "crlf": "job\r\nX-Injected: 1", "space": "job 1", "unicode_dots": "\uff0e\uff0e", "long": "j" * 300}


@pytest.mark.parametrize("case", sorted(BAD_NAMES))
def test_a_submit_answer_with_a_hostile_job_name_is_refused(catalogue, case):
    seen = []

    def handler(request):
        if request.method == "POST":
            return httpx.Response(201, json=job(BAD_NAMES[case]))
        return httpx.Response(404, json={"error": {"message": "not found"}})   # look-ups find nothing

    with catalogue.case("batch_endpoint.submit_answer", case, secrets=[TOKEN]) as c:
        # a 2xx means the job exists: its unreadable answer is never a failed run (the job would run on,
        # unwatched) but a transient error; the activity's retry looks for the attempt's job first
        with pytest.raises(errors.SubmitAnswerUnreadableError) as raised:
            activities.submit_job({"run": RUN, "attempt": 1}, SETTINGS, factory(handler, seen))
        c.check("unreadable job resource" in raised.value.message, raised.value.message)
        c.check(sum(1 for r in seen if r.method == "POST") == 1, "one POST, never a second")
        c.check(all(BAD_NAMES[case] not in str(r.url) for r in seen), "the name never reached a URL")
        c.check("\r" not in raised.value.message and "\n" not in raised.value.message, "no raw line break")
        c.no_secret_in(raised.value.message)


@pytest.mark.parametrize("case", sorted(BAD_NAMES))
def test_hostile_names_in_a_job_list_are_skipped(catalogue, case):
    seen = []

    def handler(request):
        if request.method == "GET" and "/jobs/" in request.url.path:
            return httpx.Response(404, json={"error": {"message": "not found"}})
        if request.method == "GET":
            return httpx.Response(200, json={"value": [job(BAD_NAMES[case], tags={"batchrun.run_id": RUN["run_id"],
                                                                                   "batchrun.attempt": "1"})]})
        return httpx.Response(201, json=job("lab-good-a1", "NotStarted"))

    with catalogue.case("batch_endpoint.list_answer", case, secrets=[TOKEN]) as c:
        result = activities.submit_job({"run": RUN, "attempt": 1}, SETTINGS, factory(handler, seen))
        c.check(result.get("job_name") == "lab-good-a1" and result["adopted"] is False, f"answer {result}")


def test_a_next_link_elsewhere_never_receives_the_token(catalogue):
    seen = []

    def handler(request):
        if "/jobs/" in request.url.path:
            return httpx.Response(404, json={"error": {"message": "not found"}})
        if request.method == "GET":
            return httpx.Response(200, json={"value": [], "nextLink": "https://collector.example/jobs?$skip=1"})
        return httpx.Response(201, json=job("lab-good-a1", "NotStarted"))

    with catalogue.case("batch_endpoint.list_answer", "foreign_next_link", secrets=[TOKEN]) as c:
        activities.submit_job({"run": RUN, "attempt": 1}, SETTINGS, factory(handler, seen))
        c.check(all(r.url.host != "collector.example" for r in seen), "a request went to the foreign host")


@pytest.mark.parametrize("case, message", [
    ("bearer_in_error", f"denied for Authorization: Bearer {TOKEN}"),
    ("jwt_in_error", f"token {TOKEN} expired"),
    ("sas_in_error", f"cannot read https://acct.blob.core.windows.net/c/x.csv?sv=1&{SAS_SIG}"),
])
def test_secrets_in_answers_never_reach_results_or_logs(catalogue, case, message):
    secrets = [TOKEN, SAS_SIG.split("=", 1)[1]]

    def rejected(request):
        return httpx.Response(400, json={"error": {"code": "UserError", "message": message}})

    def failed_job(request):
        return httpx.Response(200, json=job("lab-x-a1", "Failed", error={"code": "UserError", "message": message}))

    with catalogue.case("batch_endpoint.error_text", case, secrets=secrets) as c:
        submitted = activities.submit_job({"run": RUN, "attempt": 1}, SETTINGS, factory(
            lambda r: rejected(r) if r.method == "POST" else httpx.Response(404, json={}), []))
        status = activities.get_job_status({"route": "lab", "run_id": RUN["run_id"], "job_name": "lab-x-a1"},
                                           SETTINGS, factory(failed_job, []))
        refused = activities.get_job_status({"route": "lab", "run_id": RUN["run_id"], "job_name": "lab-x-a1"},
                                            SETTINGS, factory(rejected, []))
        c.check("error" in submitted and status["status"] == "Failed" and refused["status"] is None,
                f"{submitted} {status} {refused}")
        c.no_secret_in(submitted["error"], status["job_error"], refused["error"])
