"""Activity bodies: the only place where a run touches the network.

Each takes and returns plain JSON-able dicts (they are stored in Durable history), never a token.
Permanent errors are returned as ``{"error": ...}`` so the orchestration fails at once with the message;
transient ones raise, so the orchestration's retry policy applies.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional

from . import telemetry
from .batch_endpoint import exceptions as errors
from .batch_endpoint.requests import job_body
from .config import AppSettings, load_settings
from .runs.ids import submit_request_id

log = logging.getLogger(__name__)

def _client(url: str) -> Any:
    from .batch_endpoint.client import BatchEndpointClient
    from .identity import credential_for

    return BatchEndpointClient(credential_for(url))


@telemetry.traced("submit")
def submit_job(payload: dict, settings: Optional[AppSettings] = None,
               client_factory: Callable[[str], Any] = _client) -> dict:
    settings = settings or load_settings()
    run = payload["run"]
    route = settings.route(run["route"])
    body = job_body(input_name=route.input.name, input_type=run["input"]["type"], input_uri=run["input"]["uri"],
                    output_name=route.output.name, output_uri=run["output_uri"], overrides=route.overrides)
    with client_factory(route.endpoint.scoring_uri) as client:
        try:
            job = client.submit(route.endpoint, body, submit_request_id(run["run_id"], run.get("attempt", 1)))
        except errors.PermanentError as exc:
            log.warning("run %s: the endpoint rejected the job: %s", run["run_id"], exc)
            return {"error": str(exc), "error_type": type(exc).__name__}
    _index_job(settings, job.name, run["run_id"])
    log.info("run %s: submitted job %s (%s)", run["run_id"], job.name, job.status)
    return {"job_name": job.name, "status": job.status, "studio_url": job.studio_url}


def _index_job(settings: AppSettings, job_name: str, run_id: str) -> None:
    """Record job → run so Azure ML events can find the run; best effort, the poll loop works without it."""
    try:
        from .runs.ledger import RunLedger

        ledger = RunLedger.from_settings(settings)
        ledger.index_job(job_name, run_id)
        ledger.update_record(run_id, job_name=job_name)
    except Exception as exc:  # the ledger is an index, not the source of truth
        log.warning("run %s: could not index job %s in the ledger: %s", run_id, job_name, type(exc).__name__)


@telemetry.traced("status")
def get_job_status(payload: dict, settings: Optional[AppSettings] = None,
                   client_factory: Callable[[str], Any] = _client) -> dict:
    settings = settings or load_settings()
    route = settings.route(payload["route"])
    with client_factory(route.endpoint.scoring_uri) as client:
        try:
            job = client.get_job(route.endpoint, payload["job_name"], settings.management_url,
                                 settings.management_api_version)
        except errors.BatchEndpointError as exc:
            # The poll loop is the retry: an error here is counted, not fatal, until it repeats too often.
            return {"status": None, "error": str(exc), "transient": isinstance(exc, errors.TransientError)}
    return {"status": job.status, "studio_url": job.studio_url, "job_error": job.error}


@telemetry.traced("cancel")
def cancel_job(payload: dict, settings: Optional[AppSettings] = None,
               client_factory: Callable[[str], Any] = _client) -> dict:
    settings = settings or load_settings()
    route = settings.route(payload["route"])
    with client_factory(route.endpoint.scoring_uri) as client:
        try:
            client.cancel(route.endpoint, payload["job_name"], settings.management_url,
                          settings.management_api_version)
        except errors.PermanentError as exc:
            return {"error": str(exc)}
    log.info("run %s: cancel requested for job %s", payload["run_id"], payload["job_name"])
    return {"cancel_requested": True}
