"""Batch job states and what each one means for a run (pure)."""

from __future__ import annotations

from enum import Enum


class JobStatus(str, Enum):
    NOT_STARTED = "NotStarted"
    STARTING = "Starting"
    PROVISIONING = "Provisioning"
    PREPARING = "Preparing"
    QUEUED = "Queued"
    RUNNING = "Running"
    FINALIZING = "Finalizing"
    CANCEL_REQUESTED = "CancelRequested"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"
    NOT_RESPONDING = "NotResponding"
    PAUSED = "Paused"
    UNKNOWN = "Unknown"


# NotResponding and Paused can return to earlier states, so unlike the SDK we keep polling on them.
TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Canceled"})


def normalise(status: object) -> str:
    """Map a status from the wire to the enum's spelling; anything unrecognised becomes ``Unknown``."""
    if isinstance(status, str):
        for member in JobStatus:
            if member.value.lower() == status.lower():
                return member.value
    return JobStatus.UNKNOWN.value


def is_terminal(status: str) -> bool:
    return status in TERMINAL_STATUSES
