"""Waiting inside a Durable orchestration: one task at a time, raced against standing external-event waits.

Both the run orchestrator (``cancel``, ``job_status``) and the quiet-period waiter (``file_landed``) wait on a
durable timer or an activity while external events may arrive at any moment. This module is how they do it.

**Standing waits.** The Durable Python SDK (1.x, checked with the real replay engine) keeps an event that
arrives while no wait for its name is *yielded* in a single "deferred" slot, and hands that same event to
every later wait of the name: an orchestrator that opened a fresh wait per loop turn would lose events and
could read one event forever. So :class:`StandingWaits` opens one wait per name before the first yield,
includes every open wait in every yield (:meth:`StandingWaits.race`), and re-opens a wait as soon as it
fired. Every event meets an open wait.

**Drain before continue_as_new.** The host delivers several new events in one episode when they arrived
together (a timer and a cancel; the last status result and a job event). The SDK replays them one at a time;
once the orchestrator calls ``continue_as_new`` and returns, the rest of the episode is dropped (the
extension's ContinueAsNew does not preserve unprocessed events). :meth:`StandingWaits.drain` takes those
events first: it compares the events of this execution's history that carry a waited name with the number
already taken. Looking at the history is replay-safe here: when nothing is pending the orchestrator
continues as new at once and this execution is never replayed again; when something is pending, every later
replay sees at least the same events at that point, so it takes the same path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Generator, Iterable, Optional

from azure.durable_functions.models.history.HistoryEventType import HistoryEventType
from azure.durable_functions.models.Task import TaskState

__all__ = ["Arrival", "StandingWaits", "ActivityFailed", "decode_event", "error_text"]


def decode_event(value: Any) -> Any:
    """An event payload as sent: the Python client's ``raise_event`` arrives as JSON *text*
    (durable-python #295); anything that is not JSON text is returned unchanged."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def error_text(error: Any) -> str:
    """A failed activity surfaces as ``Exception("<Reason>\\n<Details>$OutOfProcData$...")``: keep the readable
    first part, on one line, at most 1000 characters (callers pass it through ``redact`` before storing)."""
    text = str(error).split("$OutOfProcData$", 1)[0].strip()
    return " ".join(part.strip() for part in text.splitlines() if part.strip())[:1000]


class ActivityFailed(Exception):
    """:meth:`StandingWaits.call_with_retry` ran out of attempts; the message names the activity."""


@dataclass(frozen=True)
class Arrival:
    """One external event taken from a standing wait; ``value`` is already decoded."""

    name: str
    value: Any


OnArrival = Callable[[Arrival], bool]   # returns True when the arrival must interrupt the wait


class StandingWaits:
    """Exactly one open wait per event name at every yield of the orchestrator that owns it.

    ``names`` are re-opened after every arrival. ``latched`` names (a cancel request) fire once: after that
    their value stays in :attr:`latched` and no new wait is opened for them.
    Create it before the orchestrator's first ``yield``.
    """

    def __init__(self, context: Any, names: Iterable[str] = (), *, latched: Iterable[str] = ()):
        self.context = context
        self._open: dict[str, Any] = {}
        self._latched_names = frozenset(latched)
        self.latched: dict[str, Any] = {}
        self.taken: dict[str, int] = {}   # arrivals taken per name in this execution
        for name in (*names, *latched):
            self._open[name] = context.wait_for_external_event(name)

    # -- the one waiting step ---------------------------------------------------------------------------

    def race(self, task: Any) -> Generator[Any, Any, Optional[Arrival]]:
        """Yield once for ``task`` or an event, whichever the history delivers first.

        Returns the :class:`Arrival`, or ``None`` once ``task`` is done (read ``task.result``; a failed
        activity's ``result`` is its exception).
        """
        if task.is_completed:
            return None
        winner = yield self.context.task_any([task, *self._open.values()])
        for name, wait in self._open.items():
            if winner is wait:
                return self._take(name)
        return None

    def until(self, task: Any, on_arrival: OnArrival) -> Generator[Any, Any, Optional[Arrival]]:
        """Yield until ``task`` is done, handing every event meanwhile to ``on_arrival``; an arrival for which
        it returns True ends the wait early and is returned (``task`` stays scheduled). ``None``: task done."""
        while True:
            arrival = yield from self.race(task)
            if arrival is None:
                return None
            if on_arrival(arrival):
                return arrival

    def sleep_until(self, fire_at: Any, on_arrival: OnArrival) -> Generator[Any, Any, Optional[Arrival]]:
        """A durable timer raced against the waits; the timer is cancelled when an arrival interrupts."""
        timer = self.context.create_timer(fire_at)
        arrival = yield from self.until(timer, on_arrival)
        if arrival is not None and not timer.is_completed:
            timer.cancel()
        return arrival

    def call(self, name: str, payload: Any, on_arrival: OnArrival) -> Generator[Any, Any, tuple[Optional[Arrival], Any]]:
        """One activity call raced against the waits: ``(None, result)``, or ``(arrival, None)`` when an
        arrival interrupted it. Raises the activity's exception when it failed."""
        task = self.context.call_activity(name, payload)
        arrival = yield from self.until(task, on_arrival)
        if arrival is not None:
            return arrival, None
        if task.state is TaskState.FAILED:
            raise task.result
        return None, task.result

    def call_with_retry(self, name: str, payload: Any, on_arrival: OnArrival, *, attempts: int,
                        first_delay: timedelta, backoff: float = 2.0) -> Generator[Any, Any, tuple[Optional[Arrival], Any]]:
        """:meth:`call` with retries on durable timers that are raced against the waits too (the SDK's
        ``call_activity_with_retry`` cannot be raced); :class:`ActivityFailed` after ``attempts`` failures."""
        delay = first_delay
        for attempt in range(1, attempts + 1):
            try:
                return (yield from self.call(name, payload, on_arrival))
            except Exception as exc:  # the activity failed: retry after ``delay``
                if attempt == attempts:
                    raise ActivityFailed(f"activity {name} failed {attempt} times: {error_text(exc)}") from None
            arrival = yield from self.sleep_until(self.context.current_utc_datetime + delay, on_arrival)
            if arrival is not None:
                return arrival, None
            delay = delay * backoff
        raise AssertionError("unreachable")

    # -- continue_as_new -------------------------------------------------------------------------------

    def pending(self) -> int:
        """Events of this execution's history for an open wait that have not been taken yet."""
        raised = dict.fromkeys(self._open, 0)
        for event in self.context.histories:
            if event.event_type == HistoryEventType.EVENT_RAISED and event.Name in raised:
                raised[event.Name] += 1
        return sum(max(0, count - self.taken.get(name, 0)) for name, count in raised.items())

    def drain(self, on_arrival: OnArrival) -> Generator[Any, Any, Optional[Arrival]]:
        """Take every event already delivered but not yet taken (see the module docstring). Call it right
        before ``continue_as_new``; an arrival for which ``on_arrival`` returns True is returned at once."""
        while self._open and self.pending():
            winner = yield self.context.task_any(list(self._open.values()))
            for name, wait in list(self._open.items()):
                if winner is wait:
                    arrival = self._take(name)
                    if on_arrival(arrival):
                        return arrival
                    break
        return None

    # -- internals -------------------------------------------------------------------------------------

    def _take(self, name: str) -> Arrival:
        value = decode_event(self._open[name].result)
        self.taken[name] = self.taken.get(name, 0) + 1
        if name in self._latched_names:
            del self._open[name]
            self.latched[name] = value
        else:  # re-opened in place: the order of the waits in every yield stays the same
            self._open[name] = self.context.wait_for_external_event(name)
        return Arrival(name, value)
