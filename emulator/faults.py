"""Fault knobs: injected HTTP errors, response delays, and job-level faults.

Settable from the config file ("faults") and at runtime (POST /_emulator/faults). HTTP faults and
job faults are consumed in order: `count` is how many calls/jobs they hit (-1 = all of them).
"""
from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

HTTP_TARGETS = ("submit", "status", "cancel", "any")
# "status": answer with an error status; "drop": close the connection without an answer (the client sees
# RemoteProtocolError); "stall": wait `seconds` before answering normally (the client's read timeout fires).
HTTP_EFFECTS = ("status", "drop", "stall")
# "before": instead of doing the work; "after": the work is done (the job is created / the cancel is
# applied), then the answer is lost. "after" is what makes a client's retry create a second job.
HTTP_WHEN = ("before", "after")
JOB_EFFECTS = ("fail", "hang", "not_responding")


class FaultSpecError(ValueError):
    pass


@dataclass
class HttpFault:
    target: str  # submit | status (data-plane + ARM GET) | cancel | any
    status: int = 503
    count: int = 1
    retry_after: float | None = None
    message: str | None = None
    effect: str = "status"  # status | drop | stall
    when: str = "before"  # before | after (the work was done, the answer is lost)
    seconds: float = 30.0  # stall: how long before the (normal) answer
    skip: int = 0  # let this many matching calls through first ("the 4th status call fails")


@dataclass
class JobFault:
    effect: str  # fail | hang | not_responding
    message: str = "Injected failure."
    seconds: float = 1.0  # not_responding: how long
    count: int = 1
    endpoint: str | None = None
    deployment: str | None = None

    def matches(self, endpoint: str, deployment: str) -> bool:
        return self.endpoint in (None, endpoint) and self.deployment in (None, deployment)


@dataclass
class Delays:
    submit: float = 0.0
    status: float = 0.0
    cancel: float = 0.0
    any: float = 0.0


@dataclass
class FaultState:
    http: list[HttpFault] = field(default_factory=list)
    jobs: list[JobFault] = field(default_factory=list)
    delays: Delays = field(default_factory=Delays)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def apply(self, spec: Mapping[str, Any]) -> None:
        """Add rules / set delays from a JSON spec; see emulator/README.md."""
        if not isinstance(spec, Mapping):
            raise FaultSpecError("fault spec must be a JSON object")
        http = [self._http(h) for h in spec.get("http") or []]
        jobs = [self._job(j) for j in spec.get("jobs") or []]
        with self._lock:
            self.http.extend(http)
            self.jobs.extend(jobs)
            for k, v in (spec.get("delay") or spec.get("delays") or {}).items():
                if k not in Delays.__dataclass_fields__:
                    raise FaultSpecError(f"unknown delay target {k!r}; use one of {list(Delays.__dataclass_fields__)}")
                setattr(self.delays, k, float(v))

    def reset(self) -> None:
        with self._lock:
            self.http.clear()
            self.jobs.clear()
            self.delays = Delays()

    def delay_for(self, target: str) -> float:
        return self.delays.any + getattr(self.delays, target, 0.0)

    def take_http(self, target: str, when: str = "before") -> HttpFault | None:
        with self._lock:
            for f in self.http:
                if f.target in (target, "any") and f.when == when:
                    if f.skip > 0:
                        f.skip -= 1
                        return None
                    return self._consume(self.http, f)
        return None

    def take_job_faults(self, endpoint: str, deployment: str) -> list[JobFault]:
        """Bound to a job at submit, so 'the next job' is well defined."""
        with self._lock:
            hits = [f for f in self.jobs if f.matches(endpoint, deployment)]
            return [self._consume(self.jobs, f) for f in hits]

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {"http": [asdict(f) for f in self.http], "jobs": [asdict(f) for f in self.jobs],
                    "delay": asdict(self.delays)}

    @staticmethod
    def _consume(rules: list, rule: Any) -> Any:
        taken = type(rule)(**asdict(rule))
        if rule.count > 0:
            rule.count -= 1
            if rule.count == 0:
                rules.remove(rule)
        return taken

    @staticmethod
    def _http(spec: Mapping[str, Any]) -> HttpFault:
        f = HttpFault(**{k: v for k, v in spec.items() if k in HttpFault.__dataclass_fields__})
        if f.target not in HTTP_TARGETS:
            raise FaultSpecError(f"http fault target must be one of {HTTP_TARGETS}")
        if not 400 <= int(f.status) <= 599:
            raise FaultSpecError("http fault status must be 4xx/5xx")
        if f.effect not in HTTP_EFFECTS:
            raise FaultSpecError(f"http fault effect must be one of {HTTP_EFFECTS}")
        if f.when not in HTTP_WHEN:
            raise FaultSpecError(f"http fault 'when' must be one of {HTTP_WHEN}")
        if f.when == "after" and f.target not in ("submit", "cancel"):
            raise FaultSpecError("'when': 'after' applies to submit and cancel (a GET has no work to lose)")
        return f

    @staticmethod
    def _job(spec: Mapping[str, Any]) -> JobFault:
        f = JobFault(**{k: v for k, v in spec.items() if k in JobFault.__dataclass_fields__})
        if f.effect not in JOB_EFFECTS:
            raise FaultSpecError(f"job fault effect must be one of {JOB_EFFECTS}")
        return f
