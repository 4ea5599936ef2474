"""CI's guard of ``python -m bench.crash_bench``: a representative subset of its points, on the same real parts
(Azurite, the emulator in-process, the app's functions on the real Durable replay engine), with the service's
strictest behaviour (client job names ignored, tags and properties dropped).

The subset, for a marker landing: the claim, ``start_new``, the endpoint's submit POST, the end of the submit
activity and one delivery write as crashes, the first three also as lost answers; the storage SDK's own retry for the claim; one stall (``start_new`` held past the
claim's lease while a duplicate event, the sweep and a backfill act, landing after the run finished) and one
race (the event, the sweep and a backfill delivering the folder at once). The full matrix (five start kinds,
every point, both service profiles) is the bench's.
"""

from __future__ import annotations

import pytest

from bench import crash_bench
from bench.crash_bench import Outcome, points_of, summary

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

CLAIM = "storage:PUT crash-state/runs/heart-*.json #1"
START = "durable:start_new run_orchestrator #1"
DELIVERY = "storage:PUT crash-sink/scores/heart/{folder}/predictions.csv #1"
SUBSET = {
    "crash": (CLAIM, START, "endpoint:POST submit #1", "activity:submit_job #1", DELIVERY),
    "lost": (CLAIM, START, "endpoint:POST submit #1"),
    "retried": (CLAIM,),
    "stall": (START,),
    "race": ("race:event+sweep+backfill #1",),
}


def subset(start: str, fault: str, points: list) -> list:
    return [p for p in points if p in SUBSET[fault]]


@pytest.fixture(scope="module")
def marker_outcomes(azurite) -> list[Outcome]:
    lines: list[str] = []
    outcomes = crash_bench.run_bench(("marker",), tuple(SUBSET), select=subset, profiles=("strict",),
                                     azurite=azurite, echo=lines.append)
    print("\n".join(lines + [summary(outcomes)]))
    return outcomes


def test_a_representative_subset_runs_exactly_once_under_the_strict_service(marker_outcomes):
    [baseline] = [o for o in marker_outcomes if o.fault == "none"]
    assert baseline.exactly_once, baseline.line()
    fired = [o for o in marker_outcomes if o.fired]
    failed = [o.line() for o in fired if not o.exactly_once]
    assert not failed, "\n".join(failed)
    injected = {(o.fault, o.point) for o in fired}
    assert injected == {(fault, point) for fault, points in SUBSET.items() for point in points}
    assert all(o.executions == 1 for o in fired)
    assert summary(marker_outcomes).endswith("duplicate jobs: 0; lost outputs: 0; stuck runs: 0; re-executed runs: 0")


def test_the_checks_see_a_crash_nothing_redelivers(azurite):
    """The control experiment: with no redelivery and no sweep, a crash right after the claim leaves the folder
    without a run, and the bench says so (a bench that cannot fail proves nothing)."""
    outcomes = crash_bench.run_bench(("marker",), ("crash",), select=lambda s, f, points: [CLAIM],
                                     redeliver=False, azurite=azurite, echo=lambda line: None)
    [control] = [o for o in outcomes if o.fired]
    assert control.point == CLAIM
    assert not control.exactly_once and control.succeeded == 0 and control.stuck == 1
    assert summary(outcomes) == ("crash points: 1; runs exactly once: 0/1; duplicate jobs: 0; lost outputs: 2; "
                                 "stuck runs: 1; re-executed runs: 0")


def test_with_fencing_off_a_late_start_executes_the_finished_run_again(azurite, monkeypatch):
    """The control ``--control fencing-off``: without the fencing check, a ``start_new`` held past the claim's
    lease lands after the run the sweep, a backfill and the event's redelivery started has finished, and Durable
    runs the finished instance again; the bench counts that run as executed twice."""
    monkeypatch.setenv(crash_bench.FENCING_SWITCH, crash_bench.FENCING_OFF_VALUE)
    outcomes = crash_bench.run_bench(("marker",), ("stall",), select=lambda s, f, points: [START],
                                     profiles=("strict",), azurite=azurite, echo=lambda line: None)
    [control] = [o for o in outcomes if o.fired]
    assert control.point == START and control.executions == 2 and control.reexecuted == 1
    assert summary(outcomes).endswith("re-executed runs: 1")


def test_every_call_is_a_point_and_each_kind_picks_its_own():
    crash_bench.Faults.stallable.add("storage:PUT s/runs/x.json")
    labels = ["endpoint:GET get #1", "endpoint:POST submit #1", "endpoint:GET get #2", "activity:submit_job #1",
              "storage:PUT s/runs/x.json #1", "storage:PUT s/runs/x.json #2", "durable:start_new r #1",
              "durable:get_status #1", "storage:PUT sink/out.csv #1"]
    assert points_of(labels, "crash") == labels          # every GET, not only the first of its kind
    assert points_of(labels, "lost") == [p for p in labels if not p.startswith("activity:")]
    assert points_of(labels, "retried") == ["storage:PUT s/runs/x.json #1", "storage:PUT s/runs/x.json #2",
                                            "storage:PUT sink/out.csv #1"]
    assert points_of(labels, "stall") == ["storage:PUT s/runs/x.json #1", "storage:PUT s/runs/x.json #2",
                                          "durable:start_new r #1", "durable:get_status #1"]
    assert points_of(labels, "race", "marker") == [f"race:{a} #{n}" for a in crash_bench.RACE_ACTORS["event"]
                                                   for n in (1, 2)]


def test_a_cancel_over_http_survives_a_crash_or_lost_answer_at_each_of_its_writes(azurite):
    """The cancel kind: an HTTP start, then ``POST /api/runs/{id}/cancel`` while the job runs. Whatever fails on
    the cancel's way (its event, the endpoint's cancel POST, the cancel activity), the one run ends Canceled, its
    one job is cancelled (not left running) and nothing is delivered."""
    cancel_path = ("durable:raise_event cancel #1", "endpoint:POST cancel #1", "activity:cancel_job #1")
    outcomes = crash_bench.run_bench(("cancel",), ("crash", "lost"),
                                     select=lambda s, f, points: [p for p in points if p in cancel_path],
                                     profiles=("strict",), azurite=azurite, echo=lambda line: None)
    fired = [o for o in outcomes if o.fired]
    assert {(o.fault, o.point) for o in fired} == {("crash", p) for p in cancel_path} | {
        ("lost", "durable:raise_event cancel #1"), ("lost", "endpoint:POST cancel #1")}
    failed = [o.line() for o in outcomes if not o.exactly_once]
    assert not failed, "\n".join(failed)
    assert all(o.expected == "Canceled" and o.succeeded == 1 and o.jobs == 1 for o in fired)
