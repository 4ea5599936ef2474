"""Per-job event state in the state container: ``job-events/<job_name>.json``.

Updated with the state store's ETag-checked read–decide–write, so concurrent deliveries of the same
event decide once.
"""

from __future__ import annotations

from typing import Callable, Optional, TypeVar

from ..paths import check_job_name, join_under
from ..storage.state import StateStore

PREFIX = "job-events/"
T = TypeVar("T")


def state_path(job_name: str) -> str:
    """``job-events/<job_name>.json``, with the job name checked against its grammar (never a path)."""
    return join_under(PREFIX, f"{check_job_name(job_name)}.json", field="job_name")


class JobEventStore(StateStore):
    def get(self, job_name: str) -> Optional[dict]:
        return self.read(state_path(job_name))

    def update(self, job_name: str, change: Callable[[dict], tuple[T, dict]]) -> T:  # type: ignore[override]
        """Apply ``change(state) -> (result, new_state)`` atomically (a missing state is ``{}``)."""
        def on_document(document: Optional[dict]):
            state = document or {}
            result, new_state = change(state)
            return result, (None if new_state == state else new_state)

        return super().update(state_path(job_name), on_document)
