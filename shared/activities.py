"""The run's activity bodies: submit, status, find the attempt's job, cancel; the only place a run touches
its scoring service.

Each reads the route from the app's settings (pinned to the endpoint the run submitted to) and hands the
payload to that route kind's backend (``shared/route_backend.py``). Each takes and returns plain JSON-able
dicts (they are stored in Durable history), never a token. Permanent errors are returned as ``{"error": ...}``
so the orchestration fails at once with the message; transient ones raise, so the orchestration's retry
policy applies.
"""

from __future__ import annotations

from typing import Any, Optional

from . import telemetry
from .batch_endpoint.attempts import AttemptIdentity, attempt_of
from .config import AppSettings, load_settings
from .route_backend import ClientFactory, RouteBackend, backend_for, default_client
from .runs.pinning import route_for


def _backend(route_name: str, pinned: Any, settings: AppSettings, client_factory: ClientFactory) -> RouteBackend:
    return backend_for(route_for(settings.route(route_name), pinned), settings, client_factory)


@telemetry.traced("submit")
def submit_job(payload: dict, settings: Optional[AppSettings] = None,
               client_factory: ClientFactory = default_client) -> dict:
    """``{"run": <run input>, "attempt": n}`` → the attempt's job, created or adopted."""
    settings = settings or load_settings()
    run = payload["run"]
    attempt = attempt_of(payload)
    return _backend(run["route"], run.get("endpoint"), settings, client_factory).submit(run, attempt)


@telemetry.traced("status")
def get_job_status(payload: dict, settings: Optional[AppSettings] = None,
                   client_factory: ClientFactory = default_client) -> dict:
    """``{"route", "run_id", "job_name"[, "attempt", "output_uri"]}`` → the job's status.

    When the job failed because its output path exists, it was a duplicate of this attempt: the answer
    is then the status of the job that owns the path, with that job's name in ``job_name`` (the run
    follows it from now on) and the duplicate's in ``replaces``.
    """
    settings = settings or load_settings()
    return _backend(payload["route"], payload.get("endpoint"), settings, client_factory).status(payload)


def find_attempt_job(payload: dict, settings: Optional[AppSettings] = None,
                     client_factory: ClientFactory = default_client) -> dict:
    """``{"route", "run_id", "attempt", "output_uri"}`` → ``{"job_name": ..., "status": ..., "found_by": ...}``
    for the attempt's job (``job_name`` None when there is none), e.g. before re-submitting or redelivering."""
    settings = settings or load_settings()
    backend = _backend(payload["route"], payload.get("endpoint"), settings, client_factory)
    identity = AttemptIdentity.of(payload["run_id"], attempt_of(payload), payload.get("output_uri"))
    return backend.find_attempt(payload, identity)


@telemetry.traced("cancel")
def cancel_job(payload: dict, settings: Optional[AppSettings] = None,
               client_factory: ClientFactory = default_client) -> dict:
    settings = settings or load_settings()
    return _backend(payload["route"], payload.get("endpoint"), settings, client_factory).cancel(payload)
