import pytest

from shared.config.models import Datastore
from shared.storage.uris import BlobLocation, input_uri_for, parse_azureml_uri, parse_blob_url, resolve_azureml_uri
from shared.blob_urls import account_name

DATASTORES = {"landingstore": Datastore("landingstore", "https://landing.blob.core.windows.net", "landing"),
              "local": Datastore("local", "http://127.0.0.1:10000/devstoreaccount1", "azureml-blobstore")}


def test_azure_and_azurite_blob_urls_split_into_account_container_and_path():
    azure = parse_blob_url("https://landing.blob.core.windows.net/landing/heart/2024/a%20b.csv")
    assert azure == BlobLocation("https://landing.blob.core.windows.net", "landing", "heart/2024/a b.csv")
    assert azure.account_name == "landing"
    azurite = parse_blob_url("http://127.0.0.1:10000/devstoreaccount1/landing/heart/x.csv")
    assert azurite == BlobLocation("http://127.0.0.1:10000/devstoreaccount1", "landing", "heart/x.csv")
    assert azurite.account_name == "devstoreaccount1"
    assert azurite.url == "http://127.0.0.1:10000/devstoreaccount1/landing/heart/x.csv"


@pytest.mark.parametrize("url", ["ftp://a/b/c", "https://acct.blob.core.windows.net/", "http://127.0.0.1:10000/acct"])
def test_non_blob_urls_are_rejected(url):
    with pytest.raises(ValueError):
        parse_blob_url(url)


def test_registered_containers_become_datastore_uris_others_stay_https():
    folder = BlobLocation("https://landing.blob.core.windows.net", "landing", "heart/2024/")
    assert input_uri_for(folder, DATASTORES) == "azureml://datastores/landingstore/paths/heart/2024/"
    other = BlobLocation("https://other.blob.core.windows.net", "landing", "heart/2024/")
    assert input_uri_for(other, DATASTORES) == "https://other.blob.core.windows.net/landing/heart/2024/"


def test_datastore_uris_resolve_back_to_blob_locations():
    datastore, location = resolve_azureml_uri("azureml://datastores/local/paths/batch/r1/predictions.csv",
                                              DATASTORES)
    assert datastore.name == "local"
    assert location.url == "http://127.0.0.1:10000/devstoreaccount1/azureml-blobstore/batch/r1/predictions.csv"
    assert parse_azureml_uri("azureml://datastores/a/paths/b/c") == ("a", "b/c")
    with pytest.raises(KeyError, match="not in the datastores map"):
        resolve_azureml_uri("azureml://datastores/missing/paths/x", DATASTORES)
    assert account_name("https://acct.blob.core.windows.net") == "acct"


def test_datastore_uris_encode_unusual_names_and_read_them_back():
    from shared.storage.uris import azureml_uri

    for path in ("heart/2024/", "in#box/what?/lit%20/sp ace/caf\u00e9/", "a+b/"):
        uri = azureml_uri("ds", path)
        assert "#" not in uri and "?" not in uri and " " not in uri
        assert parse_azureml_uri(uri) == ("ds", path)
    assert azureml_uri("ds", "heart/2024/x.csv") == "azureml://datastores/ds/paths/heart/2024/x.csv"
