"""Code that runs in worker processes (several function instances receiving the same events)."""

from __future__ import annotations

import asyncio
import os
from collections import Counter


def deliver(env: dict, binding: str, events: list[dict], concurrency: int = 16) -> dict:
    """Feed Event Grid events through the real handler from this process; return outcome counts."""
    os.environ.update(env)
    from azure.durable_functions import DurableOrchestrationClient
    from azure.durable_functions.models.utils import http_utils

    from shared.config import load_settings
    from shared.landing.handler import handle_blob_created

    async def main() -> Counter:
        client = DurableOrchestrationClient(binding)
        settings = load_settings()
        gate = asyncio.Semaphore(concurrency)
        counts: Counter = Counter()

        async def one(event: dict) -> None:
            async with gate:
                outcome = await handle_blob_created(event["id"], event["eventType"], event["data"], client,
                                                    settings)
                counts[outcome.action] += 1

        try:
            await asyncio.gather(*(one(e) for e in events))
        finally:
            await http_utils._close_session()
        return counts

    return dict(asyncio.run(main()))
