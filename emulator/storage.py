"""Resolve job URIs to blobs and move files between blob storage and local scratch dirs.

Synchronous (azure-storage-blob); the runner calls these through asyncio.to_thread.

An input URL that carries a SAS (a query with ``sig``) is read with that SAS alone, never with the emulator's
account key: the storage service (Azurite validates SAS tokens for real) decides, as it does for the real
batch service's compute. A refusal becomes a :class:`StorageAccessError` naming the storage error code.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobPrefix, BlobServiceClient, ContainerClient

from .config import EmulatorConfig

# azureml://datastores/<ds>/paths/<p>, the long azureml://subscriptions/.../datastores/<ds>/paths/<p>,
# and the ARM-id form /subscriptions/.../datastores/<ds>/paths/<p> (contract §1.5).
_DATASTORE_URI = re.compile(r"^(?:azureml:/)?/.*?datastores/(?P<ds>[^/]+)/paths/(?P<path>.*)$", re.IGNORECASE)
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


class StorageError(Exception):
    """A URI cannot be mapped or read; becomes a 400 at submit or a failed job."""


class PathExistsError(StorageError):
    pass


class StorageAccessError(StorageError):
    """The storage service refused a read (a SAS expired, without the permission, badly signed, …)."""

    def __init__(self, message: str, error_code: str) -> None:
        super().__init__(message)
        self.error_code = error_code


_T = TypeVar("_T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BlobLocation:
    account: str
    container: str
    path: str  # blob name or folder prefix, no leading '/'
    datastore: str | None = None
    # the SAS query of the input URL, without '?': read with it instead of the account key. Kept out of
    # repr/str/equality so it never reaches a log line or a message through this object.
    sas: str | None = field(default=None, repr=False, compare=False)

    def child(self, name: str) -> "BlobLocation":
        return BlobLocation(self.account, self.container, f"{self.path.rstrip('/')}/{name}".lstrip("/"),
                            self.datastore, self.sas)

    @property
    def parent(self) -> "BlobLocation":
        return BlobLocation(self.account, self.container, self.path.rstrip("/").rpartition("/")[0], self.datastore,
                            self.sas)

    @property
    def basename(self) -> str:
        return self.path.rstrip("/").rpartition("/")[2]

    def __str__(self) -> str:
        return f"{self.account}/{self.container}/{self.path}"


class Storage:
    def __init__(self, config: EmulatorConfig) -> None:
        self._config = config
        self._services: dict[str, BlobServiceClient] = {}
        # called after each blob a job writes: (url, etag, size, container, path), from the writing thread
        self.on_created: list[Callable[[str, str, int, str, str], None]] = []

    def resolve(self, uri: str) -> BlobLocation:
        from .assets import expand  # data-asset ids and abfss:// inputs (emulator/assets.py)

        uri = expand(self._config.data_assets, uri)
        m = _DATASTORE_URI.match(uri)
        if m and (uri.lower().startswith("azureml:") or uri.startswith("/")):
            ds = self._config.datastores.get(m.group("ds"))
            if ds is None:
                raise StorageError(f"Datastore '{m.group('ds')}' not found in workspace "
                                   f"'{self._config.workspace.workspace_name}'.")
            return BlobLocation(ds.account, ds.container, unquote(m.group("path")).lstrip("/"), ds.name)
        parts = urlsplit(uri)
        if parts.scheme in ("http", "https") and parts.hostname:
            segments = unquote(parts.path).lstrip("/").split("/")
            if parts.hostname in _LOOPBACK:  # Azurite path-style: /<account>/<container>/<path>
                account, segments = segments[0], segments[1:]
            else:  # https://<account>.blob.core.windows.net/<container>/<path>
                account = parts.hostname.split(".")[0]
            if len(segments) < 1 or not segments[0]:
                raise StorageError(f"URI '{uri}' does not name a container.")
            if account not in self._config.storage_accounts:
                raise StorageError(f"Storage account '{account}' of URI '{uri}' is not configured in the emulator.")
            return BlobLocation(account, segments[0], "/".join(segments[1:]), sas=_sas_of(parts.query))
        raise StorageError(f"Unsupported URI '{uri}'. Use azureml://datastores/<ds>/paths/<path> or a blob URL.")

    def _service(self, account: str) -> BlobServiceClient:
        svc = self._services.get(account)
        if svc is None:
            conn = self._config.storage_accounts[account].connection_string
            svc = self._services[account] = BlobServiceClient.from_connection_string(conn)
        return svc

    def container(self, loc: BlobLocation) -> ContainerClient:
        svc = self._service(loc.account)
        if loc.sas:  # the account's endpoint, the URL's SAS as the only credential
            return ContainerClient(svc.url, loc.container, credential=loc.sas)
        return svc.get_container_client(loc.container)

    def list_folder(self, loc: BlobLocation) -> list[str]:
        """Blob names directly in the folder; nested 'folders' are not explored (contract §4.1)."""
        prefix = loc.path.rstrip("/") + "/" if loc.path.strip("/") else ""
        try:
            items = _refusals(loc, loc.path, lambda: list(
                self.container(loc).walk_blobs(name_starts_with=prefix, delimiter="/")))
        except ResourceNotFoundError as exc:
            raise StorageError(f"Container '{loc.container}' not found for input '{loc}'.") from exc
        return sorted(i.name for i in items if not isinstance(i, BlobPrefix))

    def exists(self, loc: BlobLocation) -> bool:
        try:
            return _refusals(loc, loc.path, lambda: self.container(loc).get_blob_client(loc.path).exists())
        except ResourceNotFoundError:
            return False

    def download(self, loc: BlobLocation, blob_name: str, dest: Path) -> None:
        try:
            data = _refusals(loc, blob_name, lambda: self.container(loc).download_blob(blob_name).readall())
        except ResourceNotFoundError as exc:
            raise StorageError(f"Input '{loc.account}/{loc.container}/{blob_name}' does not exist.") from exc
        dest.write_bytes(data)

    def upload_new(self, loc: BlobLocation, data: bytes, *, owner: str | None = None) -> None:
        """Create the blob; an existing one fails the job (outputs must be new, contract §1.6).

        ``owner`` (the writing job's name) is kept in the blob's metadata: when the storage SDK's own retry of
        a slow create finds the blob that same create wrote, the job's write succeeded and must not fail the
        job. A blob written by any other job still fails it."""
        cc = self.container(loc)
        try:
            cc.create_container()
        except ResourceExistsError:
            pass
        metadata = {"emulator_job": owner} if owner else None
        try:
            written = cc.get_blob_client(loc.path).upload_blob(data, overwrite=False, metadata=metadata)
        except ResourceExistsError as exc:
            if not (owner and _written_by(cc, loc.path, owner)):
                raise PathExistsError(str(loc)) from exc
            # this job's own earlier create (its answer was lost): Event Grid announced that create
            written = {"etag": cc.get_blob_client(loc.path).get_blob_properties().etag}
        if self.on_created:   # e.g. the BlobCreated events of outputs (emulator/events.py); never fails the job
            try:
                etag = str(written.get("etag") or "")
                for hook in self.on_created:
                    hook(f"{cc.url.rstrip('/')}/{loc.path}", etag, len(data), loc.container, loc.path)
            except Exception:  # noqa: BLE001 - a lost event, as Event Grid may lose one
                log.warning("could not announce output blob %s", loc, exc_info=True)


def _written_by(cc: Any, name: str, owner: str) -> bool:
    try:
        return (cc.get_blob_client(name).get_blob_properties().metadata or {}).get("emulator_job") == owner
    except ResourceNotFoundError:
        return False


def _sas_of(query: str) -> str | None:
    """The query string when it is a SAS (it has a ``sig``); any other query is ignored, as before."""
    return query if query and "sig" in parse_qs(query, keep_blank_values=True) else None


def _refusals(loc: BlobLocation, blob: str, call: Callable[[], _T]) -> _T:
    """Run a read; a 401/403 from the storage service becomes a StorageAccessError with its error code and
    the first line of its message (the rest may quote the string-to-sign). 404s pass through unchanged."""
    try:
        return call()
    except ResourceNotFoundError:
        raise
    except HttpResponseError as exc:
        if exc.status_code not in (401, 403):
            raise
        code = _error_code(exc)
        first_line = (exc.reason or "") if not str(exc.message or "").strip() else str(exc.message).splitlines()[0]
        how = " with the SAS token of its URI" if loc.sas else ""
        raise StorageAccessError(f"Cannot read input '{loc.account}/{loc.container}/{blob}'{how}: storage answered "
                                 f"{exc.status_code} {code}: {first_line}", code) from None


def _error_code(exc: HttpResponseError) -> str:
    code = getattr(exc, "error_code", None)
    code = getattr(code, "value", code)  # StorageErrorCode is a str Enum
    if not code and exc.response is not None:
        code = exc.response.headers.get("x-ms-error-code")
    return str(code or "AuthorizationFailure")
