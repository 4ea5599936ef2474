"""Reading a listing through the landing rules (pure)."""

from datetime import datetime, timezone

from shared.config import parse_settings
from shared.landing import rules
from shared.reconcile.scan import Listed, landings
from shared.runs.ids import landing_run_id

ACCOUNT = "http://127.0.0.1:10000/devstoreaccount1"


def settings(modes):
    return parse_settings({
        "datastores": {"out": {"account_url": ACCOUNT, "container": "out"}},
        "routes": [{"name": name, "match": {"container": "landing", "prefix": f"{name}/"}, "landing": landing,
                    "endpoint": {"scoring_uri": "http://127.0.0.1:9/e/jobs"},
                    "input": {"type": "uri_file" if landing["mode"] == "per_file" else "uri_folder"},
                    "output": {"datastore": "out", "path": f"s/{name}/{{run_id}}/p.csv"}}
                   for name, landing in modes.items()]}, {})


def test_each_rule_names_its_landings_keyed_on_the_real_etag():
    s = settings({"m": {"mode": "marker"}, "p": {"mode": "per_file"}, "f": {"mode": "manifest"},
                  "q": {"mode": "quiet_period", "quiet_seconds": 10}})
    listed = [Listed("m/d1/x.csv", '"0x1"', 3), Listed("m/d1/_SUCCESS", '"0xA"', 0), Listed("m/d2/x.csv", "0x2", 3)]
    (marker,) = landings(s.route("m"), ACCOUNT, "landing", listed)
    assert marker.action == rules.START_FOLDER
    assert marker.run_id == landing_run_id("m", f"{ACCOUNT}/landing/m/d1/", "0xA")  # quotes do not change the key
    files = landings(s.route("p"), ACCOUNT, "landing", [Listed("p/a.csv", "0x1", 5), Listed("p/_SUCCESS", "0x2", 0),
                                                   Listed("p/empty.csv", "0x3", 0)])
    assert [f.created.location.path for f in files] == ["p/a.csv"]
    (manifest,) = landings(s.route("f"), ACCOUNT, "landing", [Listed("f/d/a.csv", "0x1", 1),
                                                         Listed("f/d/_manifest.json", "0x9", 9)])
    assert manifest.action == rules.AWAIT_MANIFEST
    assert manifest.decision.waiter_id == rules.manifest_waiter_id("f", f"{ACCOUNT}/landing/f/d/", "0x9")
    quiet = landings(s.route("q"), ACCOUNT, "landing", [Listed(f"q/d/{n}.csv", f"0x{n}", 1) for n in range(5)]
                     + [Listed("q/e/0.csv", "0x7", 1)])
    assert [q.run_id for q in quiet] == [rules.quiet_run_id("q", f"{ACCOUNT}/landing/q/{d}/") for d in ("d", "e")]


def test_since_and_foreign_prefixes_leave_blobs_out():
    s = settings({"m": {"mode": "marker"}})
    old, new = datetime(2020, 1, 1, tzinfo=timezone.utc), datetime(2026, 1, 1, tzinfo=timezone.utc)
    listed = [Listed("m/a/_SUCCESS", "0x1", 0, old), Listed("m/b/_SUCCESS", "0x2", 0, new),
              Listed("other/c/_SUCCESS", "0x3", 0, new)]
    found = landings(s.route("m"), ACCOUNT, "landing", listed, since=datetime(2025, 1, 1, tzinfo=timezone.utc))
    assert [f.created.location.path for f in found] == ["m/b/_SUCCESS"]


def test_a_blob_whose_name_no_run_may_use_is_skipped_not_the_whole_page():
    """Blob Storage allows 'a//b' or '%2e%2e' in a name; the sweep skips such a blob (as its event would be)
    and still finds the folders after it on the same page."""
    s = settings({"m": {"mode": "marker"}})
    listed = [Listed("m/bad//_SUCCESS", "0x1", 0), Listed("m/t/%2e%2e/_SUCCESS", "0x2", 0),
              Listed("m/ok/x.csv", "0x3", 3), Listed("m/ok/_SUCCESS", "0x4", 0)]
    (only,) = landings(s.route("m"), ACCOUNT, "landing", listed)
    assert only.run_id == landing_run_id("m", f"{ACCOUNT}/landing/m/ok/", "0x4")
