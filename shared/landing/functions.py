"""Glue between the landing trigger's binding types and the handler."""

from __future__ import annotations

import logging
from typing import Any

from ..config import ConfigError, load_settings
from .handler import LandingOutcome, skip_event, handle_blob_created

log = logging.getLogger(__name__)


async def handle_event_grid(event: Any, client: Any) -> LandingOutcome:
    """Bad events are skipped with a counted reason and never raise; infrastructure failures do raise,
    so that Event Grid redelivers the event (the run ledger keeps that from starting a second run)."""
    from ..runs.ledger import RunLedger

    event_id = getattr(event, "id", None)
    try:
        data = event.get_json()
    except Exception as exc:  # a body that is not JSON is a bad event, not an outage
        return skip_event("malformed", f"data is not JSON: {type(exc).__name__}", event_id)
    try:
        settings = load_settings()
    except ConfigError as exc:
        log.error("landing: cannot handle event %s, the configuration is invalid: %s", event_id, exc)
        raise
    return await handle_blob_created(event_id, getattr(event, "event_type", None), data, client, settings,
                                     RunLedger.from_settings(settings))
