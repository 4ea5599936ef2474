"""Job records, the status vocabulary and the store that announces every status change."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Callable

from shared.redact import redact

from .config import Deployment
from .contract import SubmitRequest

log = logging.getLogger(__name__)


class JobStatus(str, Enum):
    NOT_STARTED = "NotStarted"
    QUEUED = "Queued"
    PREPARING = "Preparing"
    RUNNING = "Running"
    FINALIZING = "Finalizing"
    CANCEL_REQUESTED = "CancelRequested"
    NOT_RESPONDING = "NotResponding"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"


TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED})


@dataclass(frozen=True)
class EffectiveSettings:
    """Deployment settings after per-job overrides; what the runner actually uses."""
    mini_batch_size: int
    instance_count: int
    max_concurrency_per_instance: int
    error_threshold: int
    max_retries: int
    timeout: float
    output_action: str
    output_file_name: str
    logging_level: str


@dataclass
class Job:
    name: str
    endpoint: str
    deployment: Deployment
    request: SubmitRequest
    settings: EffectiveSettings
    experiment_name: str
    output_uri: str  # full URI of the results file (append_row) / anchor of the output folder
    faults: list = field(default_factory=list)  # faults.JobFault bound at submit
    requested_name: str | None = None  # the client-chosen properties.name, honoured or not
    status: JobStatus = JobStatus.NOT_STARTED
    created_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    modified_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    history: list[tuple[str, float]] = field(default_factory=list)  # (status, monotonic time)
    error: str | None = None
    cancel_requested: bool = False
    log_lines: list[str] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=lambda: {
        "files": 0, "mini_batches": 0, "succeeded_mini_batches": 0, "failed_mini_batches": 0,
        "failed_items": 0, "succeeded_items": 0, "returned_elements": 0})
    stdout_path: str | None = None
    stderr_path: str | None = None

    def __post_init__(self) -> None:
        self.history.append((self.status.value, time.monotonic()))

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def log(self, message: str) -> None:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        self.log_lines.append(f"{stamp} {redact(message)}")  # an input URL may carry a SAS


StatusListener = Callable[[Job, "JobStatus | None", JobStatus], None]


class JobStore:
    """All jobs by name. Mutated on the server's event loop; readable from test threads."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self.listeners: list[StatusListener] = []  # called with (job, old_status, new_status)

    def add(self, job: Job) -> None:
        with self._lock:
            self._jobs[job.name] = job
        self._notify(job, None, job.status)

    def get(self, name: str) -> Job | None:
        with self._lock:
            return self._jobs.get(name)

    def list(self, endpoint: str | None = None) -> list[Job]:
        """Oldest first (insertion order)."""
        with self._lock:
            jobs = list(self._jobs.values())
        return [j for j in jobs if endpoint is None or j.endpoint == endpoint]

    def set_status(self, job: Job, new: JobStatus, error: str | None = None) -> None:
        if job.terminal or job.status == new:
            return  # terminal states are final; cancel of a finished job is harmless
        old = job.status
        job.status = new
        job.modified_at = datetime.now(timezone.utc)
        job.history.append((new.value, time.monotonic()))
        if error is not None:
            job.error = redact(error)
        job.log(f"status {old.value} -> {new.value}" + (f": {error}" if error else ""))
        log.info("job %s: %s -> %s%s", job.name, old.value, new.value, f" ({error})" if error else "")
        self._notify(job, old, new)

    def _notify(self, job: Job, old: JobStatus | None, new: JobStatus) -> None:
        for listener in list(self.listeners):
            try:
                listener(job, old, new)
            except Exception:  # a broken listener must not break the job
                log.exception("status listener failed for job %s", job.name)
