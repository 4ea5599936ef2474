"""Catalogue: building paths and URLs from hostile names (sinks, locations, storage URLs, state paths).

Each case asserts the field named in the refusal, or, where a name is legal, that what was built stays in its
container and prefix for every reader (decoding once, twice, resolving dot segments). One property-based
case per builder runs hypothesis over arbitrary names.
"""

from __future__ import annotations

import posixpath
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.aml_events.store import state_path
from shared.config.models import SinkConfig
from shared.delivery.sinks import sink_location
from shared.paths import InvalidName
from shared.blob_urls import split_storage_url
from shared.storage.uris import BlobLocation, parse_blob_url

SINK = SinkConfig("https://sinkacct.blob.core.windows.net/scores/{route}/{folder}/{run_id}/", "SINK")
SECRET = "c2VjcmV0LXNpZ25hdHVyZS12YWx1ZQ"


def stays_inside(url: str, container: str, prefix: str) -> bool:
    path = url.split("://", 1)[1].split("/", 1)[1]
    for _ in range(3):
        resolved = posixpath.normpath("/" + path.replace("\\", "/")) + "/"
        if not resolved.startswith(f"/{container}/{prefix}"):
            return False
        path = unquote(path)
    return True


FOLDERS = {
    "dotdot": ("trav/../../victim/", "folder"),
    "encoded_dotdot": ("trav/%2e%2e/%2e%2e/%2e%2e/victim/", "folder"),
    "upper_encoded_dotdot": ("trav/%2E%2E/victim/", "folder"),
    "double_encoded_dotdot": ("trav/%252e%252e/victim/", "folder"),
    "triple_encoded_dotdot": ("trav/%25252e%25252e/victim/", "folder"),
    "encoded_slash_dotdot": ("trav/..%2f..%2fvictim/", "folder"),
    "encoded_backslash_dotdot": ("trav/..%5c..%5cvictim/", "folder"),
    "raw_backslash": ("trav\\..\\victim/", "folder"),
    "fullwidth_dots": ("trav/\uff0e\uff0e/victim/", "folder"),
    "one_dot_leader": ("trav/\u2024\u2024/victim/", "folder"),
    "nul": ("trav/\x00/", "folder"),
    "crlf": ("trav\r\n/", "folder"),
    "del": ("trav\x7f/", "folder"),
    "c1_control": ("trav\x85/", "folder"),
    "empty_segment": ("trav//victim/", "folder"),
    "too_long": ("x/" * 600, "folder"),
    "segment_too_long": ("x" * 300 + "/", "folder"),
    "sixty_kb": ("a" * 60_000, "folder"),
}


@pytest.mark.parametrize("name", sorted(FOLDERS))
def test_a_hostile_landed_folder_never_renders_a_sink_path(catalogue, name):
    folder, field = FOLDERS[name]
    with catalogue.case("paths.sink_folder", name) as c:
        with pytest.raises(InvalidName) as info:
            sink_location(SINK, route="heart", folder=folder, run_id="r1", date="2024-06-01", file_name="p.csv")
        c.check(info.value.field == field, f"field {info.value.field}")
        c.check("\n" not in str(info.value) and "\x00" not in str(info.value), "the error escapes control chars")


LEGAL = {
    "raw_hash": "in#box/",
    "raw_query": "what?x=1/",
    "literal_percent_20": "lit%20/",
    "lone_percent": "50%off/",
    "space": "sp ace/",
    "unicode": "caf\u00e9/\U0001F48E/",
    "dots_inside_a_name": "a..b/.hidden/",
    "encoded_slash_not_traversal": "a%2fb/",
    "plus_and_ampersand": "a+b&c=d/",
}


@pytest.mark.parametrize("name", sorted(LEGAL))
def test_a_legal_but_unusual_folder_is_delivered_under_the_sink_prefix_verbatim(catalogue, name):
    with catalogue.case("paths.sink_folder_legal", name) as c:
        location = sink_location(SINK, route="heart", folder=LEGAL[name], run_id="r1", date="2024-06-01",
                                 file_name="p.csv")
        c.check(location.path == f"heart/{LEGAL[name]}r1/p.csv", location.path)
        c.check(stays_inside(location.url, "scores", "heart/"), location.url)
        back = parse_blob_url(location.url)
        c.check((back.container, back.path) == ("scores", location.path), "round trip")


BAD_VALUES = {
    "run_id_traversal": (dict(run_id="../x"), "run_id"),
    "run_id_query": (dict(run_id="r1?x"), "run_id"),
    "route_slash": (dict(route="a/b"), "route"),
    "date_slash": (dict(date="2024/06/01"), "date"),
    "date_dotdot": (dict(date=".."), "date"),
    "file_traversal": (dict(file_name="../../p.csv"), "file"),
    "file_absolute": (dict(file_name="/etc/p.csv"), "file"),
    "file_encoded_traversal": (dict(file_name="%2e%2e/p.csv"), "file"),
    "sink_placeholder_in_container": (dict(sink=SinkConfig("https://a.blob.core.windows.net/{route}/x/")), "sink url"),
    "sink_with_sas": (dict(sink=SinkConfig(f"https://a.blob.core.windows.net/c/x/?sv=1&sig={SECRET}")), "sink url"),
    "sink_with_password": (dict(sink=SinkConfig(f"https://u:{SECRET}@a.blob.core.windows.net/c/x/")), "sink url"),
    "sink_dotdot_in_template": (dict(sink=SinkConfig("https://a.blob.core.windows.net/c/../{run_id}/")), "sink path"),
    "sink_encoded_dotdot_in_template": (dict(sink=SinkConfig("https://a.blob.core.windows.net/c/%2e%2e/{run_id}/")),
                                        "sink path"),
    "sink_literal_braces": (dict(sink=SinkConfig("https://a.blob.core.windows.net/c/{{run_id}}/")), "sink path"),
    "sink_attribute_access": (dict(sink=SinkConfig("https://a.blob.core.windows.net/c/{run_id.__class__}/")),
                              "sink path"),
    "sink_unknown_placeholder": (dict(sink=SinkConfig("https://a.blob.core.windows.net/c/{secret}/")), "sink path"),
    "sink_ftp": (dict(sink=SinkConfig("ftp://a.blob.core.windows.net/c/x/")), "sink url"),
}


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_bad_values_and_templates_are_refused_naming_the_field(catalogue, name):
    kwargs, field = BAD_VALUES[name]
    args = dict(sink=SINK, route="heart", folder="f/", run_id="r1", date="2024-06-01", file_name="p.csv")
    args.update(kwargs)
    with catalogue.case("paths.sink_values", name, secrets=[SECRET]) as c:
        with pytest.raises(InvalidName) as info:
            sink_location(args.pop("sink"), **args)
        c.check(info.value.field == field, f"field {info.value.field}: {info.value}")
        c.no_secret_in(str(info.value))


LOCATIONS = {
    "dotdot_path": ("c", "a/../b"), "encoded_dotdot_path": ("c", "a/%2e%2e/b"), "backslash": ("c", "a\\b"),
    "leading_slash": ("c", "/a"), "control": ("c", "a\x01"), "container_dotdot": ("..", "a"),
    "container_slash": ("c/d", "a"), "container_encoded": ("c%2f", "a"), "container_upper": ("C", "a"),
    "container_empty": ("", "a"), "path_not_a_string": ("c", 5),
}


@pytest.mark.parametrize("name", sorted(LOCATIONS))
def test_no_code_can_make_a_location_outside_its_container(catalogue, name):
    container, path = LOCATIONS[name]
    with catalogue.case("paths.location", name) as c:
        with pytest.raises(InvalidName):
            BlobLocation("https://a.blob.core.windows.net", container, path)


URLS = {
    "query": "https://a.blob.core.windows.net/c/x?sig=" + SECRET, "fragment": "https://a.blob.core.windows.net/c/x#y",
    "password": f"https://u:{SECRET}@a.blob.core.windows.net/c/x", "no_container": "https://a.blob.core.windows.net",
    "encoded_traversal": "https://a.blob.core.windows.net/c/%2e%2e/x", "traversal": "https://a.blob.core.windows.net/c/../x",
    "javascript": "javascript:alert(1)", "port_out_of_range": "http://127.0.0.1:70000/acct/c/x",
    "abfss_no_account": "abfss://c@/x", "control": "https://a.blob.core.windows.net/c/\x00",
}


@pytest.mark.parametrize("name", sorted(URLS))
def test_a_hostile_blob_url_is_refused_not_truncated(catalogue, name):
    with catalogue.case("paths.blob_url", name, secrets=[SECRET]) as c:
        with pytest.raises(ValueError) as info:
            parse_blob_url(URLS[name])
        c.no_secret_in(str(info.value))


@pytest.mark.parametrize("job", ["../jobs/x", "a/b", "..", "x?y", "x#y", "x\\y", "j" * 300, "%2e%2e"])
def test_a_job_event_state_path_is_never_built_from_a_bad_job_name(catalogue, job):
    with catalogue.case("paths.job_events", job[:40]) as c:
        with pytest.raises(InvalidName):
            state_path(job)


names = st.lists(st.sampled_from(list("ab/.%#?\\ -_") + ["%2e", "%2E", "%252e", "%2f", "%5c", "\uff0e", "..", "\x00",
                                                         "\U0001F48E"]), max_size=24).map("".join) | st.text(max_size=30)


def test_property_sink_paths_stay_inside_for_arbitrary_names(catalogue):
    with catalogue.case("paths.property", "sink_location_any_folder_and_file") as c:
        @settings(max_examples=500, deadline=None)
        @given(folder=names, file_name=names)
        def run(folder, file_name):
            try:
                location = sink_location(SINK, route="heart", folder=folder, run_id="r1", date="2024-06-01",
                                         file_name=file_name or "p.csv")
            except InvalidName:
                return
            assert location.container == "scores" and stays_inside(location.url, "scores", "heart/"), location.url
        run()


def test_property_event_urls_split_into_a_checked_container(catalogue):
    with catalogue.case("paths.property", "split_storage_url_any_text") as c:
        @settings(max_examples=500, deadline=None)
        @given(rest=names, host=st.sampled_from(["https://a.blob.core.windows.net/", "https://a.dfs.core.windows.net/",
                                                 "abfss://c@a.dfs.core.windows.net/", "http://127.0.0.1:1/acct/"]))
        def run(rest, host):
            try:
                parts = split_storage_url(host + rest)
            except InvalidName:
                return
            assert "/" not in parts.container and ".." not in parts.container
            assert parts.account_url.startswith(("https://a.blob.core.windows.net", "http://127.0.0.1:1/acct"))
        run()
