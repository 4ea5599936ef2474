"""Blob clients from the Azure Functions connection convention.

A connection named ``NAME`` is either a connection string in the app setting ``NAME`` (including
``UseDevelopmentStorage=true``), or an identity-based connection: ``NAME__blobServiceUri`` /
``NAME__serviceUri`` / ``NAME__accountName``, with managed identity (``NAME__clientId`` for a
user-assigned one).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Mapping, Optional

from ..config.loader import is_loopback_url

# Azurite 3.35 knows API versions up to this one; the SDK's newer default is refused without
# --skipApiVersionCheck, so loopback accounts get a version Azurite accepts.
AZURITE_API_VERSION = "2025-11-05"


class StorageConnectionError(LookupError):
    """The named connection has no usable app settings."""


def _parse_connection_string(text: str) -> dict[str, str]:
    pairs = (part.split("=", 1) for part in text.split(";") if "=" in part)
    return {key.strip(): value.strip() for key, value in pairs}


def account_url_of(connection: str, environ: Mapping[str, str] = os.environ) -> str:
    """The blob service URL of a connection, without credentials (pure)."""
    value = environ.get(connection)
    if value:
        if value.strip().lower().startswith("usedevelopmentstorage=true"):
            return "http://127.0.0.1:10000/devstoreaccount1"
        parts = _parse_connection_string(value)
        if parts.get("BlobEndpoint"):
            return parts["BlobEndpoint"].rstrip("/")
        if parts.get("AccountName"):
            protocol = parts.get("DefaultEndpointsProtocol", "https")
            suffix = parts.get("EndpointSuffix", "core.windows.net")
            return f"{protocol}://{parts['AccountName']}.blob.{suffix}"
        raise StorageConnectionError(f"app setting {connection!r} is not a storage connection string")
    for key in (f"{connection}__blobServiceUri", f"{connection}__serviceUri"):
        if environ.get(key):
            return environ[key].rstrip("/")
    if environ.get(f"{connection}__accountName"):
        return f"https://{environ[f'{connection}__accountName']}.blob.core.windows.net"
    raise StorageConnectionError(
        f"storage connection {connection!r} is not configured: set the app setting {connection!r} to a"
        f" connection string, or {connection}__blobServiceUri (managed identity)")


_clients: dict[tuple, Any] = {}
_lock = threading.Lock()


def blob_service_client(connection: str, environ: Mapping[str, str] = os.environ) -> Any:
    """A cached ``BlobServiceClient`` for the connection."""
    value = environ.get(connection)
    key = (connection, value, environ.get(f"{connection}__blobServiceUri"),
           environ.get(f"{connection}__serviceUri"), environ.get(f"{connection}__accountName"))
    with _lock:
        client = _clients.get(key)
        if client is not None:
            return client
        from azure.storage.blob import BlobServiceClient  # deferred: keeps cold start fast

        account_url = account_url_of(connection, environ)
        extra = {"api_version": AZURITE_API_VERSION} if is_loopback_url(account_url) else {}
        if value:
            if value.strip().lower().startswith("usedevelopmentstorage=true"):
                value = "UseDevelopmentStorage=true"
            client = BlobServiceClient.from_connection_string(value, **extra)
        else:
            client = BlobServiceClient(account_url, credential=_managed_identity(connection, environ), **extra)
        _clients[key] = client
        return client


def _managed_identity(connection: str, environ: Mapping[str, str]) -> Any:
    client_id: Optional[str] = environ.get(f"{connection}__clientId")
    if client_id:
        from azure.identity import ManagedIdentityCredential

        return ManagedIdentityCredential(client_id=client_id)
    from ..identity import default_credential

    return default_credential(environ)


def key_credential(connection: str, environ: Mapping[str, str] = os.environ) -> Optional[tuple[str, str]]:
    """``(account_name, account_key)`` for key-based connections (used to sign SAS), else ``None``."""
    value = environ.get(connection) or ""
    if value.strip().lower().startswith("usedevelopmentstorage=true"):
        from ..storage.uris import account_name

        return account_name(account_url_of(connection, environ)), \
            "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
    parts = _parse_connection_string(value)
    if parts.get("AccountName") and parts.get("AccountKey"):
        return parts["AccountName"], parts["AccountKey"]
    return None
