"""Reading ``Microsoft.Storage.BlobCreated`` events and matching them to routes (pure)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Union

from ..storage.uris import BlobLocation, parse_blob_url

BLOB_CREATED = "Microsoft.Storage.BlobCreated"
# Only these mean "the blob's content is committed" (a blob output binding alone emits three events).
COMMITTED_APIS = frozenset({"PutBlob", "PutBlockList", "CopyBlob", "FlushWithClose"})


class SkipEvent(Exception):
    """The event does not concern this app; ``reason`` is a short counter key."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class BlobCreated:
    event_id: str
    location: BlobLocation
    etag: str
    api: str
    content_length: Optional[int]

    @property
    def name(self) -> str:
        return self.location.path.rsplit("/", 1)[-1]

    @property
    def folder(self) -> str:
        """The blob's parent folder with a trailing '/', or '' at the container's root."""
        path = self.location.path
        return path[: path.rfind("/") + 1] if "/" in path else ""


def parse_blob_created(event_id: Any, event_type: Any, data: Any) -> BlobCreated:
    if event_type != BLOB_CREATED:
        raise SkipEvent("wrong_event_type", str(event_type))
    if not isinstance(data, Mapping):
        raise SkipEvent("malformed", "data is not an object")
    api = data.get("api")
    if api not in COMMITTED_APIS:
        raise SkipEvent("uncommitted_api", str(api))
    url = data.get("url")
    if not isinstance(url, str):
        raise SkipEvent("malformed", "data.url is missing")
    try:
        location = parse_blob_url(url)
    except ValueError as exc:
        raise SkipEvent("malformed", str(exc)) from None
    if not location.path or location.path.endswith("/"):
        raise SkipEvent("not_a_blob", url)
    etag = data.get("eTag") or data.get("etag")
    if not isinstance(etag, str) or not etag:
        raise SkipEvent("malformed", "data.eTag is missing")
    length = data.get("contentLength")
    return BlobCreated(str(event_id or ""), location, etag, api,
                       length if isinstance(length, int) and not isinstance(length, bool) else None)


def decode_queue_message(body: Union[bytes, str, None]) -> list[dict]:
    """Events in a Storage-queue message from an Event Grid → queue subscription.

    The body is the event's JSON (Event Grid or CloudEvents schema), sometimes still base64-encoded (the
    Functions host decodes base64 by default, but not every producer encodes, and some encode twice).
    A JSON array of events is accepted too. Raises :class:`SkipEvent` ("malformed") when nothing usable is in it.
    """
    if body is None:
        raise SkipEvent("malformed", "empty queue message")
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    for _ in range(3):  # plain JSON, base64(JSON), base64(base64(JSON))
        text = raw.strip()
        if not text:
            raise SkipEvent("malformed", "empty queue message")
        if text[:1] in (b"{", b"["):
            try:
                document = json.loads(text)
            except (ValueError, UnicodeDecodeError) as exc:
                raise SkipEvent("malformed", f"queue message is not JSON: {exc}") from None
            events = document if isinstance(document, list) else [document]
            if not events or not all(isinstance(e, dict) for e in events):
                raise SkipEvent("malformed", "queue message is not an event object or a list of them")
            return events
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            break
    raise SkipEvent("malformed", "queue message is neither JSON nor base64-encoded JSON")


def event_fields(event: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    """``(id, type, data)`` of an event dict in the Event Grid schema or the CloudEvents 1.0 schema."""
    event_type = event.get("eventType", event.get("type"))
    return event.get("id"), event_type, event.get("data")
