"""Who a run attempt's job is (pure): the identity every submitted job carries, and how to recognise it.

A run attempt is ``(run_id, attempt)``. Its job carries that identity three ways, because whether the
service keeps each of them is UNCONFIRMED (contract §1.7, §1.8):

* a deterministic client-chosen job name (``properties.name``), found with one GET when honoured;
* tags and user properties ``batchrun.run_id`` / ``batchrun.attempt`` / ``batchrun.attempt_id``, found in
  the workspace job list;
* the output path, unique per attempt, which the job resource lists among its outputs whatever else the
  service dropped.

``match`` says which of them a listed job carries; ``choose`` picks the job to adopt among candidates.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from ..paths import check_job_name, check_run_id
from .requests import JobInfo

TAG_RUN_ID = "batchrun.run_id"
TAG_ATTEMPT = "batchrun.attempt"
TAG_ATTEMPT_ID = "batchrun.attempt_id"

PATH_EXISTS_MARKER = "path already exists"

# azureml://datastores/<ds>/paths/<p>, azureml://subscriptions/.../datastores/<ds>/paths/<p>, and the
# ARM-id form /subscriptions/.../datastores/<ds>/paths/<p> (contract §1.5) name the same blob.
_DATASTORE_PATH = re.compile(r"^(?:azureml:/)?/(?:subscriptions/[^/]+/resource[gG]roups/[^/]+/"
                             r"(?:providers/Microsoft\.MachineLearningServices/)?workspaces/[^/]+/)?"
                             r"datastores/(?P<ds>[^/]+)/paths/(?P<path>.*)$", re.IGNORECASE)
_NON_NAME = re.compile(r"[^a-z0-9]+")

# How a listed job was recognised, strongest first.
BY_NAME, BY_TAG, BY_OUTPUT = "name", "tag", "output"
_ALIVE = {"NotStarted", "Starting", "Provisioning", "Preparing", "Queued", "Running", "Finalizing",
          "NotResponding", "Paused", "Unknown"}


def output_key(uri: Optional[str]) -> Optional[tuple[str, str]]:
    """``(datastore, path)`` of a datastore URI in any of its forms, for comparing outputs; else None."""
    if not uri:
        return None
    match = _DATASTORE_PATH.match(uri.strip())
    if not match:
        return None
    return match["ds"].lower(), match["path"].strip("/")


def attempt_job_name(run_id: str, attempt: int) -> str:
    """Short, lower-case and deterministic: ``<route slug>-<20 hex of run id + attempt>-a<attempt>``.

    The digest covers the whole run id, so routes whose names differ only in case stay apart.
    """
    check_run_id(run_id)
    if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
        raise ValueError(f"attempt must be an integer >= 1, got {attempt!r}")
    route = run_id.rsplit("-", 1)[0] if "-" in run_id else run_id
    slug = _NON_NAME.sub("-", route.lower()).strip("-")[:24].strip("-") or "run"
    digest = hashlib.sha256(f"{run_id}\x1f{attempt}".encode("utf-8")).hexdigest()[:20]
    return check_job_name(f"{slug}-{digest}-a{attempt}")


@dataclass(frozen=True)
class AttemptIdentity:
    run_id: str
    attempt: int
    job_name: str
    output_uri: Optional[str] = None

    @classmethod
    def of(cls, run_id: str, attempt: int = 1, output_uri: Optional[str] = None) -> "AttemptIdentity":
        return cls(run_id, attempt, attempt_job_name(run_id, attempt), output_uri)

    @property
    def labels(self) -> dict[str, str]:
        """Sent as both ``tags`` and user ``properties`` of the job."""
        return {TAG_RUN_ID: self.run_id, TAG_ATTEMPT: str(self.attempt), TAG_ATTEMPT_ID: self.job_name}

    def match(self, job: JobInfo) -> Optional[str]:
        """``BY_NAME``, ``BY_TAG`` or ``BY_OUTPUT`` when the job is this attempt's; None otherwise."""
        if job.name == self.job_name:
            return BY_NAME
        for labels in (job.tags, job.properties):
            if labels.get(TAG_ATTEMPT_ID) == self.job_name or (
                    labels.get(TAG_RUN_ID) == self.run_id and labels.get(TAG_ATTEMPT) == str(self.attempt)):
                return BY_TAG
        mine = output_key(self.output_uri)
        if mine is not None and any(output_key(uri) == mine for uri in job.output_uris):
            return BY_OUTPUT
        return None


def searchable(endpoint: Any, output_uri: Optional[str]) -> bool:
    """Whether a lost submit answer can be settled by searching for the attempt's job, on the strictest
    service (client job names ignored, tags dropped, user properties kept only on pipeline-component
    deployments): only with a job list (the endpoint names its workspace) and something of the attempt's
    own to find there (its output path, or its properties on a pipeline-component deployment)."""
    if endpoint is None or getattr(endpoint, "workspace", None) is None:
        return False
    return output_key(output_uri) is not None or getattr(endpoint, "deployment_kind", "model") == "pipeline_component"


def identity_of_job(job: JobInfo, fallback_run_id: Optional[str] = None) -> Optional[AttemptIdentity]:
    """The attempt a job says it belongs to (its labels and output), e.g. for a failed duplicate."""
    labels = {**job.properties, **job.tags}
    run_id = labels.get(TAG_RUN_ID) or fallback_run_id
    try:
        attempt = int(labels.get(TAG_ATTEMPT, "1"))
        identity = AttemptIdentity.of(run_id, attempt) if run_id else None
    except ValueError:
        identity = None
    output = next((uri for uri in job.output_uris if output_key(uri) is not None), None)
    if identity is None:
        return None
    return AttemptIdentity(identity.run_id, identity.attempt, identity.job_name, output)


def failed_on_existing_path(job: JobInfo) -> bool:
    """The service fails a job whose output exists already (contract §1.6, §1.11)."""
    return job.status == "Failed" and PATH_EXISTS_MARKER in (job.error or "").lower()


def choose(identity: AttemptIdentity, jobs: Iterable[JobInfo], *, exclude: str = "",
           owners_only: bool = False) -> Optional[tuple[JobInfo, str]]:
    """``(job, how)``: the job to adopt among those carrying ``identity``, or None.

    A completed job beats a running one, which beats a failed or cancelled one; then the strongest
    evidence wins. ``owners_only`` (looking for the job that wrote the output) skips failed and
    cancelled jobs: they own nothing.
    """
    best: Optional[tuple[tuple[int, int], JobInfo, str]] = None
    strength = {BY_NAME: 0, BY_TAG: 1, BY_OUTPUT: 2}
    for job in jobs:
        if job.name == exclude:
            continue
        how = identity.match(job)
        if how is None:
            continue
        rank = 0 if job.status == "Completed" else 1 if job.status in _ALIVE else 2
        if rank == 2 and owners_only:
            continue
        key = (rank, strength[how])
        if best is None or key < best[0]:
            best = (key, job, how)
    return None if best is None else (best[1], best[2])


def attempt_of(payload: dict) -> int:
    """An activity payload's run attempt: ``payload["attempt"]``, else the run's own, else 1."""
    value = payload.get("attempt", (payload.get("run") or {}).get("attempt", 1))
    if value is None:
        return 1
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"attempt must be an integer >= 1, got {value!r}")
    return value
