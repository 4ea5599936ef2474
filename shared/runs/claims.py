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
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping, Optional

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
    return moment.isoformat(timespec="milliseconds")


def parse_time(text: Any) -> Optional[datetime]:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def new_claim(record: Mapping[str, Any], *, token: str, fingerprint_: str, now: datetime,
              grace_seconds: float) -> dict:
    """The record a caller creates (or writes over an orphan) to claim a key."""
    return {**record, "state": CLAIMED, "owner": token, "fingerprint": fingerprint_,
            "claimed_at": iso(now), "expires_at": iso(now + timedelta(seconds=grace_seconds)),
            "attempts": int(record.get("attempts") or 0) + 1}


def state_of(record: Mapping[str, Any]) -> str:
    state = record.get("state")
    return state if state in (CLAIMED, STARTED, RELEASED) else CLAIMED


def expired(record: Mapping[str, Any], now: datetime, grace_seconds: float) -> bool:
    """A claim with no (readable) lease counts from ``claimed_at``; with neither it is expired."""
    until = parse_time(record.get("expires_at"))
    if until is None:
        claimed = parse_time(record.get("claimed_at"))
        until = claimed + timedelta(seconds=grace_seconds) if claimed else None
    if until is not None and until.tzinfo is None and now.tzinfo is not None:
        until = until.replace(tzinfo=now.tzinfo)
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
