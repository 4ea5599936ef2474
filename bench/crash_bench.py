"""Crash-injection benchmark: one landed folder → exactly one job → every output in every sink, whatever dies,
stalls or races.

    python -m bench.crash_bench                         # every point, five fault kinds, five start kinds, both profiles
    python -m bench.crash_bench --parallel              # the same, one child process per profile
    python -m bench.crash_bench --smoke                 # CI: strict profile, marker + http, 1 point per fault kind
    python -m bench.crash_bench --starts marker --faults stall,race --profile kind      # a subset
    python -m bench.crash_bench --control fencing-off   # the control: must show re-executed runs > 0

For each service profile (``strict``: client job names ignored, tags and properties dropped; ``kind``: both kept)
and start kind (``marker``, ``manifest``, ``quiet_period``, ``http``, ``cancel``) it first runs the whole path
once without faults and records every *point*: each storage write, each Durable client call (``start_new``,
``get_status``, ``raise_event``, ...), each batch-endpoint call (every GET, not only the first of its kind) and
the end of each activity, including those the sweep and a backfill make. Then it runs the path once per point
and fault kind, on fresh containers:

* ``crash``: right after the call went through, :class:`~tests.support.faults.Crash` (a ``BaseException``);
* ``lost``: the call went through but its answer never arrived;
* ``retried`` (storage writes): the storage SDK's own retry sends the request again;
* ``stall`` (Durable client calls, conditional writes to the state container): the call is held past the
  claim's lease while a duplicate delivery, the sweep and a backfill act and the run they start finishes; then
  it goes through, late;
* ``race``: the folder delivered by several callers at once (event, sweep, backfill; or the same request twice).

Faults stay on while the sweep and the backfill run; then it redelivers as Azure does and a clean sweep tick
runs. Everything is real: Azurite and the batch-endpoint emulator on 127.0.0.1, the app's own functions, the
real Durable replay engine on a scaled clock. The parts live in ``bench/crash/``.

Ground truth per point: every execution of every run in the Durable host (one reaches the expected outcome;
an execution that acted on the world — submitted, copied, wrote a receipt, notified — counts as one
*execution*: a run executed twice fails even with one job), the emulator's job list (one job for the folder),
the sinks' bytes (every output, byte-identical) and the ledger (one run record, started, naming the one job).
The last line: ``crash points: N; runs exactly once: X/X; duplicate jobs: 0; lost outputs: 0; stuck runs: 0;
re-executed runs: 0``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.crash.faults import Faults, install_wrappers, uninstall_wrappers  # noqa: E402,F401
from bench.crash.scenario import Outcome, Scenario, race_points  # noqa: E402,F401
from bench.crash.settings import (FAULT_KINDS, FENCING_OFF_VALUE, FENCING_SWITCH, PROFILES,  # noqa: E402,F401
                                  RACE_ACTORS, SMOKE_LIMIT, SMOKE_STARTS, START_KINDS)
from bench.crash.stack import Stack  # noqa: E402


def points_of(labels: list[str], fault: str, start: str = "marker") -> list[str]:
    """The distinct points of a baseline run for one fault kind: every write and every call (each GET and
    each status read too, not only the first of its kind); activity ends are crash points only, the SDK's
    retry is a storage point, a stall hits Durable client calls and conditional state writes, and a race is
    a set of concurrent callers."""
    if fault == "race":
        return race_points(start)
    out = []
    for label in labels:
        what, _, _ = label.rpartition(" #")
        if what.startswith("activity:") and fault != "crash":
            continue
        if fault == "retried" and not what.startswith("storage:"):
            continue
        if fault == "stall" and not (what.startswith("durable:") or what in Faults.stallable):
            continue
        if label not in out:
            out.append(label)
    return out


def run_bench(starts: tuple = START_KINDS, faults: tuple = FAULT_KINDS, *, limit: Optional[int] = None,
              only_list: bool = False, redeliver: bool = True, redeliver_events: bool = True,
              mid_sweep: bool = False, profiles: tuple = ("kind",),
              select: Optional[Callable[[str, str, list], list]] = None, azurite: Any = None,
              echo: Callable[[str], None] = print) -> list[Outcome]:
    """Per service profile and start kind a baseline, then one scenario per point and fault kind;
    ``select(start, fault, points)`` picks a subset of the points (the pytest guard)."""
    from tests.app_index import functions

    install_wrappers()
    stack = Stack(azurite)
    outcomes: list[Outcome] = []
    try:
        app = functions()
        for profile in profiles:
            stack.set_profile(profile)
            for start in starts:
                baseline = Scenario(stack, app, start, profile=profile).run()
                outcomes.append(baseline)      # fault "none": not a point, but the bench fails if it fails
                echo(f"baseline {profile} {start}: {'ok' if baseline.exactly_once else 'FAIL'} "
                     f"({len(baseline.labels)} calls, {baseline.seconds:.1f}s)"
                     + ("" if baseline.exactly_once else "  " + "; ".join(baseline.violations + baseline.notes)))
                for fault in faults:
                    points = points_of(baseline.labels, fault, start)
                    if select is not None:
                        points = select(start, fault, points)
                    if limit is not None:
                        points = points[:limit]
                    if only_list:
                        for point in points:
                            echo(f"  point {profile} {start} {fault} {point}")
                        continue
                    for point in points:
                        scenario = Scenario(stack, app, start, fault, point, redeliver=redeliver,
                                            redeliver_events=redeliver_events, profile=profile)
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
    reexecuted = sum(o.reexecuted for o in fired)
    return (f"crash points: {len(fired)}; runs exactly once: {once}/{len(fired)}; duplicate jobs: {duplicates}; "
            f"lost outputs: {lost}; stuck runs: {stuck}; re-executed runs: {reexecuted}")


def breakdown(outcomes: list[Outcome]) -> str:
    """Points per start kind and fault kind (fired only)."""
    counts: dict = {}
    for o in outcomes:
        if o.fired:
            counts.setdefault(o.start, {}).setdefault(o.fault, 0)
            counts[o.start][o.fault] += 1
    return "; ".join(f"{start} " + " / ".join(f"{k} {v}" for k, v in kinds.items()) for start, kinds in counts.items())


CONTROLS = ("fencing-off", "no-redelivery")


def run_control(name: str, profiles: tuple, *, smoke: bool = False, echo: Callable[[str], None] = print) -> int:
    """A control experiment: the app or the bench without the part that makes a kind of fault harmless; the
    checks must then fail, for the reason the control names."""
    if name == "no-redelivery":
        outcomes = run_bench(("marker", "quiet_period"), ("crash",), redeliver=False, profiles=profiles[:1],
                             limit=6 if smoke else None, echo=echo)
        line = summary(outcomes)
        stuck = sum(o.stuck for o in outcomes if o.fired)
        echo(f"control no-redelivery (nothing redelivered, no sweep): stuck runs {stuck} "
             f"({'fails as it must' if stuck else 'DID NOT FAIL'}) | {line}")
        return 0 if stuck else 1
    # fencing-off: the run does not check its claim's fencing token; a start that stalls past the lease and
    # lands after the run finished runs it again
    saved = os.environ.get(FENCING_SWITCH)
    os.environ[FENCING_SWITCH] = FENCING_OFF_VALUE
    try:
        def starts_only(start: str, fault: str, points: list) -> list:
            return [p for p in points if p.startswith("durable:start_new run_orchestrator")]

        outcomes = run_bench(("marker", "http") if smoke else ("marker", "manifest", "quiet_period", "http"),
                             ("stall",), select=starts_only, profiles=profiles, echo=echo)
    finally:
        if saved is None:
            os.environ.pop(FENCING_SWITCH, None)
        else:
            os.environ[FENCING_SWITCH] = saved
    line = summary(outcomes)
    reexecuted = sum(o.reexecuted for o in outcomes if o.fired)
    echo(f"control fencing-off ({FENCING_SWITCH}={FENCING_OFF_VALUE}): re-executed runs {reexecuted} "
         f"({'fails as it must' if reexecuted else 'DID NOT FAIL'}) | {line}")
    return 0 if reexecuted else 1


def _run_children(argv: list[str], profiles: tuple) -> list[Outcome]:
    """``--parallel``: one child process per profile (the same arguments, one profile each); their lines are
    echoed as they come, their outcomes read back for the summary."""
    import subprocess
    import tempfile
    import threading

    passed = [a for a in argv if a != "--parallel" and not a.startswith("--profile")]
    with tempfile.TemporaryDirectory(prefix="crash-bench-") as tmp:
        children = []
        for profile in profiles:
            out = Path(tmp) / f"{profile}.json"
            child = subprocess.Popen([sys.executable, "-m", "bench.crash_bench", *passed, "--profile", profile,
                                      "--outcomes-json", str(out)], cwd=str(REPO), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
            echo = threading.Thread(target=lambda c=child: [print(line, end="", flush=True) for line in c.stdout])
            echo.start()
            children.append((child, echo, out))
        outcomes: list[Outcome] = []
        for child, echo, out in children:
            child.wait()
            echo.join()
            if out.exists():
                outcomes += [Outcome(**o) for o in json.loads(out.read_text())]
            else:
                print(f"a child process (exit code {child.returncode}) wrote no outcomes")
    return outcomes


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--starts", default=None,
                        help=f"comma-separated start kinds (default: all): {', '.join(START_KINDS)}")
    parser.add_argument("--faults", default=None, help=f"comma-separated fault kinds (default: all): "
                                                       f"{', '.join(FAULT_KINDS)}")
    parser.add_argument("--profile", default="both", choices=("strict", "kind", "both"),
                        help="the batch service's behaviour: strict (job names ignored, tags dropped), kind, or "
                             "both (default; strict first)")
    parser.add_argument("--limit", type=int, default=None, help="at most this many points per start and fault")
    parser.add_argument("--smoke", action="store_true",
                        help="a quick subset for CI: strict profile, marker and http starts, 1 point per fault kind")
    parser.add_argument("--list", action="store_true", help="only run the baselines and list their points")
    parser.add_argument("--control", choices=CONTROLS, default=None,
                        help="a control experiment that must fail for the reason it names")
    parser.add_argument("--no-redelivery", action="store_true",
                        help="control experiment: no redelivery, no sweep (the checks must then report failures)")
    parser.add_argument("--dead-letter", action="store_true",
                        help="Event Grid does not redeliver a failed event: the final sweep must repair it")
    parser.add_argument("--mid-sweep", action="store_true",
                        help="also run a sweep tick while the run is under way (right after the fault fired)")
    parser.add_argument("--parallel", action="store_true",
                        help="run each profile in its own child process (own Azurite and emulator) at once")
    parser.add_argument("--outcomes-json", default=None, help=argparse.SUPPRESS)   # a --parallel child's results
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.CRITICAL,
                        format="%(asctime)s %(name)s %(message)s")
    began = time.monotonic()
    profiles = ("strict", "kind") if args.profile == "both" else (args.profile,)
    if args.smoke and args.profile == "both":
        profiles = ("strict",)
    if args.control:
        code = run_control(args.control, profiles, smoke=args.smoke)
        print(f"wall time: {time.monotonic() - began:.0f} s")
        return code
    starts = tuple(s for s in (args.starts or ",".join(SMOKE_STARTS if args.smoke else START_KINDS)).split(",") if s)
    faults = tuple(f for f in (args.faults or ",".join(FAULT_KINDS)).split(",") if f)
    limit = args.limit if args.limit is not None else (SMOKE_LIMIT if args.smoke else None)
    if args.parallel and len(profiles) > 1 and not args.list:
        outcomes = _run_children(argv if argv is not None else sys.argv[1:], profiles)
    else:
        outcomes = run_bench(starts, faults, limit=limit, only_list=args.list, redeliver=not args.no_redelivery,
                             redeliver_events=not args.dead_letter, mid_sweep=args.mid_sweep, profiles=profiles)
    if args.list:
        return 0
    if args.outcomes_json:
        Path(args.outcomes_json).write_text(json.dumps([dataclasses.asdict(o) for o in outcomes]))
    fired = [o for o in outcomes if o.fired]
    swept = [o for o in fired if o.swept]
    print(f"wall time: {time.monotonic() - began:.0f} s; points the final sweep repaired: {len(swept)}"
          + "".join(f"\n  swept: {o.profile} {o.start} {o.fault} {o.point} {o.swept}" for o in swept))
    for profile in profiles:
        mine = [o for o in outcomes if o.profile == profile]
        print(f"profile {profile}: {breakdown(mine)}")
        print(f"profile {profile}: {summary(mine)}")
    print(summary(outcomes))
    baselines_ok = all(o.exactly_once for o in outcomes if o.fault == "none")
    return 0 if baselines_ok and fired and all(o.exactly_once for o in fired) else 1


if __name__ == "__main__":
    sys.exit(main())
