"""Resolve job URIs to blobs and move files between blob storage and local scratch dirs.

Synchronous (azure-storage-blob); the runner calls these through asyncio.to_thread.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
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


@dataclass(frozen=True)
class BlobLocation:
    account: str
    container: str
    path: str  # blob name or folder prefix, no leading '/'
    datastore: str | None = None

    def child(self, name: str) -> "BlobLocation":
        return BlobLocation(self.account, self.container, f"{self.path.rstrip('/')}/{name}".lstrip("/"), self.datastore)

    @property
    def parent(self) -> "BlobLocation":
        return BlobLocation(self.account, self.container, self.path.rstrip("/").rpartition("/")[0], self.datastore)

    @property
    def basename(self) -> str:
        return self.path.rstrip("/").rpartition("/")[2]

    def __str__(self) -> str:
        return f"{self.account}/{self.container}/{self.path}"


class Storage:
    def __init__(self, config: EmulatorConfig) -> None:
        self._config = config
        self._services: dict[str, BlobServiceClient] = {}

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
            return BlobLocation(account, segments[0], "/".join(segments[1:]))
        raise StorageError(f"Unsupported URI '{uri}'. Use azureml://datastores/<ds>/paths/<path> or a blob URL.")

    def container(self, loc: BlobLocation) -> ContainerClient:
        svc = self._services.get(loc.account)
        if svc is None:
            conn = self._config.storage_accounts[loc.account].connection_string
            svc = self._services[loc.account] = BlobServiceClient.from_connection_string(conn)
        return svc.get_container_client(loc.container)

    def list_folder(self, loc: BlobLocation) -> list[str]:
        """Blob names directly in the folder; nested 'folders' are not explored (contract §4.1)."""
        prefix = loc.path.rstrip("/") + "/" if loc.path.strip("/") else ""
        try:
            items = list(self.container(loc).walk_blobs(name_starts_with=prefix, delimiter="/"))
        except ResourceNotFoundError as exc:
            raise StorageError(f"Container '{loc.container}' not found for input '{loc}'.") from exc
        return sorted(i.name for i in items if not isinstance(i, BlobPrefix))

    def exists(self, loc: BlobLocation) -> bool:
        try:
            return self.container(loc).get_blob_client(loc.path).exists()
        except ResourceNotFoundError:
            return False

    def download(self, loc: BlobLocation, blob_name: str, dest: Path) -> None:
        try:
            data = self.container(loc).download_blob(blob_name).readall()
        except ResourceNotFoundError as exc:
            raise StorageError(f"Input '{loc.account}/{loc.container}/{blob_name}' does not exist.") from exc
        dest.write_bytes(data)

    def upload_new(self, loc: BlobLocation, data: bytes) -> None:
        """Create the blob; an existing one fails the job (outputs must be new, contract §1.6)."""
        cc = self.container(loc)
        try:
            cc.create_container()
        except ResourceExistsError:
            pass
        try:
            cc.upload_blob(loc.path, data, overwrite=False)
        except ResourceExistsError as exc:
            raise PathExistsError(str(loc)) from exc
