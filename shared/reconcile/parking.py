"""Park what keeps failing, so the re-drive's slots go to what can still succeed.

A poison message or a dead-letter blob whose event fails at every re-drive (a folder that cannot be read,
a route whose storage refuses the app) would otherwise be picked again at every tick, and a few dozen of
them take every slot: nothing behind them is ever re-driven. After ``PARK_AFTER_ATTEMPTS`` failed re-drives
an item is moved aside, with its reason and count, for an operator:

* poison messages → the queue ``landing-events-parked`` (next to ``landing-events-poison``), each a JSON
  document ``{"parked_from", "reason", "attempts", "parked_at", "content"}``;
* dead-letter blobs → ``parked/<name>`` in the dead-letter container, with metadata ``parked_reason``,
  ``redrive_attempts`` and ``parked_at``.

Both are counted (``parked``) and logged at ERROR. Moving an item back (re-queue the content, or copy the
blob back without the ``parked/`` prefix) re-drives it on the next tick.
"""

from __future__ import annotations

import json
from typing import Any

from ..timefmt import now_text

PARK_AFTER_ATTEMPTS = 5
PARKED_PREFIX = "parked/"
PARKED_QUEUE_SUFFIX = "-parked"
ATTEMPTS_METADATA = "redrive_attempts"
REASON_METADATA = "parked_reason"


def reason_of(exc: BaseException) -> str:
    """Why it failed, without the exception's text (it can carry URLs with signatures): the type's name."""
    return type(exc).__name__[:100]


def parked_queue_name(poison_queue_name: str) -> str:
    """``landing-events-poison`` → ``landing-events-parked`` (a suffix after it is kept)."""
    if "-poison" in poison_queue_name:
        return poison_queue_name.replace("-poison", PARKED_QUEUE_SUFFIX, 1)
    return f"{poison_queue_name}{PARKED_QUEUE_SUFFIX}"[:63]


def parked_queue_of(poison: Any) -> Any:
    """The parked queue on the poison queue's own account and credential."""
    from azure.storage.queue import QueueClient

    url = poison.url.split("?", 1)[0]
    account_url = url[:url.rstrip("/").rfind("/")]
    return QueueClient(account_url, parked_queue_name(poison.queue_name), credential=poison.credential)


def park_message(parked: Any, poison_queue_name: str, message: Any, reason: str) -> None:
    """Send the message's content, reason and count to the parked queue (created on first use)."""
    from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

    document = json.dumps({"parked_from": poison_queue_name, "reason": reason,
                           "attempts": int(message.dequeue_count or 0), "parked_at": now_text(),
                           "content": message.content if isinstance(message.content, str) else str(message.content)})
    try:
        parked.send_message(document)
    except ResourceNotFoundError:
        try:
            parked.create_queue()
        except ResourceExistsError:
            pass
        parked.send_message(document)


def park_blob(container: Any, name: str, reason: str, attempts: int) -> str:
    """Copy the blob to ``parked/<name>`` with its reason and count, then delete it; returns the new name."""
    from azure.core.exceptions import ResourceNotFoundError

    target = f"{PARKED_PREFIX}{name}"
    body = container.download_blob(name).readall()
    container.upload_blob(target, body, overwrite=True,
                          metadata={REASON_METADATA: reason, ATTEMPTS_METADATA: str(attempts), "parked_at": now_text()})
    try:
        container.delete_blob(name)
    except ResourceNotFoundError:
        pass
    return target


def attempts_of(blob: Any) -> int:
    text = ((getattr(blob, "metadata", None) or {}).get(ATTEMPTS_METADATA) or "0").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 6 else 0


def record_failure(container: Any, name: str, metadata: dict, attempts: int, reason: str) -> None:
    """Count one more failed re-drive on the blob itself (its metadata), so every tick and process sees it."""
    container.get_blob_client(name).set_blob_metadata({**(metadata or {}), ATTEMPTS_METADATA: str(attempts),
                                                       "last_failure": reason})
