"""shared/landing/events: which blob an event names (subject vs url), ADLS Gen2, both schemas; properties."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.event_envelope import read_event
from shared.landing.events import BLOB_CREATED, SkipEvent, parse_blob_created, parse_blob_event
from tools.events import blob_created_event, to_cloud_event

ACCT = "https://acct.blob.core.windows.net"


def parse(name: str, *, url_name: str | None = None, encode_url: bool = False, endpoint: str = "blob",
          schema: str = "eventgrid", api: str | None = None, content_length: int = 0):
    event = blob_created_event(f"{ACCT}/landing/x", '"0x8D4"', content_length=content_length, name=name,
                               encode_url=encode_url, endpoint=endpoint, schema=schema, api=api)
    if url_name is not None:
        event["data"]["url"] = event["data"]["url"].rsplit("/landing/", 1)[0] + "/landing/" + url_name
    return parse_blob_event(read_event(event))


@pytest.mark.parametrize("name", ["a#b/_SUCCESS", "q?x=1/_SUCCESS", "lit%20/_SUCCESS", "50%off/_SUCCESS",
                                  "sp ace/_SUCCESS", "caf\u00e9/_SUCCESS", "gem\U0001F48E/_SUCCESS", "a+b/_SUCCESS"])
@pytest.mark.parametrize("encode_url", [False, True])
def test_the_name_is_the_subjects_whether_the_url_is_raw_or_encoded(name, encode_url):
    created = parse(name, encode_url=encode_url)
    assert created.location.path == name
    assert created.name == "_SUCCESS" and created.folder == name.rsplit("/", 1)[0] + "/"
    assert created.location.url.endswith("/landing/" + quote(name, safe="/"))


def test_a_literal_percent_20_is_never_decoded_twice():
    created = parse("x%20y/_SUCCESS", encode_url=True)  # url carries x%2520y
    assert created.location.path == "x%20y/_SUCCESS"
    assert "x%2520y" in created.location.url


@pytest.mark.parametrize("url_name, reason", [
    ("other/_SUCCESS", "name_mismatch"),     # url and subject name different blobs
    ("a/_SUCCESS", "name_mismatch"),         # the url lost the '#b' part
])
def test_subject_and_url_that_disagree_are_skipped(url_name, reason):
    with pytest.raises(SkipEvent) as info:
        parse("a#b/_SUCCESS", url_name=url_name)
    assert info.value.reason == reason
    assert info.value.where == (ACCT, "landing", "a#b/_SUCCESS")


def test_microsofts_sample_with_a_different_container_in_subject_and_url_is_a_mismatch():
    event = blob_created_event(f"{ACCT}/testcontainer/new-file.txt", '"0x8D4BCC2E4835CD0"', content_length=524288)
    event["subject"] = "/blobServices/default/containers/test-container/blobs/new-file.txt"
    with pytest.raises(SkipEvent) as info:
        parse_blob_event(read_event(event))
    assert info.value.reason == "name_mismatch"


def test_a_subject_with_lost_characters_takes_the_name_from_the_url():
    event = blob_created_event(f"{ACCT}/landing/x", '"0x1"', content_length=1, name="log\U0001F48E.csv",
                               encode_url=True)
    event["subject"] = "/blobServices/default/containers/landing/blobs/log\ufffd\ufffd.csv"
    assert parse_blob_event(read_event(event)).location.path == "log\U0001F48E.csv"


def test_without_a_subject_the_url_is_decoded_once_and_keeps_hash_and_query():
    created = parse_blob_created("e", BLOB_CREATED, {"api": "PutBlob", "eTag": "0x1",
                                                     "url": f"{ACCT}/landing/a#b/x%2520y/_SUCCESS"})
    assert created.location.path == "a#b/x%20y/_SUCCESS"


def test_adls_gen2_flush_with_close_lands_on_the_blob_account_and_create_file_does_not():
    created = parse("lake/f/_SUCCESS", endpoint="dfs")
    assert created.api == "FlushWithClose" and created.location.account_url == ACCT
    with pytest.raises(SkipEvent) as info:
        parse("lake/f/_SUCCESS", endpoint="dfs", api="CreateFile")
    assert info.value.reason == "uncommitted_api" and info.value.where == (ACCT, "landing", "lake/f/_SUCCESS")
    abfss = blob_created_event(f"{ACCT}/landing/x", '"0x1"', content_length=0, name="lake/f/_SUCCESS",
                               api="FlushWithClose")
    abfss["data"]["url"] = "abfss://landing@acct.dfs.core.windows.net/lake/f/_SUCCESS"
    assert parse_blob_event(read_event(abfss)).location.account_url == ACCT


def test_cloudevents_and_a_lost_type_parse_like_event_grid():
    grid = parse("a/_SUCCESS")
    cloud = parse("a/_SUCCESS", schema="cloudevents")
    assert (cloud.location, cloud.etag, cloud.api) == (grid.location, grid.etag, grid.api)
    event = to_cloud_event(blob_created_event(f"{ACCT}/landing/a/_SUCCESS", '"0x1"', content_length=0))
    assert parse_blob_created(event["id"], None, event["data"], subject=event["subject"]).name == "_SUCCESS"
    with pytest.raises(SkipEvent) as info:
        parse_blob_created("e", None, {"api": "DeleteBlob", "url": f"{ACCT}/landing/a"})
    assert info.value.reason == "wrong_event_type"


@pytest.mark.parametrize("name", ["a/../b/_SUCCESS", "a/%2e%2e/_SUCCESS", "a\\b/_SUCCESS", "a//b/_SUCCESS",
                                  "a/\x07/_SUCCESS", "a/" + "x" * 300 + "/_SUCCESS", "/lead/_SUCCESS"])
def test_unsafe_names_are_skipped_with_where_they_were(name):
    with pytest.raises(SkipEvent) as info:
        parse(name)
    assert info.value.reason in ("unsafe_name", "malformed")
    if info.value.reason == "unsafe_name":
        assert info.value.where[2] == name


landed_names = st.lists(st.sampled_from(list("ab/.%#? \\-_~+") + ["%2e", "%20", "%25", "\u00e9", "\U0001F48E",
                                                                   "\ufffd", "..", "_SUCCESS"]),
                        min_size=1, max_size=16).map("".join) | st.text(min_size=1, max_size=30)


@settings(max_examples=400, deadline=None)
@given(name=landed_names, encode_url=st.booleans(), schema=st.sampled_from(["eventgrid", "cloudevents"]),
       endpoint=st.sampled_from(["blob", "dfs"]))
def test_any_name_is_recovered_exactly_or_skipped_with_a_typed_reason(name, encode_url, schema, endpoint):
    try:
        created = parse(name, encode_url=encode_url, schema=schema, endpoint=endpoint)
    except SkipEvent as exc:
        assert exc.reason in ("unsafe_name", "not_a_blob", "malformed", "name_mismatch"), exc
        return
    assert created.location.path == name and created.location.container == "landing"
    assert created.location.account_url == ACCT


event_data = st.dictionaries(
    st.sampled_from(["api", "url", "eTag", "etag", "contentLength"]),
    st.none() | st.integers(-5, 10**20) | st.booleans() | st.text(max_size=30)
    | st.sampled_from(["PutBlob", "FlushWithClose", "CreateFile", f"{ACCT}/landing/a/_SUCCESS",
                       "abfss://landing@acct.dfs.core.windows.net/a", "http://127.0.0.1:1/acct/c/x#y"]),
    max_size=5)


@settings(max_examples=400, deadline=None)
@given(event_type=st.none() | st.just(BLOB_CREATED) | st.text(max_size=10), data=event_data | st.text(max_size=5),
       subject=st.none() | st.text(max_size=40) | st.just("/blobServices/default/containers/landing/blobs/a/_SUCCESS"),
       event_id=st.none() | st.text(max_size=10) | st.integers())
def test_parsing_any_event_raises_only_skip_event(event_type, data, subject, event_id):
    try:
        parse_blob_created(event_id, event_type, data, subject=subject)
    except SkipEvent:
        pass


# --- SFTP and ADLS Gen2 renames (issue 17, case 4) ---------------------------------------------------------

def test_an_sftp_commit_lands_with_an_unknown_size_and_sftp_create_and_write_do_not():
    from tools.events import sftp_commit_event

    for schema in ("eventgrid", "cloudevents"):
        event = sftp_commit_event(f"{ACCT}/landing/in/_SUCCESS", '"0x8D4"', schema=schema)
        created = parse_blob_event(read_event(event))
        # Microsoft's example says contentLength 0 for a committed file: it is not taken as the size
        assert (created.api, created.location.path, created.content_length) == ("SftpCommit", "in/_SUCCESS", None)
    for api in ("SftpCreate", "SftpWrite"):
        event = sftp_commit_event(f"{ACCT}/landing/in/_SUCCESS", '"0x8D4"')
        event["data"]["api"] = api
        with pytest.raises(SkipEvent) as info:
            parse_blob_event(read_event(event))
        assert info.value.reason == "uncommitted_api"


@pytest.mark.parametrize("schema", ["eventgrid", "cloudevents"])
@pytest.mark.parametrize("directory", [False, True])
def test_a_rename_names_its_destination_on_the_blob_account(schema, directory):
    from shared.landing.events import parse_renamed
    from tools.events import renamed_event

    event = renamed_event(f"{ACCT}/landing/tmp/_temporary/0/x", f"{ACCT}/landing/in/day1", directory=directory,
                          schema=schema)
    assert ".dfs.core.windows.net/" in event["data"]["destinationUrl"]  # as ADLS Gen2 sends it
    assert not {"url", "eTag", "contentLength"} & set(event["data"])
    envelope = read_event(event)
    renamed = parse_renamed(envelope.id, envelope.type, envelope.data, subject=envelope.subject)
    assert (renamed.location.account_url, renamed.location.container, renamed.location.path) == \
        (ACCT, "landing", "in/day1")
    assert renamed.directory is directory and renamed.api == ("RenameDirectory" if directory else "RenameFile")
    assert "tmp/_temporary/0/x" in renamed.source
    # a delivery that lost the type (an old worker decoding a CloudEvent) is still read as a rename
    lost = parse_renamed(envelope.id, None, envelope.data, subject=envelope.subject)
    assert lost == renamed


@pytest.mark.parametrize("change, reason", [
    ({"destinationUrl": f"{ACCT}/landing/other/day1"}, "name_mismatch"),    # subject and url disagree
    ({"destinationUrl": None}, "malformed"),
    ({"destinationUrl": f"{ACCT}/landing/in/day1?sig=abc&se=1"}, "malformed"),  # a SAS never comes from Event Grid
])
def test_an_unusable_rename_is_skipped_with_a_reason(change, reason):
    from shared.landing.events import parse_renamed
    from tools.events import renamed_event

    event = renamed_event(f"{ACCT}/landing/tmp/x", f"{ACCT}/landing/in/day1", directory=True)
    event["data"].update(change)
    envelope = read_event(event)
    with pytest.raises(SkipEvent) as info:
        parse_renamed(envelope.id, envelope.type, envelope.data, subject=envelope.subject)
    assert info.value.reason == reason


def test_a_rename_to_a_dot_segment_is_unsafe():
    from shared.landing.events import parse_renamed

    data = {"api": "RenameDirectory", "destinationUrl": f"{ACCT}/landing/in/%2e%2e", "sourceUrl": f"{ACCT}/landing/t"}
    with pytest.raises(SkipEvent) as info:
        parse_renamed("e", "Microsoft.Storage.DirectoryRenamed", data,
                      subject="/blobServices/default/containers/landing/blobs/in/%2e%2e")
    assert info.value.reason == "unsafe_name"
