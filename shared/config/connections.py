"""The Azure Functions connection convention, in one place (pure: app settings in, a description out).

A connection named ``NAME`` is, in this order:

* a connection string in the app setting ``NAME``: ``UseDevelopmentStorage=true`` (Azurite), an account key
  (``AccountName=...;AccountKey=...``), or a SAS (``BlobEndpoint=...;SharedAccessSignature=sv=...&sig=...``),
  with explicit endpoints (``BlobEndpoint`` / ``QueueEndpoint``) or ``AccountName`` + ``EndpointSuffix``;
* or identity-based: ``NAME__blobServiceUri`` / ``NAME__queueServiceUri`` (per service), ``NAME__serviceUri``
  (the one service the connection is used for) or ``NAME__accountName``; the credential is managed identity
  (``NAME__credential=managedidentity``, ``NAME__clientId`` for a user-assigned one), a service principal
  (``NAME__tenantId`` + ``NAME__clientId`` + ``NAME__clientSecret``), or else ``DefaultAzureCredential``.

Clients are built from this description in :mod:`shared.storage.connections`; this module imports neither the
SDK nor ``shared.storage``. Its errors name the app settings to set and never show a setting's value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal, Mapping, Optional
from urllib.parse import urlsplit

Service = Literal["blob", "queue"]
Kind = Literal["development", "key", "sas", "identity"]

DEVSTORE_ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (public, documented by Microsoft; not a secret).
DEVSTORE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEVSTORE_PORTS = {"blob": 10000, "queue": 10001}
IDENTITY_SUFFIXES = ("blobServiceUri", "queueServiceUri", "serviceUri", "accountName", "credential", "clientId",
                     "tenantId", "clientSecret")


class StorageConnectionError(LookupError):
    """The named connection has no usable app settings (the message names the settings, never their values)."""


@dataclass(frozen=True)
class StorageConnection:
    """How to reach one storage service of a connection. ``url`` never carries a credential."""

    name: str
    service: str
    url: str
    kind: Kind
    account_name: Optional[str] = None
    connection_string: Optional[str] = field(default=None, repr=False)
    account_key: Optional[str] = field(default=None, repr=False)
    sas_token: Optional[str] = field(default=None, repr=False)
    client_id: Optional[str] = None
    tenant_id: Optional[str] = None
    client_secret: Optional[str] = field(default=None, repr=False)
    credential: Optional[str] = None


def parse_connection_string(text: str) -> dict[str, str]:
    """``Key=Value;...`` → ``{lower-case key: value}`` (values keep their '=', e.g. base64 keys and SAS)."""
    pairs = (part.split("=", 1) for part in text.split(";") if "=" in part)
    return {key.strip().lower(): value.strip() for key, value in pairs}


def _credential_free(url: str) -> str:
    """``url`` without user info, query (a SAS) or fragment, and without a trailing '/'."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}".rstrip("/")


def setting_names(name: str) -> tuple[str, ...]:
    """Every app setting that can shape connection ``name`` (for cache keys)."""
    return (name, *(f"{name}__{suffix}" for suffix in IDENTITY_SUFFIXES))


def resolve(name: str, environ: Mapping[str, str] = os.environ, service: Service = "blob") -> StorageConnection:
    """The connection ``name`` for ``service`` per the Functions convention, or :class:`StorageConnectionError`."""
    value = (environ.get(name) or "").strip()
    if value:
        return _from_connection_string(name, value, service)
    for suffix in (f"{service}ServiceUri", "serviceUri"):
        uri = environ.get(f"{name}__{suffix}")
        if uri:
            url = _credential_free(uri)
            if not url.startswith(("https://", "http://")):
                raise StorageConnectionError(f"app setting {name}__{suffix} is not an http(s) URL")
            return _identity(name, service, url, environ)
    account = environ.get(f"{name}__accountName")
    if account:
        return _identity(name, service, f"https://{account.strip()}.{service}.core.windows.net", environ,
                         account_name=account.strip())
    raise StorageConnectionError(
        f"storage connection {name!r} is not configured: set the app setting {name!r} to a connection string,"
        f" or {name}__{service}ServiceUri (managed identity)")


def _identity(name: str, service: str, url: str, environ: Mapping[str, str], *,
              account_name: Optional[str] = None) -> StorageConnection:
    get = lambda suffix: environ.get(f"{name}__{suffix}") or None  # noqa: E731
    return StorageConnection(name, service, url, "identity", account_name=account_name, client_id=get("clientId"),
                             tenant_id=get("tenantId"), client_secret=get("clientSecret"),
                             credential=(get("credential") or "").lower() or None)


def _from_connection_string(name: str, value: str, service: str) -> StorageConnection:
    parts = parse_connection_string(value)
    if parts.get("usedevelopmentstorage", "").lower() == "true":
        url = f"http://127.0.0.1:{DEVSTORE_PORTS[service]}/{DEVSTORE_ACCOUNT}"
        return StorageConnection(name, service, url, "development", account_name=DEVSTORE_ACCOUNT,
                                 connection_string="UseDevelopmentStorage=true", account_key=DEVSTORE_KEY)
    endpoint = parts.get(f"{service}endpoint")
    account = parts.get("accountname") or None
    if endpoint:
        url = _credential_free(endpoint)
    elif account:
        protocol = parts.get("defaultendpointsprotocol") or "https"
        suffix = parts.get("endpointsuffix") or "core.windows.net"
        url = f"{protocol}://{account}.{service}.{suffix}"
    else:
        raise StorageConnectionError(f"app setting {name!r} is not a storage connection string with a {service}"
                                     f" endpoint (it needs AccountName or {service.capitalize()}Endpoint)")
    if not url.startswith(("https://", "http://")):
        raise StorageConnectionError(f"app setting {name!r}: {service.capitalize()}Endpoint is not an http(s) URL")
    key = parts.get("accountkey") or None
    sas = (parts.get("sharedaccesssignature") or "").lstrip("?") or None
    if not key and not sas:
        raise StorageConnectionError(f"app setting {name!r} is a connection string without AccountKey or"
                                     " SharedAccessSignature")
    return StorageConnection(name, service, url, "key" if key else "sas", account_name=account,
                             connection_string=value, account_key=key, sas_token=None if key else sas)


def account_url_of(connection: str, environ: Mapping[str, str] = os.environ) -> str:
    """The blob service URL of a connection, without credentials (pure)."""
    return resolve(connection, environ, "blob").url
