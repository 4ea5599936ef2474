"""shared/delivery/sinks: templates rendered under their static prefix, nothing decoded after the check."""

from __future__ import annotations

import posixpath
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.config.models import SinkConfig
from shared.delivery.sinks import sink_location
from shared.paths import InvalidName
from shared.storage.uris import parse_blob_url

SINK = SinkConfig("http://127.0.0.1:10000/devstoreaccount1/scores/{route}/{folder}/", "C", "s")


def render(folder: str, file_name: str = "predictions.csv", sink: SinkConfig = SINK, run_id: str = "r1"):
    return sink_location(sink, route="heart", folder=folder, run_id=run_id, date="2024-06-01", file_name=file_name)


@pytest.mark.parametrize("folder", ["trav/%2e%2e/%2e%2e/%2e%2e/victim/", "trav/../../victim/", "a/%252e%252e/x/",
                                    "a\\..\\b/", "a/%2e%2e%2fvictim/", "a/\uff0e\uff0e/b/", "a/\x00/"])
def test_a_traversing_folder_is_refused_not_delivered_elsewhere(folder):
    with pytest.raises(InvalidName) as info:
        render(folder)
    assert info.value.field == "folder"


def test_hash_query_and_percent_in_a_folder_are_name_characters_not_truncation():
    location = render("in#box/what?/lit%20/")
    assert (location.container, location.path) == ("scores", "heart/in#box/what?/lit%20/predictions.csv")
    back = parse_blob_url(location.url)
    assert (back.container, back.path) == (location.container, location.path)


def test_bad_values_and_templates_name_their_field():
    cases = [(dict(run_id="../x"), "run_id"), (dict(file_name="../p.csv"), "file"),
             (dict(sink=SinkConfig("https://a.blob.core.windows.net/{route}/x/", "C")), "sink url"),
             (dict(sink=SinkConfig("https://a.blob.core.windows.net/c/x/?sig=abc", "C")), "sink url"),
             (dict(sink=SinkConfig("https://a.blob.core.windows.net/c/{nope}/", "C")), "sink path")]
    for kwargs, field in cases:
        with pytest.raises(InvalidName) as info:
            render(kwargs.pop("folder", "f/"), **kwargs)
        assert info.value.field == field, (kwargs, info.value)


def test_dfs_and_abfss_sinks_are_written_through_the_blob_endpoint():
    for url in ("https://dl.dfs.core.windows.net/lake/ml/{run_id}/", "abfss://lake@dl.dfs.core.windows.net/ml/{run_id}/"):
        location = render("f/", sink=SinkConfig(url, "LAKE"))
        assert location.url == "https://dl.blob.core.windows.net/lake/ml/r1/predictions.csv"


names = st.lists(st.sampled_from(list("ab/.%#? \\-_") + ["%2e", "%2E", "%252e", "%2f", "%5c", "\uff0e", "..",
                                                         "\u00e9", "\x00"]), max_size=20).map("".join)


@settings(max_examples=400, deadline=None)
@given(folder=names, file_name=names)
def test_for_any_landed_folder_and_output_name_the_copy_stays_in_the_sink_container_and_prefix(folder, file_name):
    try:
        location = render(folder, file_name or "p.csv")
    except InvalidName:
        return
    assert location.account_url == "http://127.0.0.1:10000/devstoreaccount1" and location.container == "scores"
    assert location.path.startswith("heart/")
    url_path = location.url.split("/devstoreaccount1/", 1)[1]
    for _ in range(3):  # however many times a reader decodes, it stays in scores/heart/
        assert (posixpath.normpath("/" + url_path.replace("\\", "/")) + "/").startswith("/scores/heart/")
        url_path = unquote(url_path)
