"""Durable Functions history events and replays through the real SDK replay engine.

The Durable extension sends an out-of-process orchestrator a JSON *context*:
``{"history": [...events...], "instanceId": ..., "input": <JSON text>, "upperSchemaVersion": ...}``.
The orchestrator handle (what ``app.get_functions()`` gives for an orchestration trigger) replays
the whole history with the SDK's ``TaskOrchestrationExecutor`` and returns the ``OrchestratorState``
JSON (``isDone``, ``actions``, ``output``, ``customStatus``, ``error``).

This module writes such histories by hand (``History``) and runs them (``replay``). No part of
the SDK is mocked; only the JSON the extension would send is produced here.

Wire facts reproduced here (see docs in durable_host.py for the reasoning):

* Timestamps use the SDK format ``%Y-%m-%dT%H:%M:%S.%fZ``.
* ``ExecutionStarted`` needs ``Version`` (the SDK reads it); ``Input`` there is the raw body the
  client posted (the JSON encoding of the JSON text), while the context's ``input`` is the JSON
  text itself, which ``context.get_input()`` decodes once.
* ``TaskCompleted.Result`` and ``EventRaised.Input`` are JSON text; the SDK decodes them once.
* Episodes: ``OrchestratorStarted`` … ``OrchestratorCompleted``; events of earlier episodes have
  ``IsPlayed: true``. The SDK takes the last ``OrchestratorStarted`` as the start of new events.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional, Union

from azure.durable_functions.constants import DATETIME_STRING_FORMAT
from azure.durable_functions.models.history.HistoryEventType import HistoryEventType as ET

__all__ = [
    "ET",
    "DEFAULT_START",
    "History",
    "OrchestratorFailed",
    "context_payload",
    "format_ts",
    "parse_ts",
    "parse_orchestrator_result",
    "replay",
]

DEFAULT_START = datetime(2024, 1, 1, tzinfo=timezone.utc)
OUT_OF_PROC_LABEL = "\n\n$OutOfProcData$:"

# What the extension (Azure Storage backend, DurableTask 2.x) sends today. The SDK resolves
# upperSchemaVersionNew=2 to ReplaySchema.V3: compound WhenAny/WhenAll actions, and long timers
# split at maximumShortTimerDuration into longRunningTimerIntervalDuration chunks.
HOST_SCHEMA_FIELDS = {
    "upperSchemaVersion": 1,
    "upperSchemaVersionNew": 2,
    "maximumShortTimerDuration": "6.00:00:00",
    "longRunningTimerIntervalDuration": "3.00:00:00",
}

SchemaArg = Union[str, int]


def format_ts(dt: datetime) -> str:
    """Format a datetime the way the SDK writes and reads history timestamps."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).strftime(DATETIME_STRING_FORMAT)


def parse_ts(text: str) -> datetime:
    """Parse an SDK / extension timestamp (``...Z``, 0-7 fractional digits) to aware UTC."""
    from dateutil.parser import isoparse

    dt = isoparse(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def schema_fields(schema: SchemaArg) -> dict:
    """Context fields for a replay schema: "host" (default, what the extension sends) or 0/1/2."""
    if schema == "host":
        return dict(HOST_SCHEMA_FIELDS)
    if schema in (0, 1, 2):
        return {"upperSchemaVersion": schema}
    raise ValueError(f"schema must be 'host', 0, 1 or 2, not {schema!r}")


def context_payload(events: list[dict], instance_id: str, input_text: Optional[str],
                    schema: SchemaArg = "host", is_replaying: bool = False,
                    parent_instance_id: Optional[str] = None) -> dict:
    """The orchestration-trigger context JSON object the extension sends to the worker."""
    payload = {
        "history": events,
        "instanceId": instance_id,
        "isReplaying": is_replaying,
        "parentInstanceId": parent_instance_id,
        "input": input_text,
    }
    payload.update(schema_fields(schema))
    return payload


def make_event(event_type: ET, at: datetime, event_id: int = -1, **fields: Any) -> dict:
    return {"EventType": int(event_type), "EventId": event_id, "IsPlayed": False,
            "Timestamp": format_ts(at), **fields}


class OrchestratorFailed(Exception):
    """Raised by ``replay(..., raise_on_error=True)``; ``.state`` is the OrchestratorState dict."""

    def __init__(self, message: str, state: dict):
        super().__init__(message)
        self.state = state


def parse_orchestrator_result(call: Callable[[], str]) -> dict:
    """Call an orchestrator handle and return the OrchestratorState dict.

    When the orchestrator raised, the SDK raises ``Exception("<error>\\n\\n$OutOfProcData$:<state>")``
    (that is what the extension receives). The state is recovered from that message; it carries
    ``"error"``. Exceptions without that marker (bugs outside the replay engine) propagate.
    """
    try:
        return json.loads(call())
    except Exception as exc:  # noqa: BLE001 - the SDK raises plain Exception
        text = str(exc)
        if OUT_OF_PROC_LABEL not in text:
            raise
        message, _, state_json = text.partition(OUT_OF_PROC_LABEL)
        state = json.loads(state_json)
        state.setdefault("error", message)
        return state


class History:
    """Hand-written orchestration history, episode by episode.

    >>> h = History("monitor", {"model": "m1"})       # episode 1: OrchestratorStarted, ExecutionStarted
    >>> _ = h.task_scheduled(0, "submit_job")
    >>> _ = h.next_episode().task_completed(0, "job-1")
    >>> state = replay(handle, h)                       # doctest: +SKIP

    ``input`` is the orchestration input as a Python value (``NO_INPUT`` sentinel = no input).
    Event ids are the SDK's sequence numbers: every yielded activity/timer takes the next integer
    (external events are matched by name); a retry timer and a rescheduled attempt also take one.
    """

    NO_INPUT = object()

    def __init__(self, name: str, input: Any = NO_INPUT, *, instance_id: Optional[str] = None,
                 start: datetime = DEFAULT_START, version: str = "",
                 execution_id: Optional[str] = None):
        self.name = name
        self.now = start
        self.instance_id = instance_id or uuid.uuid4().hex
        self.execution_id = execution_id or uuid.uuid4().hex
        self.input_text: Optional[str] = None if input is History.NO_INPUT else json.dumps(input)
        self.events: list[dict] = []
        self._add(ET.ORCHESTRATOR_STARTED)
        self._add(ET.EXECUTION_STARTED, Name=name, Version=version,
                  Input=None if self.input_text is None else json.dumps(self.input_text),
                  OrchestrationInstance={"InstanceId": self.instance_id,
                                         "ExecutionId": self.execution_id})

    # -- low level -------------------------------------------------------------------------
    def _add(self, event_type: ET, event_id: int = -1, **fields: Any) -> dict:
        ev = make_event(event_type, self.now, event_id, **fields)
        self.events.append(ev)
        return ev

    def add_raw(self, event: dict) -> "History":
        self.events.append(event)
        return self

    # -- episodes --------------------------------------------------------------------------
    def next_episode(self, at: Optional[datetime] = None, *,
                     advance: Optional[timedelta] = None) -> "History":
        """Close the current episode and open the next (``at``/``advance`` move the clock)."""
        self._add(ET.ORCHESTRATOR_COMPLETED)
        for ev in self.events:
            ev["IsPlayed"] = True
        if advance is not None:
            self.now = self.now + advance
        if at is not None:
            self.now = max(self.now, at)
        self._add(ET.ORCHESTRATOR_STARTED)
        return self

    # -- events ----------------------------------------------------------------------------
    def task_scheduled(self, event_id: int, name: str, input: Any = None) -> "History":
        self._add(ET.TASK_SCHEDULED, event_id, Name=name, Version="",
                  Input=None if input is None else json.dumps(input))
        return self

    def task_completed(self, scheduled_id: int, result: Any) -> "History":
        self._add(ET.TASK_COMPLETED, TaskScheduledId=scheduled_id, Result=json.dumps(result))
        return self

    def task_failed(self, scheduled_id: int, reason: str, details: str = "") -> "History":
        self._add(ET.TASK_FAILED, TaskScheduledId=scheduled_id, Reason=reason, Details=details)
        return self

    def timer_created(self, event_id: int, fire_at: datetime) -> "History":
        self._add(ET.TIMER_CREATED, event_id, FireAt=format_ts(fire_at))
        return self

    def timer_fired(self, timer_id: int, fire_at: datetime) -> "History":
        self._add(ET.TIMER_FIRED, TimerId=timer_id, FireAt=format_ts(fire_at))
        return self

    def event_raised(self, name: str, data: Any) -> "History":
        """An external event whose payload the orchestrator will receive as ``data``."""
        self._add(ET.EVENT_RAISED, Name=name, Input=json.dumps(data))
        return self

    # -- output ----------------------------------------------------------------------------
    def to_context(self, schema: SchemaArg = "host") -> dict:
        return context_payload(self.events, self.instance_id, self.input_text, schema)

    def to_json(self, schema: SchemaArg = "host") -> str:
        return json.dumps(self.to_context(schema))


def replay(handle: Callable[[str], str], history: Union[History, dict, str], *,
           schema: SchemaArg = "host", raise_on_error: bool = False) -> dict:
    """Run the real SDK replay engine once over ``history``; return the OrchestratorState dict.

    ``handle`` is ``function.get_user_function()`` of an orchestration trigger (or anything
    taking the context JSON string). ``history`` is a ``History``, a context dict or its JSON.
    If the orchestrator raised, the returned state carries ``"error"`` (and ``isDone`` false);
    pass ``raise_on_error=True`` to get ``OrchestratorFailed`` instead.
    """
    if isinstance(history, History):
        body = history.to_json(schema)
    elif isinstance(history, dict):
        body = json.dumps(history)
    else:
        body = history
    state = parse_orchestrator_result(lambda: handle(body))
    if raise_on_error and state.get("error"):
        raise OrchestratorFailed(state["error"], state)
    return state
