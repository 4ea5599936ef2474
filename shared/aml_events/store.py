"""Per-job event state in the state container: ``job-events/<job_name>.json`` (optimistic concurrency).

Read–decide–write with the blob's ETag (``If-Match``, or ``If-None-Match: *`` for a new blob), retried when
another handler instance wrote in between, so concurrent deliveries of the same event decide once.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Optional, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError)

PREFIX = "job-events/"
T = TypeVar("T")


class JobEventStore:
    def __init__(self, container_client: Any):
        self._container = container_client
        self._ready = False

    @classmethod
    def from_settings(cls, settings: Any) -> "JobEventStore":
        from ..storage.connections import blob_service_client

        service = blob_service_client(settings.state_connection)
        return cls(service.get_container_client(settings.state_container))

    def _ensure(self) -> None:
        if not self._ready:
            try:
                self._container.create_container()
            except ResourceExistsError:
                pass
            self._ready = True

    def get(self, job_name: str) -> Optional[dict]:
        try:
            return json.loads(self._container.download_blob(f"{PREFIX}{job_name}.json").readall())
        except ResourceNotFoundError:
            return None

    def update(self, job_name: str, change: Callable[[dict], tuple[T, dict]]) -> T:
        """Apply ``change(state) -> (result, new_state)`` atomically; returns ``result``."""
        self._ensure()
        blob = self._container.get_blob_client(f"{PREFIX}{job_name}.json")
        for _ in range(20):
            try:
                downloader = blob.download_blob()
                state, etag = json.loads(downloader.readall()), downloader.properties.etag
            except ResourceNotFoundError:
                state, etag = {}, None
            result, new_state = change(state)
            if new_state == state:
                return result
            body = json.dumps(new_state).encode()
            try:
                if etag is None:
                    blob.upload_blob(body, match_condition=MatchConditions.IfMissing)
                else:
                    blob.upload_blob(body, overwrite=True, etag=etag, match_condition=MatchConditions.IfNotModified)
                return result
            except (ResourceExistsError, ResourceModifiedError):
                continue
        raise RuntimeError(f"job event state {job_name} kept changing; gave up updating it")
