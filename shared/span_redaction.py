"""Defence in depth for spans: no URL query value, user info, webhook path secret or other credential in any
attribute, event, status or name of a span, whoever created it.

The HTTP client instrumentations that ``azure-monitor-opentelemetry`` switches on (httpx, requests, urllib3)
put the whole request URL in ``url.full`` / ``http.url``; a webhook's ``?apikey=`` or a Slack path secret would
then reach Application Insights. :class:`RedactingSpanProcessor` runs first among the span processors: it
rewrites the attributes a span starts with (where the instrumentations put the URL) through
:func:`shared.redact.redact`, and at the end the attributes, events and status added later, before the
exporting processor (added after it) reads them.

Imports ``opentelemetry.sdk``: only imported when telemetry is being configured.
"""

from __future__ import annotations

from typing import Any, Optional

from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import Status

from .redact import has_secret, redact


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value) if has_secret(value) else value
    if isinstance(value, (tuple, list)) and any(isinstance(v, str) and has_secret(v) for v in value):
        return tuple(redact(v) if isinstance(v, str) else v for v in value)
    return value


def clean_attributes(attributes: Optional[Any]) -> Optional[dict]:
    """The attributes with every secret masked, or ``None`` when nothing had to change."""
    if not attributes:
        return None
    cleaned = {key: _clean(value) for key, value in attributes.items()}
    return cleaned if any(cleaned[k] is not attributes[k] for k in cleaned) else None


class RedactingSpanProcessor(SpanProcessor):
    """Masks credentials in spans; add it before any exporting processor."""

    def on_start(self, span: Span, parent_context: Any = None) -> None:
        cleaned = clean_attributes(span.attributes)
        if cleaned:
            span.set_attributes(cleaned)
        if has_secret(span.name):
            span.update_name(redact(span.name))

    def on_end(self, span: ReadableSpan) -> None:
        # An ended span is read-only through the API; the SDK's fields are rewritten in place (defensively:
        # a field that is missing in some SDK version is left as it is, the start-time pass already ran).
        try:
            from opentelemetry.attributes import BoundedAttributes

            cleaned = clean_attributes(span.attributes)
            if cleaned:
                span._attributes = BoundedAttributes(attributes=cleaned, immutable=True)  # noqa: SLF001
            events = list(span.events)
            if any(clean_attributes(e.attributes) for e in events):
                from opentelemetry.sdk.util import BoundedList

                span._events = BoundedList.from_seq(None, [  # noqa: SLF001
                    Event(e.name, clean_attributes(e.attributes) or e.attributes, e.timestamp) for e in events])
            status = span.status
            if status.description and has_secret(status.description):
                span._status = Status(status.status_code, redact(status.description))  # noqa: SLF001
            if has_secret(span.name):
                span._name = redact(span.name)  # noqa: SLF001
        except AttributeError:
            pass

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def install(provider: Any) -> bool:
    """Add the processor to an SDK tracer provider someone else configured, first among its processors so an
    exporting processor never sees an unmasked span (idempotent; True when the provider has it)."""
    add = getattr(provider, "add_span_processor", None)
    if add is None:
        return False
    multi = getattr(provider, "_active_span_processor", None)
    current = getattr(multi, "_span_processors", None)
    if isinstance(current, tuple) and any(isinstance(p, RedactingSpanProcessor) for p in current):
        return True
    processor = RedactingSpanProcessor()
    add(processor)
    current = getattr(multi, "_span_processors", None)
    if isinstance(current, tuple) and current and current[-1] is processor:
        multi._span_processors = (processor,) + current[:-1]  # noqa: SLF001 - the SDK offers no insert
    return True
