"""The delivery phase of a run's orchestration (deterministic; runs inside the orchestrator)."""

from __future__ import annotations

from typing import Any, Generator

import azure.durable_functions as df

COPY_ACTIVITY = "copy_outputs"
COPY_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=15_000, max_number_of_attempts=4)


def deliver_outputs(context: df.DurableOrchestrationContext, run: dict,
                    job_name: str) -> Generator[Any, Any, list]:
    """Copy the job's outputs to the route's sinks; returns what was copied. Raises if delivery failed."""
    copied = yield context.call_activity_with_retry(COPY_ACTIVITY, COPY_RETRY, {"run": run, "job_name": job_name})
    return copied.get("outputs", [])
