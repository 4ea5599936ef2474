"""In-process stand-in for the Durable Functions extension host (Azure Storage backend).

One implementation for the tests (``tests/support/durable_host.py`` re-exports it), the benchmarks and the
local development host (``devhost.host``). With ``state_dir`` it keeps every instance on disk (saved before
a client write is answered, and at most 0.5 s after each episode), so a restarted host resumes its
orchestrations; activities that were scheduled and never answered run again, as on the real host.

Usage::

    funcs = {f.get_function_name(): f for f in app.get_functions()}     # once per app
    orchestrators, activities = split_functions(funcs.values())
    with DurableTestHost(orchestrators, activities) as host:             # simulated clock
        resp = run_async(funcs["http_start"].get_user_function()(
            req=func.HttpRequest("POST", "http://localhost/api/runs", body=b"{}"),
            client=host.client_binding()))                              # real SDK client → HTTP
        run_id = json.loads(resp.get_body())["id"]
        status = host.run_until_complete(run_id)                         # timers fire instantly
        assert status["runtimeStatus"] == "Completed"
        assert host.count(run_id, ET.TIMER_FIRED) == 2

``DurableTestHost`` runs an app's real orchestrators through the real SDK replay engine: each
episode it builds the context JSON the extension sends (full history, ``IsPlayed`` flags,
host-like schema fields), calls the orchestrator handle, reads the *new* actions from the
returned ``OrchestratorState`` and appends the history events the extension/DTFx would append.
Activities are plain callables; their inputs/outputs pass through the worker's own
``ActivityTriggerConverter`` so they round-trip through JSON exactly like the worker does.

It also serves the extension's HTTP API on 127.0.0.1 (ephemeral port) so the SDK's real
``DurableOrchestrationClient`` (client functions) can start, query, raise events to, terminate
and purge instances; ``client_binding()`` is the JSON the durable-client binding receives.

Behaviour reproduced from the extension / DTFx sources (HttpApiHandler.cs,
OutOfProcOrchestrationShim.cs, TaskActivityShim.cs, the SDK's Task.py/TaskOrchestrationExecutor.py):

* Sequence numbers: every scheduled activity / timer (and ContinueAsNew) takes the next integer,
  in action order; external-event waits take none. Retries (``CallActivityWithRetry``):
  ``TaskFailed`` → a retry timer (next id, fires after ``firstRetryIntervalInMilliseconds``,
  backoff 1) → ``TimerFired`` → the next attempt (next id) ... and, when attempts are exhausted,
  one *extra* timer before the SDK fails the task (the SDK's ``RetryAbleTask`` expects that).
  By default one new event is delivered per episode, which keeps the numbering exact.
* Batched episodes: the real host hands an orchestrator every message that arrived since its last
  episode at once (a timer and a cancel; the last activity result and an event). With
  ``events_per_episode=None`` every episode delivers the whole inbox; ``with host.hold(id):``
  runs no episode for that instance inside the block (activities and timers go on, their results
  and raised events queue up in order) and the next episode delivers everything queued at once.
* ``TaskFailed.Reason`` = ``"Activity function '<name>' failed: <message>"`` like
  TaskActivityShim; ``Details`` = a JSON description of the exception.
* Orchestrator failure → runtimeStatus Failed, output
  ``"Orchestrator function '<name>' failed: <error>"``. customStatus is updated from each
  episode's state when present (the shim ignores a missing/falsy one).
* Start over a Pending/Running instance → 409 Conflict (``start_new`` raises); over a
  finished one → a fresh instance. raiseEvent: 404 unknown, 410 finished, 400 non-JSON, 202.
  terminate: 404/410/202. get_status: 202 Pending/Running, 200 finished (Failed too), 404.
* Payload encodings: the Python client posts ``json.dumps(json_text)``; the extension stores the
  raw body and hands the orchestrator the decoded JSON text, so ``get_input()`` returns the
  original value and ``get_status().input_`` is the JSON *text*. For raise_event the extension
  stores the JSON text as a string token: an orchestrator waiting on an event raised by the
  Python client receives the JSON *text* (a ``str``), not the dict (durable-python issue #295).
  ``DurableTestHost.raise_event`` reproduces that by default (``as_python_client=True``).
* ContinueAsNew: a new execution (new ExecutionId, same instance id, seq restarts at 0);
  events already in history but not consumed are dropped, events not yet delivered carry over.
* Events raised before the orchestrator waits are appended to history at once; the SDK
  itself buffers them until ``wait_for_external_event`` (like the real host).

Not modelled: sub-orchestrations, entities, ``call_http``, suspend/resume/rewind/restart
(501), durable timers' storage-side max length, the TimerFired of a cancelled timer (dropped
here; DTFx still delivers it later, which the SDK ignores), ``showHistoryOutput``, task hubs/connections (one hub), and the extension's
"friendly" history format (``historyEvents`` is a simplified list).
"""
from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import itertools
import json
import logging
import os
import pickle
import threading
import time
import traceback
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Union
from urllib.parse import parse_qs, unquote, urlsplit

from .history import (
    ET,
    SchemaArg,
    context_payload,
    format_ts,
    make_event,
    parse_orchestrator_result,
    parse_ts,
)

__all__ = [
    "DurableTestHost",
    "SimulatedClock",
    "ScaledClock",
    "HostError",
    "HostStuck",
    "run_async",
    "split_functions",
    "TERMINAL_STATUSES",
]

log = logging.getLogger(__name__)

#: the local development host's state file (in its state folder) and its format version
STATE_FILE = "durable-state.pickle"
STATE_VERSION = 1
SAVE_EVERY_SECONDS = 0.5

TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Terminated", "Canceled"})
ACTIVE_STATUSES = frozenset({"Pending", "Running", "ContinuedAsNew", "Suspended"})

# ActionType values (azure.durable_functions.models.actions.ActionType)
A_CALL_ACTIVITY, A_CALL_ACTIVITY_RETRY, A_SUB, A_SUB_RETRY, A_CONTINUE_AS_NEW = 0, 1, 2, 3, 4
A_CREATE_TIMER, A_WAIT_EVENT, A_CALL_ENTITY, A_CALL_HTTP, A_SIGNAL_ENTITY = 5, 6, 7, 8, 9
A_SCHEDULED_SIGNAL, A_WHEN_ANY, A_WHEN_ALL = 10, 11, 12
ACTION_NAMES = {0: "CallActivity", 1: "CallActivityWithRetry", 2: "CallSubOrchestrator",
                3: "CallSubOrchestratorWithRetry", 4: "ContinueAsNew", 5: "CreateTimer",
                6: "WaitForExternalEvent", 7: "CallEntity", 8: "CallHttp", 9: "SignalEntity",
                10: "ScheduledSignalEntity", 11: "WhenAny", 12: "WhenAll"}


class HostError(RuntimeError):
    """Misuse of the host or a limit reached (max_steps, timeout)."""


class HostStuck(HostError):
    """run_until_complete: nothing can happen any more and the instance is not finished."""


# ------------------------------------------------------------------------------------------
# clocks
# ------------------------------------------------------------------------------------------
class SimulatedClock:
    """Virtual time. It only moves by ``advance`` or when the host fires the next timer."""

    realtime = False

    def __init__(self, start: Optional[datetime] = None):
        self._now = start or datetime(2024, 1, 1, tzinfo=timezone.utc)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def advance_to(self, when: datetime) -> None:
        if when > self._now:
            self._now = when

    def real_seconds_until(self, when: datetime) -> float:
        return 0.0


class ScaledClock:
    """Orchestration time = start + real elapsed time × speed (+ explicit ``advance``).

    A timer with ``fireAt`` fires once the wall clock has covered ``(fireAt - start) / speed``.
    """

    realtime = True

    def __init__(self, speed: float = 1.0, start: Optional[datetime] = None):
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.speed = speed
        self._start = start or datetime.now(timezone.utc)
        self._t0 = time.monotonic()
        self._offset = 0.0

    def now(self) -> datetime:
        elapsed = (time.monotonic() - self._t0) * self.speed + self._offset
        return self._start + timedelta(seconds=elapsed)

    def advance(self, delta: timedelta) -> None:
        self._offset += delta.total_seconds()

    def advance_to(self, when: datetime) -> None:
        gap = (when - self.now()).total_seconds()
        if gap > 0:
            self._offset += gap

    def real_seconds_until(self, when: datetime) -> float:
        return max(0.0, (when - self.now()).total_seconds() / self.speed)


# ------------------------------------------------------------------------------------------
# helpers for tests
# ------------------------------------------------------------------------------------------
def run_async(coro):
    """``asyncio.run(coro)`` that closes the SDK's module-global aiohttp session afterwards.

    ``azure.durable_functions.models.utils.http_utils`` keeps one ClientSession bound to the
    first event loop; a second ``asyncio.run`` would fail with "Event loop is closed".
    """
    from azure.durable_functions.models.utils import http_utils

    async def _wrapped():
        try:
            return await coro
        finally:
            await _close_own_session(http_utils)

    return asyncio.run(_wrapped())


async def _close_own_session(http_utils) -> None:
    """Close the SDK's module-global session only if this event loop opened it.

    With activities on threads (clock="scaled"), a coroutine activity's loop and a test's client call run at
    once: closing the other loop's session would cut its request mid-way (ServerDisconnectedError) or fail the
    activity (a session bound to another loop).
    """
    session = http_utils._client_session  # noqa: SLF001 - the SDK's module-global session
    if session is None or session.closed or getattr(session, "_loop", None) is not asyncio.get_running_loop():
        return
    await session.close()
    if http_utils._client_session is session:  # noqa: SLF001
        http_utils._client_session = None




def split_functions(functions: Iterable[Any]) -> tuple[dict[str, Callable], dict[str, Callable]]:
    """(orchestrators, activities) from ``app.get_functions()`` (call that once per app).

    Orchestrators map to the SDK handle; activities map to a callable taking the decoded input
    that invokes the user function with the binding's parameter name, as the worker does. An activity
    that also declares a durable-client input binding (``landing_start_run``) gets it as the worker gives
    it: the host passes its client binding as the call's second argument (``DURABLE_CLIENT_ARG`` marks
    such a callable with the parameter's name).
    """
    orchestrators: dict[str, Callable] = {}
    activities: dict[str, Callable] = {}
    for f in functions:
        trigger = f.get_trigger()
        ttype = getattr(trigger, "type", None) or trigger.get_binding_name()
        if ttype == "orchestrationTrigger":
            orchestrators[f.get_function_name()] = f.get_user_function()
        elif ttype == "activityTrigger":
            user_fn, arg = f.get_user_function(), trigger.name
            client_arg = next((b.name for b in f.get_bindings()
                               if (getattr(b, "type", None) or b.get_binding_name()) == "durableClient"), None)

            def call(value, client=None, _fn=user_fn, _arg=arg, _client_arg=client_arg):
                kwargs = {_arg: value}
                if _client_arg is not None:
                    if client is None:
                        raise LookupError(f"activity {_fn.__name__} declares a durable client input"
                                          f" ({_client_arg!r}) and none was given")
                    kwargs[_client_arg] = client
                return _fn(**kwargs)

            call.__name__ = f.get_function_name()
            setattr(call, DURABLE_CLIENT_ARG, client_arg)
            activities[f.get_function_name()] = call
    return orchestrators, activities


#: attribute of an activity callable naming its durable-client parameter (``None``: it has none)
DURABLE_CLIENT_ARG = "durable_client_arg"


def _status_time(dt: datetime) -> str:
    # HttpApiHandler.ConvertFrom: status.CreatedTime.ToString("s") + "Z"
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _loads_or_text(raw: Optional[str]) -> Any:
    """MessagePayloadDataConverter.ParseToJToken: JSON if it parses, else the raw string."""
    if raw is None:
        return None
    raw = raw.strip()
    if not raw:
        return ""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _flatten(actions: list) -> list[dict]:
    """Leaf actions in order (V1: list of lists; V2+: [[...]] with WhenAny/WhenAll nesting)."""
    out: list[dict] = []

    def walk(item):
        if isinstance(item, list):
            for x in item:
                walk(x)
        elif isinstance(item, dict):
            if item.get("actionType") in (A_WHEN_ANY, A_WHEN_ALL):
                for x in item.get("compoundActions") or []:
                    walk(x)
            else:
                out.append(item)

    walk(actions or [])
    return out


def _signature(action: dict) -> tuple:
    return (action.get("actionType"), action.get("functionName"), action.get("externalEventName"))


# ------------------------------------------------------------------------------------------
# instance state
# ------------------------------------------------------------------------------------------
@dataclass
class _Retry:
    name: str
    input_text: Optional[str]
    first_interval_ms: int
    max_attempts: int
    attempts: int = 1


@dataclass
class _Timer:
    timer_id: int
    fire_at: datetime
    canceled: bool = False
    fired: bool = False
    retry: Optional[_Retry] = None


@dataclass
class _Work:
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input_text: Optional[str]
    attempt: int = 1


@dataclass
class _Instance:
    instance_id: str
    name: str
    input_raw: Optional[str]          # the stored ExecutionStarted input (raw JSON)
    created: datetime
    last_updated: datetime
    status: str = "Pending"
    custom_status: Any = None
    output: Any = None
    execution_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    history: list = field(default_factory=list)
    previous_executions: list = field(default_factory=list)
    started: bool = False
    seq: int = 0
    seen: int = 0
    signatures: list = field(default_factory=list)
    timer_by_action: dict = field(default_factory=dict)
    timers: dict = field(default_factory=dict)
    retry_by_task: dict = field(default_factory=dict)
    retry_by_timer: dict = field(default_factory=dict)
    inbox: deque = field(default_factory=deque)
    held: bool = False                    # ``hold``: no episode until released
    deliver_all: bool = False             # the next episode delivers the whole inbox
    waiting_for: set = field(default_factory=set)
    ready_seq: Optional[int] = None
    episodes: int = 0
    last_state: Optional[dict] = None     # the last OrchestratorState (debugging aid)

    @property
    def context_input(self) -> Any:
        return _loads_or_text(self.input_raw)


# ------------------------------------------------------------------------------------------
# the host
# ------------------------------------------------------------------------------------------
ClockArg = Union[str, SimulatedClock, ScaledClock]


class DurableTestHost:
    """Runs orchestrations through the real SDK replay engine; see the module docstring.

    :param orchestrators: name → orchestrator handle (``f.get_user_function()``).
    :param activities: name → callable(input) (sync or async); see ``split_functions``.
    :param clock: ``"simulated"`` (default), ``"scaled"`` (real time × ``speed``) or a clock.
    :param schema: replay schema the "extension" advertises: ``"host"`` (default) or 0/1/2.
    :param activity_mode: ``"inline"`` (run by the driving thread, deterministic; default for
        the simulated clock) or ``"threads"`` (a thread pool; default for the scaled clock).
    :param events_per_episode: new events delivered per episode: 1 (default) or ``None`` for
        all that are queued, as the real host batches them (then queued inline activities run
        before the next episode, so the results of a fan-out arrive together).
    """

    def __init__(self, orchestrators: Mapping[str, Callable[[str], str]],
                 activities: Mapping[str, Callable[[Any], Any]], *,
                 clock: ClockArg = "simulated", speed: float = 1.0,
                 start: Optional[datetime] = None, schema: SchemaArg = "host",
                 task_hub: str = "TestHubName", activity_mode: Optional[str] = None,
                 max_activity_workers: int = 8, events_per_episode: Optional[int] = 1,
                 state_dir: Optional[Union[str, "os.PathLike[str]"]] = None):
        if events_per_episode is not None and events_per_episode < 1:
            raise ValueError("events_per_episode must be >= 1 or None")
        self.events_per_episode = events_per_episode
        self.orchestrators = dict(orchestrators)
        self.activities = dict(activities)
        if clock == "simulated":
            clock = SimulatedClock(start)
        elif clock == "scaled":
            clock = ScaledClock(speed, start)
        elif isinstance(clock, str):
            raise ValueError("clock must be 'simulated', 'scaled' or a clock object")
        self.clock = clock
        self.schema = schema
        self.task_hub = task_hub
        self.activity_mode = activity_mode or ("threads" if clock.realtime else "inline")
        if self.activity_mode not in ("inline", "threads"):
            raise ValueError("activity_mode must be 'inline' or 'threads'")
        self._lock = threading.RLock()
        self._cv = threading.Condition(self._lock)
        self._instances: dict[str, _Instance] = {}
        self._ready_counter = itertools.count()
        self._work_queue: deque[_Work] = deque()
        self._inflight = 0
        self._pool: Optional[ThreadPoolExecutor] = None
        self._max_workers = max_activity_workers
        self._server: Optional[ThreadingHTTPServer] = None
        self._server_thread: Optional[threading.Thread] = None
        self._pump_thread: Optional[threading.Thread] = None
        self._pump_stop = threading.Event()
        self._pump_fire_timers = True
        self._closed = False
        #: every activity invocation: dict(instance_id, name, input, task_id, attempt, result|error)
        self.activity_calls: list[dict] = []
        #: unexpected errors raised inside the pump thread
        self.pump_errors: list[BaseException] = []
        #: where the local development host keeps orchestration state across restarts (None: memory only)
        self.state_path = None if state_dir is None else Path(state_dir) / STATE_FILE
        self._saved_at = 0.0
        self._dirty = False
        if self.state_path is not None and self.state_path.exists():
            self._restore()

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> "DurableTestHost":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the pump, the HTTP server and the activity pool (waits for running activities)."""
        self.stop_pump()
        self.save()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._closed = True

    # -- HTTP API (the extension's RPC endpoint) --------------------------------------------
    def start_server(self) -> "DurableTestHost":
        """Serve the extension HTTP API on 127.0.0.1:<ephemeral> (idempotent)."""
        if self._server is None:
            self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
            self._server.daemon_threads = True
            self._server_thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                name="durable-test-host-http", daemon=True)
            self._server_thread.start()
        return self

    @property
    def port(self) -> int:
        self.start_server()
        return self._server.server_address[1]

    @property
    def rpc_base_url(self) -> str:
        """``rpcBaseUrl`` of the binding (the extension uses http://127.0.0.1:17071/durabletask/)."""
        return f"http://127.0.0.1:{self.port}/durabletask/"

    @property
    def base_url(self) -> str:
        """The public webhook base (``/runtime/webhooks/durabletask``), served here as well."""
        return f"http://127.0.0.1:{self.port}/runtime/webhooks/durabletask"

    def client_binding(self, connection_name: str = "Storage") -> str:
        """The JSON string the durable-client binding passes to a client function."""
        base, hub = self.base_url, self.task_hub
        qs = f"taskHub={hub}&connection={connection_name}"
        inst = f"{base}/instances/INSTANCEID"
        return json.dumps({
            "taskHubName": hub,
            "creationUrls": {
                "createNewInstancePostUri": f"{base}/orchestrators/{{functionName}}[/{{instanceId}}]?{qs}",
                "createAndWaitOnNewInstancePostUri":
                    f"{base}/orchestrators/{{functionName}}[/{{instanceId}}]"
                    f"?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}&{qs}",
            },
            "managementUrls": {
                "id": "INSTANCEID",
                "statusQueryGetUri": f"{inst}?{qs}",
                "sendEventPostUri": f"{inst}/raiseEvent/{{eventName}}?{qs}",
                "terminatePostUri": f"{inst}/terminate?reason={{text}}&{qs}",
                "rewindPostUri": f"{inst}/rewind?reason={{text}}&{qs}",
                "purgeHistoryDeleteUri": f"{inst}?{qs}",
                "restartPostUri": f"{inst}/restart?{qs}",
                "suspendPostUri": f"{inst}/suspend?reason={{text}}&{qs}",
                "resumePostUri": f"{inst}/resume?reason={{text}}&{qs}",
            },
            "baseUrl": base,
            "requiredQueryStringParameters": qs,
            "rpcBaseUrl": self.rpc_base_url,
            "httpBaseUrl": "",
            "connectionName": connection_name,
        })

    # -- drive API -------------------------------------------------------------------------
    def now(self) -> datetime:
        with self._lock:
            return self.clock.now()

    def start(self, name: str, input: Any = None, instance_id: Optional[str] = None) -> str:
        """Start an orchestration as ``client.start_new(name, instance_id, input)`` would."""
        raw = None if input is None else json.dumps(json.dumps(input))
        status, body = self._start(name, instance_id, raw)
        if status >= 300:
            raise HostError(f"start failed with {status}: {body}")
        return body["id"]

    def raise_event(self, instance_id: str, name: str, data: Any = None, *,
                    as_python_client: bool = True) -> None:
        """Raise an external event.

        ``as_python_client=True`` (default) reproduces the Python client + extension: the
        orchestrator receives ``json.dumps(data)`` (a str). ``False`` delivers ``data`` itself
        (what a .NET/in-process client raising ``data`` would deliver).
        """
        value = json.dumps(data) if as_python_client else data
        status = self._raise_event(instance_id, name, value)
        if status != 202:
            raise HostError(f"raise_event({instance_id!r}, {name!r}) → HTTP {status}")

    def terminate(self, instance_id: str, reason: str = "") -> None:
        status = self._terminate(instance_id, reason)
        if status != 202:
            raise HostError(f"terminate({instance_id!r}) → HTTP {status}")

    @contextlib.contextmanager
    def hold(self, instance_id: str):
        """Run no episode of ``instance_id`` inside the block; on exit the next episode delivers every
        event queued meanwhile (activity results, fired timers, raised events) at once, in order."""
        with self._cv:
            inst = self._get(instance_id)
            inst.held = True
        try:
            yield self
        finally:
            with self._cv:
                inst.held = False
                if inst.inbox:
                    inst.deliver_all = True
                    self._mark_ready(inst)
                self._cv.notify_all()

    def inbox(self, instance_id: str) -> list[dict]:
        """The events queued for the instance's next episode (deep copy)."""
        with self._lock:
            return copy.deepcopy(list(self._get(instance_id).inbox))

    def advance(self, seconds: Union[float, timedelta], *, run: bool = True) -> None:
        """Move the clock forward, fire the timers now due and (``run``) run until idle."""
        delta = seconds if isinstance(seconds, timedelta) else timedelta(seconds=seconds)
        with self._cv:
            self.clock.advance(delta)
            self._enqueue_due_timers()
            self._cv.notify_all()
        if run and not self.pump_running:
            self.run_until_idle(fire_timers=False)

    def step(self, fire_timers: bool = True) -> bool:
        """Do one unit of work (one episode, one activity, or firing timers). False if none."""
        with self._lock:
            result = self._step_locked(fire_timers)
        if isinstance(result, _Work):
            self._execute_activity(result)
            return True
        return result

    def run_until_idle(self, max_steps: int = 10_000, *, fire_timers: bool = True,
                       timeout_s: float = 60.0) -> int:
        """Run until nothing can happen without outside input.

        With ``fire_timers`` (default) pending durable timers count as work: the simulated clock
        jumps to them, the scaled clock waits for them. With ``fire_timers=False`` the run stops
        when only future timers (and event waits) remain. Returns the number of steps.
        """
        deadline = time.monotonic() + timeout_s
        steps = 0
        while True:
            if self.step(fire_timers):
                steps += 1
                if steps >= max_steps:
                    raise HostError(f"run_until_idle: max_steps={max_steps} reached "
                                    f"(an endless loop?). {self.describe()}")
                continue
            with self._cv:
                wait = self._idle_wait_locked(fire_timers)
                if wait is None:
                    return steps
                if time.monotonic() >= deadline:
                    raise HostError(f"run_until_idle: timeout after {timeout_s}s. {self.describe()}")
                self._cv.wait(timeout=min(wait, max(0.0, deadline - time.monotonic())))

    def run_until(self, predicate: Callable[["DurableTestHost"], bool], *,
                  timeout_s: float = 60.0, max_steps: int = 100_000,
                  fire_timers: bool = True) -> None:
        """Drive (or, with a pump running, wait) until ``predicate(host)`` is true."""
        deadline = time.monotonic() + timeout_s
        steps = 0
        while True:
            if predicate(self):
                return
            if time.monotonic() >= deadline:
                raise HostError(f"timeout after {timeout_s}s. {self.describe()}")
            if self.pump_running:
                with self._cv:
                    self._cv.wait(timeout=min(0.05, max(0.0, deadline - time.monotonic())))
                continue
            if self.step(fire_timers):
                steps += 1
                if steps >= max_steps:
                    raise HostError(f"max_steps={max_steps} reached. {self.describe()}")
                continue
            with self._cv:
                wait = self._idle_wait_locked(fire_timers)
                if wait is None:
                    if predicate(self):
                        return
                    raise HostStuck(f"nothing can happen any more. {self.describe()}")
                self._cv.wait(timeout=min(wait, max(0.0, deadline - time.monotonic())))

    def run_until_complete(self, instance_id: str, *, timeout_s: float = 60.0,
                           max_steps: int = 100_000) -> dict:
        """Run until the instance is Completed/Failed/Terminated; return its status dict."""
        def done(h):
            st = h.status(instance_id)
            if st is None:
                raise HostError(f"no instance {instance_id!r}")
            return st["runtimeStatus"] in TERMINAL_STATUSES

        self.run_until(done, timeout_s=timeout_s, max_steps=max_steps, fire_timers=True)
        return self.status(instance_id)

    # -- background pump -------------------------------------------------------------------
    @property
    def pump_running(self) -> bool:
        return self._pump_thread is not None and self._pump_thread.is_alive()

    def start_pump(self, *, fire_timers: bool = True) -> "DurableTestHost":
        """Drive the host from a background thread (start_new via RPC then just works).

        With the simulated clock and ``fire_timers=True`` the pump jumps to the next timer as
        soon as nothing else can happen; use ``fire_timers=False`` and ``advance`` instead if a
        test must act while timers are pending.
        """
        if self.pump_running:
            return self
        self._pump_fire_timers = fire_timers
        self._pump_stop.clear()
        self._pump_thread = threading.Thread(target=self._pump, name="durable-test-host-pump",
                                             daemon=True)
        self._pump_thread.start()
        return self

    def stop_pump(self) -> None:
        if self._pump_thread is not None:
            self._pump_stop.set()
            with self._cv:
                self._cv.notify_all()
            self._pump_thread.join(timeout=30)
            self._pump_thread = None

    def _pump(self) -> None:
        while not self._pump_stop.is_set():
            try:
                progressed = self.step(self._pump_fire_timers)
            except BaseException as exc:  # noqa: BLE001 - surface via pump_errors
                log.exception("durable test host pump failed")
                self.pump_errors.append(exc)
                return
            if progressed:
                self._dirty = True
            if self._dirty and time.monotonic() - self._saved_at >= SAVE_EVERY_SECONDS:
                self.save()
            if not progressed:
                with self._cv:
                    wait = self._idle_wait_locked(self._pump_fire_timers)
                    self._cv.wait(timeout=0.05 if wait is None else min(wait, 0.05))

    # -- persistence (the local development host) ---------------------------------------------
    def save(self) -> None:
        """Write every instance to ``state_path`` (atomically). Activities in flight are not saved: after a
        restart they run again, as the real host runs an activity again whose result was not checkpointed."""
        if self.state_path is None:
            return
        with self._lock:
            self._save_locked()

    def _save_locked(self) -> None:
        if self.state_path is None:
            return
        instances = {}
        for iid, inst in self._instances.items():
            copy_ = copy.copy(inst)
            copy_.last_state, copy_.ready_seq, copy_.held = None, None, False
            instances[iid] = copy_
        blob = pickle.dumps({"version": STATE_VERSION, "task_hub": self.task_hub, "instances": instances})
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.state_path.with_suffix(".tmp")
        temporary.write_bytes(blob)
        os.replace(temporary, self.state_path)
        self._saved_at, self._dirty = time.monotonic(), False

    def _restore(self) -> None:
        """Load the saved instances; re-run the activities that were scheduled but never answered, and run an
        episode for each instance with undelivered events."""
        try:
            data = pickle.loads(self.state_path.read_bytes())  # a local file this host wrote itself
        except Exception as exc:  # noqa: BLE001 - a damaged file: start empty, keep it for a look
            log.warning("durable state in %s could not be read (%s); starting empty", self.state_path, exc)
            return
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            log.warning("durable state in %s has another format; starting empty", self.state_path)
            return
        self._instances.update(data["instances"])
        for inst in self._instances.values():
            if inst.status not in ACTIVE_STATUSES:
                continue
            for work in _unanswered_activities(inst):
                self._dispatch(work)
            if inst.inbox or not inst.started:
                self._mark_ready(inst)
        log.info("durable state restored from %s: %d instances", self.state_path, len(self._instances))

    # -- inspection ------------------------------------------------------------------------
    def status(self, instance_id: str, *, show_history: bool = False,
               show_input: bool = True) -> Optional[dict]:
        """The status JSON the extension returns for GET instances/{id} (None if unknown)."""
        with self._lock:
            inst = self._instances.get(instance_id)
            return None if inst is None else self._status_json(
                inst, show_history=show_history, show_input=show_input)

    def history(self, instance_id: str) -> list[dict]:
        """Raw history events (deep copy) of the instance's current execution."""
        with self._lock:
            return copy.deepcopy(self._get(instance_id).history)

    def executions(self, instance_id: str) -> list[list[dict]]:
        """Histories of all executions (ContinueAsNew), oldest first, current last."""
        with self._lock:
            inst = self._get(instance_id)
            return copy.deepcopy(inst.previous_executions + [inst.history])

    def count(self, instance_id: str, event_type: ET, *, name: Optional[str] = None,
              all_executions: bool = False) -> int:
        """Number of history events of a type (optionally with ``Name``)."""
        hists = self.executions(instance_id) if all_executions else [self.history(instance_id)]
        return sum(1 for h in hists for e in h
                   if e["EventType"] == int(event_type) and (name is None or e.get("Name") == name))

    def instance_ids(self) -> list[str]:
        with self._lock:
            return list(self._instances)

    def describe(self) -> str:
        """One line per instance: status, pending timers/activities/events (for messages)."""
        with self._lock:
            lines = [f"clock={format_ts(self.clock.now())} queued_activities={len(self._work_queue)} "
                     f"running_activities={self._inflight}"]
            for inst in self._instances.values():
                timers = sorted(format_ts(t.fire_at) for t in inst.timers.values()
                                if not t.fired and not t.canceled)
                lines.append(f"  {inst.instance_id} [{inst.name}] {inst.status} "
                             f"episodes={inst.episodes} inbox={len(inst.inbox)} timers={timers} "
                             f"waiting_for={sorted(inst.waiting_for)} custom={inst.custom_status!r}")
            return "\n".join(lines)

    # ======================================================================================
    # internals (call with the lock held unless noted)
    # ======================================================================================
    def _get(self, instance_id: str) -> _Instance:
        inst = self._instances.get(instance_id)
        if inst is None:
            raise HostError(f"no instance {instance_id!r}")
        return inst

    def _mark_ready(self, inst: _Instance) -> None:
        if inst.ready_seq is None:
            inst.ready_seq = next(self._ready_counter)

    def _start(self, name: str, instance_id: Optional[str], raw_input: Optional[str]):
        with self._cv:
            iid = instance_id or uuid.uuid4().hex
            existing = self._instances.get(iid)
            if existing is not None and existing.status in ACTIVE_STATUSES:
                return 409, {"Message": f"An Orchestration instance with the status "
                                        f"{existing.status} already exists."}
            now = self.clock.now()
            inst = _Instance(instance_id=iid, name=name, input_raw=raw_input, created=now,
                             last_updated=now)
            self._instances.pop(iid, None)
            self._instances[iid] = inst
            self._mark_ready(inst)
            self._cv.notify_all()
            self._save_locked()
            return 202, {"id": iid}

    def _raise_event(self, instance_id: str, name: str, value: Any) -> int:
        with self._cv:
            inst = self._instances.get(instance_id)
            if inst is None:
                return 404
            if inst.status in TERMINAL_STATUSES:
                return 410
            inst.inbox.append(make_event(ET.EVENT_RAISED, self.clock.now(), Name=name,
                                         Input=json.dumps(value)))
            self._mark_ready(inst)
            self._save_locked()
            self._cv.notify_all()
            return 202

    def _terminate(self, instance_id: str, reason: str) -> int:
        with self._cv:
            inst = self._instances.get(instance_id)
            if inst is None:
                return 404
            if inst.status in TERMINAL_STATUSES:
                return 410
            now = self.clock.now()
            self._new_episode(inst, now)
            inst.history.append(make_event(ET.EXECUTION_TERMINATED, now, Input=reason))
            self._finish(inst, "Terminated", reason, now)
            inst.history.append(make_event(ET.ORCHESTRATOR_COMPLETED, now))
            self._save_locked()
            self._cv.notify_all()
            return 202

    def _purge(self, instance_id: str) -> int:
        with self._lock:
            inst = self._instances.get(instance_id)
            if inst is None:
                return 404
            if inst.status not in TERMINAL_STATUSES:
                return 412
            del self._instances[instance_id]
            self._save_locked()
            return 200

    # -- stepping --------------------------------------------------------------------------
    def _step_locked(self, fire_timers: bool):
        if self._closed:
            raise HostError("host is closed")
        self._enqueue_due_timers()
        if self.events_per_episode is None and self._work_queue:
            # batching host: queued activities run first, so their results reach the next episode together
            self._inflight += 1          # decremented by _execute_activity
            return self._work_queue.popleft()
        ready = [i for i in self._instances.values() if i.ready_seq is not None and not i.held]
        if ready:
            inst = min(ready, key=lambda i: i.ready_seq)
            inst.ready_seq = None
            if inst.status in ACTIVE_STATUSES and (not inst.started or inst.inbox):
                self._run_episode(inst)
                if inst.status in ACTIVE_STATUSES and (inst.inbox or not inst.started):
                    self._mark_ready(inst)
                self._cv.notify_all()
            return True
        if self._work_queue:
            self._inflight += 1          # decremented by _execute_activity
            return self._work_queue.popleft()
        if fire_timers and not self.clock.realtime and self._inflight == 0:
            nxt = self._next_timer()
            if nxt is not None:
                self.clock.advance_to(nxt)
                self._enqueue_due_timers()
                return True
        return False

    def _idle_wait_locked(self, fire_timers: bool) -> Optional[float]:
        """None if nothing will happen without outside input; else seconds to wait."""
        if any(i.ready_seq is not None and not i.held for i in self._instances.values()) or self._work_queue:
            return 0.0
        if self._inflight:
            return 0.05
        if fire_timers:
            nxt = self._next_timer()
            if nxt is not None:
                return min(0.05, self.clock.real_seconds_until(nxt)) if self.clock.realtime else 0.0
        return None

    def _pending_timers(self):
        for inst in self._instances.values():
            if inst.status not in ACTIVE_STATUSES:
                continue
            for t in inst.timers.values():
                if not t.fired and not t.canceled:
                    yield inst, t

    def _next_timer(self) -> Optional[datetime]:
        return min((t.fire_at for _, t in self._pending_timers()), default=None)

    def _enqueue_due_timers(self) -> None:
        now = self.clock.now()
        due = sorted(((t.fire_at, t.timer_id, inst, t) for inst, t in self._pending_timers()
                      if t.fire_at <= now), key=lambda x: (x[0], x[1]))
        for fire_at, timer_id, inst, t in due:
            t.fired = True
            inst.inbox.append(make_event(ET.TIMER_FIRED, now, TimerId=timer_id,
                                         FireAt=format_ts(fire_at)))
            self._mark_ready(inst)

    # -- episodes --------------------------------------------------------------------------
    def _new_episode(self, inst: _Instance, now: datetime) -> None:
        if inst.history and inst.history[-1]["EventType"] != int(ET.ORCHESTRATOR_COMPLETED):
            inst.history.append(make_event(ET.ORCHESTRATOR_COMPLETED, now))
        for ev in inst.history:
            ev["IsPlayed"] = True
        inst.history.append(make_event(ET.ORCHESTRATOR_STARTED, now))

    def _run_episode(self, inst: _Instance) -> None:
        now = self.clock.now()
        delivered: list[dict] = []
        self._new_episode(inst, now)
        if not inst.started:
            inst.started = True
            inst.history.append(make_event(
                ET.EXECUTION_STARTED, inst.created if not inst.previous_executions else now,
                Name=inst.name, Version="", Input=inst.input_raw,
                OrchestrationInstance={"InstanceId": inst.instance_id,
                                       "ExecutionId": inst.execution_id}))
        else:
            count = len(inst.inbox) if inst.deliver_all or self.events_per_episode is None \
                else min(len(inst.inbox), self.events_per_episode)
            inst.deliver_all = False
            for _ in range(count):
                delivered.append(inst.inbox.popleft())
            inst.history.extend(delivered)
        inst.status = "Running"
        inst.episodes += 1
        inst.last_updated = now

        handle = self.orchestrators.get(inst.name)
        if handle is None:
            self._fail(inst, f"The function '{inst.name}' doesn't exist, is disabled, or is not "
                             f"an orchestrator function.", now, prefix=False)
            return
        # The extension sends the stored input as a JSON token: for the Python client that is
        # the JSON *text* (a string), which get_input() decodes once.
        ctx_input = inst.context_input
        if ctx_input is not None and not isinstance(ctx_input, str):
            ctx_input = json.dumps(ctx_input)
        body = json.dumps(context_payload(inst.history, inst.instance_id, ctx_input, self.schema))
        try:
            state = parse_orchestrator_result(lambda: handle(body))
        except Exception as exc:  # noqa: BLE001 - worker-level failure, not an SDK error state
            self._fail(inst, f"{type(exc).__name__}: {exc}", now)
            return
        inst.last_state = state

        if state.get("customStatus") is not None:
            inst.custom_status = state["customStatus"]

        for event in delivered:
            self._after_delivery(inst, event, now)

        if state.get("error"):
            self._fail(inst, state["error"], now)
            return

        continue_as_new = self._schedule_actions(inst, state, now)
        if inst.status in TERMINAL_STATUSES:
            return
        if state.get("isDone"):
            if continue_as_new is not None:
                self._continue_as_new(inst, continue_as_new, now)
                return
            self._finish(inst, "Completed", state.get("output"), now)
        inst.history.append(make_event(ET.ORCHESTRATOR_COMPLETED, now))

    def _after_delivery(self, inst: _Instance, ev: dict, now: datetime) -> None:
        """Retry bookkeeping for the delivered event (ids taken before new actions, as the SDK)."""
        etype = ev["EventType"]
        if etype == int(ET.TASK_FAILED) and ev.get("TaskScheduledId") in inst.retry_by_task:
            retry = inst.retry_by_task.pop(ev["TaskScheduledId"])
            timer_id = inst.seq
            inst.seq += 1
            fire_at = now + timedelta(milliseconds=retry.first_interval_ms)
            inst.history.append(make_event(ET.TIMER_CREATED, now, timer_id,
                                           FireAt=format_ts(fire_at)))
            inst.timers[timer_id] = _Timer(timer_id, fire_at, retry=retry)
            inst.retry_by_timer[timer_id] = retry
        elif etype == int(ET.TASK_COMPLETED):
            inst.retry_by_task.pop(ev.get("TaskScheduledId"), None)
        elif etype == int(ET.TIMER_FIRED) and ev.get("TimerId") in inst.retry_by_timer:
            retry = inst.retry_by_timer.pop(ev["TimerId"])
            if retry.attempts < retry.max_attempts:   # else: the "extra" timer, SDK fails the task
                retry.attempts += 1
                task_id = inst.seq
                inst.seq += 1
                self._schedule_activity(inst, task_id, retry.name, retry.input_text, now,
                                        attempt=retry.attempts)
                inst.retry_by_task[task_id] = retry
        elif etype == int(ET.EVENT_RAISED):
            inst.waiting_for.discard(ev.get("Name"))

    def _schedule_activity(self, inst: _Instance, task_id: int, name: str,
                           input_text: Optional[str], now: datetime, attempt: int = 1) -> None:
        inst.history.append(make_event(ET.TASK_SCHEDULED, now, task_id, Name=name, Version="",
                                       Input=input_text))
        self._dispatch(_Work(inst.instance_id, inst.execution_id, task_id, name, input_text, attempt))

    def _dispatch(self, work: _Work) -> None:
        if self.activity_mode == "inline":
            self._work_queue.append(work)
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self._max_workers,
                                                thread_name_prefix="durable-test-activity")
            self._inflight += 1          # decremented by _execute_activity
            self._pool.submit(self._execute_activity, work)

    def _schedule_actions(self, inst: _Instance, state: dict, now: datetime) -> Optional[dict]:
        flat = _flatten(state.get("actions"))
        for i, sig in enumerate(inst.signatures[:len(flat)]):
            if _signature(flat[i]) != sig:
                self._fail(inst, f"Non-Deterministic workflow detected: action #{i} was "
                                 f"{ACTION_NAMES.get(sig[0])} {sig[1] or sig[2]!r} in an earlier "
                                 f"replay and is now {ACTION_NAMES.get(flat[i].get('actionType'))} "
                                 f"{flat[i].get('functionName') or flat[i].get('externalEventName')!r}",
                           now)
                return None
        for idx, timer_id in inst.timer_by_action.items():
            if idx < len(flat) and flat[idx].get("isCanceled"):
                inst.timers[timer_id].canceled = True
        continue_as_new = None
        for idx in range(inst.seen, len(flat)):
            action = flat[idx]
            atype = action.get("actionType")
            if atype in (A_CALL_ACTIVITY, A_CALL_ACTIVITY_RETRY):
                task_id = inst.seq
                inst.seq += 1
                self._schedule_activity(inst, task_id, action["functionName"],
                                        action.get("input"), now)
                if atype == A_CALL_ACTIVITY_RETRY:
                    opts = action.get("retryOptions") or {}
                    inst.retry_by_task[task_id] = _Retry(
                        action["functionName"], action.get("input"),
                        int(opts.get("firstRetryIntervalInMilliseconds", 1000)),
                        int(opts.get("maxNumberOfAttempts", 1)))
            elif atype == A_CREATE_TIMER:
                timer_id = inst.seq
                inst.seq += 1
                fire_at = parse_ts(action["fireAt"])
                inst.history.append(make_event(ET.TIMER_CREATED, now, timer_id,
                                               FireAt=format_ts(fire_at)))
                inst.timers[timer_id] = _Timer(timer_id, fire_at,
                                               canceled=bool(action.get("isCanceled")))
                inst.timer_by_action[idx] = timer_id
            elif atype == A_WAIT_EVENT:
                inst.waiting_for.add(action.get("externalEventName"))
            elif atype == A_CONTINUE_AS_NEW:
                inst.seq += 1
                continue_as_new = action
            else:
                self._fail(inst, f"DurableTestHost does not model action "
                                 f"{ACTION_NAMES.get(atype, atype)} ({atype}): {action}", now)
                return None
        inst.signatures.extend(_signature(a) for a in flat[inst.seen:])
        inst.seen = max(inst.seen, len(flat))
        return continue_as_new

    def _continue_as_new(self, inst: _Instance, action: dict, now: datetime) -> None:
        inst.history.append(make_event(ET.EXECUTION_COMPLETED, now,
                                       OrchestrationStatus="ContinuedAsNew", Result=None))
        inst.history.append(make_event(ET.ORCHESTRATOR_COMPLETED, now))
        inst.previous_executions.append(inst.history)
        text = action.get("input")
        inst.input_raw = None if text is None else json.dumps(text)
        inst.history = []
        inst.execution_id = uuid.uuid4().hex
        inst.started = False
        inst.seq = inst.seen = 0
        inst.signatures = []
        inst.timer_by_action = {}
        inst.timers = {}
        inst.retry_by_task = {}
        inst.retry_by_timer = {}
        inst.waiting_for = set()
        inst.status = "Running"
        inst.last_updated = now
        self._mark_ready(inst)

    def _finish(self, inst: _Instance, status: str, output: Any, now: datetime) -> None:
        inst.status = status
        inst.output = output
        inst.last_updated = now
        inst.timers.clear()
        inst.inbox.clear()
        inst.waiting_for.clear()
        inst.ready_seq = None
        inst.history.append(make_event(ET.EXECUTION_COMPLETED, now, OrchestrationStatus=status,
                                       Result=json.dumps(output)))

    def _fail(self, inst: _Instance, error: str, now: datetime, prefix: bool = True) -> None:
        message = f"Orchestrator function '{inst.name}' failed: {error}" if prefix else error
        log.info("orchestration %s failed: %s", inst.instance_id, message)
        self._finish(inst, "Failed", message, now)
        inst.history.append(make_event(ET.ORCHESTRATOR_COMPLETED, now))

    # -- activities (called WITHOUT the lock) ----------------------------------------------
    def _execute_activity(self, work: _Work) -> None:
        from azure.functions import meta
        from azure.functions.durable_functions import ActivityTriggerConverter

        record = {"instance_id": work.instance_id, "name": work.name, "task_id": work.task_id,
                  "attempt": work.attempt, "input": None}
        ok, result_text, reason, details = False, None, "", ""
        try:
            fn = self.activities.get(work.name)
            if fn is None:
                raise LookupError(f"The function '{work.name}' doesn't exist, is disabled, or is "
                                  f"not an activity function.")
            value = ActivityTriggerConverter.decode(
                meta.Datum(type="json", value=work.input_text if work.input_text is not None
                           else "null"), trigger_metadata=None)
            record["input"] = value
            # the worker fills an activity's durable-client input binding as it does a client function's
            result = fn(value, self.client_binding()) if getattr(fn, DURABLE_CLIENT_ARG, None) else fn(value)
            if inspect.isawaitable(result):
                result = _run_coroutine(result)
            result_text = ActivityTriggerConverter.encode(result, expected_type=None).value
            record["result"] = json.loads(result_text)
            ok = True
        except BaseException as exc:  # noqa: BLE001 - the worker reports any failure
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            record["error"] = f"{type(exc).__name__}: {exc}"
            stack = "".join(traceback.format_exception(exc))
            message = f"Result: Failure\nException: {type(exc).__name__}: {exc}\nStack: {stack}"
            reason = f"Activity function '{work.name}' failed: {message}"
            details = json.dumps({"$type": "Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException",
                                  "Message": message, "RemoteMessage": f"{type(exc).__name__}: {exc}",
                                  "RemoteStackTrace": stack,
                                  "RemoteTypeName": type(exc).__qualname__})
        with self._cv:
            self.activity_calls.append(record)
            self._inflight -= 1
            inst = self._instances.get(work.instance_id)
            if (inst is not None and inst.execution_id == work.execution_id
                    and inst.status in ACTIVE_STATUSES):
                now = self.clock.now()
                if ok:
                    ev = make_event(ET.TASK_COMPLETED, now, TaskScheduledId=work.task_id,
                                    Result=result_text)
                else:
                    ev = make_event(ET.TASK_FAILED, now, TaskScheduledId=work.task_id,
                                    Reason=reason, Details=details)
                inst.inbox.append(ev)
                self._mark_ready(inst)
            self._cv.notify_all()

    # -- status JSON -----------------------------------------------------------------------
    def _status_json(self, inst: _Instance, *, show_history: bool = False,
                     show_input: bool = True) -> dict:
        out = {
            "name": inst.name,
            "instanceId": inst.instance_id,
            "runtimeStatus": inst.status,
            "input": inst.context_input if show_input else None,
            "customStatus": inst.custom_status,
            "output": inst.output,
            "createdTime": _status_time(inst.created),
            "lastUpdatedTime": _status_time(inst.last_updated),
        }
        if show_history:
            out["historyEvents"] = [_friendly(e) for h in inst.previous_executions + [inst.history]
                                    for e in h
                                    if e["EventType"] not in (int(ET.ORCHESTRATOR_STARTED),
                                                              int(ET.ORCHESTRATOR_COMPLETED))]
        return out

    def _query(self, params: dict) -> list[_Instance]:
        def one(key):
            v = params.get(key)
            return v[0] if v else None

        statuses = set()
        for v in params.get("runtimeStatus", []):
            statuses.update(s for s in v.split(",") if s)
        frm = one("createdTimeFrom")
        to = one("createdTimeTo")
        prefix = one("instanceIdPrefix")
        frm_dt = parse_ts(frm) if frm else None
        to_dt = parse_ts(to) if to else None
        out = []
        for inst in self._instances.values():
            if statuses and inst.status not in statuses:
                continue
            if frm_dt and inst.created < frm_dt:
                continue
            if to_dt and inst.created > to_dt:
                continue
            if prefix and not inst.instance_id.startswith(prefix):
                continue
            out.append(inst)
        return out


def _unanswered_activities(inst: _Instance) -> list[_Work]:
    """The activities of the current execution that were scheduled and never completed or failed."""
    answered = {e.get("TaskScheduledId") for e in [*inst.history, *inst.inbox]
                if e["EventType"] in (int(ET.TASK_COMPLETED), int(ET.TASK_FAILED))}
    work = []
    for event in inst.history:
        if event["EventType"] == int(ET.TASK_SCHEDULED) and event["EventId"] not in answered:
            retry = inst.retry_by_task.get(event["EventId"])
            work.append(_Work(inst.instance_id, inst.execution_id, event["EventId"], event["Name"],
                              event.get("Input"), retry.attempts if retry else 1))
    return work


def _run_coroutine(awaitable):
    async def _await():
        return await awaitable
    # an activity with a durable client (landing_start_run) opens the SDK's module-global session: close it
    return run_async(_await())


def _friendly(ev: dict) -> dict:
    out = {k: v for k, v in ev.items() if k not in ("IsPlayed",)}
    try:
        out["EventType"] = "".join(p.capitalize() for p in ET(ev["EventType"]).name.split("_"))
    except ValueError:
        pass
    return out


# ------------------------------------------------------------------------------------------
# HTTP handler
# ------------------------------------------------------------------------------------------
_PREFIXES = ("/durabletask/", "/runtime/webhooks/durabletask/")


def _make_handler(host: DurableTestHost):
    class Handler(BaseHTTPRequestHandler):
        server_version = "DurableTestHost/1.0"

        def log_message(self, fmt, *args):  # keep pytest output quiet
            log.debug("rpc: " + fmt, *args)

        # -- plumbing --
        def _send(self, status: int, body: Any = None, headers: Optional[dict] = None):
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            if body is not None:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if data:
                self.wfile.write(data)

        def _route(self):
            parts = urlsplit(self.path)
            path = parts.path
            for p in _PREFIXES:
                if path.startswith(p):
                    rest = path[len(p):]
                    segs = [unquote(s) for s in rest.split("/")]
                    if segs and segs[-1] == "":
                        segs = segs[:-1] if len(segs) > 1 else segs
                    return segs, parse_qs(parts.query, keep_blank_values=True)
            return None, None

        def _body(self) -> Optional[str]:
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n).decode("utf-8") if n else None

        def _dispatch(self, method: str):
            try:
                segs, q = self._route()
                if segs is None:
                    return self._send(404)
                return self._handle(method, segs, q)
            except Exception as exc:  # noqa: BLE001 - like the extension: 500 + message
                log.exception("rpc handler failed")
                return self._send(500, {"Message": "Something went wrong while processing "
                                                   "your request", "ExceptionMessage": str(exc)})

        def do_GET(self):
            self._dispatch("GET")

        def do_POST(self):
            self._dispatch("POST")

        def do_DELETE(self):
            self._dispatch("DELETE")

        # -- routes --
        def _handle(self, method: str, segs: list[str], q: dict):
            flag = lambda k: (q.get(k, [""])[0].lower() == "true")  # noqa: E731
            head = segs[0] if segs else ""
            if head == "orchestrators" and len(segs) in (2, 3) and segs[1]:
                if method != "POST":
                    return self._send(404)
                body = self._body()
                raw = body if body is not None and body.strip() else None
                if raw is not None:
                    try:
                        json.loads(raw)
                    except ValueError:
                        return self._send(400, {"Message": "Invalid JSON content"})
                iid = segs[2] if len(segs) == 3 and segs[2] else None
                status, payload = host._start(segs[1], iid, raw)
                if status != 202:
                    return self._send(status, payload)
                links = json.loads(host.client_binding())["managementUrls"]
                links = {k: v.replace("INSTANCEID", payload["id"]) for k, v in links.items()}
                return self._send(202, links, {"Location": links["statusQueryGetUri"]})
            if head != "instances":
                return self._send(404)
            iid = segs[1] if len(segs) > 1 and segs[1] else None
            if iid is None:
                with host._lock:
                    matches = host._query(q)
                    if method == "GET":
                        return self._send(200, [host._status_json(i) for i in matches])
                    if method == "DELETE":
                        if not q.get("createdTimeFrom"):
                            return self._send(400, "Please provide value for 'createdTimeFrom' "
                                                   "parameter.")
                        deleted = sum(1 for i in matches if host._purge(i.instance_id) == 200)
                        return self._send(200, {"instancesDeleted": deleted}) if deleted \
                            else self._send(404)
                return self._send(404)
            if len(segs) == 2:
                if method == "GET":
                    # the extension defaults showInput to true; the Python client never sends false
                    show_input = q.get("showInput", ["true"])[0].lower() != "false"
                    st = host.status(iid, show_history=flag("showHistory"), show_input=show_input)
                    if st is None:
                        return self._send(404)
                    if st["runtimeStatus"] in ("Pending", "Running", "ContinuedAsNew", "Suspended"):
                        return self._send(202, st, {"Location": self.path, "Retry-After": "5"})
                    if st["runtimeStatus"] == "Failed" and flag("returnInternalServerErrorOnFailure"):
                        return self._send(500, st)
                    return self._send(200, st)
                if method == "DELETE":
                    code = host._purge(iid)
                    if code == 200:
                        return self._send(200, {"instancesDeleted": 1})
                    if code == 412:
                        return self._send(412, "Only orchestrations in a terminal state can be purged")
                    return self._send(404)
                return self._send(404)
            op = segs[2].lower()
            if method != "POST":
                return self._send(404)
            if op == "raiseevent" and len(segs) == 4:
                st = host.status(iid)
                if st is None:
                    return self._send(404)
                if st["runtimeStatus"] in TERMINAL_STATUSES:
                    return self._send(410)
                ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
                if ctype != "application/json":
                    return self._send(400, {"Message": "Only application/json request content "
                                                       "is supported"})
                body = self._body()
                try:
                    value = None if body is None or not body.strip() else json.loads(body)
                except ValueError:
                    return self._send(400, {"Message": "Invalid JSON content"})
                return self._send(host._raise_event(iid, segs[3], value))
            if op == "terminate" and len(segs) == 3:
                reason = q.get("reason", [""])[0]
                return self._send(host._terminate(iid, reason))
            if op in ("suspend", "resume", "rewind", "restart"):
                return self._send(501, {"Message": f"DurableTestHost does not model {op}"})
            return self._send(404)

    return Handler
