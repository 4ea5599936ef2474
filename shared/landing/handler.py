"""The landing handler: decide what a BlobCreated event means, and start each run once.

Hot path: parsing, route matching and the completion rule are pure and in memory (``rules.py``); only an
event that completes something (a marker, a manifest, a per-file blob, a quiet-period signal) touches
storage or the Durable client. Exactly once: every run is claimed in the run ledger with a conditional
create before it is started (``shared/runs/starter.py``); folder waiters are claimed the same way.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .. import telemetry
from ..config.models import AppSettings, Route
from . import rules
from .events import SkipEvent, parse_blob_created

log = logging.getLogger(__name__)

# Why events were ignored, per process; logged with every skip so operators can see the mix.
SKIPPED: Counter[str] = Counter()
# Every outcome by reason (including the in-memory "awaiting_marker" decisions, which are not logged).
OUTCOMES: Counter[str] = Counter()

QUIET_SIGNAL_ATTEMPTS = 8
QUIET_SIGNAL_BACKOFF_SECONDS = 0.05


@dataclass(frozen=True)
class LandingOutcome:
    # "started", "duplicate", "waiting" (in memory: the folder is not complete), "waiter_started",
    # "signalled", "late_file", "rejected" (folder inspection failed) or "skipped" (not our event)
    action: str
    reason: str = ""
    run_id: Optional[str] = None
    detail: str = ""


def skip_event(reason: str, detail: str, event_id: Any) -> LandingOutcome:
    SKIPPED[reason] += 1
    OUTCOMES[reason] += 1
    telemetry.count_landing("skipped", reason)
    log.info("landing: skipped event %s (%s: %s); skipped so far: %s", event_id, reason, detail, dict(SKIPPED))
    return LandingOutcome("skipped", reason, detail=detail)


class LandingContext:
    """What the handler needs for one settings object, built once: the route index (account URLs resolved
    once, not per event), the storage adapter, and the folder waiters this process knows are running."""

    def __init__(self, settings: AppSettings, store: Any = None,
                 account_url_of: Optional[Callable[[str], str]] = None):
        from ..storage.connections import StorageConnectionError
        from ..storage.connections import account_url_of as default_account_url_of

        resolve = account_url_of or default_account_url_of
        urls = {}
        for connection in {route.match.connection for route in settings.routes} | {settings.state_connection}:
            try:
                urls[connection] = resolve(connection)
            except StorageConnectionError:
                log.warning("landing: connection %r is not configured; its routes match no events", connection)
        self.settings = settings
        self.index = rules.build_route_index(settings, urls, urls.get(settings.state_connection))
        self._store = store
        self.known_waiters: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def store(self) -> Any:
        if self._store is None:
            from .store import LandingStore

            with self._lock:
                if self._store is None:
                    self._store = LandingStore(self.settings)
        return self._store

    def remember_waiter(self, waiter_id: str) -> None:
        self.known_waiters[waiter_id] = None
        while len(self.known_waiters) > 100_000:
            self.known_waiters.popitem(last=False)


_contexts: dict[int, tuple[AppSettings, LandingContext]] = {}
_contexts_lock = threading.Lock()


def landing_context(settings: AppSettings) -> LandingContext:
    """The cached context of a settings object (``load_settings`` returns the same object while the
    configuration is unchanged, so this is a dict look-up per event)."""
    cached = _contexts.get(id(settings))
    if cached is not None and cached[0] is settings:
        return cached[1]
    with _contexts_lock:
        cached = _contexts.get(id(settings))
        if cached is None or cached[0] is not settings:
            _contexts.clear()
            cached = (settings, LandingContext(settings))
            _contexts[id(settings)] = cached
        return cached[1]


async def handle_blob_created(event_id: Any, event_type: Any, data: Any, client: Any,
                              settings: AppSettings, ledger: Any = None, *,
                              context: Optional[LandingContext] = None) -> LandingOutcome:
    """Handle one event. Bad or foreign events return a "skipped" outcome; storage or Durable failures raise
    (so the event is redelivered; the ledger claims make the redelivery harmless). ``ledger`` is accepted
    for compatibility and ignored: the context's store owns the ledger."""
    ctx = context or landing_context(settings)
    try:
        created = parse_blob_created(event_id, event_type, data)
    except SkipEvent as exc:
        return skip_event(exc.reason, exc.detail, event_id)
    excluded = ctx.index.excluded_because(created.location)
    if excluded is not None:
        return skip_event("output_location", f"{created.location.url} is in {excluded}", event_id)
    route = ctx.index.match(created.location)
    if route is None:
        return skip_event("no_route", created.location.url, event_id)
    decision = rules.decide(route, created)
    if decision.action == rules.IGNORE:
        OUTCOMES[decision.reason] += 1
        telemetry.count_landing("waiting", decision.reason, route.name)
        return LandingOutcome("waiting", decision.reason)
    if decision.action == rules.START_FOLDER:
        return await _start_folder(ctx, client, route, decision, created)
    if decision.action == rules.START_FILE:
        return await _start_file(ctx, client, route, decision, created)
    if decision.action == rules.AWAIT_MANIFEST:
        return await _start_manifest_waiter(ctx, client, route, decision, created)
    if decision.action == rules.SIGNAL_FOLDER:
        return await _signal_quiet_folder(ctx, client, route, decision, created)
    raise AssertionError(f"unknown decision {decision.action}")


def _count(outcome: LandingOutcome) -> LandingOutcome:
    OUTCOMES[outcome.reason or outcome.action] += 1
    telemetry.count_landing(outcome.action, outcome.reason)
    return outcome


async def inspect_and_start(ctx: LandingContext, client: Any, route: Route, folder: Any, run_id: str,
                            details: dict) -> LandingOutcome:
    """List the folder once, refuse sub-folders / empty folders with a reason, else claim and start the run.
    Shared by the marker rule (from the event) and the waiters' ``landing_start_run`` activity."""
    from ..runs.starter import start_run

    listing = await asyncio.to_thread(ctx.store.list_folder, route, folder)
    verdict = rules.assess_folder(listing, route, folder.path)
    if not verdict.ok:
        log.error("landing: route %s: not starting a run for %s: %s", route.name, folder.url, verdict.detail)
        return _count(LandingOutcome("rejected", verdict.reason, run_id, verdict.detail))
    result = await start_run(client, ctx.store.ledger, ctx.settings, route, folder, run_id=run_id,
                             source="event", details={**details, **verdict.details()})
    return _count(LandingOutcome("started" if result.started else "duplicate", "", run_id))


async def _start_folder(ctx: LandingContext, client: Any, route: Route, decision: rules.Decision,
                        created: Any) -> LandingOutcome:
    return await inspect_and_start(ctx, client, route, decision.folder, decision.run_id,
                                   {"event_id": created.event_id, "marker_etag": created.etag})


async def _start_file(ctx: LandingContext, client: Any, route: Route, decision: rules.Decision,
                      created: Any) -> LandingOutcome:
    from ..runs.starter import start_run

    size = created.content_length
    result = await start_run(client, ctx.store.ledger, ctx.settings, route, created.location,
                             run_id=decision.run_id, source="event",
                             details={"event_id": created.event_id, "etag": created.etag, "file_count": 1,
                                      **({"total_bytes": size} if size is not None else {})})
    return _count(LandingOutcome("started" if result.started else "duplicate", "", decision.run_id))


async def _start_waiter(ctx: LandingContext, client: Any, orchestrator: str, waiter_id: str,
                        job: dict) -> bool:
    """Claim the waiter (conditional create), then start it; False if another caller claimed it first."""
    if not await asyncio.to_thread(ctx.store.claim_waiter, waiter_id, job):
        return False
    try:
        await client.start_new(orchestrator, instance_id=waiter_id, client_input=job)
    except Exception:
        await asyncio.to_thread(ctx.store.release_waiter, waiter_id)
        raise
    return True


async def _start_manifest_waiter(ctx: LandingContext, client: Any, route: Route, decision: rules.Decision,
                                 created: Any) -> LandingOutcome:
    from .orchestrations import MANIFEST_ORCHESTRATOR

    job = {"mode": "manifest", "route": route.name, "folder_url": decision.folder.url,
           "run_id": decision.run_id, "manifest_name": route.landing.manifest_name,
           "manifest_etag": created.etag, "wait_minutes": route.landing.manifest_wait_minutes,
           "event_id": created.event_id}
    if await _start_waiter(ctx, client, MANIFEST_ORCHESTRATOR, decision.waiter_id, job):
        log.info("landing: route %s: manifest %s landed; waiting for its files (%s)", route.name,
                 created.location.url, decision.waiter_id)
        return _count(LandingOutcome("waiter_started", "manifest_waiter_started", decision.run_id))
    return _count(LandingOutcome("duplicate", "manifest_waiter_exists", decision.run_id))


def _status_code(exc: Exception) -> Optional[int]:
    """The Durable client raises a bare ``Exception`` whose text is the only clue (410 gone, 404 unknown)."""
    text = str(exc)
    if "is gone" in text:
        return 410
    if text.startswith("No instance with ID"):
        return 404
    return None


async def _signal_quiet_folder(ctx: LandingContext, client: Any, route: Route, decision: rules.Decision,
                               created: Any) -> LandingOutcome:
    from .orchestrations import FILE_EVENT, QUIET_ORCHESTRATOR

    file = {"name": created.name, "etag": created.etag, "size": created.content_length,
            "event_id": created.event_id}
    waiter_id = decision.waiter_id
    if waiter_id not in ctx.known_waiters:
        job = {"mode": "quiet_period", "route": route.name, "folder_url": decision.folder.url,
               "run_id": decision.run_id, "quiet_seconds": route.landing.quiet_seconds, "first_file": file}
        started = await _start_waiter(ctx, client, QUIET_ORCHESTRATOR, waiter_id, job)
        ctx.remember_waiter(waiter_id)
        if started:
            return _count(LandingOutcome("waiter_started", "quiet_waiter_started", decision.run_id))
    for attempt in range(QUIET_SIGNAL_ATTEMPTS):
        try:
            await client.raise_event(waiter_id, FILE_EVENT, file)
            return _count(LandingOutcome("signalled", "quiet_signalled", decision.run_id))
        except Exception as exc:
            code = _status_code(exc)
            if code == 410:
                return await _report_late(ctx, route, decision, file)
            if code == 404 and attempt + 1 < QUIET_SIGNAL_ATTEMPTS:
                # The claim's winner has not started the waiter yet (it is between claim and start_new).
                await asyncio.sleep(QUIET_SIGNAL_BACKOFF_SECONDS * (2 ** attempt))
                continue
            raise
    raise AssertionError("unreachable")


async def _report_late(ctx: LandingContext, route: Route, decision: rules.Decision, file: dict) -> LandingOutcome:
    recorded = await asyncio.to_thread(ctx.store.report_late_file, decision.run_id, file)
    log.warning("landing: route %s: %s landed in %s after its run %s was started; reported%s, not re-run",
                route.name, file["name"], decision.folder.url, decision.run_id,
                " on the run's ledger record" if recorded else " (the folder has no run: it was rejected)")
    return _count(LandingOutcome("late_file", "late_file", decision.run_id,
                                 f"{file['name']} landed after the folder's run was started"))
