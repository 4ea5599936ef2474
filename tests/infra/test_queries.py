"""docs/queries.kql asks for what the app emits: the span names, attributes and metrics of
shared/telemetry.py and the orchestrator's "run <id>: ended <status>" line."""

from __future__ import annotations

import re

from shared import telemetry
from tests.infra.bicep import ROOT

KQL = (ROOT / "docs" / "queries.kql").read_text()


def test_the_three_queries_are_there_and_the_telemetry_page_points_at_them():
    for title in ("runs by status", "slowest jobs", "failed deliveries"):
        assert f"// ---- {title} " in KQL
    assert "](queries.kql)" in (ROOT / "docs" / "telemetry.md").read_text()


def test_span_names_attributes_and_metrics_exist():
    spans = set(re.findall(r'"batchruns\.(\w+)"', KQL))
    metrics = {name for name in re.findall(r'"(batchruns\.[\w.]+)"', KQL) if name.count(".") > 1}
    assert {"submit", "status", "copy", "notify"} <= spans <= set(telemetry.SPAN_NAMES)
    assert metrics == {"batchruns.delivered.bytes", "batchruns.poll.calls", "batchruns.landing.outcomes"}
    source = (ROOT / "shared" / "telemetry.py").read_text()
    for metric in metrics:
        assert f'f"{{SCOPE}}.{metric.split(".", 1)[1]}"' in source, metric
    attributes = set(re.findall(r"Properties\.(\w+)", KQL))
    assert attributes <= set(telemetry.ATTRIBUTE_KEYS) | {"job_status"}


def test_the_run_outcome_line_is_the_one_the_orchestrator_logs():
    source = (ROOT / "shared" / "runs" / "orchestrator.py").read_text()
    assert 'log.info("run %s: " + message' in source and 'self.info("ended %s%s", outcome' in source
    assert 'parse Message with "run " run_id ": ended " rest' in KQL
