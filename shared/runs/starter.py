"""Start a Durable instance exactly once per key: claim it, check it does not exist, start it, record it.

Durable's own start is not atomic across callers (check-then-start races; starting over a running instance
raises; starting over a *finished* one starts it again), so a claim record (``claims.py``) decides who starts.
Any single step may fail, or succeed with its answer lost; each case ends in exactly one start:

* the claim's create: its answer lost → we read the record and find our own token;
* we die after the claim → the claim is an orphan: the next caller takes it over once the lease expired
  and ``get_status`` says the instance does not exist;
* ``start_new``: its answer lost → ``get_status`` tells whether it went through; only when it says no is
  the claim released (and even then a later caller checks ``get_status`` again before starting);
* we die after ``start_new`` → the record says ``claimed`` but the instance exists: the next caller records
  ``started`` and starts nothing.

An instance that exists, in any state, is never started again from here. A ``start_new`` that stalls past
the lease and lands after a taker-over's instance finished is the one case no check here can see: the
claim's ``epoch`` goes into the input as a fencing token, and the orchestration checks it before its first
side effect (``fencing.py``).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Optional

from blueprints.registry import Orchestrator

from ..config.models import AppSettings, Route
from ..storage.uris import BlobLocation
from ..timefmt import try_parse_time
from . import claims
from .claims import ClaimMismatch  # noqa: F401  (re-exported: callers catch it from here)
from .fencing import RUNS_BOOK, fence_for
from .ledger import ClaimBook, RunLedger
from .models import new_run_input

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class ClaimPolicy:
    """How long a fresh claim of another caller is waited for, and the clock and sleep (injected in tests)."""

    grace_seconds: float = claims.DEFAULT_GRACE_SECONDS
    clock: Callable[[], datetime] = field(default=_utcnow)
    sleep: Callable[[float], Awaitable[Any]] = field(default=asyncio.sleep)
    first_wait_seconds: float = 0.05
    max_rounds: int = 12


DEFAULT_POLICY = ClaimPolicy()


@dataclass(frozen=True)
class StartResult:
    run_id: str
    started: bool  # False: the instance had already been started (a duplicate)
    how: str = ""  # why: "started", "started_lost_answer", "duplicate", "repaired", "taken_over"


async def instance_exists(client: Any, instance_id: str) -> bool:
    """Whether the Durable client knows the instance, in any state (raises when it cannot tell)."""
    status = await client.get_status(instance_id)
    return bool(status is not None and getattr(status, "instance_id", None)
                and getattr(status, "runtime_status", None) is not None)


def _already_exists(exc: Exception) -> bool:
    return "already exists" in str(exc)


async def start_once(client: Any, book: ClaimBook, key: str, orchestrator: str, client_input: Any,
                     record: dict, *, fingerprint: str, policy: ClaimPolicy = DEFAULT_POLICY) -> StartResult:
    """Claim ``key`` in ``book`` and start instance ``key`` of ``orchestrator`` unless it was started.

    Raises :class:`ClaimMismatch` when the key was claimed for a different request (``fingerprint``), and
    re-raises storage or Durable failures (the caller's trigger retries; the claim makes that harmless).

    ``client_input`` may be a function of the claim's epoch (``int``): the input then carries it as the
    fencing token (``fencing.py``) of the claim that is actually started.
    """
    token = uuid.uuid4().hex
    mine = claims.new_claim(record, token=token, fingerprint_=fingerprint, now=policy.clock(),
                            grace_seconds=policy.grace_seconds)
    try:
        created = await asyncio.to_thread(book.create, key, mine)
    except Exception as exc:  # the answer may be lost after the write went through: look
        log.info("claim %s: create failed (%s); reading the record", key, type(exc).__name__)
        created = False
    how = "started"
    wait = policy.first_wait_seconds
    for _ in range(policy.max_rounds):
        if created:
            break
        current = await asyncio.to_thread(book.read, key)
        if current is None:  # the create failed before writing; try again
            created = await asyncio.to_thread(book.create, key, mine)
            continue
        view = claims.decide(current, token=token, fingerprint_=fingerprint, now=policy.clock(),
                             grace_seconds=policy.grace_seconds)
        if view.action == claims.CHECK_INSTANCE:
            exists = await instance_exists(client, key)
            view = claims.decide(current, token=token, fingerprint_=fingerprint, now=policy.clock(),
                                 grace_seconds=policy.grace_seconds, instance_exists=exists)
        if view.action == claims.MISMATCH:
            raise ClaimMismatch(key)
        if view.action == claims.START:
            break
        if view.action == claims.DUPLICATE:
            return StartResult(key, False, "duplicate")
        if view.action == claims.MARK_STARTED:
            await asyncio.to_thread(book.mark_started, key)
            log.info("claim %s: its instance exists; recorded it as started", key)
            return StartResult(key, False, "repaired")
        if view.action == claims.TAKE_OVER:
            mine = claims.new_claim(current, token=token, fingerprint_=fingerprint, now=policy.clock(),
                                    grace_seconds=policy.grace_seconds)
            if await asyncio.to_thread(book.take_over, key, current, mine):
                log.warning("claim %s: took over an orphaned claim (%s, owner %s)", key, view.reason,
                            current.get("owner"))
                how = "taken_over"
                break
            continue
        # WAIT: another caller's fresh claim; give its start_new time, but look again once the lease expires
        now = policy.clock()
        until = try_parse_time(current.get("expires_at"), naive=now.tzinfo is None)
        left = (until - now).total_seconds() if until is not None else wait
        await policy.sleep(max(policy.first_wait_seconds, min(wait, left + policy.first_wait_seconds)))
        wait = min(wait * 2, max(policy.grace_seconds, policy.first_wait_seconds))
    else:
        raise TimeoutError(f"claim {key} stayed in progress under another owner; retry later")
    if callable(client_input):
        client_input = client_input(claims.epoch_of(mine))
    return await _start_claimed(client, book, key, orchestrator, client_input, token, how)


async def _start_claimed(client: Any, book: ClaimBook, key: str, orchestrator: str, client_input: Any,
                         token: str, how: str) -> StartResult:
    if await instance_exists(client, key):  # a finished instance is never started again
        await asyncio.to_thread(book.mark_started, key)
        return StartResult(key, False, "repaired")
    try:
        await client.start_new(orchestrator, instance_id=key, client_input=client_input)
    except Exception as exc:
        if await instance_exists(client, key):  # it went through (lost answer), or someone else's did
            await asyncio.to_thread(book.mark_started, key)
            if _already_exists(exc):
                return StartResult(key, False, "duplicate")
            return StartResult(key, True, "started_lost_answer")
        await asyncio.to_thread(book.release, key, token)
        raise
    await asyncio.to_thread(book.mark_started, key)
    return StartResult(key, True, how)


def run_fingerprint(route: Route, location: BlobLocation) -> str:
    """What a run asks for: the route and the input it scores."""
    return claims.fingerprint("run", route.name, location.url)


async def start_run(client: Any, ledger: RunLedger, settings: AppSettings, route: Route,
                    location: BlobLocation, *, run_id: str, source: str,
                    details: Optional[dict] = None, now: Optional[datetime] = None,
                    policy: ClaimPolicy = DEFAULT_POLICY) -> StartResult:
    now = now or datetime.now(timezone.utc)
    run_input = new_run_input(settings, route, run_id, location, source=source, now=now, details=details)
    record = {"run_id": run_id, "route": route.name, "source": source, "input_url": run_input["input"]["url"],
              "input_uri": run_input["input"]["uri"], "output_uri": run_input["output_uri"],
              **({"details": details} if details else {})}
    def fenced(epoch: int) -> dict:
        fence = fence_for(RUNS_BOOK, run_id, epoch)
        return {"run": {**run_input, "fence": fence} if fence else run_input}

    result = await start_once(client, ledger.claims, run_id, Orchestrator.RUN, fenced, record,
                              fingerprint=run_fingerprint(route, location), policy=policy)
    if result.started:
        log.info("started run %s for route %s on %s", run_id, route.name, location.url)
    else:
        log.info("run %s already started; not starting it again (%s)", run_id, result.how)
    return result
