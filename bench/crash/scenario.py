"""One scenario: a start kind on fresh containers with at most one fault (or one race), redelivered as Azure does,
and its ground truth: the Durable host (every execution of every run), the emulator's job list, the sinks' bytes
and the ledger."""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from tests.support.faults import Crash, FaultPlan

from .faults import _CURRENT_ACTIVITY, Faults
from .settings import (ACTIVITY_DELIVERIES, CLAIM_GRACE_SECONDS, DATASTORE_CONTAINER, EVENT_DELIVERIES,
                       RACE_ACTORS, RACE_STAGGER_S, ROUTES, SETTLE_TIMEOUT_S, SIDE_EFFECT_ACTIVITIES, SPEED,
                       STALL_CANCEL_WAIT_S, STALL_SETTLE_S, SWEEP_REPAIRS, TERMINAL)
from .stack import Stack

log = logging.getLogger("crash_bench")


@dataclass
class Outcome:
    start: str
    fault: str
    point: str
    profile: str = "kind"
    fired: bool = False
    succeeded: int = 0
    runs: int = 0
    jobs: int = 0
    lost_outputs: int = 0
    stuck: int = 0
    executions: int = 0      # the most executions (starts from scratch with side effects) of any run
    reexecuted: int = 0      # runs executed more than once
    notes: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    seconds: float = 0.0
    swept: dict = field(default_factory=dict)   # what the final sweep had to repair
    expected: str = "Succeeded"                 # the outcome the one run must reach ("Canceled": cancel kind)
    violations: list = field(default_factory=list)   # ledger disagreements, a cancelled job left running, ...

    @property
    def exactly_once(self) -> bool:
        return (self.succeeded == 1 and self.jobs == 1 and self.lost_outputs == 0 and self.stuck == 0
                and self.reexecuted == 0 and not self.violations)

    def line(self) -> str:
        verdict = "ok" if self.exactly_once else "FAIL"
        text = (f"{verdict:4} {self.profile:6} {self.start:12} {self.fault:7} {self.point:58} "
                f"{self.expected.lower()}={self.succeeded} runs={self.runs} jobs={self.jobs} "
                f"lost={self.lost_outputs} stuck={self.stuck} executions={self.executions} {self.seconds:.1f}s"
                + (f" swept={self.swept}" if self.swept else ""))
        return text + ("" if self.exactly_once else "  " + "; ".join(self.violations + self.notes)[:1500])


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


def race_points(start: str) -> list[str]:
    """Concurrent deliveries of the same folder: each set of actors, released together (#1) or staggered
    by :data:`RACE_STAGGER_S` (#2)."""
    actors = RACE_ACTORS["http" if start == "http" else "cancel" if start == "cancel" else "event"]
    return [f"race:{a} #{n}" for a in actors for n in (1, 2)]


class Scenario:
    """One start kind on fresh containers, optionally with one fault; ``run()`` returns its :class:`Outcome`."""

    def __init__(self, stack: Stack, functions: dict, start: str, fault: str = "", point: str = "", *,
                 redeliver: bool = True, redeliver_events: bool = True, profile: str = "kind"):
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
        self.outcome = Outcome(start, fault or "none", point or "-", profile=profile,
                               expected="Canceled" if start == "cancel" else "Succeeded")
        self.host: Any = None
        self.events: list = []
        self.key = f"crash-{uuid.uuid4().hex}"           # the HTTP client's Idempotency-Key
        self.cancelled_run: Optional[str] = None
        self.generations: dict = {}      # instance id → starts the host accepted (a finished one restarts)
        self.execution_generation: dict = {}   # execution id → the generation it belongs to
        self.replaced: list = []         # (instance id, generation, status) of executions a later start replaced
        self.effects: list = []          # (instance id, generation, what): side effects, by execution

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
        """The folder's blobs, and the BlobCreated events they cause (in landing order; the last one completes
        the folder: the marker, the manifest, the quiet period's last file)."""
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
        self._count_executions(host)
        return host

    def _count_executions(self, host: Any) -> None:
        """Ground truth for "executed once": every start the host accepts is a new generation of its instance
        (starting a finished instance again runs it from scratch, as Durable does); every activity runs under
        the generation of the execution that scheduled it (continue-as-new keeps the generation)."""
        real_start, real_execute = host._start, host._execute_activity
        lock = threading.Lock()

        def start(name: str, instance_id: Optional[str], raw_input: Optional[str]):
            prior = host.status(instance_id) if instance_id and instance_id in host.instance_ids() else None
            status, body = real_start(name, instance_id, raw_input)
            if status < 300:
                with lock:
                    iid = body["id"]
                    if prior is not None:
                        self.replaced.append((iid, self.generations.get(iid, 0), prior))
                    self.generations[iid] = self.generations.get(iid, 0) + 1
            return status, body

        def execute(work: Any) -> Any:
            with lock:
                generation = self.execution_generation.setdefault(
                    work.execution_id, self.generations.get(work.instance_id, 0))
            if work.name in SIDE_EFFECT_ACTIVITIES:
                self.effects.append((work.instance_id, generation, f"activity:{work.name}"))
            token = _CURRENT_ACTIVITY.set((work.instance_id, generation))
            try:
                return real_execute(work)
            finally:
                _CURRENT_ACTIVITY.reset(token)

        host._start, host._execute_activity = start, execute

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
    def _call_client_function(self, what: str, call: Callable[[], Any], accept: Callable[[Any], bool],
                              deliveries: Optional[int] = None) -> None:
        deliveries = self.deliveries if deliveries is None else deliveries
        for delivery in range(1, deliveries + 1):
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
            self.outcome.notes.append(f"{what} answered {getattr(result, 'status_code', result)!r}; retrying")
        if deliveries > 1:
            self.outcome.notes.append(f"{what}: gave up after {deliveries} deliveries")

    def _deliver(self, event: Any, deliveries: Optional[int] = None) -> None:
        from tests.support.durable_host import run_async

        handler = self.functions["on_blob_created"].get_user_function()
        binding = self.host.client_binding()
        self._call_client_function(f"event {event.subject.rsplit('/', 1)[-1]}",
                                   lambda: run_async(handler(event=event, client=binding)), lambda _: True,
                                   deliveries)

    def _deliver_events(self, events: list[Any]) -> None:
        for event in events:
            self._deliver(event)

    def _post_start(self, deliveries: Optional[int] = None) -> None:
        import azure.functions as func

        from tests.support.durable_host import run_async

        handler = self.functions["start_run"].get_user_function()
        binding = self.host.client_binding()
        # "force": the folder has no marker on purpose (so the sweep starts no landing run of its own); the
        # pre-flight of POST /api/runs would call it incomplete (409)
        body = json.dumps({"route": self.route, "path": f"{self.folder}/", "force": True}).encode()

        def post() -> Any:
            req = func.HttpRequest("POST", "http://localhost:7071/api/runs", body=body, params={},
                                   headers={"Content-Type": "application/json", "Idempotency-Key": self.key})
            return run_async(handler(req=req, client=binding))

        self._call_client_function("POST /api/runs", post, lambda r: 200 <= r.status_code < 300, deliveries)

    def _wait_running(self) -> bool:
        from tests.support.durable_host import HostError

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
            return True
        except HostError as exc:
            self.outcome.notes.append(f"the job never ran: {str(exc)[:200]}")
            return False

    def _post_cancel(self, deliveries: Optional[int] = None) -> None:
        """``POST /api/runs/{id}/cancel``; re-sent after a failure (202, or 409 once it ended)."""
        import azure.functions as func

        from tests.support.durable_host import run_async

        handler = self.functions["cancel_run"].get_user_function()
        binding = self.host.client_binding()
        run_id = self.cancelled_run

        def post() -> Any:
            req = func.HttpRequest("POST", f"http://localhost:7071/api/runs/{run_id}/cancel",
                                   body=b'{"reason": "crash bench"}', params={}, route_params={"run_id": run_id},
                                   headers={"Content-Type": "application/json"})
            return run_async(handler(req=req, client=binding))

        self._call_client_function("POST /api/runs/{id}/cancel", post, lambda r: r.status_code in (202, 409),
                                   deliveries)

    def _post_cancel_while_running(self) -> None:
        if self._wait_running():
            self._post_cancel()

    def _sweep(self, final: bool = False) -> None:
        """One tick of the reconcile timer (``function_app.reconcile_sweep`` is a one-line wrapper of this);
        a tick that dies is the next tick's to repair. The ``final`` tick runs with no fault: it must not fail."""
        import azure.durable_functions as df

        from shared.reconcile.api import reconcile_timer
        from tests.support.durable_host import run_async

        if not self.sweep:
            return
        try:
            counts = run_async(reconcile_timer(None, df.DurableOrchestrationClient(self.host.client_binding())))
        except (Exception, Crash) as exc:  # noqa: BLE001
            (self.outcome.violations if final else self.outcome.notes).append(
                f"sweep failed: {type(exc).__name__}: {str(exc)[:120]}")
            return
        errors = {k: v for k, v in (counts or {}).items() if k.endswith("_errors") and v}
        if final and errors:
            self.outcome.violations.append(f"the final sweep tick failed: {errors}")
        repaired = {k: v for k, v in (counts or {}).items() if k in SWEEP_REPAIRS and v}
        if repaired:
            self.outcome.swept = repaired

    def _backfill(self, deliveries: Optional[int] = None) -> None:
        """``POST /api/backfill`` for the folder's prefix (an operator's repair); re-sent after a failure."""
        import azure.functions as func

        from tests.support.durable_host import run_async

        if not self.sweep:
            return
        handler = self.functions["backfill"].get_user_function()
        binding = self.host.client_binding()
        body = json.dumps({"route": self.route, "prefix": f"{self.folder}/"}).encode()

        def post() -> Any:
            req = func.HttpRequest("POST", "http://localhost:7071/api/backfill", body=body, params={},
                                   headers={"Content-Type": "application/json"})
            return run_async(handler(req=req, client=binding))

        self._call_client_function("POST /api/backfill", post, lambda r: r.status_code == 200, deliveries)

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

    # -- the stall: the chosen call is held past the lease while the others act ---------------------------
    def _stimulus_again(self) -> None:
        """What else delivers this folder: the same event again (Event Grid) or the same request again."""
        if self.start in ("http", "cancel"):
            self._post_start(deliveries=1)
        elif self.events:
            self._deliver(self.events[-1], deliveries=1)

    def _stall(self, label: str) -> None:
        """Hold the stalled call: the lease expires, a duplicate delivery, the sweep and a backfill act, and the
        run they start may finish; then the stalled call goes through, late."""
        host = self.host
        pump = host is not None and not host.pump_running   # the host runs on while the call is held
        if pump:
            host.start_pump()
        try:
            time.sleep(CLAIM_GRACE_SECONDS + 0.2)
            others = threading.Thread(target=lambda: (self._stimulus_again(), self._sweep(), self._backfill(1)),
                                      name="crash-bench-others", daemon=True)
            others.start()
            others.join(timeout=SETTLE_TIMEOUT_S)
            deadline = time.monotonic() + (STALL_CANCEL_WAIT_S if self.start == "cancel" else STALL_SETTLE_S)
            while time.monotonic() < deadline and host is not None:
                runs = self._runs()
                if runs and all((host.status(i) or {}).get("runtimeStatus") in TERMINAL for i in runs):
                    break
                time.sleep(0.05)
        finally:
            if pump:
                host.stop_pump()

    # -- the race: the same folder delivered by several callers at once ----------------------------------
    def _race(self) -> None:
        what, _, occurrence = self.point.rpartition(" #")
        actors = what[len("race:"):].split("+")
        stagger = 0.0 if occurrence == "1" else RACE_STAGGER_S
        if self.start == "cancel" and "cancel" in actors:
            self._post_start()
            if not self._wait_running():
                return
        elif self.start not in ("http", "cancel"):
            self._deliver_events(self.events[:-1])      # everything but the event that completes the folder
        acts = {"event": lambda: self._deliver(self.events[-1]), "sweep": self._sweep, "backfill": self._backfill,
                "post": self._post_start, "cancel": self._post_cancel}
        barrier = threading.Barrier(len(actors))
        errors: list = []

        def act(n: int, name: str) -> None:
            try:
                barrier.wait(timeout=10)
                time.sleep(n * stagger)
                acts[name]()
            except BaseException as exc:  # noqa: BLE001 - reported as a failed point
                errors.append(f"{name}: {type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=act, args=(n, name), name=f"crash-bench-race-{name}", daemon=True)
                   for n, name in enumerate(actors)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=SETTLE_TIMEOUT_S)
        self.outcome.notes += errors
        if Faults.plan is not None:
            Faults.plan.fired = self.point
        if self.start == "cancel" and "cancel" not in actors:
            self._post_cancel_while_running()

    # -- driving -----------------------------------------------------------------------------------------
    def _runs(self) -> list[str]:
        from blueprints.registry import Orchestrator

        return [i for i in self.host.instance_ids() if (self.host.status(i) or {}).get("name") == Orchestrator.RUN]

    def _settle(self) -> None:
        from tests.support.durable_host import HostError

        def done(h: Any) -> bool:
            return bool(self._runs()) and all((h.status(i) or {}).get("runtimeStatus") in TERMINAL
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
            self.events = self._upload() if self.start not in ("http", "cancel") else []
            if self.start in ("http", "cancel"):
                self._upload_http_folder()
            if self.start == "cancel":
                self.stack.emulator.emulator.faults.apply({"jobs": [{"effect": "hang", "count": -1}]})
            self.jobs_before = {j.name for j in self.stack.emulator.emulator.store.list()}
            self.host = self._host()
            Faults.plan, Faults.stall_hook, Faults.effects = plan, self._stall, self.effects
            try:
                if self.fault == "race":
                    self._race()
                elif self.start == "http":
                    self._post_start()
                elif self.start == "cancel":
                    self._post_start()
                    self._post_cancel_while_running()
                else:
                    self._deliver_events(self.events)
                if self.mid_sweep:
                    self._mid_sweep()
                self._settle()
                # faults stay on while the timer's tick and an operator's backfill run (they are points too)
                self._sweep()
                self._backfill()
                self._settle()
            finally:
                Faults.plan, Faults.stall_hook = None, None
            self._sweep(final=True)     # the timer's next tick
            self._settle()
            self._check()
        except Exception as exc:  # noqa: BLE001 - a bench failure is a failed point, not a crash of the bench
            self.outcome.notes.append(f"bench error: {type(exc).__name__}: {exc}")
        finally:
            Faults.effects = None
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

    # -- ground truth: the Durable host, the emulator's job list, the sinks' bytes, the ledger -------------
    def _check(self) -> None:
        o, host = self.outcome, self.host
        runs = self._runs()
        o.runs = len(runs)
        succeeded = []
        for run_id in runs:
            # every execution of the run (the ones a later start replaced, then the current one); only those
            # that acted on the world count: a late start that was fenced off may answer with the run's outcome
            generations = [(g, st) for iid, g, st in self.replaced if iid == run_id]
            generations.append((self.generations.get(run_id, 0), host.status(run_id)))
            acted = {g for iid, g, _ in self.effects if iid == run_id}
            for generation, st in generations:
                output = st.get("output") if isinstance(st.get("output"), dict) else {}
                reached = st["runtimeStatus"] == "Completed" and output.get("outcome") == o.expected
                if reached and (generation in acted or not acted):
                    succeeded.append((run_id, output))
                elif not reached:
                    o.notes.append(f"run {run_id} #{generation}: {st['runtimeStatus']} "
                                   f"{str(output.get('outcome') or st.get('output'))[:200]}"
                                   f" {str(output.get('error') or '')[:200]}")
            final = generations[-1][1]
            final_output = final.get("output") if isinstance(final.get("output"), dict) else {}
            if final["runtimeStatus"] in TERMINAL and final_output.get("outcome") != o.expected:
                o.violations.append(f"run {run_id} now reads {final['runtimeStatus']} "
                                    f"{final_output.get('outcome') or ''}, not {o.expected}")
            executions = len(acted)
            o.executions = max(o.executions, executions)
            if executions > 1:
                o.reexecuted += 1
                o.notes.append(f"run {run_id} executed {executions} times: "
                               f"{sorted({(g, w) for iid, g, w in self.effects if iid == run_id})[:12]}")
        o.succeeded = len(succeeded)
        stuck = [i for i in host.instance_ids() if host.status(i)["runtimeStatus"] not in TERMINAL]
        o.stuck = len(stuck) + (0 if runs else 1)
        if stuck:
            o.notes.append(f"not terminal: {stuck}")
        jobs = [j for j in self.stack.emulator.emulator.store.list()
                if j.name not in self.jobs_before and self.landing_container in repr(j.request)]
        o.jobs = len(jobs)
        if len(jobs) != 1:
            o.notes.append(f"jobs: {[(j.name, j.status.value) for j in jobs]}")
        self._check_ledger(runs, jobs)
        if o.expected == "Canceled":
            o.violations += [f"job {j.name} {j.status.value}, not Canceled" for j in jobs if j.status.value != "Canceled"]
            delivered = [b.name for sink in self.sink_containers
                         for b in self.stack.sink.get_container_client(sink).list_blobs()]
            o.violations += [f"a cancelled run delivered {name}" for name in delivered]
            return
        o.lost_outputs = self._lost_outputs(succeeded)

    def _check_ledger(self, runs: list[str], jobs: list) -> None:
        """The ledger must agree: one run record for the folder, for the run that ran, marked started, naming
        the one job and the run's outcome (when it records them)."""
        from shared.runs.ledger import RECORD_PREFIX

        container = self.stack.landing.get_container_client(self.state_container)
        records = []
        for blob in container.list_blobs(name_starts_with=RECORD_PREFIX):
            with contextlib.suppress(Exception):
                records.append(json.loads(container.download_blob(blob.name).readall()))
        o = self.outcome
        if len(records) != 1:
            o.violations.append(f"ledger: {len(records)} run records")
            return
        record = records[0]
        if record.get("run_id") not in runs:
            o.violations.append(f"ledger: record for {record.get('run_id')}, runs {runs}")
        if record.get("state") != "started":
            o.violations.append(f"ledger: record state {record.get('state')!r}")
        if record.get("ended_at") and record.get("outcome") != o.expected:
            o.violations.append(f"ledger: the run ended {record.get('outcome')!r}, not {o.expected}")
        job_name = record.get("job_name")
        if job_name is not None and len(jobs) == 1 and job_name != jobs[0].name:
            o.violations.append(f"ledger: names job {job_name}, the emulator ran {jobs[0].name}")

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
