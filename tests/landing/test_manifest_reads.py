"""The manifest check reads a manifest once per change and never more than 1 MB of it (issue 18 case 4): on
Azurite, with the app's real manifest waiter on the replay engine for the over-size case."""

from __future__ import annotations

import json
import logging

from azure.durable_functions import DurableOrchestrationClient

from shared.landing import functions as landing_functions
from shared.landing.handler import OUTCOMES, handle_blob_created
from shared.landing.rules import manifest_waiter_id
from tests.landing.test_waiters import app_host, configure, runs  # noqa: F401 - fixture reused
from tests.support.durable_host import run_async

BLOB_CREATED = "Microsoft.Storage.BlobCreated"


def counting(ctx):
    reads = []
    real = ctx.store.read_blob_capped

    def read(*args, **kwargs):
        body = real(*args, **kwargs)
        reads.append(len(body or b""))
        return body

    ctx.store.read_blob_capped = read
    return reads


def test_the_manifest_is_read_once_per_etag_not_at_every_check(landing_env):
    env = landing_env({"m": {"mode": "manifest"}})
    env.upload("m/f/a.csv")
    m = env.upload("m/f/_manifest.json", json.dumps(["a.csv", "b.csv"]).encode())
    ctx = env.context()
    reads = counting(ctx)
    payload = {"route": "m", "folder_url": env.blob_url("m/f/"), "manifest_name": "_manifest.json"}
    checks = [landing_functions.check_manifest(payload, env.settings, ctx) for _ in range(5)]
    assert [c["missing"] for c in checks] == [["b.csv"]] * 5 and len(reads) == 1
    env.upload("m/f/_manifest.json", json.dumps(["a.csv"]).encode())  # a new version: read again, once
    checks = [landing_functions.check_manifest(payload, env.settings, ctx) for _ in range(3)]
    assert all(c["complete"] for c in checks) and len(reads) == 2
    assert m["eTag"]  # the first version was keyed on its own ETag


def test_an_over_size_manifest_is_refused_unread_and_starts_nothing(landing_env, app_host, monkeypatch,  # noqa: F811
                                                                    caplog):
    env = landing_env({"m": {"mode": "manifest", "manifest_wait_minutes": 10}})
    configure(monkeypatch, env)
    env.upload("m/big/a.csv")
    names = json.dumps(["a.csv"] + [f"x{i:09d}.csv" for i in range(80_000)]).encode()
    assert len(names) > landing_functions.MAX_MANIFEST_BYTES
    m = env.upload("m/big/_manifest.json", names)
    before = OUTCOMES["manifest_too_large"]
    with caplog.at_level(logging.ERROR):
        run_async(handle_blob_created("e", BLOB_CREATED, m, DurableOrchestrationClient(app_host.client_binding()),
                                      env.settings))
        status = app_host.run_until_complete(manifest_waiter_id("m", env.blob_url("m/big/"), m["eTag"]))
    assert status["runtimeStatus"] == "Failed" and "over the 1000000-byte cap" in status["output"]
    assert "folder verdict:" in status["output"]  # the sweep does not restart it
    assert OUTCOMES["manifest_too_large"] == before + 1
    assert any("over the 1000000-byte cap" in r.getMessage() for r in caplog.records)
    assert runs(app_host) == [] and env.ledger_records() == []


def test_the_body_read_is_capped_whatever_the_head_said(landing_env):
    """A manifest replaced by a bigger one between HEAD and read: at most the cap plus one byte is read."""
    env = landing_env({"m": {"mode": "manifest"}})
    env.upload("m/g/_manifest.json", b"[]")
    ctx = env.context()
    location = ctx.settings.route("m")
    from shared.storage.uris import parse_blob_url

    blob = parse_blob_url(env.blob_url("m/g/_manifest.json"))
    big = env.upload("m/g/_manifest.json", b"[" + b" " * 2_000_000 + b"]")
    body = ctx.store.read_blob_capped(location, blob, f'"{big["eTag"]}"', landing_functions.MAX_MANIFEST_BYTES)
    assert len(body) == landing_functions.MAX_MANIFEST_BYTES + 1
