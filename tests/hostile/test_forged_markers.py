"""Catalogue: forged, stale and invented landing events. A marker, manifest or per-file blob that does not
exist starts nothing (a WARNING skip); invented or stale ETags for a real blob start at most the one run
keyed on its real ETag."""

from __future__ import annotations

import json

import pytest
from azure.durable_functions import DurableOrchestrationClient

from shared.landing.handler import handle_blob_created
from tests.landing.conftest import landing_env  # noqa: F401 (fixture)
from tests.support.durable_host import DurableTestHost, run_async

BLOB_CREATED = "Microsoft.Storage.BlobCreated"
MODES = {"a": {"mode": "marker"}, "p": {"mode": "per_file"}, "m": {"mode": "manifest"}}

# name → (path of the blob the event names, whether it exists, eTag the event carries or None for the real one)
MISSING = {
    "marker_never_written": ("a/f/_SUCCESS", "marker_missing"),
    "marker_in_empty_folder": ("a/nothing/_SUCCESS", "marker_missing"),
    "marker_unicode_folder": ("a/f\u00e9/_SUCCESS", "marker_missing"),
    "marker_space_folder": ("a/my folder/_SUCCESS", "marker_missing"),
    "per_file_never_written": ("p/ghost.csv", "blob_missing"),
    "per_file_unicode": ("p/\u6587\u4ef6.csv", "blob_missing"),
    "manifest_never_written": ("m/f/_manifest.json", "manifest_missing"),
}
INVENTED = ["0x0", "0xFFFFFFFFFFFFFFFF", "W/\"0x1\"", "\"\"\"", "x" * 300, "0x8D0000000000000", "not-an-etag"]


@pytest.fixture
def host():
    with DurableTestHost({}, {}) as h:
        h.start_server()
        yield h


def deliver(env, host, ctx, data):
    client = DurableOrchestrationClient(host.client_binding())
    return run_async(handle_blob_created("e", BLOB_CREATED, data, client, env.settings, context=ctx))


@pytest.mark.parametrize("name", sorted(MISSING))
def test_events_for_blobs_that_do_not_exist(catalogue, landing_env, host, name):  # noqa: F811
    path, reason = MISSING[name]
    env = landing_env(MODES)
    env.upload("a/f/data.csv")
    env.upload("m/f/data.csv")
    with catalogue.case("events.forged", name) as c:
        data = {"api": "PutBlob", "url": env.blob_url(path), "eTag": "0x8DFORGED", "contentLength": 10}
        outcome = deliver(env, host, env.context(), data)
        c.check((outcome.action, outcome.reason) == ("skipped", reason), f"{outcome}")
        c.check(host.instance_ids() == [] and env.ledger_records() == [], "something was started")
        warned = [r for r in catalogue.caplog.records if reason in r.getMessage()]
        c.check(bool(warned) and all(r.levelname == "WARNING" for r in warned), "not logged at WARNING")


@pytest.mark.parametrize("mode", ["a", "p", "m"])
@pytest.mark.parametrize("etag", INVENTED, ids=[f"etag{i}" for i in range(len(INVENTED))])
def test_invented_etags_for_a_real_blob_start_one_run(catalogue, landing_env, host, mode, etag):  # noqa: F811
    env = landing_env(MODES)
    with catalogue.case("events.invented_etag", f"{mode}:{etag[:20]}") as c:
        env.upload(f"{mode}/f/data.csv")
        if mode == "a":
            real = env.upload("a/f/_SUCCESS", b"")
        elif mode == "m":
            real = env.upload("m/f/_manifest.json", json.dumps(["data.csv"]).encode())
        else:
            real = env.upload("p/f/data.csv")
        ctx = env.context()
        forged = deliver(env, host, ctx, {**real, "eTag": etag})
        genuine = deliver(env, host, ctx, real)
        started = [o for o in (forged, genuine) if o.action in ("started", "waiter_started")]
        c.check(len(started) == 1 and len(host.instance_ids()) == 1, f"{forged} / {genuine}")
        # an eTag no blob can have (e.g. 300 characters) is refused outright; any other is keyed on the real one
        c.check(forged.action == "skipped" or forged.run_id == genuine.run_id,
                f"the forged event was keyed on its own ETag: {forged}")


def test_a_stale_marker_event_runs_the_current_marker_once(catalogue, landing_env, host):  # noqa: F811
    env = landing_env(MODES)
    with catalogue.case("events.stale", "marker_rewritten_before_its_event") as c:
        env.upload("a/f/data.csv")
        old = env.upload("a/f/_SUCCESS", b"")
        new = env.upload("a/f/_SUCCESS", b"")
        ctx = env.context()
        late = deliver(env, host, ctx, old)
        current = deliver(env, host, ctx, new)
        c.check((late.action, current.action) == ("started", "duplicate"), f"{late} / {current}")
        (record,) = env.ledger_records()
        c.check(record["details"]["marker_etag"] == new["eTag"], "not keyed on the blob's real ETag")
