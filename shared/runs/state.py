"""What a run's monitor knows, as one typed, versioned structure (pure).

:class:`MonitorState` is everything that must survive ``continue_as_new``: it is the ``monitor`` part of the
run orchestration's input, and (flattened by :meth:`MonitorState.to_dict`) its custom status, which
``GET /api/runs/{id}`` shows. A job-status event that claims a terminal state waits in ``claim`` until a
status call confirms it, and a cancel request waits in ``cancel`` until the job is cancelled; both live here,
so neither can be lost between two executions.

``from_dict`` reads any older version: version 1 was the untyped ``monitor`` dict of the same flat keys,
without ``claim``, ``cancel`` and ``attempt``; unknown keys are ignored, missing ones take their defaults.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, Optional

VERSION = 2
EVENT_IDS_KEPT = 20
EVENT_ID_MAX = 200          # characters of an event id kept (ids come from outside)


def _short(value: Any) -> Optional[str]:
    return None if value is None else str(value)[:EVENT_ID_MAX]


def clean_event_id(value: Any) -> Optional[str]:
    """An event id from outside as it may be stored: redacted, at most ``EVENT_ID_MAX`` characters."""
    from ..redact import redact

    return redact(str(value))[:EVENT_ID_MAX] if value not in (None, "") else None


def clean_event_time(value: Any) -> Optional[str]:
    """An event time from outside: kept only when it is an ISO-8601 time (then it cannot hold a secret)."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value


@dataclass(frozen=True)
class Claim:
    """A job-status event claiming the job ended; acted on only once a status call confirms it."""

    status: str
    event_id: Optional[str] = None
    event_time: Optional[str] = None
    job_name: Optional[str] = None

    @classmethod
    def from_dict(cls, data: Any) -> Optional["Claim"]:
        if not isinstance(data, dict) or not data.get("status"):
            return None
        return cls(status=str(data["status"]), event_id=_short(data.get("event_id")),
                   event_time=_short(data.get("event_time")), job_name=_short(data.get("job_name")))


@dataclass(frozen=True)
class CancelRequest:
    """A cancel request taken from the ``cancel`` event (or, on older inputs, nothing)."""

    reason: Optional[str] = None

    @classmethod
    def from_value(cls, value: Any) -> "CancelRequest":
        from ..redact import redact

        reason = value.get("reason") if isinstance(value, dict) else value if isinstance(value, str) else None
        return cls(reason=redact(str(reason))[:500] if reason else None)


@dataclass
class MonitorState:
    """The run's monitor: submit bookkeeping, poll counters, what events said, and pending requests."""

    version: int = VERSION
    phase: str = "submitting"
    attempt: int = 1                         # the submit attempt (its job name derives from run id + attempt)
    started_at: Optional[str] = None
    deadline: Optional[str] = None
    # the job
    job_name: Optional[str] = None
    job_status: Optional[str] = None         # the newest status a status call returned
    job_error: Optional[str] = None
    studio_url: Optional[str] = None
    submitted_at: Optional[str] = None
    adopted: bool = False                    # submit found this attempt's job instead of creating one
    # polling
    polls: int = 0                           # status calls, all executions
    polls_here: int = 0                      # status calls in this execution (continue_as_new resets it)
    status_errors: int = 0                   # unreadable statuses in a row
    last_error: Optional[str] = None
    last_polled_at: Optional[str] = None
    next_poll_at: Optional[str] = None
    poll_mode: Optional[str] = None
    estimate: Optional[dict] = None          # the route's expected duration window, when history gave one
    recheck: bool = False                    # an event claimed an end the status call did not confirm
    # events
    hint: Optional[str] = None               # newest non-terminal status an event announced since the last poll
    hint_time: Optional[str] = None
    output_hint_at: Optional[str] = None     # when (orchestration time) an output event said the job is ending
    events: dict = field(default_factory=dict)      # counts by outcome: received, duplicate, other_job ...
    event_ids: list = field(default_factory=list)   # the newest EVENT_IDS_KEPT ids (duplicate detection)
    # pending requests: acted on before anything else, kept across continue_as_new
    claim: Optional[Claim] = None
    cancel: Optional[CancelRequest] = None
    cancel_reason: Optional[str] = None      # why the run is cancelling the job (published while it does)
    # a submit whose answer was lost and whose job cannot be searched for: {attempt, reason, since, ...}
    uncertain: Optional[dict] = None
    resolution: Optional[dict] = None        # how the sweep or an operator settled it: {action, job_name, by}
    error: Optional[str] = None              # the run's error once it ended
    redeliveries: int = 0

    # -- (de)serialisation -----------------------------------------------------------------------------

    def to_dict(self) -> dict:
        data = asdict(self)
        data["claim"] = asdict(self.claim) if self.claim else None
        data["cancel"] = asdict(self.cancel) if self.cancel else None
        return data

    @classmethod
    def from_dict(cls, data: Optional[dict], *, attempt: int = 1) -> "MonitorState":
        """Any version of the monitor dict; ``attempt`` is the default for inputs older than version 2."""
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["version"] = VERSION
        values["claim"] = Claim.from_dict(data.get("claim"))
        cancel = data.get("cancel")
        values["cancel"] = CancelRequest.from_value(cancel) if isinstance(cancel, dict) else None
        values.setdefault("attempt", attempt)
        for pending in ("uncertain", "resolution"):
            values[pending] = dict(values[pending]) if isinstance(values.get(pending), dict) else None
        values["events"] = dict(values.get("events") or {})
        values["event_ids"] = list(values.get("event_ids") or [])[-EVENT_IDS_KEPT:]
        for counter in ("polls", "polls_here", "status_errors", "redeliveries", "attempt"):
            values[counter] = int(values.get(counter) or 0)
        values["attempt"] = max(1, values["attempt"])
        return cls(**values)

    # -- small state transitions (pure) ---------------------------------------------------------------

    @property
    def submitted(self) -> bool:
        return self.job_name is not None

    def count_event(self, outcome: str) -> None:
        self.events[outcome] = self.events.get(outcome, 0) + 1

    def seen_event(self, event_id: Optional[str]) -> bool:
        """Remember ``event_id``; True when it was seen before (a duplicate delivery)."""
        if event_id is None:
            return False
        event_id = event_id[:EVENT_ID_MAX]
        if event_id in self.event_ids:
            return True
        self.event_ids.append(event_id)
        del self.event_ids[:-EVENT_IDS_KEPT]
        return False

    def status_for_schedule(self) -> Optional[str]:
        return self.hint or self.job_status
