"""Azure ML ``RunStatusChanged`` / ``RunCompleted`` events (pure).

Event Grid delivers an Azure ML workspace's run events with ``data.runId`` (for a batch job: the job name
the app got back at submit), ``data.runStatus`` (``RunStatusChanged`` only), ``data.experimentName``,
``data.runType``, ``data.runTags`` and ``data.runProperties``. Delivery is at-least-once and unordered, so
an event is a hint: the orchestration confirms a terminal one with a status call before acting on it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, Optional, Union

from ..batch_endpoint.status import JobStatus, is_terminal, normalise

RUN_STATUS_CHANGED = "Microsoft.MachineLearningServices.RunStatusChanged"
RUN_COMPLETED = "Microsoft.MachineLearningServices.RunCompleted"
RUN_EVENT_TYPES = frozenset({RUN_STATUS_CHANGED, RUN_COMPLETED})


class NotAJobEvent(ValueError):
    """The event is not an Azure ML run event this app can use; ``reason`` is the counted reason."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class JobEvent:
    """One run event, reduced to what the monitor needs (this is what the orchestration receives)."""

    job_name: str
    status: str              # normalised JobStatus value; RunCompleted carries none and says "Completed"
    event_id: str
    event_time: Optional[str]  # ISO-8601 UTC with Z, or None
    event_type: str

    @property
    def terminal(self) -> bool:
        return is_terminal(self.status)

    def to_payload(self, source: str = "event_grid") -> dict:
        return {**asdict(self), "source": source}


def _iso(value: Any) -> Optional[str]:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            # Event Grid writes 7 fractional digits; fromisoformat (3.11) accepts at most 6.
            text = value.strip().rstrip("Z")
            head, _, frac = text.partition(".")
            digits = "".join(ch for ch in frac if ch.isdigit())[:6]
            try:
                parsed = datetime.fromisoformat(head + (f".{digits}" if digits else "")).replace(tzinfo=timezone.utc)
            except ValueError:
                return None
        return _iso(parsed)
    return None


def _field(event: Any, *names: str) -> Any:
    """Read a field from a dict (Event Grid JSON) or a ``func.EventGridEvent``."""
    if isinstance(event, dict):
        for name in names:
            if name in event:
                return event[name]
        return None
    for name in names:
        snake = "".join("_" + c.lower() if c.isupper() else c for c in name)
        if hasattr(event, snake):
            return getattr(event, snake)
    return None


def parse_job_event(event: Any) -> JobEvent:
    """Parse an Event Grid event (dict or ``func.EventGridEvent``); raise :class:`NotAJobEvent` if unusable."""
    event_type = _field(event, "eventType", "type")
    if event_type not in RUN_EVENT_TYPES:
        raise NotAJobEvent("not_a_run_event", f"event type {event_type!r} is not an Azure ML run event")
    data = event.get_json() if hasattr(event, "get_json") else _field(event, "data")
    if not isinstance(data, dict):
        raise NotAJobEvent("malformed", "the event has no data object")
    job_name = data.get("runId")
    if not isinstance(job_name, str) or not job_name.strip():
        raise NotAJobEvent("malformed", "the event's data has no runId")
    if event_type == RUN_COMPLETED:
        status = JobStatus.COMPLETED.value
    else:
        status = normalise(data.get("runStatus"))
        if status == JobStatus.UNKNOWN.value:
            raise NotAJobEvent("malformed", f"runStatus {data.get('runStatus')!r} is not a job status")
    event_id = _field(event, "id")
    event_id = str(event_id) if event_id else f"{job_name}:{status}:{_iso(_field(event, 'eventTime'))}"
    return JobEvent(job_name=job_name.strip(), status=status, event_id=event_id,
                    event_time=_iso(_field(event, "eventTime")), event_type=str(event_type))


def payload_from_orchestration(value: Union[str, dict, None]) -> Optional[dict]:
    """An external event's value as the orchestration gets it: a dict, or the JSON text of one.

    The Python Durable client's ``raise_event`` makes the orchestrator receive the JSON *text*
    (azure-functions-durable-python#295), so both shapes are accepted; anything else is ``None``.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
        if isinstance(value, str):  # doubly encoded
            return payload_from_orchestration(value)
    if not isinstance(value, dict) or not isinstance(value.get("status"), str):
        return None
    return value
