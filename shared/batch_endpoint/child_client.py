"""Calls about a batch job's ``batchscoring`` child run (adapter over :class:`BatchEndpointClient`).

* :func:`find_parent_job`: the job a run id belongs to (one Run History GET), for run events that name the child.
* :func:`find_outputs`: a job's outputs the way the SDK's ``download`` finds them (the child's ``score``
  output), the parent job's own ``outputs`` being the fallback; says which one answered.

Rules and URLs: :mod:`.child_runs`. Every failure of the child path is a fallback, never an error of its own:
the parent resource is what the app read before, and it stays correct under the kinder service.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from ..config.models import EndpointConfig
from ..redact import shown
from . import exceptions as errors
from .child_runs import CHILD_RUN_OUTPUT_NAME, children_call, parent_of, run_call, run_history_url, scoring_child

log = logging.getLogger(__name__)

PARENT_JOB = "parent_job"
CHILD_RUN = "child_run"


@dataclass(frozen=True)
class FoundOutputs:
    outputs: Mapping[str, str] = field(default_factory=dict)
    found_on: str = PARENT_JOB             # child_run | parent_job
    child_run: Optional[str] = None        # the batchscoring child's run id, when one was found


def find_parent_job(client: Any, endpoint: EndpointConfig, run_id: str) -> Optional[str]:
    """The parent job of run ``run_id`` (None: a top-level run, or no way to tell). Raises
    :class:`~.exceptions.TransientError` when Run History could not answer now."""
    api = run_history_url(endpoint)
    call = run_call(endpoint, run_id, api) if api else None
    if call is None:
        return None
    try:
        response = client.send(call, what=f"run {run_id}")
    except errors.NotFoundError:
        return None
    try:
        return parent_of(response.json(), run_id)
    except ValueError:
        return None


def find_outputs(client: Any, endpoint: EndpointConfig, job_name: str, management_url: str,
                 api_version: str) -> FoundOutputs:
    """``score`` of the job's ``batchscoring`` child when there is one, else the job's own outputs."""
    child = _scoring_child(client, endpoint, job_name)
    if child is not None:
        try:
            outputs = client.get_job(endpoint, child, management_url, api_version).outputs
        except errors.PermanentError as exc:
            log.info("job %s: its child run %s could not be read (%s); using the job's own outputs", job_name,
                     child, shown(str(exc), 200))
            outputs = {}
        uri = outputs.get(CHILD_RUN_OUTPUT_NAME) or next(iter(outputs.values()), None)
        if uri:
            return FoundOutputs({CHILD_RUN_OUTPUT_NAME: uri}, CHILD_RUN, child)
    job = client.get_job(endpoint, job_name, management_url, api_version)
    return FoundOutputs(dict(job.outputs), PARENT_JOB, child)


def _scoring_child(client: Any, endpoint: EndpointConfig, job_name: str) -> Optional[str]:
    api = run_history_url(endpoint)
    call = children_call(endpoint, job_name, api) if api else None
    if call is None:
        return None
    try:
        response = client.send(call, what=f"children of job {job_name}")
        return scoring_child(response.json())
    except errors.PermanentError as exc:   # no Run History here (404/405) or no role on it: the parent answers
        log.info("job %s: its child runs could not be listed (%s); using the job's own outputs", job_name,
                 shown(str(exc), 200))
        return None
    except ValueError:
        return None
