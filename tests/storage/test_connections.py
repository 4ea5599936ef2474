import pytest

from shared.storage.connections import StorageConnectionError, account_url_of, key_credential

AZURITE = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
           "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;")


def test_connection_strings_and_identity_based_connections_give_account_urls():
    assert account_url_of("S", {"S": AZURITE}) == "http://127.0.0.1:10000/devstoreaccount1"
    assert account_url_of("S", {"S": "UseDevelopmentStorage=true"}) == "http://127.0.0.1:10000/devstoreaccount1"
    assert account_url_of("S", {"S": "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=k;"
                                     "EndpointSuffix=core.windows.net"}) == "https://acct.blob.core.windows.net"
    assert account_url_of("S", {"S__blobServiceUri": "https://acct.blob.core.windows.net/"}) \
        == "https://acct.blob.core.windows.net"
    assert account_url_of("S", {"S__accountName": "acct"}) == "https://acct.blob.core.windows.net"


def test_a_missing_connection_names_the_settings_to_set():
    with pytest.raises(StorageConnectionError, match="CURATED__blobServiceUri"):
        account_url_of("CURATED", {})


def test_key_credentials_only_for_key_based_connections():
    assert key_credential("S", {"S": AZURITE}) == ("devstoreaccount1", "a2V5")
    assert key_credential("S", {"S__blobServiceUri": "https://acct.blob.core.windows.net"}) is None
