"""CI's guard of ``python -m bench.crash_bench``: a representative subset of its crash points, on the same real
parts (Azurite, the emulator in-process, the app's functions on the real Durable replay engine).

The subset: for a marker landing, every point from the event to the job (the claim, ``start_new``, the
ledger, the endpoint's look-ups and its submit POST, the end of the submit activity), each as a crash and as a
lost answer; the storage SDK's own retry after a lost answer for the claim and the ledger; and one point of
delivery of each kind. The full matrix (four start kinds, every point) is the bench's.
"""

from __future__ import annotations

import pytest

from bench import crash_bench
from bench.crash_bench import Outcome, points_of, summary

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

DELIVERY = ("storage:PUT crash-sink/scores/heart/{folder}/predictions.csv #1", "activity:copy_output #1",
            "activity:write_receipt #1")


def until_submitted(start: str, fault: str, points: list) -> list:
    """The path up to the job (marker start), plus a sample of delivery."""
    after_submit = ("crash-sink/", "crash-copy/", "durations/", "activity:estimate", "activity:get_job_status")
    end = next((n for n, p in enumerate(points) if any(mark in p for mark in after_submit)), len(points))
    chosen = [p for p in points[:end] if not p.startswith("storage:PUT crash-state/ ")]  # the container create
    if fault == "retried":
        chosen = [p for p in chosen if p.startswith("storage:PUT crash-state/runs/")]
    chosen += [p for p in points[end:] if p in DELIVERY]
    return chosen


def by_point(outcomes: list[Outcome]) -> dict:
    return {(o.fault, o.point): o for o in outcomes}


@pytest.fixture(scope="module")
def marker_outcomes(azurite) -> list[Outcome]:
    lines: list[str] = []
    outcomes = crash_bench.run_bench(("marker",), ("crash", "lost", "retried"), select=until_submitted,
                                     azurite=azurite, echo=lines.append)
    print("\n".join(lines + [summary(outcomes)]))
    return outcomes


def test_every_point_from_the_event_to_the_job_runs_exactly_once(marker_outcomes):
    [baseline] = [o for o in marker_outcomes if o.fault == "none"]
    assert baseline.exactly_once, baseline.line()
    fired = [o for o in marker_outcomes if o.fired]
    failed = [o.line() for o in fired if not o.exactly_once]
    assert not failed, "\n".join(failed)
    points = by_point(fired)
    # the points that matter most were reached, each kind of boundary at least once
    for fault, point in [("crash", "storage:PUT crash-state/runs/heart-*.json #1"),      # the claim
                         ("lost", "storage:PUT crash-state/runs/heart-*.json #1"),
                         ("retried", "storage:PUT crash-state/runs/heart-*.json #1"),
                         ("crash", "durable:start_new run_orchestrator #1"),
                         ("lost", "durable:start_new run_orchestrator #1"),
                         ("crash", "endpoint:POST submit #1"),
                         ("lost", "endpoint:POST submit #1"),
                         ("crash", "activity:submit_job #1"),
                         ("crash", DELIVERY[0]), ("lost", DELIVERY[0])]:
        assert (fault, point) in points, f"{fault} {point} was not injected"
    assert len(fired) >= 20
    assert summary(marker_outcomes).endswith("duplicate jobs: 0; lost outputs: 0; stuck runs: 0")


def test_the_checks_see_a_crash_nothing_redelivers(azurite):
    """The control experiment: with no redelivery and no sweep, a crash right after the claim leaves the folder
    without a run, and the bench says so (a bench that cannot fail proves nothing)."""
    claim = "storage:PUT crash-state/runs/heart-*.json #1"
    outcomes = crash_bench.run_bench(("marker",), ("crash",), select=lambda s, f, points: [claim],
                                     redeliver=False, azurite=azurite, echo=lambda line: None)
    [control] = [o for o in outcomes if o.fired]
    assert control.point == claim
    assert not control.exactly_once and control.succeeded == 0 and control.stuck == 1
    assert summary(outcomes) == ("crash points: 1; runs exactly once: 0/1; duplicate jobs: 0; lost outputs: 2; "
                                 "stuck runs: 1")


def test_points_repeating_with_polls_count_once_and_activity_ends_are_crashes_only():
    labels = ["endpoint:GET get #1", "endpoint:POST submit #1", "endpoint:GET get #2", "activity:submit_job #1",
              "storage:PUT s/runs/x.json #1", "storage:PUT s/runs/x.json #2", "durable:start_new r #1"]
    assert points_of(labels, "crash") == ["endpoint:GET get #1", "endpoint:POST submit #1", "activity:submit_job #1",
                                          "storage:PUT s/runs/x.json #1", "storage:PUT s/runs/x.json #2",
                                          "durable:start_new r #1"]
    assert points_of(labels, "lost") == ["endpoint:GET get #1", "endpoint:POST submit #1",
                                         "storage:PUT s/runs/x.json #1", "storage:PUT s/runs/x.json #2",
                                         "durable:start_new r #1"]
    assert points_of(labels, "retried") == ["storage:PUT s/runs/x.json #1", "storage:PUT s/runs/x.json #2"]


def test_a_cancel_over_http_survives_a_crash_or_lost_answer_at_each_of_its_writes(azurite):
    """The cancel kind: an HTTP start, then ``POST /api/runs/{id}/cancel`` while the job runs. Whatever fails on
    the cancel's way (its event, the endpoint's cancel POST, the cancel activity), the one run ends Canceled, its
    one job is cancelled (not left running) and nothing is delivered."""
    cancel_path = ("durable:raise_event cancel #1", "endpoint:POST cancel #1", "activity:cancel_job #1")
    outcomes = crash_bench.run_bench(("cancel",), ("crash", "lost"),
                                     select=lambda s, f, points: [p for p in points if p in cancel_path],
                                     azurite=azurite, echo=lambda line: None)
    fired = [o for o in outcomes if o.fired]
    assert {(o.fault, o.point) for o in fired} == {("crash", p) for p in cancel_path} | {
        ("lost", "durable:raise_event cancel #1"), ("lost", "endpoint:POST cancel #1")}
    failed = [o.line() for o in outcomes if not o.exactly_once]
    assert not failed, "\n".join(failed)
    assert all(o.expected == "Canceled" and o.succeeded == 1 and o.jobs == 1 for o in fired)
