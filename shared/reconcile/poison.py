"""Re-drive ``landing-events-poison``: messages the queue trigger gave up on go through the normal handler.

The Functions host moves a queue message to ``<queue>-poison`` after ``maxDequeueCount`` failed attempts
(an outage at the time, usually). Each re-drive receives at most ``max_messages`` of them, hands each to the
same handler as the queue trigger (so the same claims make a re-drive of an already-started folder harmless),
deletes the ones that were handled, and leaves the ones that fail again: they become visible again after
``visibility_timeout`` and are tried on a later re-drive. One that has failed ``park_after`` re-drives is
moved to ``landing-events-parked`` with its reason and count (``parking.py``; counted ``parked``, logged at
ERROR), so stuck messages never take every slot of every tick.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any, Optional

from .parking import PARK_AFTER_ATTEMPTS

log = logging.getLogger(__name__)

POISON_QUEUE = "landing-events-poison"
VISIBILITY_TIMEOUT_SECONDS = 300
MAX_MESSAGES_PER_CALL = 256


def poison_queue_client(connection: str = "AzureWebJobsStorage", queue: str = POISON_QUEUE,
                        environ: Any = None) -> Any:
    """The poison queue of the landing queue trigger, on the trigger's own connection, by the Functions
    connection convention (``shared/storage/connections.py``: a connection string, or identity-based
    ``<connection>__queueServiceUri`` / ``__serviceUri`` / ``__accountName``). ``LookupError`` when the
    connection has no queue endpoint."""
    import os

    from ..storage.connections import StorageConnectionError, queue_client

    try:
        return queue_client(connection, queue, os.environ if environ is None else environ)
    except StorageConnectionError as exc:
        raise LookupError(str(exc)) from None


async def redrive(queue: Any, ctx: Any, client: Any, *, max_messages: int,
                  visibility_timeout: int = VISIBILITY_TIMEOUT_SECONDS,
                  retry_after_seconds: Optional[int] = None, park_after: int = PARK_AFTER_ATTEMPTS,
                  parked: Any = None) -> Counter:
    """Handle up to ``max_messages`` poison messages; counts: ``redriven`` (handled and deleted),
    ``failed`` (left for a later re-drive, visible again after ``retry_after_seconds``, by default the
    ``visibility_timeout``), ``parked`` (failed ``park_after`` re-drives: moved to the parked queue,
    ``parked``, by default ``landing-events-parked`` next to ``queue``), ``outcome:<action>``."""
    from azure.core.exceptions import ResourceNotFoundError

    from ..landing.functions import handle_queue_message
    from .parking import park_message, parked_queue_of, reason_of

    counts: Counter = Counter()
    max_messages = max(0, min(int(max_messages), MAX_MESSAGES_PER_CALL))
    if max_messages == 0:
        return counts

    def receive() -> list:
        try:
            return list(queue.receive_messages(messages_per_page=min(32, max_messages), max_messages=max_messages,
                                               visibility_timeout=visibility_timeout))
        except ResourceNotFoundError:  # no message was ever poisoned: the queue does not exist yet
            return []

    for message in await asyncio.to_thread(receive):
        try:
            outcomes = await handle_queue_message(message.content, client, ctx.settings, ctx)
        except Exception as exc:
            attempts = int(message.dequeue_count or 0)  # receipts from the poison queue, this one included
            if attempts >= park_after:
                parked = parked if parked is not None else parked_queue_of(queue)
                await asyncio.to_thread(park_message, parked, queue.queue_name, message, reason_of(exc))
                await asyncio.to_thread(queue.delete_message, message)
                log.error("landing poison: message %s failed %d re-drives (%s); parked in %s for an operator",
                          message.id, attempts, reason_of(exc), parked.queue_name)
                counts["parked"] += 1
                continue
            log.warning("landing poison: message %s failed again (%s, re-drive %d of %d); it stays for a later"
                        " re-drive", message.id, type(exc).__name__, attempts, park_after)
            counts["failed"] += 1
            if retry_after_seconds is not None and retry_after_seconds != visibility_timeout:
                await asyncio.to_thread(queue.update_message, message, visibility_timeout=retry_after_seconds)
            continue
        await asyncio.to_thread(queue.delete_message, message)
        counts["redriven"] += 1
        for outcome in outcomes:
            counts[f"outcome:{outcome.action}"] += 1
    if counts:
        log.info("landing poison: %s", dict(counts))
    return counts
