"""When to look at a job next (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..config.models import PollPolicy


def next_poll_delay(policy: PollPolicy, polls_done: int, last_status: str | None) -> float:
    """Short first intervals growing geometrically to ``max_seconds``; ``Finalizing`` means the end is near."""
    delay = min(policy.max_seconds, policy.initial_seconds * (policy.growth ** max(0, polls_done)))
    if last_status == "Finalizing":
        delay = min(delay, policy.initial_seconds)
    return delay


def next_poll_at(policy: PollPolicy, polls_done: int, last_status: str | None, now: datetime,
                 deadline: datetime) -> datetime:
    """The next poll time, never past the deadline (so a deadline is noticed on time)."""
    return min(now + timedelta(seconds=next_poll_delay(policy, polls_done, last_status)), deadline)
