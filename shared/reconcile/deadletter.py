"""Re-drive Event Grid's dead letters: events it gave up delivering go through the normal handler.

An Event Grid subscription whose deliveries keep failing (the app was down, storage was out) writes the
events it gave up on as blobs in its dead-letter container: ``DEADLETTER_CONTAINER`` on the host storage
(``AzureWebJobsStorage``), ``<SUBSCRIPTION>/<yyyy>/<m>/<d>/<h>/<guid>.json``, each a JSON array of events in the
subscription's schema with ``deadLetterReason`` and ``deliveryAttempts`` added. The sweep hands each blob's
text to the same reader as the landing queue trigger (both schemas, arrays), so the same claims make a
re-drive of a folder that already ran harmless. A blob whose events were all handled is deleted; one that
fails again stays for a later tick, its failed re-drives counted in its metadata. At most ``max_blobs`` per
tick, those tried least often first; a blob that failed ``park_after`` times (or is too large to read) is
moved to ``parked/`` with its reason and count (``parking.py``), so stuck blobs never take every slot.

The sweep's listing of every route's prefix would find such folders anyway; re-driving the dead letters
starts them on the next tick instead of when the listing gets there, and keeps the container from growing.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import Counter
from typing import Any, Mapping, Optional

from .parking import PARK_AFTER_ATTEMPTS

log = logging.getLogger(__name__)

CONTAINER_SETTING = "DEADLETTER_CONTAINER"
CONNECTION = "AzureWebJobsStorage"
MAX_BLOBS_PER_TICK = 50
MAX_BLOB_BYTES = 8 * 1024 * 1024  # Event Grid writes one event per blob by default; far below this
SCAN_FACTOR = 4                   # candidates listed per slot, so the least-tried ones can go first


def deadletter_container(environ: Mapping[str, str] = os.environ) -> Optional[Any]:
    """The dead-letter container client, or ``None`` when ``DEADLETTER_CONTAINER`` is not set."""
    name = (environ.get(CONTAINER_SETTING) or "").strip()
    if not name:
        return None
    from ..paths import check_container_name
    from ..storage.connections import blob_service_client

    return blob_service_client(CONNECTION, environ).get_container_client(check_container_name(name,
                                                                                              field=CONTAINER_SETTING))


async def redrive_deadletters(container: Any, ctx: Any, client: Any, *, max_blobs: int = MAX_BLOBS_PER_TICK,
                              park_after: int = PARK_AFTER_ATTEMPTS) -> Counter:
    """Handle up to ``max_blobs`` dead-letter blobs; counts ``redriven`` (handled, deleted), ``failed`` (kept,
    its count raised), ``parked`` (failed ``park_after`` times, or too large: moved to ``parked/``) and
    ``outcome:<action>``."""
    from azure.core.exceptions import ResourceNotFoundError

    from ..landing.functions import handle_queue_message
    from .parking import PARKED_PREFIX, attempts_of, park_blob, reason_of, record_failure

    counts: Counter = Counter()

    def listing() -> list:
        """Up to ``SCAN_FACTOR * max_blobs`` candidates outside ``parked/``; the least-tried ``max_blobs``."""
        try:
            found = []
            for blob in container.list_blobs(include=["metadata"]):
                if blob.name.startswith(PARKED_PREFIX):
                    continue
                found.append((attempts_of(blob), blob.name, blob.size, dict(blob.metadata or {})))
                if len(found) >= SCAN_FACTOR * max_blobs:
                    break
            return sorted(found, key=lambda item: item[0])[:max_blobs]
        except ResourceNotFoundError:  # nothing was ever dead-lettered
            return []

    async def park(name: str, reason: str, attempts: int) -> None:
        target = await asyncio.to_thread(park_blob, container, name, reason, attempts)
        counts["parked"] += 1
        log.error("reconcile: dead letter %s parked as %s after %d failed re-drive(s) (%s); left for an operator",
                  name, target, attempts, reason)

    for attempts, name, size, metadata in await asyncio.to_thread(listing):
        if (size or 0) > MAX_BLOB_BYTES:
            await park(name, "too_large", attempts)
            continue
        try:
            text = await asyncio.to_thread(lambda: container.download_blob(name).readall())
            outcomes = await handle_queue_message(text, client, ctx.settings, ctx)
        except Exception as exc:  # an outage again: keep the blob for a later tick, counted
            attempts += 1
            try:
                if attempts >= park_after:
                    await park(name, reason_of(exc), attempts)
                    continue
                await asyncio.to_thread(record_failure, container, name, metadata, attempts, reason_of(exc))
            except ResourceNotFoundError:  # another tick handled it meanwhile
                continue
            log.warning("reconcile: dead letter %s failed again (%s, %d of %d); kept", name, type(exc).__name__,
                        attempts, park_after)
            counts["failed"] += 1
            continue
        await asyncio.to_thread(_delete, container, name)
        counts["redriven"] += 1
        for outcome in outcomes:
            counts[f"outcome:{outcome.action}"] += 1
    if counts:
        log.info("reconcile: dead letters %s", dict(counts))
    return counts


def _delete(container: Any, name: str) -> None:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        container.delete_blob(name)
    except ResourceNotFoundError:  # another tick got there first
        pass
