"""Catalogue: bad bodies for ``POST /api/backfill`` and bad bounds for the poison re-drive. Each answers 400
naming the field, starts nothing, and echoes no secret."""

from __future__ import annotations

import json

import azure.functions as func
import pytest
from azure.durable_functions import DurableOrchestrationClient

from shared.reconcile.api import backfill_http, redrive_poison_http
from tests.landing.conftest import landing_env  # noqa: F401 (fixture)
from tests.support.durable_host import DurableTestHost, run_async

SECRET = "sig=Zm9vYmFyc2VjcmV0MTIzNDU2Nzg5MA%3D%3D"

BACKFILL = {
    "missing_route": ({"prefix": "a/"}, "route"),
    "unknown_route": ({"route": "zz"}, "route"),
    "route_traversal": ({"route": "../a"}, "route"),
    "route_number": ({"route": 5}, "route"),
    "route_with_secret": ({"route": f"a?{SECRET}"}, "route"),
    "prefix_other_route": ({"route": "a", "prefix": "b/"}, "prefix"),
    "prefix_dotdot": ({"route": "a", "prefix": "a/../../b/"}, "prefix"),
    "prefix_encoded_dotdot": ({"route": "a", "prefix": "a/%2e%2e/%2e%2e/x/"}, "prefix"),
    "prefix_fullwidth_dots": ({"route": "a", "prefix": "a/\uff0e\uff0e/x/"}, "prefix"),
    "prefix_backslash": ({"route": "a", "prefix": "a\\..\\x/"}, "prefix"),
    "prefix_nul": ({"route": "a", "prefix": "a/\x00/"}, "prefix"),
    "prefix_crlf": ({"route": "a", "prefix": "a/x\r\ny/"}, "prefix"),
    "prefix_query_secret": ({"route": "a", "prefix": f"a/x?{SECRET}"}, "prefix"),
    "prefix_fragment": ({"route": "a", "prefix": "a/x#y/"}, "prefix"),
    "prefix_absolute": ({"route": "a", "prefix": "/a/x/"}, "prefix"),
    "prefix_url": ({"route": "a", "prefix": "https://evil.example/a/"}, "prefix"),
    "prefix_long": ({"route": "a", "prefix": "a/" + "x/" * 2000}, "prefix"),
    "prefix_list": ({"route": "a", "prefix": ["a/"]}, "prefix"),
    "since_words": ({"route": "a", "since": "last week"}, "since"),
    "since_number": ({"route": "a", "since": 1700000000}, "since"),
    "since_huge": ({"route": "a", "since": "9" * 100}, "since"),
    "since_secret": ({"route": "a", "since": SECRET}, "since"),
    "dry_run_string": ({"route": "a", "dry_run": "false"}, "dry_run"),
    "dry_run_number": ({"route": "a", "dry_run": 1}, "dry_run"),
    "max_runs_zero": ({"route": "a", "max_runs": 0}, "max_runs"),
    "max_runs_negative": ({"route": "a", "max_runs": -1}, "max_runs"),
    "max_runs_float": ({"route": "a", "max_runs": 1.5}, "max_runs"),
    "max_runs_huge": ({"route": "a", "max_runs": 10 ** 30}, "max_runs"),
    "max_runs_string": ({"route": "a", "max_runs": "5"}, "max_runs"),
    "max_runs_nan": ({"route": "a", "max_runs": float("nan")}, None),  # refused by the JSON reader itself
    "unknown_field": ({"route": "a", "url": "https://evil.example/"}, "url"),
}


@pytest.fixture
def host():
    with DurableTestHost({}, {}) as h:
        h.start_server()
        yield h


@pytest.mark.parametrize("name", sorted(BACKFILL))
def test_bad_backfill_bodies(catalogue, landing_env, host, name):  # noqa: F811
    body, field = BACKFILL[name]
    env = landing_env({"a": {"mode": "marker"}, "b": {"mode": "marker"}})
    env.upload("a/f/x.csv")
    env.upload("a/f/_SUCCESS", b"")
    with catalogue.case("http.backfill", name, secrets=[SECRET, SECRET.split("=", 1)[1]]) as c:
        req = func.HttpRequest("POST", "http://localhost/api/backfill", headers={}, params={}, route_params={},
                               body=json.dumps(body).encode())
        response = run_async(backfill_http(req, DurableOrchestrationClient(host.client_binding()),
                                           context=env.context()))
        text = response.get_body().decode()
        c.check(response.status_code == 400, f"status {response.status_code}: {text}")
        c.check(json.loads(text).get("field") == field, text)
        c.check(host.instance_ids() == [] and env.ledger_records() == [], "something was started")
        c.no_secret_in(text)


@pytest.mark.parametrize("value", ["0", "-1", "257", "1e3", "ten", "", "\u0663", "5 ", "0x10"])
def test_bad_redrive_bounds(catalogue, landing_env, host, value):  # noqa: F811
    env = landing_env({"a": {"mode": "marker"}})
    with catalogue.case("http.poison_redrive", f"max_messages={value!r}") as c:
        req = func.HttpRequest("POST", "http://localhost/api/landing/poison/redrive", headers={},
                               params={"max_messages": value}, route_params={}, body=b"")
        response = run_async(redrive_poison_http(req, DurableOrchestrationClient(host.client_binding()),
                                                 context=env.context(), queue=object()))
        c.check(response.status_code == 400, f"status {response.status_code}")
        c.check(json.loads(response.get_body())["field"] == "max_messages")
