"""Catalogue: ``POST /api/plan`` against bad and unusual requests.

The plan reads a folder listing at most, and never starts, claims or writes anything: every case asserts the
exact status (and the field named), that no instance and no ledger record appeared, and that no secret of the
case comes back in the answer or a log record.
"""

from __future__ import annotations

import json

import azure.functions as func
import pytest

from tests.app_index import user_function
from tests.hostile.test_http_api import KEY_CS, SAS_URL, SECRETS, SIG, deep, host, job, ledger, ledger_names  # noqa: F401

OK = {"route": "heart", "path": "heart/2024-06-01/"}


def plan(body, params=None, headers=None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = func.HttpRequest("POST", "http://localhost:7071/api/plan", headers=headers or {}, params=params or {},
                           body=raw)
    return user_function("plan")(req=req)


CASES = [
    ("traversal", {"route": "heart", "path": "heart/../etc/"}, 400, "path"),
    ("encoded-traversal", {"route": "heart", "path": "heart/%2e%2e/x/"}, 400, "path"),
    ("url-instead-of-path", {"route": "heart", "path": SAS_URL}, 400, "path"),
    ("sas-in-unknown-field", {**OK, "input_url": SAS_URL}, 400, None),
    ("key-as-route", {"route": KEY_CS, "path": "heart/x/"}, 400, "route"),
    ("unknown-route", {"route": "nope", "path": "heart/x/"}, 404, "route"),
    ("outside-prefix", {"route": "heart", "path": "other/x/"}, 400, "path"),
    ("other-container", {**OK, "container": "elsewhere"}, 400, "container"),
    ("control-character", {"route": "heart", "path": "heart/a\x00b/"}, 400, "path"),
    ("not-json", b"{route: heart", 400, None),
    ("deep-json", deep(5000), 400, None),
    ("array-body", b"[1, 2]", 400, None),
    ("query-parameter", (OK, {"sig": SIG}), 400, None),
]


@pytest.mark.parametrize("name, body, status, field", CASES, ids=[c[0] for c in CASES])
def test_plan_refuses_bad_requests(catalogue, host, ledger, name, body, status, field):  # noqa: F811
    params = None
    if isinstance(body, tuple):
        body, params = body
    with catalogue.case("http_plan", name, secrets=SECRETS) as c:
        before = ledger_names(ledger)
        response = plan(body, params=params)
        answer = response.get_body().decode()
        c.check(response.status_code == status, f"status {response.status_code}: {answer}")
        if field:
            c.check(json.loads(answer).get("field") == field, answer)
        c.no_secret_in(answer, json.dumps(dict(response.headers)))
        c.check(host.instance_ids() == [], "an instance was created")
        c.check(ledger_names(ledger) == before, "the ledger changed")


def test_a_good_plan_creates_nothing_and_shows_no_token(catalogue, host, ledger):  # noqa: F811
    with catalogue.case("http_plan", "good-request", secrets=SECRETS) as c:
        response = plan(OK)
        answer = json.loads(response.get_body())
        c.check(response.status_code == 200, str(answer))
        c.check(answer["request"]["headers"]["Authorization"].startswith("Bearer <token for https://ml.azure.com"),
                str(answer["request"]["headers"]))
        c.check(answer["job_name"].startswith("heart-"), str(answer))
        c.check(host.instance_ids() == [] and ledger_names(ledger) == [], "something was created")
