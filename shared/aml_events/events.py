"""Azure ML ``RunStatusChanged`` / ``RunCompleted`` events (pure).

Event Grid delivers an Azure ML workspace's run events (Event Grid schema or CloudEvents 1.0, see
:mod:`shared.event_envelope`; the event time is ``eventTime`` or ``time``) with ``data.runId`` (for a batch job: the job name
the app got back at submit), ``data.runStatus`` (``RunStatusChanged`` only), ``data.experimentName``,
``data.runType``, ``data.runTags`` and ``data.runProperties``. Delivery is at-least-once and unordered, so
an event is a hint: the orchestration confirms a terminal one with a status call before acting on it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any, Optional, Union

from ..batch_endpoint.status import JobStatus, is_terminal, normalise
from ..event_envelope import SkipEvent, iso_time, read_event
from ..redact import shown
from ..paths import InvalidName, check_job_name

RUN_STATUS_CHANGED = "Microsoft.MachineLearningServices.RunStatusChanged"
RUN_COMPLETED = "Microsoft.MachineLearningServices.RunCompleted"
RUN_EVENT_TYPES = frozenset({RUN_STATUS_CHANGED, RUN_COMPLETED})


class NotAJobEvent(ValueError):
    """The event is not an Azure ML run event this app can use; ``reason`` is the counted reason."""

    def __init__(self, reason: str, message: str):
        from ..redact import redact

        super().__init__(redact(message))
        self.reason = reason


@dataclass(frozen=True)
class JobEvent:
    """One run event, reduced to what the monitor needs (this is what the orchestration receives)."""

    job_name: str
    status: str              # normalised JobStatus value; RunCompleted carries none and says "Completed"
    event_id: str
    event_time: Optional[str]  # ISO-8601 UTC with Z, or None
    event_type: str
    child_run: Optional[str] = None  # the event named this child run of the job (a ``batchscoring`` step)
    topic: Optional[str] = None      # the workspace's resource id (Event Grid ``topic`` / CloudEvents ``source``)

    @property
    def terminal(self) -> bool:
        return is_terminal(self.status)

    def for_parent(self, parent_job: str) -> "JobEvent":
        """This child run's event, as an event of its parent job (the one the app submitted)."""
        return replace(self, job_name=parent_job, child_run=self.job_name)

    def to_payload(self, source: str = "event_grid") -> dict:
        payload = {**asdict(self), "source": source}
        payload.pop("topic")
        if payload["child_run"] is None:
            payload.pop("child_run")
        return payload


def _iso(value: Any) -> Optional[str]:
    return iso_time(value)


def parse_job_event(event: Any) -> JobEvent:
    """Parse an Azure ML run event: a dict in either schema, a ``func.EventGridEvent`` or a ``func.CloudEvent``.

    Raises :class:`NotAJobEvent` with the counted reason: ``not_a_run_event``, ``malformed`` or
    ``unsafe_name`` (a ``runId`` outside the job-name grammar: it names blobs and a Durable instance, so
    ``../`` or ``?`` in it never reaches storage or a URL). Never raises anything else."""
    try:
        envelope = read_event(event)
    except SkipEvent as exc:
        raise NotAJobEvent(exc.reason, str(exc)) from None
    event_type, data = envelope.type, envelope.data
    if event_type is None and isinstance(data, dict) and "runId" in data and "runStatus" in data:
        event_type = RUN_STATUS_CHANGED  # the type was lost on the way (an old worker decoding a CloudEvent)
    if event_type not in RUN_EVENT_TYPES:
        raise NotAJobEvent("not_a_run_event", f"event type {shown(event_type, 120)} is not an Azure ML run event")
    if not isinstance(data, dict):
        raise NotAJobEvent("malformed", "the event has no data object")
    job_name = data.get("runId")
    if not isinstance(job_name, str) or not job_name.strip():
        raise NotAJobEvent("malformed", "the event's data has no runId")
    try:
        job_name = check_job_name(job_name.strip(), field="data.runId")
    except InvalidName as exc:
        raise NotAJobEvent("unsafe_name", str(exc)) from None
    if event_type == RUN_COMPLETED:
        status = JobStatus.COMPLETED.value
    else:
        raw_status = data.get("runStatus")
        status = normalise(raw_status) if isinstance(raw_status, str) and len(raw_status) <= 64 else None
        if status is None or status == JobStatus.UNKNOWN.value:
            raise NotAJobEvent("malformed", f"runStatus {shown(raw_status, 64)} is not a job status")
    event_id = envelope.id or f"{job_name}:{status}:{envelope.time}"
    return JobEvent(job_name=job_name, status=status, event_id=event_id, event_time=envelope.time,
                    event_type=event_type, topic=envelope.source)


def payload_from_orchestration(value: Union[str, dict, None]) -> Optional[dict]:
    """An external event's value as the orchestration gets it: a dict, or the JSON text of one.

    The Python Durable client's ``raise_event`` makes the orchestrator receive the JSON *text*
    (azure-functions-durable-python#295), so both shapes are accepted; anything else is ``None``.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return None
        if isinstance(value, str):  # doubly encoded
            return payload_from_orchestration(value)
    if not isinstance(value, dict) or not isinstance(value.get("status"), str):
        return None
    return value
