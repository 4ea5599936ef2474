"""job → run in the run ledger, so Azure ML events can find the run their job belongs to.

Best effort: the ledger is an index, not the source of truth, and the poll loop works without it.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def index_job(settings: Any, job_name: str, run_id: str) -> None:
    try:
        from .ledger import RunLedger

        ledger = RunLedger.from_settings(settings)
        ledger.index_job(job_name, run_id)
        ledger.update_record(run_id, job_name=job_name)
    except Exception as exc:  # the ledger is an index, not the source of truth
        log.warning("run %s: could not index job %s in the ledger: %s", run_id, job_name, type(exc).__name__)
