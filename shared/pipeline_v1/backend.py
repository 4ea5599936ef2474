"""The ``pipeline_endpoint_v1`` route kind's backend (``shared/route_backend.py``): a v1 PipelineEndpoint.

Submit is idempotent per run attempt like the batch-endpoint path (shared/batch_endpoint/attempts.py): the run
carries the attempt's labels as Tags; before any POST the experiment's runs are searched for the attempt's tag
(a repeat of an activity whose POST went through adopts that run), and after an ambiguous answer the search
runs again (with backoff) before a POST is ever repeated. The service chooses the run id, so there is no
name to look up; a search that cannot be made (no query API) counts as "found nothing" only before the first
POST of this call — after an ambiguous POST it stops the submit (``JobLookupError``) rather than risk a twin.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional

from ..batch_endpoint import exceptions as errors
from ..batch_endpoint.attempts import TAG_ATTEMPT_ID, AttemptIdentity, choose
from ..batch_endpoint.requests import JobInfo
from ..config import AppSettings
from ..config.models import Route
from ..redact import redact
from ..runs.ids import submit_request_id
from ..runs.job_index import index_job
from . import requests as v1

log = logging.getLogger(__name__)


def _search(client: Any, route: Route, identity: AttemptIdentity) -> tuple[Optional[JobInfo], bool]:
    """``(the attempt's run or None, whether a search could be made)``; a refused or unreadable query (the
    service offers none) is "cannot look", a transient failure raises (the activity is retried)."""
    try:
        response = client.send(v1.query_call(route, TAG_ATTEMPT_ID, identity.job_name), what="run query")
        body = response.json()
    except (errors.PermanentError, ValueError) as exc:
        log.warning("route %s: the v1 run query is unusable (%s)", route.name, type(exc).__name__)
        return None, False
    runs = []
    for item in (body.get("value") if isinstance(body, dict) else None) or []:
        try:
            runs.append(v1.parse_run(route, item))
        except ValueError:
            continue
    picked = choose(identity, runs)
    return (picked[0] if picked else None), True


def _find(client: Any, route: Route, identity: AttemptIdentity) -> Optional[JobInfo]:
    return _search(client, route, identity)[0]


def submit_run(route: Route, run: dict, attempt: int, settings: AppSettings,
               client_factory: Callable[[str], Any]) -> dict:
    identity = AttemptIdentity.of(run["run_id"], attempt, run.get("output_uri"))
    assert route.pipeline_endpoint is not None
    with client_factory(route.pipeline_endpoint.api_url) as client:
        try:
            body = v1.submission_body(route, run, identity.labels)
            found = _find(client, route, identity)
            if found is not None:
                return _answer(run, found, attempt, settings, adopted=True)
            retry = client._retry
            for post in range(1, retry.max_posts + 1):
                try:
                    response = client.send(v1.submit_call(route, body, submit_request_id(run["run_id"], attempt)),
                                           what="v1 pipeline submission", creates=True)
                    run_id = v1.parse_submitted(response.json())
                    return _answer(run, JobInfo(run_id, "NotStarted", v1.studio_url(route, run_id)), attempt,
                                   settings)
                except errors.SubmitAmbiguousError as exc:
                    for look in range(retry.looks_after_ambiguous):
                        client._sleep(retry.backoff(look, client._random))
                        found, searchable = _search(client, route, identity)
                        if found is not None:
                            return _answer(run, found, attempt, settings, adopted=True)
                        if not searchable:
                            raise errors.JobLookupError(f"{exc}; the run cannot be searched for, so it is not"
                                                        " submitted again (the orchestration retries later)") from None
                    if post >= retry.max_posts:
                        raise
        except (errors.PermanentError, ValueError) as exc:
            log.warning("run %s: the v1 pipeline endpoint rejected the run: %s", run["run_id"], redact(exc))
            return {"error": redact(exc), "error_type": type(exc).__name__}
    raise errors.SubmitAmbiguousError("v1 pipeline submission: no answer")  # pragma: no cover - loop returns


def _answer(run: dict, job: JobInfo, attempt: int, settings: AppSettings, adopted: bool = False) -> dict:
    index_job(settings, job.name, run["run_id"])
    log.info("run %s: %s v1 pipeline run %s (%s)", run["run_id"], "adopted" if adopted else "submitted", job.name,
             job.status)
    return {"job_name": job.name, "status": job.status, "studio_url": job.studio_url, "attempt": attempt,
            "adopted": adopted, "found_by": "tag" if adopted else None}


def run_status(route: Route, payload: dict, client_factory: Callable[[str], Any]) -> dict:
    assert route.pipeline_endpoint is not None
    with client_factory(route.pipeline_endpoint.api_url) as client:
        try:
            response = client.send(v1.run_call(route, payload["job_name"]), what="job status")
            job = v1.parse_run(route, response.json())
        except errors.BatchEndpointError as exc:
            return {"status": None, "error": redact(exc), "transient": isinstance(exc, errors.TransientError)}
        except ValueError as exc:
            return {"status": None, "error": redact(f"v1 run {payload['job_name']}: {exc}"), "transient": False}
    return {"status": job.status, "studio_url": job.studio_url, "job_error": job.error and redact(job.error)}


def cancel_run(route: Route, payload: dict, client_factory: Callable[[str], Any]) -> dict:
    assert route.pipeline_endpoint is not None
    with client_factory(route.pipeline_endpoint.api_url) as client:
        try:
            client.send(v1.cancel_call(route, payload["job_name"]), what="cancel")
        except errors.PermanentError as exc:
            return {"error": redact(exc)}
    return {"cancel_requested": True}


def find_run(route: Route, payload: dict, identity: AttemptIdentity, client_factory: Callable[[str], Any]) -> dict:
    assert route.pipeline_endpoint is not None
    with client_factory(route.pipeline_endpoint.api_url) as client:
        found = _find(client, route, identity)
    if found is None:
        return {"job_name": None, "attempt_job_name": identity.job_name}
    return {"job_name": found.name, "status": found.status, "studio_url": found.studio_url, "found_by": "tag",
            "attempt_job_name": identity.job_name}


class PipelineV1Backend:
    """A v1 run is found by its attempt's tag; the service chooses its id."""

    def __init__(self, route: Route, settings: AppSettings, client_factory: Callable[[str], Any]):
        self.route, self.settings, self.client_factory = route, settings, client_factory

    def submit(self, run: dict, attempt: int) -> dict:
        return submit_run(self.route, run, attempt, self.settings, self.client_factory)

    def status(self, payload: dict) -> dict:
        return run_status(self.route, payload, self.client_factory)

    def find_attempt(self, payload: dict, identity: AttemptIdentity) -> dict:
        return find_run(self.route, payload, identity, self.client_factory)

    def cancel(self, payload: dict) -> dict:
        return cancel_run(self.route, payload, self.client_factory)

    def job_outputs(self, job_name: str) -> Any:
        """A v1 route's outputs are always configured (the routes document requires them for sinks), so the
        run names them; the service's run lists none this app could read."""
        from ..batch_endpoint.child_client import FoundOutputs

        return FoundOutputs()
