"""Catalogue: every entry point answers through the one guarded path (issue 18 case 3). Backfill on a route
whose landing connection can read but not list, the poison re-drive and the reconcile timer with the queue
endpoint unreachable, query parameters and bodies the runs API would refuse, and ``python -m tools.plan``
with a bad ``--settings`` file: a clear 4xx, 503 or message, never an exception or a traceback, nothing
started, no secret echoed."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import azure.functions as func
import pytest
from azure.durable_functions import DurableOrchestrationClient

from shared.reconcile.api import backfill_http, reconcile_timer, redrive_poison_http
from tests.landing.conftest import landing_env  # noqa: F401 (fixture)
from tests.support.durable_host import DurableTestHost, run_async

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def host():
    with DurableTestHost({}, {}) as h:
        h.start_server()
        yield h


def request(url, params=None, body=b""):
    return func.HttpRequest("POST", f"http://localhost/api/{url}", headers={}, params=params or {},
                            route_params={}, body=body)


def read_only_context(env):
    """The route's landing connection holds an account SAS that may read but not list."""
    from azure.storage.blob import AccountSasPermissions, BlobServiceClient, ResourceTypes, generate_account_sas

    from shared.landing.handler import LandingContext
    from shared.landing.store import LandingStore
    from shared.storage.connections import account_url_of

    azurite = env.azurite.default
    sas = generate_account_sas(azurite.name, azurite.key,
                               ResourceTypes(service=True, container=True, object=True),
                               AccountSasPermissions(read=True), datetime.now(timezone.utc) + timedelta(hours=1))
    env.env["READ_ONLY"] = f"BlobEndpoint={azurite.blob_url};SharedAccessSignature={sas}"
    for route in env.document["routes"]:
        route["match"]["connection"] = "READ_ONLY"
    settings = env.settings
    store = LandingStore(settings, lambda name: BlobServiceClient.from_connection_string(env.env[name]))
    return LandingContext(settings, store, account_url_of=lambda c: account_url_of(c, env.env)), sas


def unreachable_queue():
    from azure.storage.queue import QueueClient

    return QueueClient("http://127.0.0.1:9/devstoreaccount1", "landing-events-poison",
                       credential={"account_name": "devstoreaccount1", "account_key": "a2V5"}, retry_total=0)


def test_backfill_on_a_connection_that_cannot_list(catalogue, landing_env, host):  # noqa: F811
    env = landing_env({"a": {"mode": "marker"}})
    env.upload("a/f/x.csv")
    env.upload("a/f/_SUCCESS", b"")
    ctx, sas = read_only_context(env)
    sig = sas.split("sig=", 1)[1].split("&", 1)[0]
    with catalogue.case("http.backfill", "landing_connection_cannot_list", secrets=[sig]) as c:
        response = run_async(backfill_http(request("backfill", body=json.dumps({"route": "a"}).encode()),
                                           DurableOrchestrationClient(host.client_binding()), context=ctx))
        text = response.get_body().decode()
        c.check(response.status_code == 503, f"status {response.status_code}: {text}")
        c.check("storage refused the app (403" in json.loads(text)["error"], text)
        c.check(host.instance_ids() == [] and env.ledger_records() == [], "something was started")
        c.no_secret_in(text)


def test_poison_redrive_with_the_queue_unreachable(catalogue, landing_env, host):  # noqa: F811
    env = landing_env({"a": {"mode": "marker"}})
    with catalogue.case("http.poison_redrive", "queue_endpoint_unreachable") as c:
        response = run_async(redrive_poison_http(request("landing/poison/redrive"),
                                                 DurableOrchestrationClient(host.client_binding()),
                                                 context=env.context(), queue=unreachable_queue()))
        text = response.get_body().decode()
        c.check(response.status_code == 503, f"status {response.status_code}: {text}")
        c.check(json.loads(text)["error"] == "storage did not answer; retry later", text)


def test_the_reconcile_timer_with_the_queue_unreachable(catalogue, landing_env, host):  # noqa: F811
    env = landing_env({"a": {"mode": "marker"}})
    env.upload("a/f/x.csv")
    env.upload("a/f/_SUCCESS", b"")
    with catalogue.case("timer.reconcile", "queue_endpoint_unreachable") as c:
        ctx = env.context()
        from tests.runs.test_starter import FakeTime

        ctx.claim_policy = FakeTime().policy()
        result = run_async(reconcile_timer(None, DurableOrchestrationClient(host.client_binding()), environ={},
                                           context=ctx, poison=unreachable_queue()))
        c.check(result.get("poison_errors") == 1, str(result))
        c.check(result.get("started") == 1, f"the rest of the tick did not run: {result}")


def test_the_reconcile_timer_with_an_invalid_configuration(catalogue, monkeypatch, host):
    monkeypatch.setenv("BATCH_CONFIG_JSON", '{"routes": [{"name": "../x"}]}')
    monkeypatch.delenv("BATCH_CONFIG_PATH", raising=False)
    with catalogue.case("timer.reconcile", "invalid_configuration") as c:
        result = run_async(reconcile_timer(None, DurableOrchestrationClient(host.client_binding()), environ={}))
        c.check("configuration is invalid" in result.get("error", ""), str(result))


SECRET = "sig=Zm9vYmFyc2VjcmV0MTIzNDU2Nzg5MA%3D%3D"

STRICT = {
    # (endpoint, query, body, field named or None)
    "backfill_max_runs_in_query": ("backfill", {"max_runs": "5"}, {"route": "a"}, "max_runs"),
    "backfill_dry_run_in_query": ("backfill", {"dry_run": "true"}, {"route": "a"}, "dry_run"),
    "backfill_unknown_query": ("backfill", {"limit": "5"}, {"route": "a"}, "limit"),
    "backfill_secret_query": ("backfill", {"sig": SECRET}, {"route": "a"}, "sig"),
    "backfill_duplicate_keys": ("backfill", {}, b'{"route": "a", "route": "b"}', "route"),
    "backfill_nan": ("backfill", {}, b'{"route": "a", "max_runs": NaN}', None),
    "backfill_deep_body": ("backfill", {}, b'{"route": ' + b"[" * 200 + b"]" * 200 + b"}", None),
    "backfill_array_body": ("backfill", {}, b'["a"]', None),
    "backfill_not_utf8": ("backfill", {}, b'{"route": "\xff"}', None),
    "backfill_empty_body": ("backfill", {}, b"", None),
    "redrive_unknown_query": ("landing/poison/redrive", {"limit": "5"}, b"", "limit"),
    "redrive_secret_query": ("landing/poison/redrive", {"sig": SECRET}, b"", "sig"),
    "redrive_body_field": ("landing/poison/redrive", {}, {"max_messages": 5}, "max_messages"),
    "redrive_body_not_json": ("landing/poison/redrive", {}, b"max_messages=5", None),
    "redrive_body_array": ("landing/poison/redrive", {}, b"[]", None),
}


@pytest.mark.parametrize("name", sorted(STRICT))
def test_strict_readers_on_backfill_and_redrive(catalogue, landing_env, host, name):  # noqa: F811
    endpoint, params, body, field = STRICT[name]
    env = landing_env({"a": {"mode": "marker"}, "b": {"mode": "marker"}})
    env.upload("a/f/x.csv")
    env.upload("a/f/_SUCCESS", b"")
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    client = DurableOrchestrationClient(host.client_binding())
    with catalogue.case(f"http.{endpoint}", f"strict:{name}", secrets=[SECRET, SECRET.split("=", 1)[1]]) as c:
        if endpoint == "backfill":
            response = run_async(backfill_http(request(endpoint, params, raw), client, context=env.context()))
        else:
            response = run_async(redrive_poison_http(request(endpoint, params, raw), client, context=env.context(),
                                                     queue=unreachable_queue()))
        text = response.get_body().decode()
        c.check(response.status_code == 400, f"status {response.status_code}: {text}")
        c.check(json.loads(text).get("field") == field, text)
        c.check(host.instance_ids() == [] and env.ledger_records() == [], "something was started")
        c.no_secret_in(text)


SETTINGS_FILES = {
    "missing": None,
    "not_json": b"Values = {}",
    "json_array": b"[]",
    "values_not_object": b'{"Values": ["x"]}',
    "not_utf8": b'{"Values": {"A": "\xff"}}',
    "a_directory": "dir",
}


@pytest.mark.parametrize("name", sorted(SETTINGS_FILES))
def test_plan_cli_with_a_bad_settings_file(catalogue, tmp_path, name):
    from tools.plan import main

    content = SETTINGS_FILES[name]
    path = tmp_path / "local.settings.json"
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with catalogue.case("cli.plan", f"settings:{name}") as c:
        out = io.StringIO()
        code = main(["--route", "a", "--path", "a/f/", "--settings", str(path)], out=out)
        answer = json.loads(out.getvalue())
        c.check(code == 2 and answer["status"] == 400 and answer["field"] == "--settings", out.getvalue())


def test_plan_cli_as_a_process_prints_no_traceback(catalogue, tmp_path):
    with catalogue.case("cli.plan", "process:missing_settings_file") as c:
        done = subprocess.run([sys.executable, "-m", "tools.plan", "--route", "a", "--path", "a/f/", "--settings",
                               str(tmp_path / "nope.json")], cwd=REPO, capture_output=True, text=True, timeout=60)
        c.check(done.returncode == 2, f"exit {done.returncode}")
        c.check("Traceback" not in done.stdout + done.stderr, done.stderr[-500:])
        c.check("cannot be read" in done.stdout, done.stdout)
