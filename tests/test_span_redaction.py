"""shared/span_redaction.py: whatever sets a span's URL, name, events or status, and when, the exporter sees it
masked; the processor puts itself first among a provider's processors."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared import span_redaction

KEY = "Zm9vYmFyYmF6cXV4MTIzNDU2"


def traced() -> tuple[TracerProvider, InMemorySpanExporter]:
    provider, memory = TracerProvider(), InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))  # the exporter first: install must go before it
    assert span_redaction.install(provider) and span_redaction.install(provider)
    return provider, memory


def test_attributes_set_at_start_or_later_events_status_and_name_are_masked_before_export():
    provider, memory = traced()
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span(f"POST https://h.example.com/x?apikey={KEY}",
                                      attributes={"url.full": f"https://h.example.com/x?apikey={KEY}",
                                                  "http.request.method": "POST", "n": 3}) as span:
        span.set_attribute("late.url", f"https://hooks.slack.com/services/T0/B0/{KEY}")
        span.set_attribute("list", [f"sig={KEY}", "plain"])
        span.add_event("exception", {"exception.message": f"failed https://h/x?subscription-key={KEY}"})
        span.set_status(trace.Status(trace.StatusCode.ERROR, f"client_secret: {KEY}"))
    [exported] = memory.get_finished_spans()
    texts = [exported.name, exported.status.description, *map(str, exported.attributes.values()),
             *(str(v) for e in exported.events for v in e.attributes.values())]
    assert not any(KEY in t for t in texts), texts
    assert exported.attributes["url.full"] == "https://h.example.com/x?apikey=***"
    assert exported.attributes["n"] == 3 and exported.attributes["http.request.method"] == "POST"


def test_ordinary_spans_are_left_as_they_are():
    provider, memory = traced()
    with provider.get_tracer("t").start_as_current_span("batchruns.copy", attributes={"route": "heart"}):
        pass
    [exported] = memory.get_finished_spans()
    assert exported.name == "batchruns.copy" and dict(exported.attributes) == {"route": "heart"}


def test_a_provider_without_processors_is_left_alone():
    assert not span_redaction.install(trace.NoOpTracerProvider())
