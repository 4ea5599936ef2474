"""The process-wide fault wrappers: azure-core's transport (storage), the SDK's Durable client, httpx (the batch
endpoint). Every call the app makes there reports to the scenario's :class:`~tests.support.faults.FaultPlan`:
a crash or a lost answer after it, the storage SDK's own retry, or a stall before it (Durable client calls and
conditional writes to the state container). Side effects made by an activity are recorded with the execution
(instance, generation) that made them."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import threading
from typing import Any, Callable, Optional
from urllib.parse import unquote, urlsplit

from tests.support.faults import FaultPlan

from .settings import DATASTORE_CONTAINER

log = logging.getLogger("crash_bench")


#: the activity a thread (or task) is running for: (instance id, generation); a side effect made under it
#: belongs to that generation of the run (contextvars follow ``asyncio.run`` and ``asyncio.to_thread``)
_CURRENT_ACTIVITY: contextvars.ContextVar = contextvars.ContextVar("crash_bench_activity", default=None)


class Faults:
    """The plan the wrappers report to (``None``: nothing is recorded, e.g. while the bench sets up)."""

    plan: Optional[FaultPlan] = None
    emulator_netloc: str = ""
    #: what the scenario does while the chosen call stalls (others act; the lease expires); then the call goes on
    stall_hook: Optional[Callable[[str], None]] = None
    #: (instance id, generation, what) of every side effect an activity made (a submit POST, a sink write)
    effects: Optional[list] = None
    #: the calls a stall can hit: every Durable client call and every conditional write to the state container
    stallable: set = set()

    @classmethod
    def wrote(cls, what: str, lost: Optional[Callable[[str], BaseException]] = None, **faults: Any) -> None:
        plan = cls.plan
        if plan is not None:
            plan.wrote(what, lost, faults=faults)

    @classmethod
    def maybe_stall(cls, what: str) -> None:
        """Before a stallable call is sent: if it is the plan's stall point, hold it (the hook lets others act
        past the lease), then let it go through late. Its occurrence is counted as the wrappers count it."""
        cls.stallable.add(what)
        plan, hook = cls.plan, cls.stall_hook
        if plan is None or plan.kind != "stall" or plan.target is None or hook is None:
            return
        with plan._lock:
            label = f"{what} #{plan._seen.get(what, 0) + 1}"
            if plan.fired is not None or label != plan.target:
                return
            plan.fired = label
        log.info("stalling %s", label)
        hook(label)

    @classmethod
    def side_effect(cls, what: str) -> None:
        effects, current = cls.effects, _CURRENT_ACTIVITY.get()
        if effects is not None and current is not None:
            effects.append((*current, what))


_HEX = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{12,}")
_FOLDER = re.compile(r"(^|/)f[0-9a-f]{8}(/|$)")     # a scenario's folder (``<route>/f<8 hex>``)


def _storage_label(method: str, url: str) -> Optional[str]:
    """``storage:PUT crash-state/runs/heart-*.json``: the same write gets the same label in every scenario
    (per-scenario container suffixes, folders and ids masked); ``None`` for writes that are not the app's."""
    parts = urlsplit(url)
    segments = unquote(parts.path).lstrip("/").split("/", 2)   # account / container / blob
    if len(segments) < 2:
        return None
    container = segments[1]
    if container == DATASTORE_CONTAINER:   # the emulator's own writes (the job's outputs)
        return None
    blob = segments[2] if len(segments) > 2 else ""
    comp = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p).get("comp", "")
    container = re.sub(r"-[0-9a-f]{8}$", "", container)
    blob = _HEX.sub("*", _FOLDER.sub(r"\1{folder}\2", blob))
    return f"storage:{method} {container}/{blob}" + (f"?comp={comp}" if comp else "")


def _conditional(request: Any) -> bool:
    headers = {k.lower(): v for k, v in request.headers.items()}
    return "if-match" in headers or "if-none-match" in headers


_ORIGINALS: list = []   # (owner, attribute, original) of every wrapped attribute

#: the Durable client's calls (each one is a point, and a stall point)
DURABLE_CALLS = ("start_new", "raise_event", "terminate", "get_status", "get_status_by", "get_status_all",
                 "purge_instance_history", "suspend", "resume", "rewind")


def _wrap(owner: Any, name: str, wrapper: Any) -> None:
    _ORIGINALS.append((owner, name, getattr(owner, name)))
    setattr(owner, name, wrapper)


def uninstall_wrappers() -> None:
    """Put the originals back (the pytest subset runs in a process that other tests share)."""
    while _ORIGINALS:
        owner, name, original = _ORIGINALS.pop()
        setattr(owner, name, original)


def _durable_label(name: str, args: tuple, kwargs: dict) -> str:
    if name == "start_new":
        return f"durable:start_new {args[0] if args else kwargs.get('orchestration_function_name')}"
    if name == "raise_event":
        return f"durable:raise_event {args[1] if len(args) > 1 else kwargs.get('event_name')}"
    return f"durable:{name}"


def _per_loop_sessions() -> None:
    """The SDK keeps one module-global aiohttp session (bound to one event loop); the bench's client functions
    run concurrently on several threads, each with its own loop, so each loop gets its own session."""
    import aiohttp
    from azure.durable_functions.models.utils import http_utils

    sessions: dict = {}
    guard = threading.Lock()

    async def get_session() -> Any:
        loop = asyncio.get_running_loop()
        with guard:
            session = sessions.get(loop)
            if session is None or session.closed:
                session = sessions[loop] = aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=240, sock_connect=10),
                    connector=aiohttp.TCPConnector(limit=30, limit_per_host=30))
        return session

    async def close_session() -> None:
        with guard:
            session = sessions.pop(asyncio.get_running_loop(), None)
        if session is not None and not session.closed:
            await session.close()

    _wrap(http_utils, "_get_session", get_session)
    _wrap(http_utils, "_close_session", close_session)
    _wrap(http_utils, "_handle_request_error", close_session)


def install_wrappers() -> None:
    """Wrap the three boundaries, once per process (idempotent; :func:`uninstall_wrappers` undoes it)."""
    import azure.durable_functions as df
    import httpx
    from azure.core.exceptions import ServiceResponseError
    from azure.core.pipeline.transport import RequestsTransport
    from azure.storage.blob._shared.policies import ExponentialRetry

    if _ORIGINALS:
        return

    real_send = RequestsTransport.send

    def send(self, request, **kwargs):
        label = None
        if request.method in ("PUT", "DELETE", "POST", "PATCH"):
            label = _storage_label(request.method, request.url)
            if label is not None and label.startswith("storage:PUT crash-state/") and _conditional(request):
                Faults.maybe_stall(label)   # a conditional write held past the lease: sent late
        response = real_send(self, request, **kwargs)
        if label is not None and 200 <= response.status_code < 300:
            if label.startswith(("storage:PUT crash-sink/", "storage:PUT crash-copy/")):
                Faults.side_effect(label)
            # retried: the answer was lost on the wire and the SDK's retry policy sends the request again
            Faults.wrote(label, retried=lambda m: ServiceResponseError(m))
        return response

    _wrap(RequestsTransport, "send", send)

    # The storage SDK waits 15 s (± 3) before its first retry; the bench scales that down like its clock.
    real_backoff = ExponentialRetry.get_backoff_time
    _wrap(ExponentialRetry, "get_backoff_time", lambda self, settings: min(real_backoff(self, settings), 0.05))

    client = df.DurableOrchestrationClient

    def durable(name: str) -> Any:
        real = getattr(client, name)

        async def call(self, *args, **kwargs):
            what = _durable_label(name, args, kwargs)
            plan = Faults.plan
            if plan is not None and plan.kind == "stall":
                await asyncio.to_thread(Faults.maybe_stall, what)   # held past the lease, then sent late
            else:
                Faults.stallable.add(what)
            result = await real(self, *args, **kwargs)
            Faults.wrote(what)
            return result

        return call

    for name in DURABLE_CALLS:
        if hasattr(client, name):
            _wrap(client, name, durable(name))
    _per_loop_sessions()

    real_handle = httpx.HTTPTransport.handle_request

    def handle_request(self, request):
        response = real_handle(self, request)
        if Faults.emulator_netloc and request.url.netloc.decode() == Faults.emulator_netloc \
                and not request.url.path.startswith("/_emulator"):
            path = request.url.path
            what = "cancel" if path.endswith("/cancel") else "submit" if request.method == "POST" else \
                "list" if path.rstrip("/").endswith("/jobs") else "get"
            if what == "submit" and 200 <= response.status_code < 300:
                Faults.side_effect("endpoint:POST submit")

            def lost(message: str) -> BaseException:
                response.read()
                response.close()
                return httpx.ReadTimeout(message, request=request)

            Faults.wrote(f"endpoint:{request.method} {what}", lost)
        return response

    _wrap(httpx.HTTPTransport, "handle_request", handle_request)
