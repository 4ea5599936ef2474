"""Glue for the Event Grid function: settings, ledger and store from the app settings (loaded lazily)."""

from __future__ import annotations

from typing import Any

_cache: dict = {}


async def handle_event_grid(event: Any, client: Any) -> str:
    from ..config import load_settings
    from ..runs.ledger import RunLedger
    from .handler import handle_job_event
    from .parents import ParentLookup
    from .store import JobEventStore

    settings = load_settings()
    key = (settings.state_connection, settings.state_container)
    if _cache.get("key") != key:
        _cache.update(key=key, ledger=RunLedger.from_settings(settings), store=JobEventStore.from_settings(settings))
    return await handle_job_event(event, client, ledger=_cache["ledger"], store=_cache["store"],
                                  parents=ParentLookup(settings))
