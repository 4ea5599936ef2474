"""Poll benchmark: how soon each poll policy notices a finished job, and how many status calls it spends.

Runs the real run orchestration (shared/runs/orchestrator.py) through the real Durable SDK replay engine on
tests/support's DurableTestHost with a *simulated* clock. The batch service is simulated: each job follows
Queued → Running → Finalizing → Completed; the status activity answers from that timeline at the simulated
time; Event Grid delivery (for the event policies) raises ``job_status`` events 1–4 s after each transition.

Jobs: six lengths (2 min … 6 h), ``--jobs`` per length. A job's input has 50–150 % of the route's nominal
file count; its duration is a start-up cost plus a per-file share of the nominal length, times a ±10 %
noise. The route's history (for the duration-aware policy) is 20 earlier jobs drawn the same way.

    python -m bench.poll_bench            # about 3 minutes
    python -m bench.poll_bench --jobs 2   # quicker

Speed-up: the SDK parses every history timestamp with dateutil on every replay; the benchmark memoises
that pure function (same results, ~20x faster). Nothing else in the SDK is touched.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import math
import random
import statistics
import sys
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Optional

LENGTHS = [("2 min", 120), ("10 min", 600), ("30 min", 1800), ("1 h", 3600), ("3 h", 3 * 3600), ("6 h", 6 * 3600)]
NOMINAL_FILES = 100
HISTORY_RUNS = 20
NOISE = 0.10


@dataclass(frozen=True)
class Policy:
    name: str
    poll: dict
    history: bool = False
    events: bool = False
    lose_events: float = 0.0


def policies():
    from shared.config.models import PollPolicy

    base = PollPolicy(polls_per_execution=20)  # smaller histories per execution: faster replays, same calls
    return [
        Policy("fixed 120 s (ADF)", replace(base, initial_seconds=120, max_seconds=120, growth=1,
                                            dense_seconds=120, duration_aware=False).to_dict()),
        Policy("fixed 30 s", replace(base, initial_seconds=30, max_seconds=30, growth=1, dense_seconds=30,
                                     duration_aware=False).to_dict()),
        Policy("adaptive", replace(base, duration_aware=False).to_dict()),
        Policy("duration-aware", base.to_dict(), history=True),
        Policy("events + fallback", replace(base, events=True).to_dict(), events=True),
        Policy("events, 1 in 5 lost", replace(base, events=True).to_dict(), events=True, lose_events=0.2),
    ]


def draw_job(length: float, rng: random.Random) -> tuple[float, int]:
    files = round(NOMINAL_FILES * rng.uniform(0.5, 1.5))
    startup = min(60.0, 0.25 * length)
    duration = (startup + (length - startup) * files / NOMINAL_FILES) * rng.uniform(1 - NOISE, 1 + NOISE)
    return duration, files


def job_timeline(duration: float) -> list:
    queued = min(30.0, duration / 8)
    finalizing = min(60.0, max(10.0, 0.02 * duration))
    return [(0.0, "Queued"), (queued, "Running"), (duration - finalizing, "Finalizing"), (duration, "Completed")]


def simulate(functions: dict, policy: Policy, length: float, seed: int) -> dict:
    from shared.config.models import PollPolicy
    from shared.runs.models import JOB_STATUS_EVENT
    from tests.runs.sim import START, FakeService, SimJob, drive, event_payload, make_host, run_input

    rng = random.Random(seed)
    duration, files = draw_job(length, rng)
    history = []
    for _ in range(HISTORY_RUNS):
        d, f = draw_job(length, rng)
        history.append({"seconds": d, "files": f})
    job = SimJob(job_timeline(duration), name=f"job-{seed}")
    host, service = make_host(functions, lambda clock: FakeService(
        clock, job, history=history if policy.history else []))
    deliveries = []
    if policy.events:
        for n, (t, status) in enumerate(job.timeline[1:], 1):
            if policy.lose_events and rng.random() < policy.lose_events:
                continue
            at = START + timedelta(seconds=t + rng.uniform(1.0, 4.0))
            deliveries.append((at, JOB_STATUS_EVENT,
                               event_payload(job.name, status, START + timedelta(seconds=t), f"{job.name}-{n}")))
    try:
        host.start("run_orchestrator", run_input(PollPolicy.from_dict(policy.poll), f"route-a-{seed}", files=files),
                   instance_id=f"route-a-{seed}")
        status = drive(host, f"route-a-{seed}", deliveries)
    finally:
        host.close()
    assert status["output"]["outcome"] == "Succeeded", status
    assert service.detected_at is not None
    return {"duration": duration, "calls": len(service.status_calls), "delay": service.detected_at - duration}


def speed_up_sdk() -> None:
    """Memoise the SDK's timestamp parsing (a pure function of the string)."""
    importlib.import_module("azure.durable_functions.models.history.HistoryEvent")
    module = sys.modules["azure.durable_functions.models.history.HistoryEvent"]
    if not hasattr(module.dt_parse, "cache_info"):
        module.dt_parse = functools.lru_cache(maxsize=1 << 16)(module.dt_parse)


def run(jobs: int, seed: int, out=print) -> dict:
    import logging
    import warnings

    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    speed_up_sdk()
    from tests.app_index import functions

    funcs = functions()
    results: dict = {}
    for policy in policies():
        for label, length in LENGTHS:
            rows = [simulate(funcs, policy, length, seed * 1000 + i) for i in range(jobs)]
            results[(policy.name, label)] = {
                "calls": statistics.mean(r["calls"] for r in rows),
                "mean": statistics.mean(r["delay"] for r in rows),
                "worst": max(r["delay"] for r in rows),
                "calls_per_10min": max(r["calls"] / max(1, math.ceil(r["duration"] / 600)) for r in rows),
            }
    out(table(results, jobs))
    out(verdict(results))
    return results


def table(results: dict, jobs: int) -> str:
    lines = [f"status calls per job (mean) / detection delay mean, worst (s); {jobs} simulated jobs per length",
             "", f"| policy | {' | '.join(label for label, _ in LENGTHS)} |",
             "|---|" + "---|" * len(LENGTHS)]
    for policy in policies():
        cells = []
        for label, _ in LENGTHS:
            r = results[(policy.name, label)]
            cells.append(f"{r['calls']:.1f} / {r['mean']:.1f}, {r['worst']:.1f}")
        lines.append(f"| {policy.name} | {' | '.join(cells)} |")
    return "\n".join(lines)


def verdict(results: dict) -> str:
    lines = ["", "done-when checks:"]
    ok_events = all(results[("events + fallback", l)]["mean"] < 5 for l, _ in LENGTHS)
    ok_budget = all(results[("events + fallback", l)]["calls_per_10min"] <= 1 for l, _ in LENGTHS)
    lines.append(f"- events: mean delay < 5 s on every length: {'yes' if ok_events else 'NO'}")
    lines.append(f"- events: every job <= 1 status call per started 10 min of job time: {'yes' if ok_budget else 'NO'}")
    ok_delay = all(results[("duration-aware", l)]["mean"] <= results[("fixed 120 s (ADF)", l)]["mean"] / 4
                   for l, _ in LENGTHS)
    ok_calls = all(results[("duration-aware", l)]["calls"] <= results[("fixed 120 s (ADF)", l)]["calls"]
                   for l, _ in LENGTHS)
    lines.append(f"- duration-aware: mean delay <= 1/4 of fixed 120 s on every length: {'yes' if ok_delay else 'NO'}")
    lines.append(f"- duration-aware: mean calls <= fixed 120 s on every length: {'yes' if ok_calls else 'NO'}")
    return "\n".join(lines)


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10, help="simulated jobs per length (default 10)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--smoke", action="store_true",
                        help="one job per length (seconds): the path runs; the checks need --jobs 10 to mean much")
    args = parser.parse_args(argv)
    run(1 if args.smoke else args.jobs, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
