"""Pure landing logic: events, queue messages, completion rules, folder checks, manifests, config overlaps."""

import base64
import hashlib
import json

import pytest

from shared.config import ConfigError, parse_settings
from shared.landing import rules
from shared.landing.events import SkipEvent, decode_queue_message, event_fields, parse_blob_created
from tests.landing.conftest import routes_document

ACCOUNT = "http://127.0.0.1:10000/devstoreaccount1"
ENV = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}


def settings_for(modes, **overrides):
    doc = routes_document(ACCOUNT, "landing", "outputs", modes)
    for route in doc["routes"]:
        route.update(overrides.get(route["name"], {}))
    return parse_settings(doc, ENV)


def created(path, etag="0x1", api="PutBlob", length=10, container="landing"):
    return parse_blob_created("e1", "Microsoft.Storage.BlobCreated",
                              {"api": api, "url": f"{ACCOUNT}/{container}/{path}", "eTag": etag,
                               "contentLength": length})


def index_for(settings):
    return rules.build_route_index(settings, {"AzureWebJobsStorage": ACCOUNT}, ACCOUNT)


# --- events ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("event_type,data,reason", [
    ("Microsoft.Storage.BlobDeleted", {"api": "DeleteBlob"}, "wrong_event_type"),
    ("Microsoft.Storage.BlobCreated", "not an object", "malformed"),
    ("Microsoft.Storage.BlobCreated", {"api": "PutBlock", "url": f"{ACCOUNT}/landing/a"}, "uncommitted_api"),
    ("Microsoft.Storage.BlobCreated", {"api": "PutBlob"}, "malformed"),
    ("Microsoft.Storage.BlobCreated", {"api": "PutBlob", "url": f"{ACCOUNT}/landing/a"}, "malformed"),
    ("Microsoft.Storage.BlobCreated", {"api": "PutBlob", "url": "ftp://x/y", "eTag": "1"}, "malformed"),
    ("Microsoft.Storage.BlobCreated", {"api": "PutBlob", "url": f"{ACCOUNT}/landing/dir/", "eTag": "1"},
     "not_a_blob"),
])
def test_bad_events_are_skipped_with_a_reason(event_type, data, reason):
    with pytest.raises(SkipEvent) as info:
        parse_blob_created("e", event_type, data)
    assert info.value.reason == reason


def test_queue_message_plain_base64_double_base64_and_cloudevents():
    event = {"id": "1", "eventType": "Microsoft.Storage.BlobCreated", "data": {"api": "PutBlob"}}
    plain = json.dumps(event).encode()
    once = base64.b64encode(plain)
    twice = base64.b64encode(once)
    for body in (plain, once, twice, plain.decode(), once.decode()):
        assert decode_queue_message(body) == [event]
    assert decode_queue_message(json.dumps([event, event])) == [event, event]
    cloud = {"specversion": "1.0", "id": "2", "type": "Microsoft.Storage.BlobCreated", "data": {"x": 1}}
    assert event_fields(cloud) == ("2", "Microsoft.Storage.BlobCreated", {"x": 1})


@pytest.mark.parametrize("body", [b"", b"   ", b"not json at all!", b"{broken", b"[1, 2]", b"[]", None,
                                  base64.b64encode(b"still not json")])
def test_bad_queue_messages_are_malformed(body):
    with pytest.raises(SkipEvent) as info:
        decode_queue_message(body)
    assert info.value.reason == "malformed"


# --- route index ------------------------------------------------------------------------------------------

def test_index_matches_longest_prefix_and_excludes_outputs_sinks_and_state():
    settings = settings_for({"a": {"mode": "marker"}, "b": {"mode": "marker"}})
    index = index_for(settings)
    assert index.match(created("a/f1/x.csv").location).name == "a"
    assert index.match(created("b/x.csv").location).name == "b"
    assert index.match(created("c/x.csv").location) is None
    assert index.match(created("a/x.csv", container="other").location) is None
    other_account = parse_blob_created("e", "Microsoft.Storage.BlobCreated", {
        "api": "PutBlob", "url": "https://acct.blob.core.windows.net/landing/a/x.csv", "eTag": "1"})
    assert index.match(other_account.location) is None
    assert "output location of route 'a'" in index.excluded_because(created("scores/a/r1/p.csv",
                                                                              container="outputs").location)
    assert "sinks[0] of route 'b'" in index.excluded_because(created("sink/b/r/p.csv", container="outputs").location)
    assert "state container" in index.excluded_because(created("runs/x.json", container="batchruns").location)
    assert index.excluded_because(created("a/x.csv").location) is None


def test_dfs_and_abfss_events_match_a_route_configured_on_either_endpoint():
    settings = settings_for({"a": {"mode": "marker"}})
    blob, dfs = "https://lake.blob.core.windows.net", "https://LAKE.dfs.core.windows.net/"
    for configured in (blob, dfs):
        index = rules.build_route_index(settings, {"AzureWebJobsStorage": configured}, configured)
        for url in (f"{blob}/landing/a/f/_SUCCESS", f"{dfs}landing/a/f/_SUCCESS",
                    "abfss://landing@lake.dfs.core.windows.net/a/f/_SUCCESS"):
            event = parse_blob_created("e", "Microsoft.Storage.BlobCreated",
                                       {"api": "FlushWithClose", "url": url, "eTag": "0x1"},
                                       subject="/blobServices/default/containers/landing/blobs/a/f/_SUCCESS")
            assert index.match(event.location).name == "a", (configured, url)
            assert index.control_route(("https://lake.dfs.core.windows.net", "landing", "a/f/_SUCCESS")).name == "a"
            assert index.excluded_because(created("runs/x.json", container="batchruns").location) is None
            assert "state container" in index.excluded_because(
                parse_blob_created("e", "Microsoft.Storage.BlobCreated", {
                    "api": "PutBlob", "url": f"{dfs}batchruns/runs/x.json", "eTag": "1"}).location)


def test_template_location():
    assert rules.template_location(f"{ACCOUNT}/out/x/{{route}}/y/") == (ACCOUNT.lower(), "out", "x/")
    assert rules.template_location(f"{ACCOUNT}/{{route}}/x/") is None
    assert rules.template_location("https://acct.blob.core.windows.net/c/p/{run_id}.csv") == \
        ("https://acct.blob.core.windows.net", "c", "p/")


# --- completion rules ---------------------------------------------------------------------------------------

def test_marker_rule():
    route = settings_for({"a": {"mode": "marker"}}).routes[0]
    assert rules.decide(route, created("a/f/x.csv")) == rules.Decision(rules.IGNORE, "awaiting_marker")
    d1 = rules.decide(route, created("a/f/_SUCCESS", etag="0x1"))
    d2 = rules.decide(route, created("a/f/_SUCCESS", etag="0x1"))
    d3 = rules.decide(route, created("a/f/_SUCCESS", etag="0x2"))
    assert d1.action == rules.START_FOLDER and d1.folder.path == "a/f/"
    assert d1.run_id == d2.run_id != d3.run_id  # duplicates collapse; a new marker is a deliberate re-run
    assert len(d1.run_id) < 100 and not set("/\\#?") & set(d1.run_id)


def test_per_file_rule():
    route = settings_for({"a": {"mode": "per_file"}}).routes[0]
    d = rules.decide(route, created("a/f/x.csv"))
    assert d.action == rules.START_FILE
    assert d.run_id == rules.decide(route, created("a/f/x.csv")).run_id
    assert d.run_id != rules.decide(route, created("a/f/y.csv")).run_id
    assert rules.decide(route, created("a/f/_SUCCESS")).action == rules.IGNORE
    assert rules.decide(route, created("a/f/empty.csv", length=0)).reason == "empty_blob"


def test_manifest_and_quiet_rules():
    settings = settings_for({"m": {"mode": "manifest"}, "q": {"mode": "quiet_period", "quiet_seconds": 5}})
    m, q = settings.routes
    assert rules.decide(m, created("m/f/x.csv")).reason == "awaiting_manifest"
    d = rules.decide(m, created("m/f/_manifest.json"))
    assert d.action == rules.AWAIT_MANIFEST and d.waiter_id.startswith("lw-")
    a, b = rules.decide(q, created("q/f/x.csv", etag="1")), rules.decide(q, created("q/f/y.csv", etag="2"))
    assert a.action == rules.SIGNAL_FOLDER and a.waiter_id == b.waiter_id and a.run_id == b.run_id
    assert rules.decide(q, created("q/g/x.csv")).waiter_id != a.waiter_id


# --- folder inspection -------------------------------------------------------------------------------------

def test_assess_folder():
    route = settings_for({"a": {"mode": "marker"}}).routes[0]
    files = {"_SUCCESS": (0, None), "x.csv": (10, None), "y.csv": (5, None)}
    ok = rules.assess_folder(rules.FolderListing(files), route, "a/f/")
    assert ok.ok and ok.details() == {"file_count": 2, "total_bytes": 15}
    sub = rules.assess_folder(rules.FolderListing(files, ("nested/", "more/")), route, "a/f/")
    assert not sub.ok and sub.reason == "subfolders"
    assert "more/, nested/" in sub.detail and "ignore_subfolders" in sub.detail
    empty = rules.assess_folder(rules.FolderListing({"_SUCCESS": (0, None)}), route, "a/f/")
    assert not empty.ok and empty.reason == "empty_folder"
    lenient = settings_for({"a": {"mode": "marker", "ignore_subfolders": True}}).routes[0]
    ok2 = rules.assess_folder(rules.FolderListing(files, ("nested/",)), lenient, "a/f/")
    assert ok2.ok and ok2.details()["ignored_subfolders"] == ["nested/"]


# --- manifests ---------------------------------------------------------------------------------------------

def test_manifest_parse_and_check():
    md5 = hashlib.md5(b"abc").digest()
    raw = json.dumps({"files": ["a.csv", {"name": "b.csv", "size": 3},
                                {"name": "c.csv", "md5": md5.hex()},
                                {"name": "d.csv", "md5": base64.b64encode(md5).decode()}]}).encode()
    entries = rules.parse_manifest(raw)
    assert [e.name for e in entries] == ["a.csv", "b.csv", "c.csv", "d.csv"]
    present = {"a.csv": (1, None), "b.csv": (4, None), "c.csv": (3, md5)}
    check = rules.check_manifest(entries, present)
    assert check.missing == ("d.csv",) and check.mismatched == ("b.csv: size 4, manifest says 3",)
    assert not check.complete and "missing 1: d.csv" in check.describe()
    present.update({"b.csv": (3, None), "d.csv": (3, md5)})
    assert rules.check_manifest(entries, present).complete
    assert rules.check_manifest(rules.parse_manifest(b'["x"]'), {"x": (0, None)}).complete


@pytest.mark.parametrize("raw", [b"nope", b"{}", b"[]", b'["a/b.csv"]', b'[{"name": "x", "size": -1}]',
                                 b'[{"name": "x", "md5": "zz"}]', b"[3]"])
def test_bad_manifests(raw):
    with pytest.raises(rules.ManifestError):
        rules.parse_manifest(raw)


# --- configuration: sinks and outputs must not overlap landing prefixes --------------------------------------

def test_config_rejects_sink_overlapping_a_landing_prefix():
    doc = routes_document(ACCOUNT, "landing", "outputs", {"a": {"mode": "marker"}, "b": {"mode": "marker"}})
    doc["routes"][0]["sinks"] = [{"url": f"{ACCOUNT}/landing/b/{{run_id}}/"}]
    with pytest.raises(ConfigError) as info:
        parse_settings(doc, ENV)
    text = str(info.value)
    assert "route 'a': sinks[0].url" in text and "landing location of route 'b'" in text


def test_config_rejects_output_overlapping_a_landing_prefix():
    doc = routes_document(ACCOUNT, "landing", "outputs", {"a": {"mode": "marker"}})
    doc["datastores"]["out"]["container"] = "landing"
    doc["routes"][0]["output"]["path"] = "{run_id}/p.csv"  # the whole container, landing prefix 'a/' inside
    with pytest.raises(ConfigError) as info:
        parse_settings(doc, ENV)
    assert "route 'a': output" in str(info.value)


def test_config_accepts_disjoint_locations_and_other_accounts():
    doc = routes_document(ACCOUNT, "landing", "outputs", {"a": {"mode": "marker"}})
    urls = [f"{ACCOUNT}/landing/elsewhere/{{run_id}}/", "https://other.blob.core.windows.net/landing/a/{run_id}/"]
    doc["routes"][0]["sinks"] = [{"url": url} for url in urls]
    settings = parse_settings(doc, ENV)
    assert [sink.url for sink in settings.routes[0].sinks] == urls
