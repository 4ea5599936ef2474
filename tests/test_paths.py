"""shared/paths: storage URLs split by hand, subjects, templates rendered under their prefix; properties."""

from __future__ import annotations

import posixpath
from urllib.parse import unquote

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from shared.paths import (InvalidName, check_container_name, check_relative_path, join_under, render_under,
                          split_blob_subject, static_prefix)
from shared.blob_urls import canonical_account_url, split_storage_url
from shared.storage.uris import BlobLocation, parse_blob_url

# Names as they really come: raw '#', '?', '%', spaces, unicode (also astral), dots and slashes.
NAME_ALPHABET = st.sampled_from(list("ab/.%#? \\-_~+=&;:@!$'()*,") + ["%2e", "%2E", "%252e", "%2f", "%5c", "%00",
                                                                      "\uff0e", "\u00e9", "\U0001F48E", "\x00",
                                                                      "\n", "\u2024", "..", "./", "/.."])
names = st.lists(NAME_ALPHABET, min_size=0, max_size=24).map("".join) | st.text(max_size=40)


def _escapes(prefix: str, path: str) -> bool:
    """Would any reader (decoding 0..3 times, resolving dot segments) see ``path`` outside ``prefix``?"""
    text = path
    for _ in range(4):
        resolved = posixpath.normpath("/" + text.replace("\\", "/"))
        if not (resolved + "/").startswith("/" + prefix):
            return True
        text = unquote(text)
    return False


def test_blob_urls_are_split_by_hand_so_raw_hash_and_query_stay_in_the_name():
    assert split_storage_url("https://acct.blob.core.windows.net/c/a#b/_SUCCESS") == \
        ("https://acct.blob.core.windows.net", "c", "a#b/_SUCCESS")
    assert split_storage_url("https://acct.dfs.core.windows.net/fs/x?y/z") == \
        ("https://acct.blob.core.windows.net", "fs", "x?y/z")
    assert split_storage_url("abfss://fs@acct.dfs.core.windows.net/d/e%20f") == \
        ("https://acct.blob.core.windows.net", "fs", "d/e%20f")
    assert split_storage_url("http://127.0.0.1:10000/devstoreaccount1/c/n") == \
        ("http://127.0.0.1:10000/devstoreaccount1", "c", "n")


@pytest.mark.parametrize("url", ["ftp://a/c/x", "https://user:pw@acct.blob.core.windows.net/c/x", "no-scheme",
                                 "https://acct.blob.core.windows.net/", "https://acct.blob.core.windows.net/C/x",
                                 "https://acct.blob.core.windows.net/c%2f/x", "http://127.0.0.1:1/acct",
                                 "https://a\nb.blob.core.windows.net/c/x", 42, "https://x/" + "c" * 9000,
                                 "http://127.0.0.1:10000/../landing/x", "http://127.0.0.1:10000/%2e%2e/c/x"])
def test_bad_blob_urls_are_refused_with_the_field(url):
    with pytest.raises(InvalidName) as info:
        split_storage_url(url, field="data.url")
    assert info.value.field == "data.url"


def test_blob_and_dfs_endpoints_are_one_account():
    assert canonical_account_url("https://Acct.DFS.core.windows.net/") == "https://acct.blob.core.windows.net"
    assert canonical_account_url("https://acct.blob.core.windows.net:443") == "https://acct.blob.core.windows.net"
    assert canonical_account_url("https://acct.dfs.core.chinacloudapi.cn") == "https://acct.blob.core.chinacloudapi.cn"
    assert canonical_account_url("http://127.0.0.1:10000/devstoreaccount1/") == "http://127.0.0.1:10000/devstoreaccount1"


def test_subjects_name_container_and_blob_verbatim():
    assert split_blob_subject("/blobServices/default/containers/c/blobs/a%20b/#/_SUCCESS") == ("c", "a%20b/#/_SUCCESS")
    assert split_blob_subject("/blobServices/default/containers/c/blobs/x/blobs/y") == ("c", "x/blobs/y")
    for bad in ("experiments/1/runs/2", "/blobServices/default/containers/c", "/blobServices/default/containers//blobs/x",
                "/blobServices/default/containers/../blobs/x", None):
        with pytest.raises(InvalidName):
            split_blob_subject(bad)


def test_container_names_never_hold_path_characters():
    for good in ("landing", "a", "$root", "out-1"):
        assert check_container_name(good) == good
    for bad in ("..", "a/b", "A", "a%2f", "", "-a", "a b", "$logs/x"):
        with pytest.raises(InvalidName):
            check_container_name(bad)


def test_templates_render_under_their_static_prefix():
    assert static_prefix("scores/{folder}/x") == "scores/"
    assert static_prefix("a/b{run_id}/") == "a/"
    assert render_under("scores/{folder}/{run_id}/", {"folder": "", "run_id": "r1"}, field="f") == "scores/r1/"
    assert render_under("s/{folder}/", {"folder": "a b#c?d"}, field="f") == "s/a b#c?d/"
    for template, values in [("s/{folder}/", {"folder": "../x"}), ("s/{folder}/", {"folder": "%2e%2e"}),
                             ("s/{nope}/", {"folder": "a"}), ("s/{folder.__class__}/", {"folder": "a"}),
                             ("s/{{run_id}}/", {"run_id": "r"}), ("../{folder}/", {"folder": "a"})]:
        with pytest.raises(InvalidName):
            render_under(template, values, field="f")


def test_dot_segments_are_refused_also_when_encoded_once_or_twice_even_in_raw_names():
    for name in ("a/%2e%2e/b", "a/%252e%252E/b", "%2e/b", "a/\uff0e\uff0e/b"):
        with pytest.raises(InvalidName):
            check_relative_path(name, field="p", decode=False, allow_query_chars=True)
    assert check_relative_path("a/%2e%2ex/b", field="p", decode=False) == "a/%2e%2ex/b"


@settings(max_examples=400, deadline=None)
@given(prefix=st.sampled_from(["", "sink/", "scores/route-a/"]), name=names)
def test_join_under_never_leaves_its_prefix(prefix, name):
    try:
        joined = join_under(prefix, name, field="name")
    except InvalidName:
        return
    assert joined.startswith(prefix)
    assert not _escapes(prefix, joined)


@settings(max_examples=400, deadline=None)
@given(folder=names, file=names)
def test_a_rendered_sink_path_stays_in_its_prefix_for_any_landed_name(folder, file):
    try:
        path = render_under("sink/{folder}/{run_id}/{file}", {"folder": folder, "run_id": "r1", "file": file},
                            field="sink")
    except InvalidName:
        return
    assert path.startswith("sink/") and not _escapes("sink/", path)


@settings(max_examples=400, deadline=None)
@given(name=names)
def test_a_location_round_trips_through_its_url_and_stays_in_its_container(name):
    try:
        location = BlobLocation("https://acct.blob.core.windows.net", "c", name)
    except InvalidName:
        return
    back = parse_blob_url(location.url)
    assert (back.account_url, back.container, back.path) == (location.account_url, "c", name)
    path_in_url = location.url.split("/c/", 1)[1]
    assert "?" not in path_in_url and "#" not in path_in_url
    assert not _escapes("c/", "c/" + path_in_url)


@settings(max_examples=300, deadline=None)
@given(url=st.text(max_size=80) | st.builds(lambda n: "https://acct.dfs.core.windows.net/fs/" + n, names))
def test_splitting_any_text_raises_only_invalid_name(url):
    try:
        parts = split_storage_url(url)
    except InvalidName:
        return
    check_container_name(parts.container)


@settings(max_examples=200, deadline=None)
@given(name=names)
def test_percent_decoding_a_checked_name_never_yields_a_dot_segment(name):
    assume(name)
    try:
        checked = check_relative_path(name, field="p", decode=False, allow_query_chars=True)
    except InvalidName:
        return
    text = checked
    for _ in range(3):
        text = unquote(text)
        assert all(segment not in (".", "..") for segment in text.split("/"))
