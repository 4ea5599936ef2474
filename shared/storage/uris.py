"""Pure helpers for blob locations and ``azureml://datastores/...`` URIs. No Azure SDK imports.

A :class:`BlobLocation` is checked when it is made (container grammar; a path with no '.'/'..' segment, even
percent-encoded, no backslash, control character or '//'; see :mod:`shared.paths`), so no code can build a
location outside its container. Its ``url`` is always percent-encoded; :func:`parse_blob_url` reads such URLs
back (decoding once) and refuses a query or fragment instead of silently cutting the path there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Optional
from urllib.parse import quote, unquote

from ..config.models import Datastore
from ..paths import InvalidName, check_container_name, check_relative_path
from ..blob_urls import account_name, join_storage_url, same_account, split_storage_url

_AZUREML = re.compile(r"^azureml://datastores/(?P<ds>[^/]+)/paths/(?P<path>.*)$")


@dataclass(frozen=True)
class BlobLocation:
    """A blob (or a folder prefix ending in '/') inside one container of one account."""

    account_url: str
    container: str
    path: str = ""

    def __post_init__(self) -> None:
        check_container_name(self.container)
        check_relative_path(self.path, field="path", decode=False, allow_query_chars=True, allow_empty=True)

    @property
    def url(self) -> str:
        return join_storage_url(self.account_url, self.container, quote(self.path, safe='/'))

    @property
    def account_name(self) -> str:
        return account_name(self.account_url)

    def child(self, name: str) -> "BlobLocation":
        folder = self.path if not self.path or self.path.endswith("/") else self.path + "/"
        return BlobLocation(self.account_url, self.container, folder + name)


def parse_blob_url(url: str) -> BlobLocation:
    """Split a percent-encoded blob URL (``https://acct.blob.core.windows.net/c/p``, the dfs endpoint,
    ``abfss://``, or Azurite's path style) into parts; the path is decoded once. A URL with a query or a
    fragment is refused (``ValueError``): a raw '?' or '#' is never silently cut off a path here. Event URLs,
    whose names may hold raw '#', are read by :mod:`shared.landing.events` instead."""
    try:
        parts = split_storage_url(url)
        if "?" in parts.rest or "#" in parts.rest:
            raise InvalidName("url", "has a query or fragment; encode '?' and '#' in blob names as %3F and %23")
        return BlobLocation(parts.account_url, parts.container, unquote(parts.rest))
    except InvalidName as exc:
        raise ValueError(f"not a blob URL: {exc}") from None


def azureml_uri(datastore: str, path: str) -> str:
    """``azureml://datastores/<datastore>/paths/<path>`` with the path percent-encoded ('/' kept), so a blob name
    with '#', '?', '%' or a space stays one path for the batch service (plain names are unchanged)."""
    return f"azureml://datastores/{datastore}/paths/{quote(path.lstrip('/'), safe='/')}"


def parse_azureml_uri(uri: str) -> tuple[str, str]:
    """``(datastore, path)`` of a datastore URI; the path is decoded once (the inverse of :func:`azureml_uri`)."""
    match = _AZUREML.match(uri)
    if not match:
        raise ValueError(f"not an azureml://datastores/<name>/paths/<path> URI: {uri!r}")
    return match["ds"], unquote(match["path"])


def datastore_for(location: BlobLocation, datastores: Mapping[str, Datastore]) -> Optional[Datastore]:
    for datastore in datastores.values():
        if datastore.container == location.container and same_account(datastore.account_url, location.account_url):
            return datastore
    return None


def input_uri_for(location: BlobLocation, datastores: Mapping[str, Datastore]) -> str:
    """The URI a batch job reads: the datastore form when the container is registered, else the blob URL."""
    datastore = datastore_for(location, datastores)
    if datastore is not None:
        return azureml_uri(datastore.name, location.path)
    return location.url


def resolve_azureml_uri(uri: str, datastores: Mapping[str, Datastore]) -> tuple[Datastore, BlobLocation]:
    name, path = parse_azureml_uri(uri)
    datastore = datastores.get(name)
    if datastore is None:
        raise KeyError(f"datastore {name!r} of {uri!r} is not in the datastores map")
    return datastore, BlobLocation(datastore.account_url, datastore.container, path)
