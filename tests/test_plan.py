"""shared/plan.py: the completion rule per landing mode, "not checked" without a token-free connection, and the
run id a landing would get."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from shared.config import parse_settings
from shared.plan import Listed, Listing, build_plan, completion, read_listing
from shared.storage.uris import BlobLocation

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)
ACCOUNT = "http://127.0.0.1:10000/devstoreaccount1"
DOC = {"datastores": {"ws": {"account_url": "https://ws.blob.core.windows.net", "container": "out"}},
       "routes": [{"name": "r", "match": {"container": "landing", "prefix": "in/"},
                   "endpoint": {"scoring_uri": "https://r.eastus.inference.ml.azure.com/jobs"},
                   "output": {"datastore": "ws", "path": "o/{run_id}/p.csv"},
                   "sinks": [{"url": "https://sink.blob.core.windows.net/s/{folder}/", "connection": "SINK"}]}]}


def route(**landing):
    doc = {**DOC, "routes": [{**DOC["routes"][0], "landing": landing}]}
    if landing.get("mode") == "per_file":
        doc["routes"][0]["input"] = {"type": "uri_file"}
    return parse_settings(doc, {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}).routes[0]


FOLDER = BlobLocation(ACCOUNT, "landing", "in/2024/")


def listed(*names, age=0):
    return Listing(tuple(Listed(n, f'"0x{i}"', 1, NOW - timedelta(seconds=age)) for i, n in enumerate(names)), True)


def test_marker_rule_checked_and_the_run_id_follows_the_marker_etag():
    r = route(mode="marker")
    assert completion(r, FOLDER, listed("a.csv"), NOW)["complete"] is False
    done = listed("a.csv", "_SUCCESS")
    assert completion(r, FOLDER, done, NOW)["status"] == "complete"
    settings = parse_settings(DOC, {"AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    plan = build_plan(settings, r, FOLDER, done, NOW)
    from shared.runs.ids import landing_run_id

    assert plan["run_id"] == landing_run_id("r", FOLDER.url, "0x1")
    assert plan["sinks"][0]["paths"][0]["path"] == "s/in/2024/p.csv"
    assert plan["request"]["body"]["properties"]["outputData"]["score"]["uri"] == \
        f"azureml://datastores/ws/paths/o/{plan['run_id']}/p.csv"


def test_manifest_quiet_and_per_file_rules():
    manifest = Listing(listed("a.csv", "_manifest.json").files, True, manifest={"files": ["a.csv", "b.csv"]})
    out = completion(route(mode="manifest"), FOLDER, manifest, NOW)
    assert out["complete"] is False and out["missing"] == ["b.csv"]
    assert completion(route(mode="quiet_period", quiet_seconds=60), FOLDER, listed("a.csv", age=30), NOW)[
        "complete"] is False
    assert completion(route(mode="quiet_period", quiet_seconds=60), FOLDER, listed("a.csv", age=90), NOW)[
        "complete"] is True
    file = BlobLocation(ACCOUNT, "landing", "in/2024/a.csv")
    assert completion(route(mode="per_file"), file, listed("a.csv"), NOW)["complete"] is True


def test_not_checked_without_a_token_free_connection():
    r = route(mode="marker")
    identity = read_listing(r, FOLDER, {"AzureWebJobsStorage__accountName": "acct"})
    assert not identity.checked and "managed identity" in identity.why_not
    out = completion(r, FOLDER, identity, NOW)
    assert out["status"] == "not checked" and out["complete"] is None
    missing = read_listing(r, FOLDER, {})
    assert not missing.checked and missing.why_not


def _plan_for(route_doc: dict) -> dict:
    settings = parse_settings({**DOC, "routes": [route_doc]}, {"AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    return build_plan(settings, settings.routes[0], FOLDER, listed("a.csv", "_SUCCESS"), NOW)


def test_plan_says_which_outputs_signal_the_job_end_and_when_none_can():
    base = {**DOC["routes"][0], "poll": {"output_events": True}}
    assert "hints the job's end" in _plan_for(base)["output_events"]
    assert "output_events" not in _plan_for(DOC["routes"][0])          # not asked for: nothing said
    no_output = {k: v for k, v in base.items() if k not in ("output", "sinks")}
    note = _plan_for(no_output)["output_events"]
    assert note.startswith("output events cannot signal") and "default output location" in note
    assert "falls back to polling" in note
    summary = {**base, "output": {"datastore": "ws", "path": "o/{run_id}/p.csv",
                                  "action": "summary_only"}}
    note = _plan_for(summary)["output_events"]
    assert note.startswith("output events cannot signal") and "summary_only" in note
