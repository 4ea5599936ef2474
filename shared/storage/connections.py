"""Storage clients from the Azure Functions connection convention.

Which app settings make up a connection is decided in :mod:`shared.config.connections` (pure, shared with
configuration checks); this module turns that description into Blob and Queue clients: connection strings
(account key, SAS, ``UseDevelopmentStorage=true``) through ``from_connection_string``, identity-based
connections through a credential (managed identity, ``NAME__clientId`` for a user-assigned one, a service
principal, or ``DefaultAzureCredential``).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Mapping, Optional

from ..config.checks import is_loopback_url
from ..config.connections import (DEVSTORE_KEY, StorageConnection, StorageConnectionError, account_url_of,
                                  resolve, setting_names)

__all__ = ["AZURITE_API_VERSION", "StorageConnectionError", "account_url_of", "blob_service_client",
           "connection_credential", "key_credential", "queue_client", "resolve"]

# Azurite 3.35 knows API versions up to this one; the SDK's newer default is refused without
# --skipApiVersionCheck, so loopback accounts get a version Azurite accepts.
AZURITE_API_VERSION = "2025-11-05"

_clients: dict[tuple, Any] = {}
_lock = threading.Lock()


def _loopback_options(url: str) -> dict:
    return {"api_version": AZURITE_API_VERSION} if is_loopback_url(url) else {}


def connection_credential(connection: StorageConnection, environ: Mapping[str, str] = os.environ) -> Any:
    """The credential of an identity-based connection (``None`` for connection strings)."""
    if connection.kind != "identity":
        return None
    if connection.client_secret and connection.tenant_id and connection.client_id:
        from azure.identity import ClientSecretCredential

        return ClientSecretCredential(connection.tenant_id, connection.client_id, connection.client_secret)
    if connection.client_id or connection.credential == "managedidentity":
        from azure.identity import ManagedIdentityCredential

        return ManagedIdentityCredential(client_id=connection.client_id) if connection.client_id \
            else ManagedIdentityCredential()
    from ..identity import default_credential

    return default_credential(environ)


def blob_service_client(name: str, environ: Mapping[str, str] = os.environ, **client_options: Any) -> Any:
    """A ``BlobServiceClient`` for connection ``name``; cached per process unless ``client_options`` are given
    (e.g. ``transport=`` or ``retry_total=`` in tests)."""
    key = (name, tuple(environ.get(setting) for setting in setting_names(name)))
    if not client_options:
        with _lock:
            client = _clients.get(key)
            if client is not None:
                return client
    from azure.storage.blob import BlobServiceClient  # deferred: keeps cold start fast

    connection = resolve(name, environ, "blob")
    options = {**_loopback_options(connection.url), **client_options}
    if connection.connection_string:
        client = BlobServiceClient.from_connection_string(connection.connection_string, **options)
    else:
        client = BlobServiceClient(connection.url, credential=connection_credential(connection, environ), **options)
    if not client_options:
        with _lock:
            client = _clients.setdefault(key, client)
    return client


def queue_client(name: str, queue: str, environ: Mapping[str, str] = os.environ, **client_options: Any) -> Any:
    """A ``QueueClient`` for ``queue`` on connection ``name`` (``NAME__queueServiceUri`` for managed identity)."""
    from azure.storage.queue import QueueClient

    connection = resolve(name, environ, "queue")
    options = {**_loopback_options(connection.url), **client_options}
    if connection.connection_string:
        return QueueClient.from_connection_string(connection.connection_string, queue, **options)
    return QueueClient(connection.url, queue, credential=connection_credential(connection, environ), **options)


def key_credential(name: str, environ: Mapping[str, str] = os.environ) -> Optional[tuple[str, str]]:
    """``(account_name, account_key)`` for key-based connections (used to sign SAS), else ``None``."""
    try:
        connection = resolve(name, environ, "blob")
    except StorageConnectionError:
        return None
    if connection.kind == "development":
        from ..blob_urls import account_name

        return account_name(connection.url), DEVSTORE_KEY
    if connection.kind == "key" and connection.account_name and connection.account_key:
        return connection.account_name, connection.account_key
    return None
