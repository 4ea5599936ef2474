"""Backfill on Azurite with the real Durable client: dry run, start, repeat (nothing new), bounds, since."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import azure.functions as func
import pytest
from azure.durable_functions import DurableOrchestrationClient

from shared.reconcile.api import backfill_http
from shared.reconcile.backfill import BadField, backfill, parse_backfill
from tests.runs.test_starter import FakeTime
from tests.support.durable_host import DurableTestHost, run_async


@pytest.fixture
def host():
    with DurableTestHost({}, {}) as h:
        h.start_server()
        yield h


def post(env, host, body, ctx=None):
    ctx = ctx or env.context()
    ctx.claim_policy = FakeTime().policy()
    req = func.HttpRequest("POST", "http://localhost:7071/api/backfill", headers={}, params={}, route_params={},
                           body=body if isinstance(body, bytes) else json.dumps(body).encode())
    response = run_async(backfill_http(req, DurableOrchestrationClient(host.client_binding()), context=ctx))
    return response.status_code, json.loads(response.get_body())


def direct(env, host, body):
    """The listing-and-starting core of a backfill, called in process (the HTTP answer of a real backfill is
    an asynchronous operation: tests/reconcile/test_backfill_operation.py)."""
    ctx = env.context()
    ctx.claim_policy = FakeTime().policy()

    async def no_wait(_seconds):
        return None

    client = DurableOrchestrationClient(host.client_binding())
    return 200, run_async(backfill(ctx, client, parse_backfill(body, env.settings), sleep=no_wait))


def folders(env, n, route="a", day="2026-01"):
    for i in range(n):
        env.upload(f"{route}/{day}/f{i}/x.csv")
        env.upload(f"{route}/{day}/f{i}/_SUCCESS", b"")


def test_dry_run_then_run_then_again_starts_each_folder_once(landing_env, host):
    env = landing_env({"a": {"mode": "marker"}})
    folders(env, 3)
    env.upload("a/2026-01/open/x.csv")  # no marker: not complete
    status, dry = post(env, host, {"route": "a", "prefix": "a/2026-01/", "dry_run": True})
    assert status == 200 and dry["dry_run"] is True and len(dry["would_start"]) == 3 and dry["complete"]
    assert host.instance_ids() == []
    status, done = direct(env, host, {"route": "a", "prefix": "a/2026-01/"})
    assert status == 200 and len(done["started"]) == 3 and done["counts"]["started"] == 3
    assert sorted(host.instance_ids()) == sorted(r["run_id"] for r in done["started"])
    assert {r["run_id"] for r in done["started"]} == {r["run_id"] for r in dry["would_start"]}
    status, again = direct(env, host, {"route": "a", "prefix": "a/2026-01/"})
    assert again["started"] == [] and again["counts"]["exists"] == 3 and len(host.instance_ids()) == 3


def test_max_runs_bounds_a_call_and_a_second_call_goes_on(landing_env, host):
    env = landing_env({"a": {"mode": "marker"}})
    folders(env, 5)
    _, first = direct(env, host, {"route": "a", "prefix": "a/", "max_runs": 2})
    assert len(first["started"]) == 2 and first["complete"] is False
    _, second = direct(env, host, {"route": "a", "prefix": "a/", "max_runs": 10})
    assert len(second["started"]) == 3 and second["complete"] is True and second["counts"]["exists"] == 2
    assert len(host.instance_ids()) == 5


def test_since_leaves_out_older_landings_and_starts_are_paced(landing_env, host):
    env = landing_env({"a": {"mode": "marker"}})
    folders(env, 2)
    ctx = env.context()
    ctx.claim_policy = FakeTime().policy()
    slept = []

    async def sleep(seconds):
        slept.append(seconds)

    future = parse_backfill({"route": "a", "since": (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()},
                            env.settings)
    client = DurableOrchestrationClient(host.client_binding())
    none = run_async(backfill(ctx, client, future, sleep=sleep))
    assert none["started"] == [] and host.instance_ids() == []
    past = parse_backfill({"route": "a", "since": "2000-01-01T00:00:00Z"}, env.settings)
    some = run_async(backfill(ctx, client, past, starts_per_second=4, sleep=sleep))
    assert len(some["started"]) == 2 and slept == [0.25, 0.25]


@pytest.mark.parametrize("body, field", [
    ({"prefix": "a/"}, "route"),
    ({"route": "nope"}, "route"),
    ({"route": "../x"}, "route"),
    ({"route": "a", "prefix": "b/"}, "prefix"),
    ({"route": "a", "prefix": "a/../b/"}, "prefix"),
    ({"route": "a", "prefix": "a/%2e%2e/b/"}, "prefix"),
    ({"route": "a", "prefix": "a/x\x00/"}, "prefix"),
    ({"route": "a", "prefix": 7}, "prefix"),
    ({"route": "a", "since": "yesterday"}, "since"),
    ({"route": "a", "since": 5}, "since"),
    ({"route": "a", "dry_run": "yes"}, "dry_run"),
    ({"route": "a", "max_runs": 0}, "max_runs"),
    ({"route": "a", "max_runs": 10_001}, "max_runs"),
    ({"route": "a", "max_runs": True}, "max_runs"),
    ({"route": "a", "prefx": "a/"}, "prefx"),
])
def test_bad_fields_are_400_naming_the_field(landing_env, host, body, field):
    env = landing_env({"a": {"mode": "marker"}})
    folders(env, 1)
    status, problem = post(env, host, body)
    assert status == 400 and problem["field"] == field and f"'{field}'" in problem["error"]
    assert host.instance_ids() == []
    with pytest.raises(BadField):
        parse_backfill(body, env.settings)
