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


# --- one convention for every service and credential kind --------------------------------------------------

from datetime import datetime, timedelta, timezone  # noqa: E402

from shared.config.connections import resolve  # noqa: E402
from shared.storage.connections import blob_service_client, connection_credential, queue_client  # noqa: E402

SAS_SIG = "c2FzLXNpZ25hdHVyZS12YWx1ZQ%3D%3D"
SAS_CONNECTION = ("BlobEndpoint=https://acct.blob.core.windows.net/;QueueEndpoint=https://acct.queue.core.windows.net;"
                  f"SharedAccessSignature=sv=2022-11-02&ss=bq&srt=sco&sp=rwl&sig={SAS_SIG}")


def test_sas_connection_strings_resolve_to_credential_free_urls():
    blob = resolve("S", {"S": SAS_CONNECTION}, "blob")
    queue = resolve("S", {"S": SAS_CONNECTION}, "queue")
    assert (blob.kind, blob.url) == ("sas", "https://acct.blob.core.windows.net")
    assert queue.url == "https://acct.queue.core.windows.net"
    assert SAS_SIG not in repr(blob) and blob.sas_token.endswith(SAS_SIG)
    assert key_credential("S", {"S": SAS_CONNECTION}) is None
    # AccountName + SAS, no endpoints
    assert account_url_of("S", {"S": f"AccountName=acct;SharedAccessSignature=?sv=1&sig={SAS_SIG}"}) \
        == "https://acct.blob.core.windows.net"


@pytest.mark.parametrize("environ, service, url, kind", [
    ({"S": "UseDevelopmentStorage=true"}, "queue", "http://127.0.0.1:10001/devstoreaccount1", "development"),
    ({"S": "AccountName=a;AccountKey=k;EndpointSuffix=core.chinacloudapi.cn"}, "queue",
     "https://a.queue.core.chinacloudapi.cn", "key"),
    ({"S__queueServiceUri": "https://a.queue.core.windows.net/"}, "queue", "https://a.queue.core.windows.net",
     "identity"),
    ({"S__serviceUri": "https://a.queue.core.windows.net"}, "queue", "https://a.queue.core.windows.net", "identity"),
    ({"S__accountName": "a"}, "queue", "https://a.queue.core.windows.net", "identity"),
    ({"S__blobServiceUri": f"https://a.blob.core.windows.net/?sv=1&sig={SAS_SIG}"}, "blob",
     "https://a.blob.core.windows.net", "identity"),
])
def test_every_service_follows_the_same_convention(environ, service, url, kind):
    connection = resolve("S", environ, service)
    assert (connection.url, connection.kind) == (url, kind)


def test_identity_settings_choose_the_credential():
    from azure.identity import ClientSecretCredential, ManagedIdentityCredential

    user_assigned = resolve("S", {"S__accountName": "a", "S__clientId": "cid", "S__credential": "managedidentity"})
    assert isinstance(connection_credential(user_assigned), ManagedIdentityCredential)
    principal = resolve("S", {"S__accountName": "a", "S__clientId": "c", "S__tenantId": "t",
                              "S__clientSecret": "topsecret"})
    assert isinstance(connection_credential(principal), ClientSecretCredential)
    assert "topsecret" not in repr(principal)
    assert connection_credential(resolve("S", {"S": SAS_CONNECTION})) is None


@pytest.mark.parametrize("value", ["just-a-secret-value-XYZ", "AccountKey=XYZsecret", "BlobEndpoint=ftp://XYZhost;AccountKey=k"])
def test_unusable_connection_strings_are_explained_without_their_value(value):
    with pytest.raises(StorageConnectionError) as caught:
        account_url_of("S", {"S": value})
    assert "XYZ" not in str(caught.value) and "'S'" in str(caught.value)


def test_a_sas_connection_string_reads_writes_and_queues_on_azurite(azurite):
    from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

    from shared.delivery.activities import DeliveryConfigError, StorageClients
    from shared.storage.uris import BlobLocation

    account = azurite.default
    sas = generate_account_sas(account.name, account.key, ResourceTypes(service=True, container=True, object=True),
                               AccountSasPermissions(read=True, write=True, create=True, list=True, add=True,
                                                     process=True),
                               expiry=datetime.now(timezone.utc) + timedelta(hours=1), services="bq")
    sig = sas.split("sig=")[1].split("&")[0]
    environ = {"SASCONN": f"BlobEndpoint={account.blob_url};QueueEndpoint={account.queue_url};"
                          f"SharedAccessSignature={sas}"}
    service = blob_service_client("SASCONN", environ)
    container = service.get_container_client("sas-conn-test")
    if not container.exists():
        container.create_container()
    container.upload_blob("a.txt", b"hello", overwrite=True)
    assert container.download_blob("a.txt").readall() == b"hello"
    assert account_url_of("SASCONN", environ) == account.blob_url

    # delivery reaches the sink through the SAS connection (it compared a URL carrying the SAS before)
    clients = StorageClients(environ)
    blob = clients.blob("SASCONN", BlobLocation(account.blob_url, "sas-conn-test", "a.txt"))
    assert blob.download_blob().readall() == b"hello"
    with pytest.raises(DeliveryConfigError) as caught:
        clients.blob("SASCONN", BlobLocation("https://other.blob.core.windows.net", "c", "a.txt"))
    assert sig not in str(caught.value)

    queue = queue_client("SASCONN", "sas-conn-queue", environ)
    try:
        queue.create_queue()
    except Exception as exc:  # already there from an earlier run of this session
        assert getattr(exc, "error_code", None) == "QueueAlreadyExists"
    queue.send_message("hi")
    assert [m.content for m in queue.receive_messages()] == ["hi"]
