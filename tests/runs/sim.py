"""A simulated batch service and a driver for the run orchestration on a DurableTestHost (simulated clock).

The orchestrator, the SDK replay engine and the host are real; the activities are plain functions reading
the host's simulated clock (substituting activities is not mocking the SDK). Shared by tests/runs and
bench/poll_bench.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional

from shared.config.models import PollPolicy
from shared.runs.models import JOB_STATUS_EVENT
from tests.support.durable_host import TERMINAL_STATUSES, DurableTestHost, split_functions

START = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)


def run_input(policy: PollPolicy, run_id: str = "route-a-run1", *, files: Optional[int] = None,
              endpoint: Optional[dict] = None) -> dict:
    details = {"file_count": files} if files is not None else {}
    pinned = {"endpoint": endpoint} if endpoint is not None else {}
    return {"run": {**pinned,
        "run_id": run_id, "route": "route-a", "attempt": 1, "source": "test", "requested_at": "2024-06-01T12:00:00Z",
        "input": {"type": "uri_folder", "uri": "azureml://datastores/in/paths/x/", "url": "http://127.0.0.1/in/x/",
                  "container": "in", "path": "x/", "folder": "x", **details},
        "output_uri": "azureml://datastores/out/paths/r/score.csv",
        "poll": policy.to_dict(),
    }}


@dataclass
class SimJob:
    """A job's timeline in seconds after submit: ``[(t, status), ...]``, the last one terminal."""

    timeline: list
    name: str = "job-1"

    @property
    def end(self) -> float:
        return self.timeline[-1][0]

    def status_at(self, t: float) -> str:
        status = self.timeline[0][1]
        for at, s in self.timeline:
            if t >= at:
                status = s
        return status


def timeline(duration: float, *, queued: float = 20.0, finalizing: float = 10.0, final: str = "Completed") -> list:
    return [(0.0, "Queued"), (min(queued, duration / 4), "Running"), (duration - finalizing, "Finalizing"),
            (duration, final)]


@dataclass
class FakeService:
    """What the activities see. ``status_override`` (t → status or None) lets a test lie about a time range."""

    clock: Any
    job: SimJob
    submit_failures: int = 0                 # transient: raise this many times first
    submit_error: Optional[str] = None       # permanent: {"error": ...}
    lost_submits: int = 0                    # the job is created, then the answer is lost (raise) this many times
    find_errors: int = 0                     # find_attempt_job raises this many times first
    status_errors: int = 0                   # the first N status calls return {"error": ...}
    history: list = field(default_factory=list)   # duration samples for estimate_job_duration
    deployment_history: list = field(default_factory=list)   # samples of the deployment's other routes
    submitted_at: Optional[datetime] = None
    cancelled_at: Optional[float] = None
    status_calls: list = field(default_factory=list)  # (t, status)
    detected_at: Optional[float] = None               # t of the first terminal status returned
    calls: list = field(default_factory=list)         # activity names in order
    early_events: list = field(default_factory=list)  # what take_early_job_events returns
    recorded: list = field(default_factory=list)

    def t(self) -> float:
        return (self.clock.now() - self.submitted_at).total_seconds()

    def status_now(self) -> str:
        t = self.t()
        if self.cancelled_at is not None and t >= self.cancelled_at:
            return "Canceled"
        return self.job.status_at(t)

    # -- activities -------------------------------------------------------------------------------
    def submit_job(self, payload: dict) -> dict:
        self.calls.append("submit_job")
        if self.submit_failures > 0:
            self.submit_failures -= 1
            raise ConnectionError("endpoint unreachable")
        if self.submit_error:
            return {"error": self.submit_error, "error_type": "PermanentError"}
        if self.submitted_at is None:   # an attempt's job is created once (idempotent submit)
            self.submitted_at = self.clock.now()
        if self.lost_submits > 0:
            self.lost_submits -= 1
            raise ConnectionError("the answer to the submit POST was lost")
        return {"job_name": self.job.name, "status": "NotStarted", "studio_url": None}

    def find_attempt_job(self, payload: dict) -> dict:
        self.calls.append("find_attempt_job")
        if self.find_errors > 0:
            self.find_errors -= 1
            raise ConnectionError("management API unreachable")
        if self.submitted_at is None:
            return {"job_name": None}
        return {"job_name": self.job.name, "status": self.status_now(), "studio_url": None, "found_by": "name"}

    def get_job_status(self, payload: dict) -> dict:
        self.calls.append("get_job_status")
        assert payload["job_name"] == self.job.name
        if self.status_errors > 0:
            self.status_errors -= 1
            self.status_calls.append((self.t(), None))
            return {"status": None, "error": "HTTP 503 from the management API", "transient": True}
        status = self.status_now()
        self.status_calls.append((self.t(), status))
        if status in ("Completed", "Failed", "Canceled") and self.detected_at is None:
            self.detected_at = self.t()
        return {"status": status, "studio_url": None, "job_error": "boom" if status == "Failed" else None}

    def cancel_job(self, payload: dict) -> dict:
        self.calls.append("cancel_job")
        if self.cancelled_at is None:
            self.cancelled_at = self.t()
        return {"cancel_requested": True}

    def estimate_job_duration(self, payload: dict) -> dict:
        from shared.runs.history import estimate_job_duration

        self.calls.append("estimate_job_duration")
        return estimate_job_duration(payload, history=_ListHistory(self.history, self.deployment_history))

    def record_job_duration(self, payload: dict) -> dict:
        self.calls.append("record_job_duration")
        self.recorded.append(payload["seconds"])
        return {"recorded": True}

    def take_early_job_events(self, payload: dict) -> dict:
        self.calls.append("take_early_job_events")
        events, self.early_events = self.early_events, []
        return {"events": events}

    def activities(self) -> dict[str, Callable]:
        return {
            "submit_job": self.submit_job, "get_job_status": self.get_job_status, "cancel_job": self.cancel_job,
            "find_attempt_job": self.find_attempt_job,
            "estimate_job_duration": self.estimate_job_duration, "record_job_duration": self.record_job_duration,
            "take_early_job_events": self.take_early_job_events,
            "plan_delivery": lambda p: (self.calls.append("plan_delivery"), {"copies": []})[1],
            "send_notification": lambda p: {"sent": [], "failed": {}},
        }


class _ListHistory:
    def __init__(self, samples: list, deployment: list = ()):
        self._samples, self._deployment = samples, list(deployment)

    def samples(self, route: str) -> list:
        return list(self._samples)

    def deployment_samples(self, key: str) -> list:
        return list(self._deployment)


def event_payload(job: str, status: str, at: datetime, event_id: str) -> dict:
    return {"job_name": job, "status": status, "event_id": event_id,
            "event_time": at.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "event_type": "Microsoft.MachineLearningServices.RunStatusChanged", "source": "event_grid"}


def make_host(app_functions: dict, service_factory: Callable[[Any], FakeService]) -> tuple[DurableTestHost, FakeService]:
    orchestrators, _ = split_functions(app_functions.values())
    host = DurableTestHost({"run_orchestrator": orchestrators["run_orchestrator"]}, {}, start=START)
    service = service_factory(host.clock)
    host.activities.update(service.activities())
    return host, service


def drive(host: DurableTestHost, instance_id: str, deliveries: list = (), *,
          on_idle: Optional[Callable[[DurableTestHost], None]] = None, max_rounds: int = 100_000) -> dict:
    """Run to the end on the simulated clock, raising ``deliveries`` = [(at, name, payload)] at their times.

    A delivery due before the next durable timer is raised first (the clock moves to its time); events for
    a finished instance are dropped, as Event Grid's would be answered 410.
    """
    queue = sorted(deliveries, key=lambda d: d[0])
    for _ in range(max_rounds):
        host.run_until_idle(fire_timers=False)
        status = host.status(instance_id)
        if status["runtimeStatus"] in TERMINAL_STATUSES:
            return status
        if on_idle is not None:
            on_idle(host)
        with host._lock:  # the host has no public "next timer" accessor
            next_timer = host._next_timer()
        if queue and (next_timer is None or queue[0][0] <= next_timer):
            at, name, payload = queue.pop(0)
            host.clock.advance_to(at)
            host.raise_event(instance_id, name, payload)
            continue
        if next_timer is None:
            raise AssertionError(f"stuck: {host.describe()}")
        host.step(fire_timers=True)
    raise AssertionError("too many rounds")


def job_events(service: FakeService, *, latency: float = 2.0, drop: Callable[[str], bool] = lambda s: False,
               duplicate: bool = False) -> list:
    """RunStatusChanged deliveries for each transition of the job (after it was submitted at ``START``)."""
    out = []
    for n, (t, status) in enumerate(service.job.timeline[1:], 1):
        if drop(status):
            continue
        at = START + timedelta(seconds=t + latency)
        payload = event_payload(service.job.name, status, START + timedelta(seconds=t), f"ev-{n}")
        out.append((at, JOB_STATUS_EVENT, payload))
        if duplicate:
            out.append((at + timedelta(seconds=1), JOB_STATUS_EVENT, payload))
    return out
