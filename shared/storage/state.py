"""JSON documents in the app's state container, with the two concurrency primitives everything relies on.

* ``create``: a conditional create (``If-None-Match: *``). Atomic in Blob Storage and Azurite, so exactly one
  of many concurrent callers wins: how runs and landing waiters are claimed.
* ``update``: read, decide, write with the blob's ETag (``If-Match``, or ``If-None-Match: *`` for a new
  document), retried when another writer got there first, so concurrent updates never overwrite each other.

The run ledger, the Azure ML job-event state and the duration history are stores on this base. Every document
name is checked by :func:`shared.paths.check_relative_path` before it reaches storage (no '.'/'..' segment, also
percent-encoded, no backslash, '?', '#' or control character), so an id that slipped past its own grammar
still cannot address a blob outside the state container's layout.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterator, Optional, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

from ..paths import check_relative_path

T = TypeVar("T")
Change = Callable[[Optional[Any]], "tuple[T, Optional[Any]]"]


def _checked(name: str) -> str:
    return check_relative_path(name, field="state document", decode=False)


class StateConflictError(RuntimeError):
    """A document kept changing under an update; every attempt lost the race."""


class StateStore:
    """JSON documents by name in one container (created on first write)."""

    def __init__(self, container_client: Any):
        self._container = container_client
        self._ready = False

    @classmethod
    def from_settings(cls, settings: Any):
        from .connections import blob_service_client

        return cls(blob_service_client(settings.state_connection).get_container_client(settings.state_container))

    def ensure(self) -> None:
        if self._ready:
            return
        try:
            self._container.create_container()
        except ResourceExistsError:
            pass
        self._ready = True

    def read(self, name: str) -> Optional[Any]:
        name = _checked(name)
        try:
            return json.loads(self._container.download_blob(name).readall())
        except ResourceNotFoundError:
            return None

    def create(self, name: str, document: Any) -> bool:
        """True if this caller created the document; False if it already existed."""
        name = _checked(name)
        self.ensure()
        try:
            self._container.upload_blob(name, json.dumps(document).encode(), match_condition=MatchConditions.IfMissing)
            return True
        except ResourceExistsError:
            return False

    def write(self, name: str, document: Any) -> None:
        name = _checked(name)
        self.ensure()
        self._container.upload_blob(name, json.dumps(document).encode(), overwrite=True)

    def delete(self, name: str) -> None:
        name = _checked(name)
        try:
            self._container.delete_blob(name)
        except ResourceNotFoundError:
            pass

    def names(self, prefix: str) -> Iterator[str]:
        self.ensure()
        for blob in self._container.list_blobs(name_starts_with=prefix):
            yield blob.name

    def page(self, prefix: str, continuation: Optional[str], page_size: int) -> "tuple[list[str], Optional[str]]":
        """One page of names under ``prefix`` and the token of the next (``None`` after the last page)."""
        self.ensure()
        pages = self._container.list_blobs(name_starts_with=prefix, results_per_page=page_size).by_page(
            continuation_token=continuation)
        names = [blob.name for blob in next(pages, [])]
        return names, pages.continuation_token or None

    def update(self, name: str, change: Change, *, attempts: int = 20) -> T:
        """Apply ``change(document or None) -> (result, new_document)`` atomically and return ``result``.

        A ``new_document`` of ``None``, or one equal to the current document, writes nothing.
        """
        name = _checked(name)
        self.ensure()
        blob = self._container.get_blob_client(name)
        for _ in range(attempts):
            try:
                downloader = blob.download_blob()
                current, etag = json.loads(downloader.readall()), downloader.properties.etag
            except ResourceNotFoundError:
                current, etag = None, None
            result, new = change(current)
            if new is None or new == current:
                return result
            body = json.dumps(new).encode()
            try:
                if etag is None:
                    blob.upload_blob(body, match_condition=MatchConditions.IfMissing)
                else:
                    blob.upload_blob(body, overwrite=True, etag=etag, match_condition=MatchConditions.IfNotModified)
                return result
            except (ResourceExistsError, ResourceModifiedError):
                continue
        raise StateConflictError(f"state document {name} kept changing; gave up after {attempts} attempts")
