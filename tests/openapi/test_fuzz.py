"""Schemathesis fuzzes the local host against docs/openapi.json: no 5xx, no status, content type, header or
body outside the document. Bounded (a few examples per operation, well under a minute); prints its figures:

    openapi fuzz: <cases> cases over <operations> operations, <failures> failures
"""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest

from shared.http_api.openapi import DOCUMENT

EXAMPLES = int(os.environ.get("OPENAPI_FUZZ_EXAMPLES", "12"))
KEY = {"x-functions-key": "local-fuzz-key"}


def fuzz(base_url: str, document: dict | None = None) -> tuple[Counter, list[str]]:
    import hypothesis
    import schemathesis
    from hypothesis import HealthCheck, Phase
    from schemathesis.checks import (Failure, FailureGroup, content_type_conformance, not_a_server_error, response_headers_conformance,
                                     response_schema_conformance, status_code_conformance)

    schema = schemathesis.openapi.from_dict(document or json.loads(DOCUMENT.read_text(encoding="utf-8")))
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
              response_schema_conformance]
    counts: Counter = Counter()
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        counts["operations"] += 1

        @hypothesis.settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                             phases=[Phase.explicit, Phase.generate],
                             suppress_health_check=list(HealthCheck))
        @hypothesis.given(case=operation.as_strategy())
        def one(case) -> None:
            counts["cases"] += 1
            response = case.call(base_url=base_url, headers=KEY, timeout=30)
            counts[f"HTTP {response.status_code}"] += 1
            try:
                case.validate_response(response, checks=checks)
            except (Failure, FailureGroup) as exc:  # one failed check, or a group of them
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: "
                                f"{' '.join(str(exc).split())[:400]}")

        one()
    return counts, failures


@pytest.mark.timeout(240)
def test_the_api_answers_only_what_its_document_says(devhost, capsys):
    counts, failures = fuzz(devhost.base_url)
    with capsys.disabled():
        print(f"\nopenapi fuzz: {counts['cases']} cases over {counts['operations']} operations,"
              f" {len(failures)} failures")
        print("  answers: " + ", ".join(f"{k} x{v}" for k, v in sorted(counts.items()) if k.startswith("HTTP")))
        for failure in failures[:20]:
            print(f"  {failure}")
    assert counts["operations"] >= 17 and counts["cases"] >= counts["operations"]
    assert failures == []


def test_control_a_document_that_lies_about_errors_fails(devhost):
    """The control: the same run against a document whose Problem needs a field no error answer has
    must report failures (so 0 failures above means the checks ran)."""
    document = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    problem = document["components"]["schemas"]["Problem"]
    problem["required"] = [*problem.get("required", []), "never_sent"]
    counts, failures = fuzz(devhost.base_url, document)
    assert failures and all("never_sent" in f or "required" in f for f in failures[:5]), failures[:5]
