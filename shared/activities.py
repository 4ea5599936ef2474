"""Activity bodies: the only place where a run touches the network.

Each takes and returns plain JSON-able dicts (they are stored in Durable history), never a token.
Permanent errors are returned as ``{"error": ...}`` so the orchestration fails at once with the message;
transient ones raise, so the orchestration's retry policy applies.

Submitting is idempotent per run attempt (see README, "Submit idempotency"): the job carries the
attempt's identity, and a repeated or retried submit adopts the job it finds instead of creating another.
A tracked job that failed because its output path exists is a duplicate: the status activity reports the
job that owns the path, and the run follows that one.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional

from . import telemetry
from .batch_endpoint import exceptions as errors
from .batch_endpoint.attempts import AttemptIdentity, failed_on_existing_path, identity_of_job, searchable
from .batch_endpoint.job_spec import job_spec, resolve_latest
from .config import AppSettings, load_settings
from .redact import redact
from .runs.ids import submit_request_id
from .runs.pinning import route_for

log = logging.getLogger(__name__)

def _client(url: str) -> Any:
    from .batch_endpoint.client import BatchEndpointClient
    from .identity import credential_for

    return BatchEndpointClient(credential_for(url))


def _attempt(payload: dict) -> int:
    """The run attempt: ``payload["attempt"]``, else the run's own, else 1."""
    value = payload.get("attempt", (payload.get("run") or {}).get("attempt", 1))
    if value is None:
        return 1
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"attempt must be an integer >= 1, got {value!r}")
    return value


@telemetry.traced("submit")
def submit_job(payload: dict, settings: Optional[AppSettings] = None,
               client_factory: Callable[[str], Any] = _client) -> dict:
    """``{"run": <run input>, "attempt": n}`` → the attempt's job, created or adopted."""
    settings = settings or load_settings()
    run = payload["run"]
    attempt = _attempt(payload)
    route = route_for(settings.route(run["route"]), run.get("endpoint"))
    if route.kind == "pipeline_endpoint_v1":
        from .pipeline_v1.activities import submit_run

        return submit_run(route, run, attempt, settings, client_factory)
    identity = AttemptIdentity.of(run["run_id"], attempt, run.get("output_uri"))
    spec = job_spec(route, run, job_name=identity.job_name, labels=identity.labels)
    can_search = searchable(route.endpoint, run.get("output_uri"))
    ledger = None if can_search else _marks_ledger(settings, run["run_id"])

    def before_post() -> None:  # the write-ahead mark: a repeated call of this attempt never posts again
        if ledger is not None and not ledger.mark_posting(run["run_id"], attempt):
            raise errors.SubmitUncertainError(f"an earlier call of attempt {attempt}'s submit may have posted its"
                                              " job, which cannot be searched for here; not posting again")

    with client_factory(route.endpoint.scoring_uri) as client:
        try:
            versions = {item.asset: client.latest_asset_version(route.endpoint, item.asset, settings.management_url,
                                                                settings.management_api_version)
                        for item in spec.latest_assets}
            body = resolve_latest(spec, versions)
            known = ledger.posted_job(run["run_id"], attempt) if ledger is not None else None
            if known:  # an earlier call posted it and recorded its answer (then the worker died)
                from .batch_endpoint.client import SubmitOutcome

                outcome = SubmitOutcome(client.get_job(route.endpoint, known, settings.management_url,
                                                       settings.management_api_version), adopted=True,
                                        found_by="ledger")
            else:
                outcome = client.submit_attempt(route.endpoint, body, identity,
                                                submit_request_id(run["run_id"], attempt),
                                                settings.management_url, settings.management_api_version,
                                                searchable=can_search, before_post=before_post)
        except errors.SubmitUncertainError as exc:
            log.warning("run %s: submit of attempt %d is uncertain; waiting for the sweep or an operator: %s",
                        run["run_id"], attempt, redact(exc))
            _note_uncertain(ledger, run["run_id"], attempt, redact(exc))
            return {"uncertain": True, "error": redact(exc), "attempt": attempt,
                    "attempt_job_name": identity.job_name}
        except (errors.JobNotCreatedError, errors.ThrottledError):
            if ledger is not None:  # certainly no job was created: the retry may post
                ledger.clear_posting(run["run_id"], attempt)
            raise
        except errors.PermanentError as exc:
            log.warning("run %s: the endpoint rejected the job: %s", run["run_id"], redact(exc))
            return {"error": redact(exc), "error_type": type(exc).__name__}
    job = outcome.job
    if ledger is not None and not outcome.adopted:
        ledger.record_posted(run["run_id"], attempt, job.name)
    _index_job(settings, job.name, run["run_id"])
    if outcome.adopted:
        log.info("run %s: adopted job %s of attempt %d (found by %s)", run["run_id"], job.name, attempt,
                 outcome.found_by)
    else:
        log.info("run %s: submitted job %s (%s)", run["run_id"], job.name, job.status)
    return {"job_name": job.name, "status": job.status, "studio_url": job.studio_url, "attempt": attempt,
            "adopted": outcome.adopted, "found_by": outcome.found_by}


def _ledger(settings: AppSettings) -> Any:
    from .runs.ledger import RunLedger

    return RunLedger.from_settings(settings)


def _marks_ledger(settings: AppSettings, run_id: str) -> Any:
    """The ledger for the write-ahead marks of an unsearchable attempt; ``None`` (one POST per call, no mark)
    only when the app has no state storage configured at all."""
    from .storage.connections import StorageConnectionError

    try:
        return _ledger(settings)
    except StorageConnectionError as exc:
        log.warning("run %s: no run ledger to mark the submit in (%s); posting once without a mark", run_id,
                    type(exc).__name__)
        return None


def _note_uncertain(ledger: Any, run_id: str, attempt: int, reason: str) -> None:
    if ledger is None:
        return
    try:
        ledger.note_uncertain(run_id, attempt, reason)
    except Exception as exc:  # the run's custom status shows it too; the index only helps the sweep
        log.warning("run %s: could not list the uncertain submit for the sweep: %s", run_id, type(exc).__name__)


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
    """``{"route", "run_id", "job_name"[, "attempt", "output_uri"]}`` → the job's status.

    When the job failed because its output path exists, it was a duplicate of this attempt: the answer
    is then the status of the job that owns the path, with that job's name in ``job_name`` (the run
    follows it from now on) and the duplicate's in ``replaces``.
    """
    settings = settings or load_settings()
    route = route_for(settings.route(payload["route"]), payload.get("endpoint"))
    if route.kind == "pipeline_endpoint_v1":
        from .pipeline_v1.activities import run_status

        return run_status(route, payload, client_factory)
    with client_factory(route.endpoint.scoring_uri) as client:
        try:
            job = client.get_job(route.endpoint, payload["job_name"], settings.management_url,
                                 settings.management_api_version)
            owner = _path_owner(client, route, settings, payload, job) if failed_on_existing_path(job) else None
        except errors.BatchEndpointError as exc:
            # The poll loop is the retry: an error here is counted, not fatal, until it repeats too often.
            return {"status": None, "error": redact(exc), "transient": isinstance(exc, errors.TransientError)}
    if owner is None:
        return {"status": job.status, "studio_url": job.studio_url, "job_error": job.error and redact(job.error)}
    log.warning("run %s: job %s failed on an existing output path; following job %s that owns it",
                payload["run_id"], job.name, owner.name)
    _index_job(settings, owner.name, payload["run_id"])
    return {"status": owner.status, "studio_url": owner.studio_url, "job_error": owner.error and redact(owner.error),
            "job_name": owner.name, "replaces": job.name}


def _path_owner(client: Any, route: Any, settings: AppSettings, payload: dict, failed: Any) -> Any:
    """The live or completed job of the same run attempt as ``failed``, if there is one."""
    identity = identity_of_job(failed, fallback_run_id=payload["run_id"])
    if identity is None or identity.run_id != payload["run_id"]:
        return None
    if payload.get("attempt") is not None or payload.get("output_uri"):
        identity = AttemptIdentity.of(payload["run_id"], _attempt(payload),
                                      payload.get("output_uri") or identity.output_uri)
    found = client.find_attempt_job(route.endpoint, identity, settings.management_url,
                                    settings.management_api_version, owners_only=True, exclude=failed.name)
    return None if found is None else found[0]


def find_attempt_job(payload: dict, settings: Optional[AppSettings] = None,
                     client_factory: Callable[[str], Any] = _client) -> dict:
    """``{"route", "run_id", "attempt", "output_uri"}`` → ``{"job_name": ..., "status": ..., "found_by": ...}``
    for the attempt's job (``job_name`` None when there is none), e.g. before re-submitting or redelivering."""
    settings = settings or load_settings()
    route = route_for(settings.route(payload["route"]), payload.get("endpoint"))
    identity = AttemptIdentity.of(payload["run_id"], _attempt(payload), payload.get("output_uri"))
    if route.kind == "pipeline_endpoint_v1":
        from .pipeline_v1.activities import find_run

        return find_run(route, payload, identity, client_factory)
    with client_factory(route.endpoint.scoring_uri) as client:
        try:
            found = client.find_attempt_job(route.endpoint, identity, settings.management_url,
                                            settings.management_api_version)
        except errors.PermanentError as exc:
            return {"job_name": None, "error": redact(exc)}
    if found is None:
        return {"job_name": None, "attempt_job_name": identity.job_name}
    job, how = found
    return {"job_name": job.name, "status": job.status, "studio_url": job.studio_url, "found_by": how,
            "attempt_job_name": identity.job_name}


@telemetry.traced("cancel")
def cancel_job(payload: dict, settings: Optional[AppSettings] = None,
               client_factory: Callable[[str], Any] = _client) -> dict:
    settings = settings or load_settings()
    route = route_for(settings.route(payload["route"]), payload.get("endpoint"))
    if route.kind == "pipeline_endpoint_v1":
        from .pipeline_v1.activities import cancel_run

        return cancel_run(route, payload, client_factory)
    with client_factory(route.endpoint.scoring_uri) as client:
        try:
            client.cancel(route.endpoint, payload["job_name"], settings.management_url,
                          settings.management_api_version)
        except errors.PermanentError as exc:
            return {"error": redact(exc)}
    log.info("run %s: cancel requested for job %s", payload["run_id"], payload["job_name"])
    return {"cancel_requested": True}
