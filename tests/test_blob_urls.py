"""The one storage-URL module: every reader of a storage URL (paths, configuration checks, blob locations,
sinks, events, tools) splits it the same way. Parsing only: no address here is ever contacted."""

import pytest

from shared import blob_urls
from shared.config import checks
from shared.config.loader import sink_default_name
from shared.delivery.sinks import blob_endpoint_url
from shared.paths import InvalidName
from shared.storage.uris import BlobLocation, parse_blob_url
from shared.blob_urls import (StorageUrl, account_name, canonical_account_url, is_path_style_host,
                                 join_storage_url, same_account, split_storage_url, try_split_storage_url)

# An emulator on a non-loopback IP literal is path-style like Azurite on 127.0.0.1 (the storage SDKs' URI
# builders decide by "IP literal or localhost"). Before one module owned this, shared/paths.py read container
# 'cont' here and shared/config/checks.py read container 'acct'.
PRIVATE_IP_URL = "http://10.0.0.5:10000/acct/cont/p"


def test_a_private_ip_emulator_url_is_path_style_in_every_reader():
    expected = StorageUrl("http://10.0.0.5:10000/acct", "cont", "p")
    assert split_storage_url(PRIVATE_IP_URL) == expected
    assert try_split_storage_url(PRIVATE_IP_URL) == expected
    assert parse_blob_url(PRIVATE_IP_URL) == BlobLocation("http://10.0.0.5:10000/acct", "cont", "p")
    assert account_name("http://10.0.0.5:10000/acct") == "acct"
    assert sink_default_name(PRIVATE_IP_URL) == "acct/cont"
    assert blob_endpoint_url(PRIVATE_IP_URL) == PRIVATE_IP_URL


@pytest.mark.parametrize("host, path_style", [
    ("127.0.0.1", True), ("127.0.0.1:10000", True), ("10.0.0.5", True), ("10.0.0.5:10000", True),
    ("localhost", True), ("LOCALHOST:10000", True), ("[::1]", True), ("[::1]:10000", True), ("::1", True),
    ("[fd00::5]:10000", True),
    ("acct.blob.core.windows.net", False), ("acct.dfs.core.windows.net:443", False), ("999.1.1.1", False),
    ("10.0.0.5.example.com", False), ("localhost.example.com", False), ("", False),
])
def test_path_style_is_an_ip_literal_or_localhost(host, path_style):
    assert is_path_style_host(host) is path_style


@pytest.mark.parametrize("url, expected", [
    ("https://acct.blob.core.windows.net/c/a/b.csv", ("https://acct.blob.core.windows.net", "c", "a/b.csv")),
    ("https://ACCT.dfs.core.windows.net/fs/d/e", ("https://acct.blob.core.windows.net", "fs", "d/e")),
    ("abfss://fs@acct.dfs.core.windows.net/d/e", ("https://acct.blob.core.windows.net", "fs", "d/e")),
    ("http://127.0.0.1:10000/devstoreaccount1/c/n", ("http://127.0.0.1:10000/devstoreaccount1", "c", "n")),
    ("http://localhost:10000/devstoreaccount1/c/", ("http://localhost:10000/devstoreaccount1", "c", "")),
    ("http://[::1]:10000/devstoreaccount1/c/n", ("http://[::1]:10000/devstoreaccount1", "c", "n")),
])
def test_every_form_splits_to_one_account_container_and_rest(url, expected):
    assert tuple(split_storage_url(url)) == expected
    assert tuple(try_split_storage_url(url)) == expected


@pytest.mark.parametrize("url", ["https://acct.blob.core.windows.net/c/a#b?c", "http://10.0.0.5:10000/acct/cont/p%20q",
                                 "http://127.0.0.1:10000/devstoreaccount1/c/"])
def test_join_is_the_inverse_of_split(url):
    parts = split_storage_url(url)
    assert join_storage_url(*parts) == parts.url == url


def test_the_blob_and_dfs_endpoints_are_one_account():
    assert same_account("https://acct.dfs.core.windows.net/", "https://ACCT.blob.core.windows.net:443")
    assert not same_account("http://10.0.0.5:10000/acct", "http://10.0.0.5:10000/other")
    assert canonical_account_url("http://10.0.0.5:10000/acct/") == "http://10.0.0.5:10000/acct"


def test_a_template_splits_without_name_checks_but_a_real_url_is_checked():
    assert try_split_storage_url("https://acct.blob.core.windows.net/{route}/x").container == "{route}"
    assert "{route}" in try_split_storage_url("https://{route}.blob.core.windows.net/c/x").account_url
    with pytest.raises(InvalidName, match="host"):
        split_storage_url("https://{route}.blob.core.windows.net/c/x")
    with pytest.raises(InvalidName, match="container"):
        split_storage_url("https://acct.blob.core.windows.net/{route}/x")
    assert try_split_storage_url("http://10.0.0.5:10000/acct") is None  # no container
    assert try_split_storage_url("ftp://acct.blob.core.windows.net/c/x") is None


def test_configuration_checks_read_the_private_ip_emulator_url_the_same_way():
    """A sink on a non-loopback emulator is refused for its scheme (http only on loopback), not misread."""
    problems = checks.sink_url(PRIVATE_IP_URL)
    assert problems and all("container" not in p for p in problems)
    assert checks.sink_url("http://127.0.0.1:10000/devstoreaccount1/cont/p/{run_id}.csv") == []


def test_no_other_module_splits_blob_urls():
    """The splitters that used to disagree are gone: one home."""
    from shared import paths
    from shared.storage import uris

    for module in (paths, checks, uris):
        for name in ("split_storage_url", "canonical_account_url", "abfss_to_blob_url", "is_path_style_host",
                     "is_path_style"):
            assert getattr(module, name, None) in (None, getattr(blob_urls, name, None)), (module, name)
