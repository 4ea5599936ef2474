"""Start a run exactly once: claim it in the ledger, then start its orchestration.

Durable's own start is not atomic across callers (check-then-start races; starting over a running instance
raises), so the ledger's conditional create decides who starts.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

from ..config.models import AppSettings, Route
from ..storage.uris import BlobLocation
from .ledger import RunLedger
from .models import ORCHESTRATOR_NAME, new_run_input

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StartResult:
    run_id: str
    started: bool  # False: a run with this id was already claimed (a duplicate)


async def start_run(client: Any, ledger: RunLedger, settings: AppSettings, route: Route,
                    location: BlobLocation, *, run_id: str, source: str,
                    details: Optional[dict] = None, now: Optional[datetime] = None) -> StartResult:
    now = now or datetime.now(timezone.utc)
    run_input = new_run_input(settings, route, run_id, location, source=source, now=now, details=details)
    record = {"route": route.name, "source": source, "input_url": run_input["input"]["url"],
              "input_uri": run_input["input"]["uri"], "output_uri": run_input["output_uri"],
              **({"details": details} if details else {})}
    if not await asyncio.to_thread(ledger.claim, run_id, record):
        log.info("run %s already claimed; not starting it again", run_id)
        return StartResult(run_id, started=False)
    try:
        await client.start_new(ORCHESTRATOR_NAME, instance_id=run_id, client_input={"run": run_input})
    except Exception:
        # Let a redelivered event or a client retry claim it again rather than leave an orphan claim.
        await asyncio.to_thread(ledger.release, run_id)
        raise
    await asyncio.to_thread(ledger.update_record, run_id, state="started")
    log.info("started run %s for route %s on %s", run_id, route.name, location.url)
    return StartResult(run_id, started=True)
