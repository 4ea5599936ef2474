"""The ``batch_endpoint`` route kind's backend (``shared/route_backend.py``): an Azure ML batch endpoint.

Submitting is idempotent per run attempt (see docs/exactly-once.md, "Submit idempotency"): the job carries the attempt's
identity, and a repeated or retried submit adopts the job it finds instead of creating another. An attempt
whose job cannot be searched for is marked in the run ledger before its one POST (write-ahead). A tracked job
that failed because its output path exists is a duplicate: the status reports the job that owns the path,
and the run follows that one.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from ..redact import redact
from ..runs.ids import submit_request_id
from ..runs.job_index import index_job
from . import exceptions as errors
from .attempts import AttemptIdentity, attempt_of, failed_on_existing_path, identity_of_job, searchable
from .job_spec import job_spec, resolve_latest

log = logging.getLogger(__name__)


class BatchEndpointBackend:
    def __init__(self, route: Any, settings: Any, client_factory: Callable[[str], Any]):
        self.route, self.settings, self.client_factory = route, settings, client_factory
        self.endpoint = route.endpoint

    def _client(self) -> Any:
        return self.client_factory(self.endpoint.scoring_uri)

    def _management(self) -> tuple[str, str]:
        return self.settings.management_url, self.settings.management_api_version

    def submit(self, run: dict, attempt: int) -> dict:
        settings, route = self.settings, self.route
        identity = AttemptIdentity.of(run["run_id"], attempt, run.get("output_uri"))
        spec = job_spec(route, run, job_name=identity.job_name, labels=identity.labels)
        can_search = searchable(route.endpoint, run.get("output_uri"))
        ledger = None if can_search else _marks_ledger(settings, run["run_id"])

        def before_post() -> None:  # the write-ahead mark: a repeated call of this attempt never posts again
            if ledger is not None and not ledger.mark_posting(run["run_id"], attempt):
                raise errors.SubmitUncertainError(f"an earlier call of attempt {attempt}'s submit may have posted"
                                                  " its job, which cannot be searched for here; not posting again")

        with self._client() as client:
            try:
                versions = {item.asset: client.latest_asset_version(route.endpoint, item.asset, *self._management())
                            for item in spec.latest_assets}
                body = resolve_latest(spec, versions)
                known = ledger.posted_job(run["run_id"], attempt) if ledger is not None else None
                if known:  # an earlier call posted it and recorded its answer (then the worker died)
                    from .client import SubmitOutcome

                    outcome = SubmitOutcome(client.get_job(route.endpoint, known, *self._management()),
                                            adopted=True, found_by="ledger")
                else:
                    outcome = client.submit_attempt(route.endpoint, body, identity,
                                                    submit_request_id(run["run_id"], attempt),
                                                    *self._management(), searchable=can_search,
                                                    before_post=before_post)
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
        index_job(settings, job.name, run["run_id"])
        if outcome.adopted:
            log.info("run %s: adopted job %s of attempt %d (found by %s)", run["run_id"], job.name, attempt,
                     outcome.found_by)
        else:
            log.info("run %s: submitted job %s (%s)", run["run_id"], job.name, job.status)
        return {"job_name": job.name, "status": job.status, "studio_url": job.studio_url, "attempt": attempt,
                "adopted": outcome.adopted, "found_by": outcome.found_by}

    def status(self, payload: dict) -> dict:
        with self._client() as client:
            try:
                job = client.get_job(self.endpoint, payload["job_name"], *self._management())
                owner = self._path_owner(client, payload, job) if failed_on_existing_path(job) else None
            except errors.BatchEndpointError as exc:
                # The poll loop is the retry: an error here is counted, not fatal, until it repeats too often.
                return {"status": None, "error": redact(exc), "transient": isinstance(exc, errors.TransientError)}
        if owner is None:
            return {"status": job.status, "studio_url": job.studio_url, "job_error": job.error and redact(job.error)}
        log.warning("run %s: job %s failed on an existing output path; following job %s that owns it",
                    payload["run_id"], job.name, owner.name)
        index_job(self.settings, owner.name, payload["run_id"])
        return {"status": owner.status, "studio_url": owner.studio_url,
                "job_error": owner.error and redact(owner.error), "job_name": owner.name, "replaces": job.name}

    def _path_owner(self, client: Any, payload: dict, failed: Any) -> Any:
        """The live or completed job of the same run attempt as ``failed``, if there is one."""
        identity = identity_of_job(failed, fallback_run_id=payload["run_id"])
        if identity is None or identity.run_id != payload["run_id"]:
            return None
        if payload.get("attempt") is not None or payload.get("output_uri"):
            identity = AttemptIdentity.of(payload["run_id"], attempt_of(payload),
                                          payload.get("output_uri") or identity.output_uri)
        found = client.find_attempt_job(self.endpoint, identity, *self._management(), owners_only=True,
                                        exclude=failed.name)
        return None if found is None else found[0]

    def find_attempt(self, payload: dict, identity: AttemptIdentity) -> dict:
        with self._client() as client:
            try:
                found = client.find_attempt_job(self.endpoint, identity, *self._management())
            except errors.PermanentError as exc:
                return {"job_name": None, "error": redact(exc)}
        if found is None:
            return {"job_name": None, "attempt_job_name": identity.job_name}
        job, how = found
        return {"job_name": job.name, "status": job.status, "studio_url": job.studio_url, "found_by": how,
                "attempt_job_name": identity.job_name}

    def cancel(self, payload: dict) -> dict:
        with self._client() as client:
            try:
                client.cancel(self.endpoint, payload["job_name"], *self._management())
            except errors.PermanentError as exc:
                return {"error": redact(exc)}
        log.info("run %s: cancel requested for job %s", payload["run_id"], payload["job_name"])
        return {"cancel_requested": True}

    def job_outputs(self, job_name: str) -> Any:
        """A model deployment's job is looked up the way the SDK's ``download`` does (its ``batchscoring``
        child's ``score`` output), the job's own ``outputs`` being the fallback; a pipeline-component
        deployment's job lists its named outputs itself."""
        from .child_client import FoundOutputs, find_outputs

        if self.endpoint is None:
            return FoundOutputs()
        with self._client() as client:
            if self.endpoint.deployment_kind == "model":
                return find_outputs(client, self.endpoint, job_name, *self._management())
            job = client.get_job(self.endpoint, job_name, *self._management())
        return FoundOutputs(dict(job.outputs))


def _marks_ledger(settings: Any, run_id: str) -> Any:
    """The ledger for the write-ahead marks of an unsearchable attempt; ``None`` (one POST per call, no mark)
    only when the app has no state storage configured at all."""
    from ..runs.ledger import RunLedger
    from ..storage.connections import StorageConnectionError

    try:
        return RunLedger.from_settings(settings)
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
