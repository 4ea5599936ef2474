"""shared/telemetry.py: spans and counters through the OpenTelemetry API, collected here by the real SDK's
in-memory exporter and metric reader; Azure Monitor switched on lazily, only with a connection string."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared import telemetry

ROOT = Path(__file__).resolve().parents[1]
SAS = "https://acct.blob.core.windows.net/c/b?sv=2024&sig=SECRETSIGNATURE123"

_exporter = InMemorySpanExporter()
_reader = InMemoryMetricReader()


@pytest.fixture(scope="module", autouse=True)
def sdk():
    """The SDK as the exporter would install it (the global providers can be set once per process)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # another module may have set it first (tests/hostile)
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(_exporter))
    if not isinstance(metrics.get_meter_provider(), MeterProvider):
        metrics.set_meter_provider(MeterProvider(metric_readers=[_reader]))
    yield


@pytest.fixture
def spans(monkeypatch):
    monkeypatch.delenv(telemetry.CONNECTION_SETTING, raising=False)
    telemetry._reset_for_tests()
    _exporter.clear()
    yield _exporter
    telemetry._reset_for_tests()


def points(name):
    data = _reader.get_metrics_data()
    found = []
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    found.extend((dict(p.attributes), p.value) for p in metric.data.data_points)
    return found


def test_activity_bodies_carry_their_spans():
    from shared import activities
    from shared.delivery import activities as delivery
    from shared.delivery import notify

    for body, name in [(activities.submit_job, "submit"), (activities.get_job_status, "status"),
                       (activities.cancel_job, "cancel"), (delivery.copy_output, "copy"),
                       (notify.send_notification, "notify")]:
        assert hasattr(body, "__wrapped__"), f"{body.__name__} is not traced"
        assert body.__wrapped__.__name__ == body.__name__
    assert set(telemetry.SPAN_NAMES) >= {"submit", "status", "copy", "notify"}


@pytest.mark.parametrize("name, payload, result, expected", [
    ("submit", {"run": {"run_id": "heart-1", "route": "heart"}}, {"job_name": "job-9", "status": "Queued"},
     {"run_id": "heart-1", "route": "heart", "job_name": "job-9"}),
    ("status", {"run_id": "heart-1", "route": "heart", "job_name": "job-9"}, {"status": "Running"},
     {"run_id": "heart-1", "route": "heart", "job_name": "job-9", "job_status": "Running"}),
    ("copy", {"run_id": "heart-1", "route": "heart", "sink": "curated", "file": "p.csv"},
     {"state": "copied", "bytes": 2048}, {"run_id": "heart-1", "route": "heart", "sink": "curated"}),
    ("notify", {"summary": {"run_id": "heart-1", "route": "heart", "job_name": "job-9", "outcome": "Failed"}},
     {"sent": ["webhook"], "failed": {}}, {"run_id": "heart-1", "route": "heart", "job_name": "job-9"}),
])
def test_a_traced_body_gets_a_span_with_run_route_and_job(spans, name, payload, result, expected):
    body = telemetry.traced(name)(lambda p: result)
    assert body(payload) is result
    [span] = spans.get_finished_spans()
    assert span.name == f"batchruns.{name}"
    assert {k: span.attributes[k] for k in expected} == expected
    assert span.status.status_code != trace.StatusCode.ERROR


def test_an_error_result_marks_the_span_failed_without_secrets(spans):
    telemetry.traced("copy")(lambda p: {"error": f"copy from {SAS} refused"})({"run_id": "r", "route": "heart"})
    [span] = spans.get_finished_spans()
    assert span.status.status_code == trace.StatusCode.ERROR
    assert "SECRETSIGNATURE123" not in span.status.description and "sig=***" in span.status.description


def test_an_exception_is_recorded_redacted_and_propagates(spans):
    def boom(payload):
        raise RuntimeError(f"GET {SAS} failed")

    with pytest.raises(RuntimeError, match="SECRETSIGNATURE123"):
        telemetry.traced("status")(boom)({"run_id": "r", "route": "heart", "job_name": "j"})
    [span] = spans.get_finished_spans()
    assert span.status.status_code == trace.StatusCode.ERROR
    text = json.dumps([span.status.description] + [dict(e.attributes) for e in span.events])
    assert "SECRETSIGNATURE123" not in text and "RuntimeError" in text


def test_polls_and_delivered_bytes_are_counted(spans):
    before_polls = sum(v for a, v in points("batchruns.poll.calls") if a == {"route": "heart",
                                                                              "job_status": "Running"})
    status = telemetry.traced("status")(lambda p: {"status": "Running"})
    status({"route": "heart", "job_name": "j"})
    status({"route": "heart", "job_name": "j"})
    after_polls = sum(v for a, v in points("batchruns.poll.calls") if a == {"route": "heart", "job_status": "Running"})
    assert after_polls - before_polls == 2

    copied = telemetry.traced("copy")
    before = sum(v for a, v in points("batchruns.delivered.bytes") if a.get("sink") == "s1")
    copied(lambda p: {"state": "copied", "bytes": 1000})({"route": "heart", "sink": "s1"})
    copied(lambda p: {"state": "skipped", "bytes": 5000})({"route": "heart", "sink": "s1"})  # nothing moved
    after = sum(v for a, v in points("batchruns.delivered.bytes") if a.get("sink") == "s1")
    assert after - before == 1000


def test_landing_outcomes_are_counted(spans):
    from shared.landing.handler import skip_event

    def skipped():
        return sum(v for a, v in points("batchruns.landing.outcomes")
                   if a == {"outcome": "skipped", "reason": "not_blob_created"})

    before = skipped()
    outcome = skip_event("not_blob_created", "Microsoft.Storage.BlobDeleted", "evt-1")
    assert outcome.action == "skipped"
    assert skipped() - before == 1


def _python(code: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS", "PYTHON_APPLICATION"))}
    environ.update(env)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


# A loopback ingestion endpoint with nothing listening, and no statsbeat: nothing leaves the machine.
LOOPBACK = {"APPLICATIONINSIGHTS_CONNECTION_STRING":
            "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/",
            "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true"}

PROBE = """
import sys
import function_app
print("at import:", "azure.monitor.opentelemetry" in sys.modules)
from shared import telemetry
with telemetry.span("submit", run_id="r", route="heart"):
    pass
from opentelemetry import trace
print("after a span:", "azure.monitor.opentelemetry" in sys.modules, type(trace.get_tracer_provider()).__name__)
"""


def test_azure_monitor_is_imported_lazily_and_only_with_a_connection_string():
    on = _python(PROBE, **LOOPBACK)
    assert on.splitlines() == ["at import: False", "after a span: True TracerProvider"]
    off = _python(PROBE)
    assert off.splitlines() == ["at import: False", "after a span: False ProxyTracerProvider"]


def test_the_worker_configured_exporter_is_not_configured_twice():
    out = _python(PROBE, PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY="true", **LOOPBACK)
    assert out.splitlines()[-1] == "after a span: False ProxyTracerProvider"
