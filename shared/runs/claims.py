"""Claim records with explicit states, and what a caller does when it meets one (pure: no I/O, no SDK).

Every Durable instance this app starts because of something outside (a landed folder, an HTTP start, a
landing waiter) is claimed first with a conditional create of one JSON record. Like an AWS Powertools
idempotency record, the record has a state and an in-progress lease:

``claimed``
    An owner (a random token, new per start attempt) is about to start the instance. The claim is a lease:
    it ``expires_at`` ``claimed_at`` + the grace. While it is fresh, others wait for it; once it has
    expired *and* the Durable client says the instance does not exist, another caller takes it over.
``started``
    The instance was started (or was found to exist). Final: a later event or retry is a duplicate, and a
    finished instance is never started again because of one.
``released``
    The owner's ``start_new`` failed and ``get_status`` then said the instance does not exist: anyone may
    take the claim over at once (the record is kept, not deleted, so nothing can race a re-create).

A record also keeps a ``fingerprint`` of the request that made it: the same key with a different request
(an HTTP ``Idempotency-Key`` reused with another body) is a :class:`ClaimMismatch`, never a duplicate.

**Fencing.** A lease alone cannot make a start safe: an owner whose ``start_new`` stalls past the lease may
land after a taker-over's instance has finished, and Durable then starts the finished instance again. So
every claim carries an ``epoch`` (1 on create, +1 on every take-over, written with the ETag it was read
with), the epoch travels in the orchestration's input, and the orchestration asks the record before its first
side effect (:func:`fence_verdict`, ``shared/runs/fencing.py``): the record notes which epoch *began* the
instance and when it *ended*, and an execution that finds the run ended, or begun under a newer epoch,
ends at once without a side effect.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping, Optional

from ..timefmt import format_time, try_parse_time

CLAIMED = "claimed"
STARTED = "started"
RELEASED = "released"

# What the caller does next (see ``decide``)
START = "start"          # the claim is ours: check the instance does not exist, then start it
DUPLICATE = "duplicate"  # the instance was started: nothing to do
MARK_STARTED = "mark_started"  # claimed by someone else, yet the instance exists: record that, duplicate
TAKE_OVER = "take_over"  # an orphan (expired or released, no instance): make it ours, then START
WAIT = "wait"            # someone else's fresh claim: wait for their start, look again
CHECK_INSTANCE = "check_instance"  # someone else's claim: ask the Durable client first
MISMATCH = "mismatch"    # the key is taken by a different request

# What an execution does when it checks its fencing token (see ``fence_verdict``)
PROCEED = "proceed"        # the run is ours to execute (recorded as begun)
ENDED = "ended"            # the run already ended: never execute it again
SUPERSEDED = "superseded"  # a newer claim's execution began it: this start is stale

DEFAULT_GRACE_SECONDS = 10.0


class ClaimMismatch(Exception):
    """The claim key is already used by a different request (its fingerprint differs)."""

    def __init__(self, key: str):
        super().__init__(f"{key} is already claimed by a different request")
        self.key = key


def fingerprint(*parts: Any) -> str:
    """A stable digest of what a request asks for (canonical JSON, SHA-256)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def claim_etag(etag: Any) -> str:
    """An ETag as claims are keyed on it: a listing's ``"0x8D..."`` and an event's ``0x8D...`` are one."""
    text = str(etag or "").strip()
    if text.startswith("W/"):
        text = text[2:]
    return text.strip('"')


def iso(moment: datetime) -> str:
    """A claim record's time: :func:`shared.timefmt.format_time` to the millisecond."""
    return format_time(moment, "milliseconds")


def new_claim(record: Mapping[str, Any], *, token: str, fingerprint_: str, now: datetime,
              grace_seconds: float) -> dict:
    """The record a caller creates (or writes over an orphan) to claim a key."""
    return {**record, "state": CLAIMED, "owner": token, "fingerprint": fingerprint_,
            "claimed_at": iso(now), "expires_at": iso(now + timedelta(seconds=grace_seconds)),
            "attempts": int(record.get("attempts") or 0) + 1, "epoch": epoch_of(record) + 1}


def epoch_of(record: Optional[Mapping[str, Any]]) -> int:
    """The claim's fencing epoch (0 for no record, or one written before epochs existed)."""
    value = (record or {}).get("epoch")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def state_of(record: Mapping[str, Any]) -> str:
    state = record.get("state")
    return state if state in (CLAIMED, STARTED, RELEASED) else CLAIMED


def expired(record: Mapping[str, Any], now: datetime, grace_seconds: float) -> bool:
    """A claim with no (readable) lease counts from ``claimed_at``; with neither it is expired."""
    naive = now.tzinfo is None
    until = try_parse_time(record.get("expires_at"), naive=naive)
    if until is None:
        claimed = try_parse_time(record.get("claimed_at"), naive=naive)
        until = claimed + timedelta(seconds=grace_seconds) if claimed else None
    return until is None or now >= until


@dataclass(frozen=True)
class ClaimView:
    """What one look at a claim record says, before and after asking the Durable client."""

    action: str
    reason: str = ""


def decide(record: Optional[Mapping[str, Any]], *, token: str, fingerprint_: Optional[str], now: datetime,
           grace_seconds: float, instance_exists: Optional[bool] = None) -> ClaimView:
    """The next step for a caller holding ``token`` that finds ``record`` under its key.

    ``instance_exists`` is ``None`` until the caller has asked the Durable client (``CHECK_INSTANCE``
    asks for that); the decision never takes over a claim without that answer.
    """
    if record is None:
        return ClaimView(START, "no record")  # the create must be retried by the caller
    stored = record.get("fingerprint")
    if fingerprint_ is not None and stored is not None and stored != fingerprint_:
        return ClaimView(MISMATCH, "the key was claimed by a different request")
    state = state_of(record)
    if state == STARTED:
        return ClaimView(DUPLICATE, "already started")
    if state == CLAIMED and record.get("owner") == token:
        return ClaimView(START, "our own claim (a lost create response, or our retry)")
    if instance_exists is None:
        return ClaimView(CHECK_INSTANCE, f"{state} by another caller")
    if instance_exists:
        return ClaimView(MARK_STARTED, "the instance exists; its starter did not record it")
    if state == RELEASED or expired(record, now, grace_seconds):
        return ClaimView(TAKE_OVER, f"{state} claim without an instance")
    return ClaimView(WAIT, "another caller's fresh claim; its instance does not exist yet")


@dataclass(frozen=True)
class FenceVerdict:
    """What an execution holding ``epoch`` may do, and the record to write (``None``: write nothing)."""

    action: str
    reason: str
    record: Optional[dict] = None


def fence_verdict(record: Optional[Mapping[str, Any]], *, epoch: int, execution: str, now: datetime,
                  rerun_unended: bool = False) -> FenceVerdict:
    """Whether the execution ``execution`` of a start made under claim ``epoch`` may run (pure).

    * the run **ended** → ``ENDED``: a finished run is never executed again, however late a start lands;
    * another execution of the same or a newer epoch began it → ``SUPERSEDED`` (with ``rerun_unended``, only
      a newer epoch: a landing waiter whose execution failed may be started again, since the run it starts
      is claimed on its own);
    * otherwise → ``PROCEED``, recording ``began_epoch`` / ``began_by`` / ``began_at``. This includes a stale
      epoch when the current owner's execution has not begun: Durable runs one execution of an instance at a
      time, so the owner's own ``start_new`` is then refused ("already exists") and recorded as a duplicate;
      ending here would lose the run. It then begins *as* the current epoch, so the owner's start, landing
      later, is fenced. The same execution asking again (an activity retry) proceeds.

    No record (deleted by an operator, or never written) is ``SUPERSEDED``: nobody holds the run.
    """
    if record is None:
        return FenceVerdict(SUPERSEDED, "the run has no claim record")
    if record.get("ended_at"):
        return FenceVerdict(ENDED, f"the run already ended ({record.get('outcome') or 'outcome not recorded'})"
                                   f" at {record['ended_at']}")
    if record.get("began_by") == execution:
        return FenceVerdict(PROCEED, "this execution began the run")
    began = record.get("began_epoch")
    if isinstance(began, int) and (began > epoch or (began == epoch and not rerun_unended)):
        return FenceVerdict(SUPERSEDED, f"another start (claim epoch {began}) already began the run; this start"
                                        f" holds epoch {epoch}")
    current = epoch_of(record)
    reason = "the claim's own start" if epoch >= current else \
        f"a late start of epoch {epoch}; epoch {current}'s start has not begun, so this one runs in its place"
    return FenceVerdict(PROCEED, reason, {**record, "began_epoch": max(epoch, current), "began_by": execution,
                                          "began_at": iso(now), "starts_begun": int(record.get("starts_begun") or 0) + 1})


def ended_record(record: Mapping[str, Any], *, epoch: int, now: datetime, outcome: Optional[str],
                 summary: Optional[Mapping[str, Any]]) -> dict:
    """The record once the run's execution ended (a redelivery that ends again writes its newer outcome)."""
    return {**record, "ended_at": iso(now), "ended_epoch": epoch, "outcome": outcome,
            **({"summary": dict(summary)} if summary is not None else {})}
