"""The run ledger: one claim record per run, created with ``If-None-Match: *``.

The conditional create is atomic in Blob Storage (and Azurite), so when the same run is started from many
places at once exactly one caller wins the claim and only that caller starts the orchestration. The
records also let the HTTP API list runs, and let event handlers find a run by its job name.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Optional, TypeVar

from ..storage.state import StateStore

RECORD_PREFIX = "runs/"
JOB_INDEX_PREFIX = "jobs/"
T = TypeVar("T")


def record_name(run_id: str) -> str:
    return f"{RECORD_PREFIX}{run_id}.json"


class RunLedger(StateStore):
    """Claim records ``runs/<run_id>.json``, plus the job index ``jobs/<job_name>`` → run id."""

    def claim(self, run_id: str, record: dict) -> bool:
        """True if this caller created the record (and so owns starting the run)."""
        return self.create(record_name(run_id), {
            **record, "run_id": run_id, "state": "claimed",
            "claimed_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})

    def get(self, run_id: str) -> Optional[dict]:
        return self.read(record_name(run_id))

    def change(self, run_id: str, change: Callable[[dict], tuple[T, Optional[dict]]], missing: T) -> T:
        """Apply ``change(record) -> (result, new_record)`` atomically; ``missing`` when there is no record."""
        return self.update(record_name(run_id), lambda record: (missing, None) if record is None else change(record))

    def update_record(self, run_id: str, **changes: Any) -> Optional[dict]:
        """Merge ``changes`` into the record; ``None`` when the run has no record."""
        def merge(record: dict):
            merged = {**record, **changes}
            return merged, merged

        return self.change(run_id, merge, None)

    def release(self, run_id: str) -> None:
        """Drop a claim whose orchestration could not be started, so a redelivery can try again."""
        self.delete(record_name(run_id))

    def index_job(self, job_name: str, run_id: str) -> None:
        self.write(f"{JOB_INDEX_PREFIX}{job_name}", {"run_id": run_id})

    def run_for_job(self, job_name: str) -> Optional[str]:
        entry = self.read(f"{JOB_INDEX_PREFIX}{job_name}")
        return entry.get("run_id") if isinstance(entry, dict) else None
