"""When to look at a job next (pure: no I/O, no clock, no Azure SDK).

Three policies, picked from what the run knows (see :func:`plan_next_poll`):

* **adaptive** (no history): short first intervals growing geometrically to ``max_seconds``.
* **duration-aware** (the route's history gave an expected end window ``[low, high]``, in seconds since
  submit): sparse polls until the window, dense polls inside it (the window split in at least two, each
  step between ``near_seconds`` and ``dense_seconds``), then a gently widening overrun back-off. Without
  history of its own, the deployment's other routes give a wider window (``shared/runs/durations.py``
  ``deployment_prior``), polled at 3/4 ``max_seconds`` (:func:`prior_step`).
* **signals** (``poll.events``: Azure ML job events; ``poll.output_events``: BlobCreated on the job's output
  location, :mod:`shared.output_events`): polling is only a safety net for lost signals. Its polls grow with
  the job's age (:func:`safety_delay`): a lost signal costs at most a fixed fraction of the job's own length,
  and the more independent channels, the rarer the safety polls (with two channels a completion goes unseen
  only when both lose it). With an expected end from history (or the deployment's prior), the first safety
  poll waits for the end of that window instead.
* **close watch** after an output hint (the job wrote its output: it is about to end): the hint is confirmed
  by one status call a few seconds later; a job still finalizing is watched at intervals that double from
  ``near_seconds / 2`` for ``CLOSE_WATCH_SECONDS``.

In every mode ``Finalizing`` (seen by a poll or announced by an event) means the end is near, and an
event claiming a terminal state that the status call did not confirm brings one quick re-check.

**Outage** (the last status calls failed: a management API outage, a workspace renamed mid-run): the run
never gives up on its job. It keeps polling with a capped exponential back-off (``initial_seconds`` doubling
up to :func:`outage_cap`) until the deadline, where it cancels the job first.

All arithmetic stays finite however long a run lives: exponents are clamped before they are raised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from ..config.models import PollPolicy

NEAR_STATUSES = frozenset({"Finalizing"})
OUTAGE_MAX_SECONDS = 900.0
CLOSE_WATCH_SECONDS = 600.0
#: Per number of independent signal channels: (first safety poll as a multiple of ``event_fallback_seconds``,
#: later ones as a multiple of the job's age). One channel: 2x and 4x (900 s default: polls at 30 min, 2.5 h,
#: 12.5 h); two: 4x and 4x (1 h, 5 h, 25 h). A lost completion with no other signal costs at most that
#: multiple of the job's age (a 2-min job: the first poll), or, with an expected end, about the window's half.
SAFETY_STRETCH = {1: (2.0, 4.0), 2: (4.0, 4.0)}


def capped_growth(first: float, factor: float, steps: int, cap: float) -> float:
    """``min(cap, first * factor ** steps)`` without overflow for any ``steps`` (the exponent is clamped at
    the step that reaches ``cap``; ``float ** int`` overflows past about 1.8e308)."""
    if first >= cap:
        return cap
    if factor <= 1.0 or first <= 0:
        return first
    reach = math.ceil(math.log(cap / first) / math.log(factor))
    return min(cap, first * factor ** min(max(0, steps), reach))


def outage_cap(policy: PollPolicy) -> float:
    """The longest gap between two status calls while statuses are unreadable."""
    return max(policy.max_seconds, OUTAGE_MAX_SECONDS)


def outage_delay(policy: PollPolicy, errors_in_a_row: int) -> float:
    """Back-off after ``errors_in_a_row`` unreadable statuses: ``initial_seconds`` doubling, capped."""
    return capped_growth(policy.initial_seconds, 2.0, errors_in_a_row - 1, outage_cap(policy))


def next_poll_delay(policy: PollPolicy, polls_done: int, last_status: str | None) -> float:
    """Short first intervals growing geometrically to ``max_seconds``; ``Finalizing`` means the end is near."""
    delay = capped_growth(policy.initial_seconds, policy.growth, polls_done, policy.max_seconds)
    if last_status == "Finalizing":
        delay = min(delay, policy.initial_seconds)
    return delay


@dataclass(frozen=True)
class MonitorView:
    """What the monitor knows when it picks the next poll."""

    elapsed: float                      # seconds since the job was submitted
    polls: int                          # status calls so far
    status: Optional[str]               # newest known status (a poll's, or a newer event's hint)
    estimate: Optional[dict] = None     # {"expected", "low", "high"} seconds since submit, from history
    recheck: bool = False               # an event claimed a terminal state the status call did not confirm
    status_errors: int = 0              # unreadable statuses in a row (an outage when > 0)
    since_output: Optional[float] = None  # seconds since an output event said the job is about to end


@dataclass(frozen=True)
class PollPlan:
    delay: float   # seconds from now
    mode: str      # adaptive | duration | fallback | near | close | recheck | outage


def window_step(policy: PollPolicy, low: float, high: float) -> float:
    """Spacing of the dense polls inside ``[low, high]``: at least two polls, ``near``..``dense`` apart."""
    return min(policy.dense_seconds, max(policy.near_seconds, (high - low) / 2.0))


def sparse_step(policy: PollPolicy, expected: float) -> float:
    """Spacing before the window: a fraction of the expected duration, never below two ``max_seconds``."""
    return max(2.0 * policy.max_seconds, policy.sparse_fraction * expected)


PRIOR_STEP_OF_MAX = 0.75


def prior_step(policy: PollPolicy, low: float, high: float) -> float:
    """Spacing inside a window that only the deployment's other routes gave (``basis: deployment:...``): the
    window is wide, and the job ends about halfway through it, so a step of 3/4 ``max_seconds`` spends about
    half the calls of polling every ``max_seconds`` from the start, with a shorter mean delay."""
    return min(PRIOR_STEP_OF_MAX * policy.max_seconds, max(policy.near_seconds, (high - low) / 2.0))


def _duration_delay(policy: PollPolicy, t: float, estimate: dict) -> float:
    low, high = float(estimate["low"]), float(estimate["high"])
    from_prior = str(estimate.get("basis") or "").startswith("deployment:")
    step = prior_step(policy, low, high) if from_prior else window_step(policy, low, high)
    first_dense = low + step
    if t < first_dense - 1.0:  # (within a second of it: the window's rule, never a sub-second timer)
        # Sparse, closing in on the window: at most half the way there, never below two max_seconds,
        # so a job ending a little early is not left unseen until the window opens.
        ahead = first_dense - t
        return min(sparse_step(policy, float(estimate["expected"])), ahead, max(ahead / 2.0, 2.0 * policy.max_seconds))
    if t < high:
        k = math.floor((t - low) / step + 1e-9) + 1
        return max(1.0, min(low + k * step, high) - t)
    # Overrun: the job outlives its history; back off gently from near_seconds towards max_seconds.
    return min(policy.max_seconds, max(policy.near_seconds, 0.1 * (t - high) + policy.near_seconds))


def signal_channels(policy: PollPolicy) -> int:
    """Independent channels that announce a job's end: Azure ML events, output events."""
    return int(bool(policy.events)) + int(bool(getattr(policy, "output_events", False)))


def safety_delay(policy: PollPolicy, view: MonitorView, channels: int) -> float:
    """The safety poll while signals watch the job: growing with the job's age, or at the end of the expected
    window when one is known (a lost signal then costs about the window's width)."""
    first, age_factor = SAFETY_STRETCH[min(2, max(1, channels))]
    elapsed = max(0.0, view.elapsed)
    delay = max(first * policy.event_fallback_seconds, age_factor * elapsed)
    if view.estimate:  # at the expected end, then at the window's end: a lost signal costs about half the window
        for mark in (float(view.estimate["expected"]), float(view.estimate["high"])):
            if elapsed < mark:
                delay = min(delay, mark - elapsed + policy.near_seconds)
                break
    return max(policy.near_seconds, delay)


def close_delay(policy: PollPolicy, since_output: float) -> float:
    """After an output hint: confirm ``near_seconds / 2`` after it, then intervals doubling with its age."""
    return max(policy.near_seconds / 2.0, since_output)


def plan_next_poll(policy: PollPolicy, view: MonitorView) -> PollPlan:
    """The delay until the next status call, and which rule chose it."""
    if view.status_errors > 0:
        return PollPlan(outage_delay(policy, view.status_errors), "outage")
    if view.recheck:
        return PollPlan(policy.near_seconds, "recheck")
    if view.since_output is not None and 0 <= view.since_output < CLOSE_WATCH_SECONDS:
        return PollPlan(close_delay(policy, view.since_output), "close")
    near = view.status in NEAR_STATUSES
    channels = signal_channels(policy)
    if channels:
        if near:  # the terminal signal should follow within seconds; a lost one is caught soon
            return PollPlan(min(policy.max_seconds, policy.event_fallback_seconds), "near")
        return PollPlan(safety_delay(policy, view, channels), "fallback")
    if policy.duration_aware and view.estimate:
        if near:
            return PollPlan(policy.near_seconds, "near")
        return PollPlan(_duration_delay(policy, max(0.0, view.elapsed), view.estimate), "duration")
    return PollPlan(next_poll_delay(policy, view.polls, view.status), "adaptive")
