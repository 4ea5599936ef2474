"""One Event Grid delivery, whichever schema and whichever shape the worker hands over (pure).

Event Grid subscriptions deliver in the **Event Grid schema** (``eventType``, ``eventTime``, ``topic``,
``dataVersion``) or in **CloudEvents 1.0** (``type``, ``time``, ``source``, ``specversion``). Both carry
``id``, ``subject`` and ``data``. The Functions worker turns a body with ``specversion`` into a
``func.CloudEvent`` (``.type``, ``.time``, ``.source``, ``.subject``, ``.data``) and anything else into a
``func.EventGridEvent`` (``.event_type``, ``.event_time``, ``.topic``, ``.subject``, ``.get_json()``); a
queue message carries the JSON itself. An older worker copy of ``azure-functions`` (< 1.25, no
``CloudEvent``) decodes a CloudEvent as an ``EventGridEvent`` whose ``event_type`` is ``None``: the
type is then missing, and each parser may infer it from ``data`` (see its module).

:func:`read_event` reduces all of these to one :class:`EventEnvelope`; every field is checked for type and
size here, so a parser downstream sees strings it can log. Anything unusable raises :class:`SkipEvent`, the
one typed error of event intake: ``reason`` is the counted key, ``detail`` a safe (escaped, cut) text.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any, Optional, Union

from .redact import shown
from .timefmt import normalized

EVENT_GRID = "eventgrid"
CLOUD_EVENTS = "cloudevents"

MAX_ID_CHARS = 256
MAX_TYPE_CHARS = 256
MAX_SUBJECT_CHARS = 8192
MAX_MESSAGE_BYTES = 1024 * 1024   # Event Grid: 1 MB per event; a queue message is at most 64 KiB
MAX_EVENTS_PER_MESSAGE = 5000     # Event Grid's largest batch

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class SkipEvent(Exception):
    """The event does not concern this app or cannot be used; ``reason`` is a short counter key.

    ``where`` is ``(account_url, container, name)`` when the event named a blob (even an unusable one), so the
    caller can tell whether a skipped event was a route's own marker and say so at WARNING."""

    def __init__(self, reason: str, detail: str = "", where: Optional[tuple[str, str, str]] = None):
        from .redact import redact

        detail = redact(detail)
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.where = where



@dataclass(frozen=True)
class EventEnvelope:
    schema: str                # EVENT_GRID or CLOUD_EVENTS
    id: Optional[str]
    type: Optional[str]        # None: the delivery lost it (an old worker decoding a CloudEvent)
    subject: Optional[str]
    time: Optional[str]        # ISO-8601 UTC with 'Z' and milliseconds, or None
    source: Optional[str]      # Event Grid ``topic`` / CloudEvents ``source``
    data: Any


def iso_time(value: Any) -> Optional[str]:
    """An event time as ISO-8601 UTC (``...T12:00:05.123Z``), or ``None`` when absent or unreadable.
    Event Grid writes 7 fractional digits, which ``fromisoformat`` (3.11) does not read."""
    return normalized(value, "milliseconds")


def _text(value: Any, name: str, limit: int) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str):
        raise SkipEvent("malformed", f"{name} must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise SkipEvent("malformed", f"{name} is {len(value)} characters; the limit is {limit}")
    if _CONTROL.search(value):
        raise SkipEvent("malformed", f"{name} holds control characters: {shown(value, 120)}")
    return value


def _data_of(event: Any) -> Any:
    if hasattr(event, "get_json"):
        try:
            return event.get_json()
        except Exception as exc:  # noqa: BLE001 - a body that is not JSON is a bad event, not an outage
            raise SkipEvent("malformed", f"data is not JSON: {type(exc).__name__}") from None
    return getattr(event, "data", None)


def read_event(event: Any) -> EventEnvelope:
    """The envelope of an event dict (either schema), a ``func.EventGridEvent`` or a ``func.CloudEvent``."""
    if isinstance(event, Mapping):
        cloud = "specversion" in event or ("type" in event and "eventType" not in event)
        raw = {
            "id": event.get("id"),
            "type": event.get("type") if cloud else event.get("eventType"),
            "subject": event.get("subject"),
            "time": event.get("time") if cloud else event.get("eventTime"),
            "source": event.get("source") if cloud else event.get("topic"),
            "data": event.get("data"),
        }
        if cloud and event.get("specversion") not in (None, "1.0"):
            raise SkipEvent("malformed", f"CloudEvents specversion {shown(event.get('specversion'), 120)} is not 1.0")
    elif hasattr(event, "specversion") or (hasattr(event, "type") and not hasattr(event, "event_type")):
        cloud = True
        if getattr(event, "specversion", "1.0") not in (None, "1.0"):
            raise SkipEvent("malformed", f"CloudEvents specversion {shown(getattr(event, 'specversion'), 120)} is not 1.0")
        raw = {"id": getattr(event, "id", None), "type": getattr(event, "type", None),
               "subject": getattr(event, "subject", None), "time": getattr(event, "time", None),
               "source": getattr(event, "source", None), "data": _data_of(event)}
    elif hasattr(event, "event_type"):
        cloud = False
        raw = {"id": getattr(event, "id", None), "type": getattr(event, "event_type", None),
               "subject": getattr(event, "subject", None), "time": getattr(event, "event_time", None),
               "source": getattr(event, "topic", None), "data": _data_of(event)}
    else:
        raise SkipEvent("malformed", f"not an event object: {type(event).__name__}")
    event_id = raw["id"]
    if isinstance(event_id, int) and not isinstance(event_id, bool):
        event_id = str(event_id)
    return EventEnvelope(
        schema=CLOUD_EVENTS if cloud else EVENT_GRID,
        id=_text(event_id, "id", MAX_ID_CHARS) or None,
        type=_text(raw["type"], "type", MAX_TYPE_CHARS) or None,
        subject=_text(raw["subject"], "subject", MAX_SUBJECT_CHARS) or None,
        time=iso_time(raw["time"]),
        source=_text(raw["source"], "source", MAX_SUBJECT_CHARS) or None,
        data=raw["data"],
    )


def safe_event_id(event: Any) -> str:
    """An id to name a skipped event in a log line, whatever the event is."""
    value = event.get("id") if isinstance(event, Mapping) else getattr(event, "id", None)
    return shown(value, 80) if value is not None else "(no id)"


def decode_queue_message(body: Union[bytes, str, None]) -> list[dict]:
    """Events in a Storage-queue message from an Event Grid → queue subscription.

    The body is the event's JSON (Event Grid or CloudEvents schema), sometimes still base64-encoded (the
    Functions host decodes base64 by default, but not every producer encodes, and some encode twice).
    A JSON array of events is accepted too (at most :data:`MAX_EVENTS_PER_MESSAGE`). Raises
    :class:`SkipEvent` ("malformed") when nothing usable is in it; never anything else.
    """
    if body is None:
        raise SkipEvent("malformed", "empty queue message")
    if isinstance(body, str):
        raw = body.encode("utf-8", "surrogatepass")
    elif isinstance(body, (bytes, bytearray, memoryview)):
        raw = bytes(body)
    else:
        raise SkipEvent("malformed", f"queue message body is a {type(body).__name__}")
    if len(raw) > MAX_MESSAGE_BYTES * 2:
        raise SkipEvent("malformed", f"queue message is {len(raw)} bytes; the limit is {MAX_MESSAGE_BYTES}")
    for _ in range(3):  # plain JSON, base64(JSON), base64(base64(JSON))
        text = raw.strip()
        if not text:
            raise SkipEvent("malformed", "empty queue message")
        if text[:1] in (b"{", b"["):
            if len(text) > MAX_MESSAGE_BYTES:
                raise SkipEvent("malformed", f"queue message is {len(text)} bytes; the limit is {MAX_MESSAGE_BYTES}")
            try:
                document = json.loads(text)
            except (ValueError, UnicodeDecodeError) as exc:
                raise SkipEvent("malformed", f"queue message is not JSON: {shown(str(exc), 80)}") from None
            except RecursionError:
                raise SkipEvent("malformed", "queue message JSON is nested too deeply") from None
            events = document if isinstance(document, list) else [document]
            if not events or not all(isinstance(e, dict) for e in events):
                raise SkipEvent("malformed", "queue message is not an event object or a list of them")
            if len(events) > MAX_EVENTS_PER_MESSAGE:
                raise SkipEvent("malformed", f"queue message holds {len(events)} events; the limit is"
                                             f" {MAX_EVENTS_PER_MESSAGE}")
            return events
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            break
    raise SkipEvent("malformed", "queue message is neither JSON nor base64-encoded JSON")
