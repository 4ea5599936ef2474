"""An output blob's BlobCreated → the run's ``job_status`` external event, marked ``signal: output``.

Reached from the landing handler (the same Event Grid function and webhook path): a blob in an opted-in
route's output location is not a landing. The path names the run (:mod:`.rules`); one ledger read confirms the
run exists, is the route's, and its recorded output holds the blob. The event carries ``status: Finalizing``
(an orchestration that predates output hints reads it as a near-end hint) and ``signal: output``.

Costs per event: one ledger read and one ``raise_event``. A hostile or foreign name costs nothing (refused by
the grammars before any storage call). A run that already ended answers ``raise_event`` with an error: counted,
never raised (Event Grid would only retry it).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any, Optional

from ..redact import redact
from ..runs.models import JOB_STATUS_EVENT
from .rules import OutputWatch, match_output, under_output

log = logging.getLogger(__name__)

#: Outcomes in this worker process: hinted, not_an_output, unknown_run, other_route, not_its_output, run_not_running
OUTPUT_EVENT_COUNTS: Counter = Counter()


def _count(reason: str, detail: str = "") -> str:
    OUTPUT_EVENT_COUNTS[reason] += 1
    log.info("output event: %s%s", reason, f" ({redact(detail)[:300]})" if detail else "")
    return reason


def hint_payload(run_id: str, output: str, event_id: Any, event_time: Optional[str]) -> dict:
    """No job name: the run follows its own job (the hint is about the run's output, whoever wrote it)."""
    return {"status": "Finalizing", "signal": "output", "output": output, "event_id": str(event_id)[:200],
            "event_time": event_time, "source": "output_event", "run_id": run_id}


async def handle_output_blob(watches: list[OutputWatch], location: Any, event_id: Any, event_time: Optional[str],
                             client: Any, ledger: Any) -> str:
    """Raise the output hint for the run whose output ``location`` is; returns the counted reason."""
    match = match_output(watches, location.account_url, location.container, location.path)
    if match is None:
        return _count("not_an_output", location.path[:200])
    record = await asyncio.to_thread(ledger.get, match.run_id)
    if not isinstance(record, dict):
        return _count("unknown_run", match.run_id)
    if record.get("route") != match.route:
        return _count("other_route", match.run_id)
    if not under_output(record.get("output_uri"), location.path):
        return _count("not_its_output", match.run_id)
    try:
        await client.raise_event(match.run_id, JOB_STATUS_EVENT,
                                 hint_payload(match.run_id, match.output, event_id, event_time))
    except Exception as exc:  # the run ended or was purged: nothing waits for the hint any more
        return _count("run_not_running", f"{match.run_id}: {type(exc).__name__}: {str(exc)[:200]}")
    return _count("hinted", match.run_id)
