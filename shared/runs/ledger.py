"""The run ledger: one claim record per run, created with ``If-None-Match: *``.

The conditional create is atomic in Blob Storage (and Azurite), so when the same run is started from many
places at once exactly one caller wins the claim and only that caller starts the orchestration. The
records also let the HTTP API list runs, and let event handlers find a run by its job name.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Iterator, Optional

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

RECORD_PREFIX = "runs/"
JOB_INDEX_PREFIX = "jobs/"


class RunLedger:
    """Claim records in a container: ``runs/<run_id>.json``, plus ``jobs/<job_name>`` → run id."""

    def __init__(self, container_client: Any):
        self._container = container_client
        self._ready = False

    @classmethod
    def from_settings(cls, settings: Any) -> "RunLedger":
        from ..storage.connections import blob_service_client

        service = blob_service_client(settings.state_connection)
        return cls(service.get_container_client(settings.state_container))

    def _ensure(self) -> None:
        if self._ready:
            return
        try:
            self._container.create_container()
        except ResourceExistsError:
            pass
        self._ready = True

    def claim(self, run_id: str, record: dict) -> bool:
        """True if this caller created the record (and so owns starting the run)."""
        self._ensure()
        body = {**record, "run_id": run_id, "state": "claimed",
                "claimed_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        try:
            self._container.upload_blob(f"{RECORD_PREFIX}{run_id}.json", json.dumps(body).encode(),
                                        match_condition=MatchConditions.IfMissing)
            return True
        except ResourceExistsError:
            return False

    def get(self, run_id: str) -> Optional[dict]:
        try:
            data = self._container.download_blob(f"{RECORD_PREFIX}{run_id}.json").readall()
        except ResourceNotFoundError:
            return None
        return json.loads(data)

    def update(self, run_id: str, **changes: Any) -> dict:
        """Merge ``changes`` into the record with optimistic concurrency (retried on a lost race)."""
        blob = self._container.get_blob_client(f"{RECORD_PREFIX}{run_id}.json")
        for _ in range(10):
            downloader = blob.download_blob()
            record = json.loads(downloader.readall())
            record.update(changes)
            try:
                blob.upload_blob(json.dumps(record).encode(), overwrite=True, etag=downloader.properties.etag,
                                 match_condition=MatchConditions.IfNotModified)
                return record
            except ResourceModifiedError:
                continue
        raise RuntimeError(f"run ledger record {run_id} kept changing; gave up updating it")

    def release(self, run_id: str) -> None:
        """Drop a claim whose orchestration could not be started, so a redelivery can try again."""
        try:
            self._container.delete_blob(f"{RECORD_PREFIX}{run_id}.json")
        except ResourceNotFoundError:
            pass

    def index_job(self, job_name: str, run_id: str) -> None:
        self._ensure()
        self._container.upload_blob(f"{JOB_INDEX_PREFIX}{job_name}", run_id.encode(), overwrite=True)

    def run_for_job(self, job_name: str) -> Optional[str]:
        try:
            return self._container.download_blob(f"{JOB_INDEX_PREFIX}{job_name}").readall().decode()
        except ResourceNotFoundError:
            return None

    def records(self) -> Iterator[dict]:
        self._ensure()
        for blob in self._container.list_blobs(name_starts_with=RECORD_PREFIX):
            try:
                yield json.loads(self._container.download_blob(blob.name).readall())
            except ResourceNotFoundError:
                continue
