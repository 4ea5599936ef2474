"""Storage adapter for landing: folder listings, manifest reads, waiter claims (azure-storage-blob).

Blocking calls; the async handler runs them in a thread. ``service_for`` maps a connection name to a
``BlobServiceClient`` and is injectable (the benchmark passes clients that count HTTP calls).
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Optional

from ..config.models import AppSettings, Route
from ..storage.uris import BlobLocation
from .rules import FolderListing

WAITER_PREFIX = "landing/"

ServiceFactory = Callable[[str], Any]


def _default_service(connection: str) -> Any:
    from ..storage.connections import blob_service_client

    return blob_service_client(connection)


class LandingStore:
    def __init__(self, settings: AppSettings, service_for: ServiceFactory = _default_service):
        self.settings = settings
        self._service_for = service_for
        self._ledger: Any = None
        self._lock = threading.Lock()

    # --- the data side ---------------------------------------------------------------------------------
    def _container(self, route: Route, container: str) -> Any:
        return self._service_for(route.match.connection).get_container_client(container)

    def list_folder(self, route: Route, folder: BlobLocation) -> FolderListing:
        """One listing call per 5,000 entries: the folder's top-level blobs and its sub-folder prefixes."""
        return self.scan_folder(route, folder)[0]

    def scan_folder(self, route: Route, folder: BlobLocation) -> tuple[FolderListing, dict[str, str]]:
        """:meth:`list_folder`, plus each top-level blob's ETag (the marker's, to key its run's claim)."""
        files: dict[str, tuple[int, Optional[bytes]]] = {}
        etags: dict[str, str] = {}
        subfolders = []
        container = self._container(route, folder.container)
        for item in container.walk_blobs(name_starts_with=folder.path or None, delimiter="/"):
            relative = item.name[len(folder.path):]
            if item.name.endswith("/") and not hasattr(item, "size"):
                subfolders.append(relative)
                continue
            settings = getattr(item, "content_settings", None)
            md5 = getattr(settings, "content_md5", None) if settings is not None else None
            files[relative] = (int(item.size or 0), bytes(md5) if md5 else None)
            etags[relative] = str(item.etag or "")
        return FolderListing(files, tuple(subfolders)), etags

    def blob_etag(self, route: Route, location: BlobLocation) -> Optional[tuple[str, int]]:
        """``(ETag, size)`` of a blob, ``None`` when it does not exist (one HEAD)."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            props = self._container(route, location.container).get_blob_client(location.path).get_blob_properties()
        except ResourceNotFoundError:
            return None
        return str(props.etag or ""), int(props.size or 0)

    def list_page(self, route: Route, container: str, prefix: str, continuation: Optional[str],
                  page_size: int, include_metadata: bool = False) -> tuple[list[Any], Optional[str]]:
        """One page of a flat listing under ``prefix``: (blob items, continuation token or None at the end).
        ``include_metadata``: with each blob's metadata (ADLS Gen2 marks its directory entries
        ``hdi_isfolder``)."""
        pages = self._container(route, container).list_blobs(
            name_starts_with=prefix or None, results_per_page=page_size,
            include=["metadata"] if include_metadata else None).by_page(continuation_token=continuation)
        items = list(next(pages, []))
        return items, pages.continuation_token

    def preflight_listing(self, route: Route, location: BlobLocation) -> Any:
        """One flat listing under the input (at most one page of 5,000 names), and the manifest's first
        1 MB + 1 byte when the route's mode is ``manifest`` and the folder holds one: what
        :func:`shared.landing.preflight.check_input` judges."""
        from ..reconcile.scan import Listed
        from .preflight import MAX_LISTED, MAX_MANIFEST_BYTES, InputListing, input_prefix

        prefix = input_prefix(route, location)
        container = self._container(route, location.container)
        from azure.core.exceptions import ResourceNotFoundError

        pages = container.list_blobs(name_starts_with=prefix or None, results_per_page=MAX_LISTED).by_page()
        items, md5s = [], {}
        try:
            page = list(next(pages, []))
        except ResourceNotFoundError:  # no such container: nothing is stored at the path
            return InputListing((), {})
        for item in page:
            settings = getattr(item, "content_settings", None)
            md5 = getattr(settings, "content_md5", None) if settings is not None else None
            items.append(Listed(item.name, str(item.etag or ""), int(item.size or 0), item.last_modified))
            md5s[item.name] = bytes(md5) if md5 else None
        manifest = None
        manifest_name = prefix + route.landing.manifest_name
        if route.landing.mode == "manifest" and manifest_name in md5s:
            try:
                manifest = container.get_blob_client(manifest_name).download_blob(
                    offset=0, length=MAX_MANIFEST_BYTES + 1).readall()
            except ResourceNotFoundError:
                manifest = None
        return InputListing(items, md5s, manifest, truncated=pages.continuation_token is not None)

    def blob_head(self, route: Route, location: BlobLocation) -> Optional[tuple[str, int]]:
        """``(ETag, size)`` of a blob, ``None`` when it does not exist (one HEAD)."""
        return self.blob_etag(route, location)

    def read_blob_capped(self, route: Route, location: BlobLocation, etag: str, max_bytes: int) -> Optional[bytes]:
        """At most ``max_bytes + 1`` bytes of the blob version ``etag`` (``If-Match``: a blob replaced since its
        HEAD raises, and the caller looks again); ``None`` when it is gone."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self._container(route, location.container).get_blob_client(location.path).download_blob(
                offset=0, length=max_bytes + 1, etag=etag, match_condition=MatchConditions.IfNotModified).readall()
        except ResourceNotFoundError:
            return None

    def read_blob(self, route: Route, location: BlobLocation) -> Optional[bytes]:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self._container(route, location.container).download_blob(location.path).readall()
        except ResourceNotFoundError:
            return None

    # --- the state side: the run ledger, and claims of folder waiters next to it -------------------------
    @property
    def ledger(self) -> Any:
        if self._ledger is None:
            from ..runs.ledger import RunLedger

            with self._lock:
                if self._ledger is None:
                    service = self._service_for(self.settings.state_connection)
                    self._ledger = RunLedger(service.get_container_client(self.settings.state_container))
        return self._ledger

    @property
    def waiter_claims(self) -> Any:
        """Claims of folder waiters, ``landing/<waiter_id>.json`` next to the run ledger: the same records,
        states and orphan rules as run claims (``shared/runs/claims.py``), so exactly one caller starts a
        folder's waiting orchestration, and a crashed starter's claim is taken over."""
        from ..runs.ledger import ClaimBook

        return ClaimBook(self.ledger, WAITER_PREFIX)

    def report_late_file(self, run_id: str, file: dict) -> bool:
        """Append a file that landed after its folder's run was submitted to the run's ledger record
        (optimistic concurrency, so concurrent reports do not overwrite each other). False when the run has
        no record (for example, its folder was rejected before any run was claimed)."""
        def append(record: dict):
            late = list(record.get("late_files") or [])
            if any(i.get("name") == file.get("name") and i.get("etag") == file.get("etag") for i in late):
                return True, None
            return True, {**record, "late_files": late + [file]}

        return self.ledger.change(run_id, append, False)
