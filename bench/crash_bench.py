"""Crash-injection benchmark: one landed folder → exactly one job → every output in every sink, whatever dies.

    python -m bench.crash_bench                       # every point, both fault kinds, all four start kinds
    python -m bench.crash_bench --starts marker --faults crash      # a subset
    python -m bench.crash_bench --list                # only the baseline runs and their points

For each start kind (``marker``, ``manifest``, ``quiet_period``, ``http``) it first runs the whole path once
without faults and records every *point*: each storage write (a PUT/DELETE/POST that Azurite answered 2xx),
each Durable client write (``start_new``, ``raise_event``, ``terminate``), each batch-endpoint call (the
submit and cancel POSTs, the first GET of each kind) and the end of each activity. Then it runs the path once
per point and fault kind, on fresh containers:

* ``crash``: right after the write went through, :class:`~tests.support.faults.Crash` (a ``BaseException``:
  no ``except Exception`` of the app runs, as when the process dies);
* ``lost``: the write went through but its answer never arrived (:class:`~tests.support.faults.LostAnswer`
  for storage and Durable calls, ``httpx.ReadTimeout`` for the endpoint);
* ``retried`` (storage writes): the answer was lost on the wire and the storage SDK's own retry policy sends
  the request again (a conditional create then meets its own blob, an ETag update its own ETag).

and then redelivers as Azure does: Event Grid delivers an event again when its function failed; an
activity whose worker died (or whose result was not checkpointed) runs again; an HTTP client re-sends a
failed POST with the same ``Idempotency-Key``; the reconcile sweep runs once at the end, as its timer would.

Everything is real: Azurite and the batch-endpoint emulator as servers on 127.0.0.1, the function app's own
functions, the real Durable replay engine (``tests/support/durable_host.py``) on a scaled clock. The wrappers
are process-wide (``azure.core``'s ``RequestsTransport.send``, the SDK's ``DurableOrchestrationClient``,
``httpx.HTTPTransport.handle_request``) so every write the app makes is a point, wherever it is made.

Checks per point: exactly one run of the folder reaches Succeeded; exactly one Azure ML job exists for the
folder; every output is in every sink, byte-identical; no instance is left running and the folder has a run.
The last line: ``crash points: N; runs exactly once: X/X; duplicate jobs: 0; lost outputs: 0; stuck runs: 0``.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import logging
import os
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional
from urllib.parse import unquote, urlsplit

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support.faults import Crash, FaultPlan, LostAnswer  # noqa: E402

log = logging.getLogger("crash_bench")

START_KINDS = ("marker", "manifest", "quiet_period", "http")
FAULT_KINDS = ("crash", "lost", "retried")
#: orchestration seconds per wall second: the submit retry (30 s) is 1.5 s, the first poll (1 s) 50 ms
SPEED = 20.0
STATE_SECONDS = 0.02          # the emulator's dwell time per early/late job state
DATASTORE_CONTAINER = "crash-blobstore"
ROUTES = {"marker": "heart", "manifest": "heartm", "quiet_period": "heartq", "http": "heart", "cancel": "heart"}
#: opt-in start kinds (``--starts cancel``): an HTTP start, then a cancel over HTTP while the job runs
EXTRA_KINDS = ("cancel",)
SETTLE_TIMEOUT_S = 60.0
CLAIM_GRACE_SECONDS = 1.0     # a crashed starter's claim is taken over after this (the app's default is 10 s)
EVENT_DELIVERIES = 6          # Event Grid / HTTP client attempts per event or request
ACTIVITY_DELIVERIES = 6       # deliveries of one activity when its worker keeps dying
POLL = {"initial_seconds": 1, "max_seconds": 10, "growth": 1.5, "deadline_hours": 1}
#: what a sweep tick reports when it had to repair something
SWEEP_REPAIRS = ("started", "repaired", "redelivered")
#: points that repeat with the number of polls: only their first occurrence is a point (the rest vary by timing)
REPEATING = re.compile(r"^(endpoint:GET|activity:get_job_status|activity:landing_check_manifest)")


# --- the process-wide fault wrappers --------------------------------------------------------------------------

class Faults:
    """The plan the wrappers report to (``None``: nothing is recorded, e.g. while the bench sets up)."""

    plan: Optional[FaultPlan] = None
    emulator_netloc: str = ""

    @classmethod
    def wrote(cls, what: str, lost: Optional[Callable[[str], BaseException]] = None, **faults: Any) -> None:
        plan = cls.plan
        if plan is not None:
            plan.wrote(what, lost, faults=faults)


_HEX = re.compile(r"[0-9a-f]{12,}")
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


_ORIGINALS: list = []   # (owner, attribute, original) of every wrapped attribute


def _wrap(owner: Any, name: str, wrapper: Any) -> None:
    _ORIGINALS.append((owner, name, getattr(owner, name)))
    setattr(owner, name, wrapper)


def uninstall_wrappers() -> None:
    """Put the originals back (the pytest subset runs in a process that other tests share)."""
    while _ORIGINALS:
        owner, name, original = _ORIGINALS.pop()
        setattr(owner, name, original)


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
        response = real_send(self, request, **kwargs)
        if request.method in ("PUT", "DELETE", "POST", "PATCH") and 200 <= response.status_code < 300:
            label = _storage_label(request.method, request.url)
            if label is not None:
                # retried: the answer was lost on the wire and the SDK's retry policy sends the request again
                Faults.wrote(label, retried=lambda m: ServiceResponseError(m))
        return response

    _wrap(RequestsTransport, "send", send)

    # The storage SDK waits 15 s (± 3) before its first retry; the bench scales that down like its clock.
    real_backoff = ExponentialRetry.get_backoff_time
    _wrap(ExponentialRetry, "get_backoff_time", lambda self, settings: min(real_backoff(self, settings), 0.05))

    client = df.DurableOrchestrationClient
    real_start, real_raise, real_terminate = client.start_new, client.raise_event, client.terminate

    async def start_new(self, orchestration_function_name, *args, **kwargs):
        result = await real_start(self, orchestration_function_name, *args, **kwargs)
        Faults.wrote(f"durable:start_new {orchestration_function_name}")
        return result

    async def raise_event(self, instance_id, event_name, *args, **kwargs):
        result = await real_raise(self, instance_id, event_name, *args, **kwargs)
        Faults.wrote(f"durable:raise_event {event_name}")
        return result

    async def terminate(self, instance_id, reason, *args, **kwargs):
        result = await real_terminate(self, instance_id, reason, *args, **kwargs)
        Faults.wrote("durable:terminate")
        return result

    _wrap(client, "start_new", start_new)
    _wrap(client, "raise_event", raise_event)
    _wrap(client, "terminate", terminate)

    real_handle = httpx.HTTPTransport.handle_request

    def handle_request(self, request):
        response = real_handle(self, request)
        if Faults.emulator_netloc and request.url.netloc.decode() == Faults.emulator_netloc \
                and not request.url.path.startswith("/_emulator"):
            path = request.url.path
            what = "cancel" if path.endswith("/cancel") else "submit" if request.method == "POST" else \
                "list" if path.rstrip("/").endswith("/jobs") else "get"

            def lost(message: str) -> BaseException:
                response.read()
                response.close()
                return httpx.ReadTimeout(message, request=request)

            Faults.wrote(f"endpoint:{request.method} {what}", lost)
        return response

    _wrap(httpx.HTTPTransport, "handle_request", handle_request)


# --- the stack: Azurite, the emulator, app settings ----------------------------------------------------------

ENV_NAMES = ("AzureWebJobsStorage", "CRASH_SINK", "AML_MANAGEMENT_URL", "BATCH_CONFIG_PATH", "STATE_CONNECTION",
             "AZURE_CLIENT_ID", "STATE_CONTAINER", "BATCH_CONFIG_JSON")


class Stack:
    """Azurite (its own, or ``azurite`` given), the emulator in-process, and the app settings (restored by
    :meth:`close`)."""

    def __init__(self, azurite: Any = None) -> None:
        from azure.storage.blob import BlobServiceClient

        from emulator import EmulatorServer, load_config
        from tests.emulator.helpers import SAMPLE, emulator_config_dict
        from tests.support.azurite import start_azurite

        self.saved_env = {name: os.environ.get(name) for name in ENV_NAMES}
        self.own_azurite = azurite is None
        self.azurite = azurite or start_azurite()
        self.landing = BlobServiceClient.from_connection_string(self.azurite.default.connection_string)
        self.sink = BlobServiceClient.from_connection_string(self.azurite.sink.connection_string)
        with contextlib.suppress(Exception):
            self.landing.create_container(DATASTORE_CONTAINER)
        cfg = emulator_config_dict(self.azurite.default.blob_connection_string)
        cfg["datastores"]["workspaceblobstore"]["container"] = DATASTORE_CONTAINER
        cfg["timings"] = {k: STATE_SECONDS for k in cfg["timings"]}
        self.emulator = EmulatorServer(load_config(cfg, SAMPLE))
        self.emulator.start()
        Faults.emulator_netloc = urlsplit(self.emulator.base_url).netloc
        os.environ.update({"AzureWebJobsStorage": self.azurite.default.connection_string,
                           "CRASH_SINK": self.azurite.sink.connection_string,
                           "AML_MANAGEMENT_URL": self.emulator.management_url})
        for name in ("BATCH_CONFIG_PATH", "STATE_CONNECTION", "AZURE_CLIENT_ID"):
            os.environ.pop(name, None)

    def close(self) -> None:
        self.emulator.stop()
        if self.own_azurite:
            self.azurite.stop()
        for name, value in self.saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def document(self, landing: str, sinks: list[str]) -> dict:
        workspace = {"subscription_id": "00000000-0000-0000-0000-000000000000", "resource_group": "rg-local",
                     "name": "ws-local"}
        landings = {"heart": {"mode": "marker", "marker_name": "_SUCCESS"},
                    "heartm": {"mode": "manifest", "manifest_name": "_manifest.json", "manifest_wait_minutes": 10},
                    "heartq": {"mode": "quiet_period", "quiet_seconds": 2}}
        routes = [{
            "name": name,
            "match": {"container": landing, "prefix": f"{name}/"},
            "landing": rule,
            "endpoint": {"scoring_uri": self.emulator.scoring_uri("heart"), "deployment": None,
                         "workspace": workspace},
            "input": {"type": "uri_folder", "name": "heart_dataset"},
            "output": {"datastore": "workspaceblobstore", "path": f"batch/{name}/{{run_id}}/predictions.csv"},
            "overrides": {"mini_batch_size": 2, "instance_count": 1},
            "poll": dict(POLL),
            "sinks": [{"url": f"{self.azurite.sink.blob_url}/{sink}/scores/{{folder}}/", "connection": "CRASH_SINK"}
                      for sink in sinks],
        } for name, rule in landings.items()]
        return {"datastores": {"workspaceblobstore": {"account_url": self.azurite.default.blob_url,
                                                      "container": DATASTORE_CONTAINER,
                                                      "connection": "AzureWebJobsStorage"}},
                "routes": routes}


# --- one scenario ---------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    start: str
    fault: str
    point: str
    fired: bool = False
    succeeded: int = 0
    runs: int = 0
    jobs: int = 0
    lost_outputs: int = 0
    stuck: int = 0
    notes: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    seconds: float = 0.0
    swept: dict = field(default_factory=dict)   # what the final sweep had to repair
    expected: str = "Succeeded"                 # the outcome the one run must reach ("Canceled": cancel kind)
    violations: list = field(default_factory=list)   # a cancelled job left running, outputs of a cancelled run

    @property
    def exactly_once(self) -> bool:
        return (self.succeeded == 1 and self.jobs == 1 and self.lost_outputs == 0 and self.stuck == 0
                and not self.violations)

    def line(self) -> str:
        verdict = "ok" if self.exactly_once else "FAIL"
        text = (f"{verdict:4} {self.start:12} {self.fault:5} {self.point:60} {self.expected.lower()}={self.succeeded} "
                f"runs={self.runs} jobs={self.jobs} lost={self.lost_outputs} stuck={self.stuck} "
                f"{self.seconds:.1f}s" + (f" swept={self.swept}" if self.swept else ""))
        return text + ("" if self.exactly_once else "  " + "; ".join(self.violations + self.notes)[:500])


def _sample_files() -> list[tuple[str, bytes]]:
    from samples.heart.model import sample_files

    return [(p.name, p.read_bytes()) for p in sample_files()]


def _event(url: str, etag: str, size: int) -> Any:
    import azure.functions as func

    from tools.events import blob_created_event

    raw = blob_created_event(url, etag, content_length=size)
    return func.EventGridEvent(id=raw["id"], data=raw["data"], topic=raw["topic"], subject=raw["subject"],
                               event_type=raw["eventType"], event_time=raw["eventTime"],
                               data_version=raw["dataVersion"])


class Scenario:
    """One start kind on fresh containers, optionally with one fault; ``run()`` returns its :class:`Outcome`."""

    def __init__(self, stack: Stack, functions: dict, start: str, fault: str = "", point: str = "", *,
                 redeliver: bool = True, redeliver_events: bool = True):
        self.stack, self.functions, self.start, self.fault, self.point = stack, functions, start, fault, point
        # redeliver=False: the control experiment. Nothing is delivered twice and no sweep runs, to show that
        # the checks catch what redelivery and the sweep repair. redeliver_events=False: Event Grid gives up
        # after the first failed delivery (dead-letters the event); activities still run again, and the sweep
        # must repair what the lost event left.
        self.deliveries = EVENT_DELIVERIES if redeliver and (redeliver_events or start in ("http", "cancel")) else 1
        self.activity_deliveries = ACTIVITY_DELIVERIES if redeliver else 1
        self.sweep = redeliver
        self.mid_sweep = False
        sfx = uuid.uuid4().hex[:8]
        self.landing_container = f"crash-landing-{sfx}"
        self.state_container = f"crash-state-{sfx}"
        self.sink_containers = [f"crash-sink-{sfx}", f"crash-copy-{sfx}"]
        self.route = ROUTES[start]
        self.folder = f"{self.route}/f{sfx}"
        self.outcome = Outcome(start, fault or "none", point or "-",
                               expected="Canceled" if start == "cancel" else "Succeeded")
        self.host: Any = None

    # -- set-up ----------------------------------------------------------------------------------------------
    def _configure(self) -> None:
        from shared.config import load_settings
        from shared.landing.handler import landing_context
        from shared.runs.starter import ClaimPolicy

        self.stack.landing.create_container(self.landing_container)
        for sink in self.sink_containers:
            self.stack.sink.create_container(sink)
        os.environ["STATE_CONTAINER"] = self.state_container
        os.environ["BATCH_CONFIG_JSON"] = json.dumps(self.stack.document(self.landing_container,
                                                                         self.sink_containers))
        landing_context(load_settings()).claim_policy = ClaimPolicy(grace_seconds=CLAIM_GRACE_SECONDS)

    def _upload(self) -> list[Any]:
        """The folder's blobs, and the BlobCreated events they cause (in landing order)."""
        container = self.stack.landing.get_container_client(self.landing_container)
        files = _sample_files()
        if self.start == "manifest":
            files.append(("_manifest.json", json.dumps({"files": [{"name": n, "size": len(d)} for n, d in files]})
                          .encode()))
        if self.start == "marker":
            files.append(("_SUCCESS", b""))
        events = []
        for name, data in files:
            props = container.get_blob_client(f"{self.folder}/{name}").upload_blob(data)
            url = f"{self.stack.azurite.default.blob_url}/{self.landing_container}/{self.folder}/{name}"
            events.append(_event(url, props["etag"], len(data)))
        return events

    def _host(self) -> Any:
        from tests.support.durable_host import DurableTestHost, run_async, split_functions

        orchestrators, activities = split_functions(self.functions.values())
        host = DurableTestHost(orchestrators, {}, clock="scaled", speed=SPEED)
        host.start_server()
        binding = host.client_binding()
        start_run = self.functions["landing_start_run"].get_user_function()
        activities["landing_start_run"] = lambda payload: run_async(start_run(payload=payload, client=binding))
        host.activities.update({name: self._redelivered(name, fn) for name, fn in activities.items()})
        return host

    def _redelivered(self, name: str, fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """An activity as the host runs it: a worker that died mid-way (or before its result was checkpointed)
        means the activity runs again; an exception is the activity's failure (the orchestration's retry)."""
        def call(payload: Any) -> Any:
            for delivery in range(1, self.activity_deliveries + 1):
                try:
                    result = fn(payload)
                    if inspect.isawaitable(result):
                        raise TypeError("activities are called through sync wrappers")
                    Faults.wrote(f"activity:{name}")   # a crash here: the result was not checkpointed
                    return result
                except Crash as crash:
                    log.info("activity %s: worker died (%s); delivering it again (#%d)", name, crash, delivery + 1)
            raise RuntimeError(f"activity {name}: the worker died {self.activity_deliveries} time(s)")

        return call

    # -- stimuli (client functions), redelivered as Azure does -------------------------------------------
    def _call_client_function(self, what: str, call: Callable[[], Any], accept: Callable[[Any], bool]) -> None:
        for delivery in range(1, self.deliveries + 1):
            try:
                result = call()
            except Crash as crash:
                log.info("%s: the function died (%s); redelivering", what, crash)
                continue
            except Exception as exc:  # noqa: BLE001 - the function failed: Event Grid / the client retries
                log.info("%s: the function failed (%s: %s); redelivering", what, type(exc).__name__, exc)
                self.outcome.notes.append(f"{what} failed once: {type(exc).__name__}")
                continue
            if accept(result):
                return
            self.outcome.notes.append(f"{what} answered {result!r}; retrying")
        self.outcome.notes.append(f"{what}: gave up after {self.deliveries} deliveries")

    def _deliver_events(self, events: list[Any]) -> None:
        from tests.support.durable_host import run_async

        handler = self.functions["on_blob_created"].get_user_function()
        binding = self.host.client_binding()
        for event in events:
            self._call_client_function(f"event {event.subject.rsplit('/', 1)[-1]}",
                                       lambda: run_async(handler(event=event, client=binding)), lambda _: True)

    def _post_start(self) -> None:
        import azure.functions as func

        from tests.support.durable_host import run_async

        handler = self.functions["start_run"].get_user_function()
        binding = self.host.client_binding()
        key = f"crash-{uuid.uuid4().hex}"
        # "force": the folder has no marker on purpose (so the sweep starts no landing run of its own); the
        # pre-flight of POST /api/runs would call it incomplete (409)
        body = json.dumps({"route": self.route, "path": f"{self.folder}/", "force": True}).encode()

        def post() -> Any:
            req = func.HttpRequest("POST", "http://localhost:7071/api/runs", body=body, params={},
                                   headers={"Content-Type": "application/json", "Idempotency-Key": key})
            return run_async(handler(req=req, client=binding))

        self._call_client_function("POST /api/runs", post, lambda r: 200 <= r.status_code < 300)

    def _post_cancel_while_running(self) -> None:
        """``POST /api/runs/{id}/cancel`` once the job runs; re-sent after a failure (202, or 409 once it ended)."""
        import azure.functions as func

        from tests.support.durable_host import HostError, run_async

        def running(h: Any) -> bool:
            for run_id in self._runs():
                name = ((h.status(run_id) or {}).get("customStatus") or {}).get("job_name")
                job = self.stack.emulator.emulator.store.get(name) if name else None
                if job is not None and job.status.value == "Running":
                    self.cancelled_run = run_id
                    return True
            return False

        try:
            self.host.run_until(running, timeout_s=SETTLE_TIMEOUT_S)
        except HostError as exc:
            self.outcome.notes.append(f"the job never ran: {str(exc)[:200]}")
            return
        handler = self.functions["cancel_run"].get_user_function()
        binding = self.host.client_binding()
        run_id = self.cancelled_run

        def post() -> Any:
            req = func.HttpRequest("POST", f"http://localhost:7071/api/runs/{run_id}/cancel",
                                   body=b'{"reason": "crash bench"}', params={}, route_params={"run_id": run_id},
                                   headers={"Content-Type": "application/json"})
            return run_async(handler(req=req, client=binding))

        self._call_client_function("POST /api/runs/{id}/cancel", post, lambda r: r.status_code in (202, 409))

    def _sweep(self) -> None:
        """One tick of the reconcile timer (``function_app.reconcile_sweep`` is a one-line wrapper of this)."""
        import azure.durable_functions as df

        from shared.reconcile.api import reconcile_timer
        from tests.support.durable_host import run_async

        if not self.sweep:
            return
        try:
            counts = run_async(reconcile_timer(None, df.DurableOrchestrationClient(self.host.client_binding())))
        except Exception as exc:  # noqa: BLE001
            self.outcome.notes.append(f"sweep failed: {type(exc).__name__}: {exc}")
            return
        repaired = {k: v for k, v in (counts or {}).items() if k in SWEEP_REPAIRS and v}
        if repaired:
            self.outcome.swept = repaired

    def _mid_sweep(self) -> None:
        """A timer tick while the run is under way: once the fault has fired (or the run is being monitored)."""
        from tests.support.durable_host import HostError

        plan = Faults.plan
        try:
            self.host.run_until(lambda h: (plan is not None and plan.fired is not None) or any(
                ((h.status(i) or {}).get("customStatus") or {}).get("phase") in ("monitoring", "copying")
                for i in self._runs()), timeout_s=20)
        except HostError:
            pass
        saved, Faults.plan = Faults.plan, None
        try:
            self._sweep()
        finally:
            Faults.plan = saved

    # -- driving -----------------------------------------------------------------------------------------
    def _runs(self) -> list[str]:
        from shared.runs.models import ORCHESTRATOR_NAME

        return [i for i in self.host.instance_ids() if (self.host.status(i) or {}).get("name") == ORCHESTRATOR_NAME]

    def _settle(self) -> None:
        from tests.support.durable_host import TERMINAL_STATUSES, HostError

        def done(h: Any) -> bool:
            return bool(self._runs()) and all((h.status(i) or {}).get("runtimeStatus") in TERMINAL_STATUSES
                                              for i in h.instance_ids())

        try:
            self.host.run_until(done, timeout_s=SETTLE_TIMEOUT_S)
        except HostError as exc:
            if "nothing can happen" not in str(exc):
                self.outcome.notes.append(f"not settled: {str(exc)[:300]}")

    # -- the run -----------------------------------------------------------------------------------------
    def run(self) -> Outcome:
        began = time.monotonic()
        plan = FaultPlan(kind=self.fault or "crash", target=self.point or None)
        try:
            self._configure()
            events = self._upload() if self.start not in ("http", "cancel") else []
            if self.start in ("http", "cancel"):
                self._upload_http_folder()
            if self.start == "cancel":
                self.stack.emulator.emulator.faults.apply({"jobs": [{"effect": "hang", "count": -1}]})
            self.jobs_before = {j.name for j in self.stack.emulator.emulator.store.list()}
            self.host = self._host()
            Faults.plan = plan
            try:
                if self.start == "http":
                    self._post_start()
                elif self.start == "cancel":
                    self._post_start()
                    self._post_cancel_while_running()
                else:
                    self._deliver_events(events)
                if self.mid_sweep:
                    self._mid_sweep()
                self._settle()
            finally:
                Faults.plan = None
            self._sweep()     # the timer's next tick
            self._settle()
            self._check()
        except Exception as exc:  # noqa: BLE001 - a bench failure is a failed point, not a crash of the bench
            self.outcome.notes.append(f"bench error: {type(exc).__name__}: {exc}")
        finally:
            if self.start == "cancel":
                self.stack.emulator.emulator.faults.reset()
            if self.host is not None:
                self.host.close()
            self._cleanup()
        self.outcome.fired = plan.fired is not None
        self.outcome.labels = list(plan.labels)
        self.outcome.seconds = time.monotonic() - began
        return self.outcome

    def _upload_http_folder(self) -> None:
        container = self.stack.landing.get_container_client(self.landing_container)
        for name, data in _sample_files():
            container.upload_blob(f"{self.folder}/{name}", data)

    def _check(self) -> None:
        from tests.support.durable_host import TERMINAL_STATUSES

        o, host = self.outcome, self.host
        runs = self._runs()
        o.runs = len(runs)
        succeeded = []
        for run_id in runs:
            st = host.status(run_id)
            output = st.get("output") if isinstance(st.get("output"), dict) else {}
            if st["runtimeStatus"] == "Completed" and output.get("outcome") == o.expected:
                succeeded.append((run_id, output))
            else:
                o.notes.append(f"run {run_id}: {st['runtimeStatus']} {str(output.get('outcome') or st.get('output'))[:200]}"
                               f" {str(output.get('error') or '')[:200]}")
        o.succeeded = len(succeeded)
        stuck = [i for i in host.instance_ids() if host.status(i)["runtimeStatus"] not in TERMINAL_STATUSES]
        o.stuck = len(stuck) + (0 if runs else 1)
        if stuck:
            o.notes.append(f"not terminal: {stuck}")
        jobs = [j for j in self.stack.emulator.emulator.store.list()
                if j.name not in self.jobs_before and self.landing_container in repr(j.request)]
        o.jobs = len(jobs)
        if len(jobs) != 1:
            o.notes.append(f"jobs: {[(j.name, j.status.value) for j in jobs]}")
        if o.expected == "Canceled":
            o.violations += [f"job {j.name} {j.status.value}, not Canceled" for j in jobs if j.status.value != "Canceled"]
            delivered = [b.name for sink in self.sink_containers
                         for b in self.stack.sink.get_container_client(sink).list_blobs()]
            o.violations += [f"a cancelled run delivered {name}" for name in delivered]
            return
        o.lost_outputs = self._lost_outputs(succeeded)

    def _lost_outputs(self, succeeded: list) -> int:
        """Outputs (the job's predictions) missing from a sink or not byte-identical there."""
        from azure.core.exceptions import ResourceNotFoundError

        if not succeeded:
            return len(self.sink_containers)
        run_id, _ = succeeded[0]
        source = self.stack.landing.get_blob_client(DATASTORE_CONTAINER, f"batch/{self.route}/{run_id}/predictions.csv")
        try:
            expected = source.download_blob().readall()
        except ResourceNotFoundError:
            self.outcome.notes.append("the job's output is missing")
            return len(self.sink_containers)
        lost = 0
        for sink in self.sink_containers:
            blob = self.stack.sink.get_blob_client(sink, f"scores/{self.folder}/predictions.csv")
            try:
                data = blob.download_blob().readall()
            except ResourceNotFoundError:
                data = None
            if data != expected:
                lost += 1
                self.outcome.notes.append(f"sink {sink}: {'missing' if data is None else 'differs'}")
        return lost

    def _cleanup(self) -> None:
        for service, names in ((self.stack.landing, [self.landing_container, self.state_container]),
                               (self.stack.sink, self.sink_containers)):
            for name in names:
                with contextlib.suppress(Exception):
                    service.delete_container(name)


# --- the bench ------------------------------------------------------------------------------------------------

def points_of(labels: list[str], fault: str) -> list[str]:
    """The distinct points of a baseline run for one fault kind (activity ends are crash points only)."""
    out = []
    for label in labels:
        what, _, occurrence = label.rpartition(" #")
        if REPEATING.match(what) and occurrence != "1":
            continue
        if what.startswith("activity:") and fault != "crash":
            continue
        if fault == "retried" and not what.startswith("storage:"):
            continue
        if label not in out:
            out.append(label)
    return out


def run_bench(starts: tuple = START_KINDS, faults: tuple = FAULT_KINDS, *, limit: Optional[int] = None,
              only_list: bool = False, redeliver: bool = True, redeliver_events: bool = True,
              mid_sweep: bool = False,
              select: Optional[Callable[[str, str, list], list]] = None, azurite: Any = None,
              echo: Callable[[str], None] = print) -> list[Outcome]:
    """Baseline per start kind, then one scenario per point and fault kind; ``select(start, fault, points)``
    picks a subset of the points (the pytest guard)."""
    from tests.app_index import functions

    install_wrappers()
    stack = Stack(azurite)
    outcomes: list[Outcome] = []
    try:
        app = functions()
        for start in starts:
            baseline = Scenario(stack, app, start).run()
            outcomes.append(baseline)      # fault "none": not a point, but the bench fails if it fails
            echo(f"baseline {start}: {'ok' if baseline.exactly_once else 'FAIL'} "
                 f"({len(baseline.labels)} writes, {baseline.seconds:.1f}s)"
                 + ("" if baseline.exactly_once else "  " + "; ".join(baseline.notes)))
            for fault in faults:
                points = points_of(baseline.labels, fault)
                if select is not None:
                    points = select(start, fault, points)
                if limit is not None:
                    points = points[:limit]
                if only_list:
                    for point in points:
                        echo(f"  point {start} {fault} {point}")
                    continue
                for point in points:
                    scenario = Scenario(stack, app, start, fault, point, redeliver=redeliver,
                                        redeliver_events=redeliver_events)
                    scenario.mid_sweep = mid_sweep
                    outcome = scenario.run()
                    outcomes.append(outcome)
                    echo(outcome.line() + ("" if outcome.fired else "  (point not reached: not counted)"))
    finally:
        stack.close()
        uninstall_wrappers()
    return outcomes


def summary(outcomes: list[Outcome]) -> str:
    fired = [o for o in outcomes if o.fired]
    once = sum(1 for o in fired if o.exactly_once)
    duplicates = sum(max(0, o.jobs - 1) for o in fired)
    lost = sum(o.lost_outputs for o in fired)
    stuck = sum(o.stuck for o in fired)
    return (f"crash points: {len(fired)}; runs exactly once: {once}/{len(fired)}; duplicate jobs: {duplicates}; "
            f"lost outputs: {lost}; stuck runs: {stuck}")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--starts", default=",".join(START_KINDS),
                        help=f"comma-separated start kinds: {', '.join(START_KINDS + EXTRA_KINDS)}")
    parser.add_argument("--faults", default=",".join(FAULT_KINDS), help="crash, lost or both")
    parser.add_argument("--limit", type=int, default=None, help="at most this many points per start and fault")
    parser.add_argument("--list", action="store_true", help="only run the baselines and list their points")
    parser.add_argument("--no-redelivery", action="store_true",
                        help="control experiment: no redelivery, no sweep (the checks must then report failures)")
    parser.add_argument("--dead-letter", action="store_true",
                        help="Event Grid does not redeliver a failed event: the final sweep must repair it")
    parser.add_argument("--mid-sweep", action="store_true",
                        help="also run a sweep tick while the run is under way (right after the fault fired)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.CRITICAL,
                        format="%(asctime)s %(name)s %(message)s")
    began = time.monotonic()
    outcomes = run_bench(tuple(s for s in args.starts.split(",") if s), tuple(f for f in args.faults.split(",") if f),
                         limit=args.limit, only_list=args.list, redeliver=not args.no_redelivery, redeliver_events=not args.dead_letter,
                         mid_sweep=args.mid_sweep)
    if args.list:
        return 0
    fired = [o for o in outcomes if o.fired]
    swept = [o for o in fired if o.swept]
    print(f"wall time: {time.monotonic() - began:.0f} s; points the final sweep repaired: {len(swept)}"
          + "".join(f"\n  swept: {o.start} {o.fault} {o.point} {o.swept}" for o in swept))
    print(summary(outcomes))
    baselines_ok = all(o.exactly_once for o in outcomes if o.fault == "none")
    return 0 if baselines_ok and fired and all(o.exactly_once for o in fired) else 1


if __name__ == "__main__":
    sys.exit(main())
