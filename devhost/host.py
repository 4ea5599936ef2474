"""The local development host: runs ``function_app.py`` where Azure Functions Core Tools is not installed.

What it serves, on the port and paths Core Tools uses:

* every HTTP function at ``/api/<route>`` (route templates such as ``runs/{run_id}/cancel``);
* ``POST /runtime/webhooks/eventgrid?functionName=<name>`` for Event Grid deliveries, with the Event Grid
  extension's handshake (``aeg-event-type: SubscriptionValidation`` answers ``validationResponse``; the
  CloudEvents ``OPTIONS`` handshake answers ``WebHook-Allowed-Origin``), both event schemas, batches;
* queue triggers, by polling their queues on the connection they name (Azurite locally): visibility
  timeout, ``dequeueCount``, and after 5 failed attempts the message moves to ``<queue>-poison``;
* timer triggers, on their NCRONTAB schedule (``run_on_startup`` honoured);
* orchestrations and activities through the real Durable SDK replay engine (``devhost.durable``), on the
  real-time clock, with at-least-once activities, batched new events per episode and 409 on starting over
  a running instance. Orchestration state is saved to disk after every episode, so a restart resumes.

Function keys are accepted and not checked, as Core Tools does locally (``code=`` or ``x-functions-key``).

Not modelled (see docs/local-development.md, "Local development host"): scale-out and several workers, host.json limits
(``functionTimeout``, concurrency, retry policies of triggers), the Event Grid extension's system key,
blob triggers, entity functions, sub-orchestrations, the extension's durable HTTP API on the app port.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import logging
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

log = logging.getLogger("devhost")

POISON_AFTER = 5                 # the Functions queue trigger's default maxDequeueCount
QUEUE_VISIBILITY_SECONDS = 30    # how long a message being processed stays invisible
QUEUE_POLL_SECONDS = 1.0
MAX_REQUEST_BYTES = 100 * 1024 * 1024  # the Functions host's default request size limit


def query_params(query: Any) -> dict[str, str]:
    """The query as the Functions host hands it to the worker: one value per name, a repeated name's values
    joined with ',' (``?limit=5&limit=7`` reaches the app as ``"5,7"``)."""
    return {name: ",".join(query.getall(name)) for name in dict.fromkeys(query.keys())}


def http_answer(response: Any) -> tuple[int, Any, bytes]:
    """``(status, headers, body)`` of a function's ``HttpResponse`` through the converter the worker itself uses
    (``azure.functions.http.HttpResponseConverter``): the same Content-Type (``application/json`` without a
    charset; a charset only for ``text/*``), the same headers, ``Set-Cookie`` as the host re-emits it."""
    from azure.functions.http import HttpResponseConverter
    from multidict import CIMultiDict

    datum = HttpResponseConverter.encode(response, expected_type=None).value
    headers: CIMultiDict = CIMultiDict()
    for name, value in datum["headers"].items():
        if name.lower() != "content-length":
            headers.add(name, value.value)
    for cookie in datum.get("cookies") or []:
        for morsel in cookie.values():
            headers.add("Set-Cookie", morsel.OutputString())
    return int(datum["status_code"].value), headers, datum["body"].value or b""


@dataclass
class HttpFunction:
    name: str
    route: str
    methods: set[str]
    fn: Callable
    trigger_arg: str
    client_arg: Optional[str]
    pattern: re.Pattern = field(init=False)
    literal_segments: int = field(init=False)

    def __post_init__(self) -> None:
        parts = []
        for segment in self.route.strip("/").split("/"):
            match = re.fullmatch(r"\{\*?(\w+)(?::[^}]*)?\??\}", segment)
            if match:
                rest = segment.startswith("{*")
                parts.append(f"(?P<{match[1]}>{'.*' if rest else '[^/]+'})")
            else:
                parts.append(re.escape(segment))
        self.pattern = re.compile("^" + "/".join(parts) + "/?$", re.IGNORECASE)
        self.literal_segments = sum(1 for s in self.route.split("/") if not s.startswith("{"))


@dataclass
class TriggeredFunction:
    name: str
    kind: str  # "eventGridTrigger", "queueTrigger", "timerTrigger"
    fn: Callable
    trigger_arg: str
    client_arg: Optional[str]
    binding: Any


def _bindings(function: Any) -> list:
    return list(function.get_bindings())


def _binding_type(binding: Any) -> str:
    return getattr(binding, "type", None) or binding.get_binding_name()


def index_app(functions: list) -> tuple[list[HttpFunction], list[TriggeredFunction]]:
    """HTTP functions (most specific route first) and the other triggers, from ``app.get_functions()``."""
    http, triggered = [], []
    for function in functions:
        trigger = function.get_trigger()
        kind = _binding_type(trigger)
        client = next((b.name for b in _bindings(function) if _binding_type(b) == "durableClient"), None)
        if kind == "httpTrigger":
            methods = {str(getattr(m, "value", m)).upper() for m in (trigger.methods or ["GET", "POST"])}
            http.append(HttpFunction(function.get_function_name(), trigger.route or function.get_function_name(),
                                     methods, function.get_user_function(), trigger.name, client))
        elif kind in ("eventGridTrigger", "queueTrigger", "timerTrigger"):
            triggered.append(TriggeredFunction(function.get_function_name(), kind, function.get_user_function(),
                                               trigger.name, client, trigger))
    http.sort(key=lambda f: (-f.literal_segments, f.route))
    return http, triggered


def load_local_settings(path: Path) -> dict:
    """``Values`` of local.settings.json into the environment (values already set win, as with Core Tools)."""
    if not path.exists():
        return {}
    values = json.loads(path.read_text(encoding="utf-8")).get("Values") or {}
    for key, value in values.items():
        os.environ.setdefault(key, str(value))
    return values


class LocalFunctionsHost:
    """Serves one Functions app on 127.0.0.1:``port``; see the module docstring."""

    def __init__(self, *, port: int = 7071, root: Optional[Path] = None, state_dir: Optional[Path] = None,
                 speed: float = 1.0, app_module: str = "function_app", poll_queues: bool = True,
                 run_timers: bool = True, queue_visibility_seconds: int = QUEUE_VISIBILITY_SECONDS):
        self.port = port
        self.root = Path(root or Path.cwd())
        self.state_dir = state_dir
        self.speed = speed
        self.app_module = app_module
        self.poll_queues = poll_queues
        self.run_timers = run_timers
        self.queue_visibility_seconds = queue_visibility_seconds
        self.durable: Any = None
        self.http: list[HttpFunction] = []
        self.triggered: list[TriggeredFunction] = []
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._runner: Any = None
        self._tasks: list[asyncio.Task] = []
        self._ready = threading.Event()
        self._startup_error: Optional[BaseException] = None
        #: trigger invocations that raised: (function name, error text)
        self.errors: list[tuple[str, str]] = []
        #: host.json extensions.queues.messageEncoding: the host base64-decodes messages unless "none"
        self.queue_message_encoding = queue_message_encoding(self.root)

    # -- lifecycle --------------------------------------------------------------------------------------
    def start(self) -> "LocalFunctionsHost":
        import importlib

        from .durable import DurableTestHost, split_functions
        from .indexing import functions_of

        module = importlib.import_module(self.app_module)
        functions = functions_of(module.app)
        self.http, self.triggered = index_app(functions)
        orchestrators, activities = split_functions(functions)
        self.durable = DurableTestHost(orchestrators, {n: self._on_worker_loop(fn) for n, fn in activities.items()},
                                       clock="scaled", speed=self.speed, state_dir=self.state_dir,
                                       events_per_episode=None)
        self.durable.start_server()
        self._thread = threading.Thread(target=self._serve, name="devhost-worker", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._startup_error is not None:
            raise self._startup_error
        self.durable.start_pump()
        return self

    def stop(self) -> None:
        if self.loop is not None and self.loop.is_running():
            asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(timeout=30)
            self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self.durable is not None:
            self.durable.close()

    def __enter__(self) -> "LocalFunctionsHost":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._startup())
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.close()

    async def _startup(self) -> None:
        from aiohttp import web

        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_route("*", "/runtime/webhooks/{extension}", self._webhook)
        app.router.add_route("*", "/api/{tail:.*}", self._http)
        app.router.add_route("GET", "/", self._root)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        if self.port == 0:
            self.port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001 - the bound ephemeral port
        for function in self.triggered:
            if function.kind == "queueTrigger" and self.poll_queues:
                self._tasks.append(asyncio.create_task(_logged(function.name, self._poll_queue(function))))
            elif function.kind == "timerTrigger" and self.run_timers:
                self._tasks.append(asyncio.create_task(_logged(function.name, self._run_timer(function))))

    async def _shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        from azure.durable_functions.models.utils import http_utils

        await http_utils._close_session()  # noqa: SLF001 - the SDK's module-global session

    # -- calling functions as the worker does -----------------------------------------------------------
    def _on_worker_loop(self, fn: Callable) -> Callable:
        """Activities run on the host's threads; a coroutine they return runs on the worker's one loop (the
        Durable SDK keeps one module-global HTTP session, bound to the loop that made it)."""
        from .durable import DURABLE_CLIENT_ARG

        def call(value: Any, *client: Any) -> Any:
            result = fn(value, *client)
            if inspect.isawaitable(result):
                return asyncio.run_coroutine_threadsafe(_awaited(result), self.loop).result()
            return result

        call.__name__ = getattr(fn, "__name__", "activity")
        setattr(call, DURABLE_CLIENT_ARG, getattr(fn, DURABLE_CLIENT_ARG, None))
        return call

    async def _invoke(self, function: Any, trigger_value: Any) -> Any:
        kwargs = {function.trigger_arg: trigger_value}
        if function.client_arg:
            kwargs[function.client_arg] = self.durable.client_binding()
        if inspect.iscoroutinefunction(function.fn):
            return await function.fn(**kwargs)
        result = await asyncio.get_running_loop().run_in_executor(None, lambda: function.fn(**kwargs))
        return await result if inspect.isawaitable(result) else result

    # -- HTTP -------------------------------------------------------------------------------------------
    async def _root(self, request: Any) -> Any:
        from aiohttp import web

        routes = sorted({f"/api/{f.route}" for f in self.http})
        return web.json_response({"host": "devhost", "functions": routes})

    async def _http(self, request: Any) -> Any:
        import azure.functions as func
        from aiohttp import web

        tail = request.match_info["tail"]
        allowed: set[str] = set()
        for function in self.http:
            match = function.pattern.match(tail)
            if not match:
                continue
            allowed |= function.methods
            if request.method not in function.methods:
                continue
            body = await request.read()
            req = func.HttpRequest(method=request.method, url=str(request.url),
                                   headers=dict(request.headers), params=query_params(request.query),
                                   route_params={k: v for k, v in match.groupdict().items()}, body=body)
            try:
                response = await self._invoke(function, req)
            except Exception as exc:  # noqa: BLE001 - the host answers 500, as Functions does
                log.exception("function %s failed", function.name)
                self.errors.append((function.name, f"{type(exc).__name__}: {exc}"))
                return web.Response(status=500)
            if response is None:
                return web.Response(status=204)
            status, headers, body = http_answer(response)
            return web.Response(status=status, body=body, headers=headers)
        if allowed:
            return web.Response(status=405, headers={"Allow": ", ".join(sorted(allowed))})
        return web.Response(status=404)

    # -- Event Grid webhook -----------------------------------------------------------------------------
    async def _webhook(self, request: Any) -> Any:
        from aiohttp import web

        if request.match_info["extension"].lower() != "eventgrid":
            return web.Response(status=404, text=f"no {request.match_info['extension']} extension here")
        if request.method == "OPTIONS":  # CloudEvents abuse-protection handshake
            origin = request.headers.get("WebHook-Request-Origin")
            headers = {"WebHook-Allowed-Origin": origin or "*", "Allow": "POST"}
            return web.Response(status=200, headers=headers)
        if request.method != "POST":
            return web.Response(status=405)
        name = request.query.get("functionName", "")
        function = next((f for f in self.triggered if f.kind == "eventGridTrigger" and f.name.lower() == name.lower()),
                        None)
        if function is None:
            return web.Response(status=404, text=f"no Event Grid function named {name!r}")
        try:
            payload = json.loads(await request.read())
        except ValueError:
            return web.Response(status=400, text="the body is not JSON")
        events = payload if isinstance(payload, list) else [payload]
        kind = request.headers.get("aeg-event-type", "")
        if kind == "SubscriptionValidation":
            code = (events[0].get("data") or {}).get("validationCode") if events and isinstance(events[0], dict) \
                else None
            return web.json_response({"validationResponse": code})
        if kind == "Unsubscribe":
            return web.Response(status=202)
        if kind != "Notification":
            return web.Response(status=400, text="the aeg-event-type header must be Notification, "
                                                 "SubscriptionValidation or Unsubscribe")
        from azure.functions import meta
        from azure.functions.eventgrid import EventGridEventInConverter

        for event in events:
            value = EventGridEventInConverter.decode(meta.Datum(type="json", value=json.dumps(event)),
                                                     trigger_metadata=None)
            try:
                await self._invoke(function, value)
            except Exception as exc:  # noqa: BLE001 - Event Grid retries on 5xx
                log.exception("function %s failed", function.name)
                self.errors.append((function.name, f"{type(exc).__name__}: {exc}"))
                return web.Response(status=500)
        return web.Response(status=202)

    # -- queue triggers ---------------------------------------------------------------------------------
    async def _poll_queue(self, function: TriggeredFunction) -> None:
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.queue import QueueClient

        connection = os.environ.get(function.binding.connection or "AzureWebJobsStorage", "")
        if connection == "UseDevelopmentStorage=true":
            connection = DEV_STORAGE
        queue_name = function.binding.queue_name
        queue = QueueClient.from_connection_string(connection, queue_name)
        poison = QueueClient.from_connection_string(connection, f"{queue_name}-poison")
        for client in (queue, poison):
            try:
                await asyncio.to_thread(client.create_queue)
            except ResourceExistsError:
                pass
            except Exception as exc:  # noqa: BLE001 - storage not up yet: keep trying below
                log.warning("queue %s: %s", queue_name, exc)
        while True:
            try:
                messages = await asyncio.to_thread(
                    lambda: list(queue.receive_messages(max_messages=16,
                                                        visibility_timeout=self.queue_visibility_seconds)))
            except Exception as exc:  # noqa: BLE001 - Azurite restarting: try again
                log.warning("queue %s: %s", queue_name, exc)
                await asyncio.sleep(QUEUE_POLL_SECONDS * 5)
                continue
            for message in messages:
                await self._deliver_queue_message(function, queue, poison, message)
            if not messages:
                await asyncio.sleep(QUEUE_POLL_SECONDS)

    async def _deliver_queue_message(self, function: TriggeredFunction, queue: Any, poison: Any, message: Any) -> None:
        text = message.content
        if self.queue_message_encoding == "base64":
            try:
                body = base64.b64decode(text, validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):  # the host fails such a message (retried, then poisoned)
                log.warning("function %s: message %s is not base64 (host.json queues.messageEncoding)",
                            function.name, message.id)
                self.errors.append((function.name, "the message is not base64"))
                if message.dequeue_count >= POISON_AFTER:
                    await asyncio.to_thread(poison.send_message, text)
                    await asyncio.to_thread(queue.delete_message, message)
                return
        else:
            body = text
        msg = queue_message(body, message.id, message.dequeue_count, message.inserted_on, message.expires_on,
                            message.next_visible_on, message.pop_receipt)
        try:
            await self._invoke(function, msg)
        except Exception as exc:  # noqa: BLE001 - retried by visibility, then poisoned
            log.warning("function %s failed on message %s (attempt %s): %s", function.name, message.id,
                        message.dequeue_count, exc)
            self.errors.append((function.name, f"{type(exc).__name__}: {exc}"))
            if message.dequeue_count >= POISON_AFTER:
                await asyncio.to_thread(poison.send_message, text)
                await asyncio.to_thread(queue.delete_message, message)
            return
        await asyncio.to_thread(queue.delete_message, message)

    # -- timer triggers ---------------------------------------------------------------------------------
    async def _run_timer(self, function: TriggeredFunction) -> None:
        from .ncrontab import Schedule

        schedule_text = os.environ.get(function.binding.schedule.strip("%"), "") \
            if function.binding.schedule.startswith("%") else function.binding.schedule
        schedule = Schedule(schedule_text)
        first = bool(getattr(function.binding, "run_on_startup", False))
        while True:
            now = datetime.now(timezone.utc)
            if not first:
                due = schedule.next_after(now)
                await asyncio.sleep(max(0.0, (due - now).total_seconds()))
            first = False
            timer = timer_request(schedule, now)
            try:
                await self._invoke(function, timer)
            except Exception as exc:  # noqa: BLE001 - the next tick tries again
                log.exception("timer function %s failed", function.name)
                self.errors.append((function.name, f"{type(exc).__name__}: {exc}"))


def queue_message_encoding(root: Path) -> str:
    """``extensions.queues.messageEncoding`` of the app's host.json (the Storage extension's default: base64)."""
    try:
        document = json.loads((root / "host.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "base64"
    value = ((document.get("extensions") or {}).get("queues") or {}).get("messageEncoding") or "base64"
    return str(value).lower()


def queue_message(body: str, message_id: str, dequeue_count: int, inserted: Any, expires: Any, next_visible: Any,
                  pop_receipt: str) -> Any:
    """The ``QueueMessage`` the worker makes: the content as the host passes it (a string) and the trigger
    metadata, through azure.functions' own converter."""
    from azure.functions import meta
    from azure.functions.queue import QueueMessageInConverter

    def when(moment: Any) -> Any:
        return meta.Datum(type="json", value=json.dumps(moment.isoformat() if moment is not None else None))

    metadata = {"Id": meta.Datum(type="string", value=message_id),
                "DequeueCount": meta.Datum(type="json", value=str(dequeue_count)),
                "InsertionTime": when(inserted), "ExpirationTime": when(expires),
                "NextVisibleTime": when(next_visible), "PopReceipt": meta.Datum(type="string", value=pop_receipt)}
    return QueueMessageInConverter.decode(meta.Datum(type="string", value=body), trigger_metadata=metadata)


def timer_request(schedule: Any, now: datetime, past_due: bool = False) -> Any:
    """The ``TimerRequest`` the worker makes from the host's timer binding data, through azure.functions' own
    converter (``Schedule``, ``ScheduleStatus`` with the last and next firing, ``IsPastDue``)."""
    from azure.functions import meta
    from azure.functions.timer import TimerRequestConverter

    status = {"Last": now.isoformat(), "Next": schedule.next_after(now).isoformat(), "LastUpdated": now.isoformat()}
    data = {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": status, "IsPastDue": past_due}
    return TimerRequestConverter.decode(meta.Datum(type="json", value=json.dumps(data)), trigger_metadata=None)


DEV_STORAGE = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
               "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
               "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"
               "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;")


async def _logged(name: str, work: Any) -> None:
    """A trigger's background loop; if it ever stops on an error, say so instead of dying silently."""
    try:
        await work
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001
        log.exception("the %s trigger loop stopped", name)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def run_forever(host: LocalFunctionsHost) -> None:
    """Serve until Ctrl-C or SIGTERM."""
    import signal

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        host.stop()

