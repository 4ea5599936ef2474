"""Catalogue: hostile operation ids, queries and bodies for ``GET /api/backfill/{operation_id}``,
``POST /api/backfill/{operation_id}/cancel`` and ``GET /api/runs/stats``. Each answers 400 (or 404) naming
the input, touches no other instance (a run is never an operation), and echoes no secret."""

from __future__ import annotations

import json

import azure.functions as func
import pytest
from azure.durable_functions import DurableOrchestrationClient

from shared.reconcile.api import backfill_cancel_http, backfill_status_http
from tests.support.durable_host import DurableTestHost, run_async

SECRET = "sig=Zm9vYmFyc2VjcmV0MTIzNDU2Nzg5MA%3D%3D"
GOOD = "backfill-" + "0" * 32

CASES = {  # name: (operation_id, query, body, status, field)
    "id_traversal": ("backfill-../../runs/x", {}, b"", 400, "operation_id"),
    "id_encoded_traversal": ("backfill-%2e%2e%2fx", {}, b"", 400, "operation_id"),
    "id_is_a_run_id": ("heart-" + "0" * 24, {}, b"", 400, "operation_id"),
    "id_is_a_waiter_id": ("lq-heart-" + "0" * 24, {}, b"", 400, "operation_id"),
    "id_uppercase_hex": ("backfill-" + "A" * 32, {}, b"", 400, "operation_id"),
    "id_too_long": ("backfill-" + "0" * 33, {}, b"", 400, "operation_id"),
    "id_with_secret": (f"backfill-{SECRET}", {}, b"", 400, "operation_id"),
    "id_control_chars": ("backfill-\r\n" + "0" * 30, {}, b"", 400, "operation_id"),
    "id_empty": ("", {}, b"", 400, "operation_id"),
    "unknown_operation": (GOOD, {}, b"", 404, "operation_id"),
    "query_unknown_with_secret": (GOOD, {"sig": SECRET}, b"", 400, "sig"),
}
CANCEL_ONLY = {
    "cancel_body_field": (GOOD, {}, json.dumps({"reason": SECRET}).encode(), 400, "reason"),
    "cancel_body_not_json": (GOOD, {}, b"\xff\xfe{", 400, None),
}


@pytest.fixture
def host():
    with DurableTestHost({}, {}) as h:
        h.start_server()
        yield h


def call(handler, host, method, op_id, params, body):
    suffix = "/cancel" if handler is backfill_cancel_http else ""
    req = func.HttpRequest(method, f"http://localhost/api/backfill/x{suffix}", headers={}, params=params,
                           route_params={"operation_id": op_id}, body=body)
    return run_async(handler(req, DurableOrchestrationClient(host.client_binding())))


CALLS = [("status", n) for n in sorted(CASES)] + [("cancel", n) for n in sorted({**CASES, **CANCEL_ONLY})]


@pytest.mark.parametrize("endpoint, name", CALLS)
def test_hostile_operation_requests(catalogue, host, endpoint, name):
    op_id, params, body, status, field = {**CASES, **CANCEL_ONLY}[name]
    handler, method = (backfill_status_http, "GET") if endpoint == "status" else (backfill_cancel_http, "POST")
    with catalogue.case(f"http.backfill_{endpoint}", name, secrets=[SECRET, SECRET.split("=", 1)[1]]) as c:
        response = call(handler, host, method, op_id, params, body)
        text = response.get_body().decode()
        c.check(response.status_code == status, f"status {response.status_code}: {text}")
        if field is not None:
            c.check(json.loads(text).get("field") == field, text)
        c.check(host.instance_ids() == [], "something was started")
        c.no_secret_in(text)


STATS = {  # name: (query, status, field)
    "hours_zero": ({"hours": "0"}, 400, "hours"),
    "hours_too_many": ({"hours": "721"}, 400, "hours"),
    "hours_negative": ({"hours": "-5"}, 400, "hours"),
    "hours_not_a_number": ({"hours": "1e3"}, 400, "hours"),
    "hours_arabic_digits": ({"hours": "\u0663"}, 400, "hours"),
    "hours_with_secret": ({"hours": SECRET}, 400, "hours"),
    "unknown_param_with_secret": ({"since": SECRET}, 400, "since"),
    "fine": ({"hours": "1"}, 200, None),
}


@pytest.mark.parametrize("name", sorted(STATS))
def test_hostile_stats_queries(catalogue, host, name):
    from shared.http_api.stats import stats

    params, status, field = STATS[name]
    with catalogue.case("http.run_stats", name, secrets=[SECRET, SECRET.split("=", 1)[1]]) as c:
        req = func.HttpRequest("GET", "http://localhost/api/runs/stats", headers={}, params=params, body=b"")
        response = run_async(stats(req, DurableOrchestrationClient(host.client_binding())))
        text = response.get_body().decode()
        c.check(response.status_code == status, f"status {response.status_code}: {text}")
        if field is not None:
            c.check(json.loads(text).get("field") == field, text)
        else:
            c.check(json.loads(text)["totals"]["Succeeded"] == 0, text)
        c.no_secret_in(text)
