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
from ..runs.claims import claim_etag
from . import rules
from ..redact import shown
from .events import BlobCreated, Renamed, SkipEvent, parse_blob_created, parse_renamed, renamed_type

log = logging.getLogger(__name__)

# Why events were ignored, per process; logged with every skip so operators can see the mix.
SKIPPED: Counter[str] = Counter()
# Every outcome by reason (including the in-memory "awaiting_marker" decisions, which are not logged).
OUTCOMES: Counter[str] = Counter()

QUIET_SIGNAL_ATTEMPTS = 8
QUIET_SIGNAL_BACKOFF_SECONDS = 0.05
# A renamed folder is listed to find what landed in it; past this many blobs the rest is left to the sweep.
RENAMED_FOLDER_MAX_BLOBS = 10_000
RENAMED_FOLDER_PAGE = 1000
# Which outcome of a renamed folder's blobs the event answers with (the most telling one).
_OUTCOME_RANK = ("started", "waiter_started", "duplicate", "signalled", "late_file", "rejected", "skipped", "waiting")


@dataclass(frozen=True)
class LandingOutcome:
    # "started", "duplicate", "waiting" (in memory: the folder is not complete), "waiter_started",
    # "signalled", "late_file", "rejected" (folder inspection failed) or "skipped" (not our event)
    action: str
    reason: str = ""
    run_id: Optional[str] = None
    detail: str = ""


def skip_event(reason: str, detail: str, event_id: Any, level: int = logging.INFO) -> LandingOutcome:
    """Count and log a skipped event; ``level`` is WARNING when it was a route's own marker (rules.skip_level)."""
    SKIPPED[reason] += 1
    OUTCOMES[reason] += 1
    telemetry.count_landing("skipped", reason)
    log.log(level, "landing: skipped event %s (%s: %s)%s; skipped so far: %s", event_id, reason, detail,
            " - this was a route's marker or manifest: nothing starts" if level >= logging.WARNING else "",
            dict(SKIPPED))
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
        self.account_urls = urls  # connection name → blob account URL (the sweep lists with these)
        self.index = rules.build_route_index(settings, urls, urls.get(settings.state_connection))
        from ..output_events.rules import build_watches

        self.output_watches = build_watches(settings)  # outputs whose BlobCreated hints their job's end
        self._store = store
        self.marker_names = frozenset(route.landing.marker_name for route in settings.routes
                                      if route.landing.mode == "marker")
        from ..runs.starter import DEFAULT_POLICY

        self.claim_policy = DEFAULT_POLICY
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
                              context: Optional[LandingContext] = None, subject: Optional[str] = None,
                              event_time: Optional[str] = None) -> LandingOutcome:
    """Handle one event. Bad or foreign events return a "skipped" outcome; storage or Durable failures raise
    (so the event is redelivered; the ledger claims make the redelivery harmless). ``ledger`` is accepted
    for compatibility and ignored: the context's store owns the ledger."""
    ctx = context or landing_context(settings)
    if renamed_type(event_type, data) is not None:
        try:
            renamed = parse_renamed(event_id, event_type, data, subject=subject, event_time=event_time)
        except SkipEvent as exc:
            return skip_event(exc.reason, exc.detail, shown(event_id, 120), ctx.index.skip_level(exc.reason, exc.where))
        if renamed.directory:
            return await _land_renamed_folder(ctx, client, renamed)
        return await _land_renamed_file(ctx, client, renamed)
    try:
        created = parse_blob_created(event_id, event_type, data, subject=subject, event_time=event_time)
    except SkipEvent as exc:
        return skip_event(exc.reason, exc.detail, shown(event_id, 120), ctx.index.skip_level(exc.reason, exc.where))
    return await _land(ctx, client, created)


async def _land(ctx: LandingContext, client: Any, created: BlobCreated,
                route: Optional[Route] = None) -> LandingOutcome:
    """One committed blob through the route's completion rule (an upload, or a blob a rename put in place)."""
    if route is None:
        excluded = ctx.index.excluded_because(created.location)
        if excluded is not None:
            if ctx.output_watches:  # a route's job wrote its output: the run's end hint (shared/output_events)
                from ..output_events.handler import handle_output_blob

                reason = await handle_output_blob(ctx.output_watches, created.location, created.event_id,
                                                  created.event_time, client, ctx.store.ledger)
                if reason == "hinted":
                    return skip_event("output_hint", f"{created.location.url}: the run was told", created.event_id)
            return skip_event("output_location", f"{created.location.url} is in {excluded}", created.event_id)
        route = ctx.index.match(created.location)
        if route is None:
            return skip_event("no_route", created.location.url, created.event_id)
    return await _decide_and_act(ctx, client, route, created)


async def _land_renamed_file(ctx: LandingContext, client: Any, renamed: Renamed) -> LandingOutcome:
    """A file renamed into place lands like an upload of it: the rename event carries no ETag or size, so the
    blob's own are read (one HEAD, only for a blob some route takes)."""
    excluded = ctx.index.excluded_because(renamed.location)
    if excluded is not None:
        return skip_event("output_location", f"{renamed.location.url} is in {excluded}", renamed.event_id)
    route = ctx.index.match(renamed.location)
    if route is None:
        return skip_event("no_route", renamed.location.url, renamed.event_id)
    provisional = BlobCreated(renamed.event_id, renamed.location, "", renamed.api, None, renamed.event_time)
    if rules.decide(route, provisional).action == rules.IGNORE:  # a part file in a marker folder: no HEAD
        return await _decide_and_act(ctx, client, route, provisional)
    found = await asyncio.to_thread(ctx.store.blob_etag, route, renamed.location)
    if found is None:  # renamed away again (or deleted) before this event arrived: nothing landed here
        return skip_event("blob_missing", f"{renamed.location.url} (renamed from {renamed.source}) does not exist",
                          renamed.event_id, ctx.index.skip_level("blob_missing", _where(renamed.location)))
    etag, size = found
    created = BlobCreated(renamed.event_id, renamed.location, etag, renamed.api, size, renamed.event_time)
    return await _land(ctx, client, created, route)


def _where(location: Any) -> tuple[str, str, str]:
    return location.account_url, location.container, location.path


def _routes_under(ctx: LandingContext, location: Any) -> list[Route]:
    """Routes that may take a blob somewhere under the folder ``location`` (its prefix and the folder overlap)."""
    from ..blob_urls import canonical_account_url

    folder = location.path + "/"
    key = (canonical_account_url(location.account_url), location.container)
    return [route for route in ctx.index.routes.get(key, ())
            if folder.startswith(route.match.prefix) or route.match.prefix.startswith(folder)]


async def _land_renamed_folder(ctx: LandingContext, client: Any, renamed: Renamed) -> LandingOutcome:
    """A folder renamed into place (Spark's, ADF's and azcopy's commit): list it, and land every blob in it
    as if each had been uploaded there. Same rules, same run ids, same claims as uploads, so a marker that an
    upload event, a rename event and the sweep all report still starts one run."""
    from ..storage.uris import BlobLocation

    routes = _routes_under(ctx, renamed.location)
    if not routes:
        if ctx.index.excluded_because(renamed.location) is not None:
            return skip_event("output_location", renamed.location.url, renamed.event_id)
        return skip_event("no_route", renamed.location.url, renamed.event_id)
    outcomes: list[LandingOutcome] = []
    seen = 0
    continuation: Optional[str] = None
    prefix = renamed.location.path + "/"
    while True:
        items, continuation = await asyncio.to_thread(ctx.store.list_page, routes[0], renamed.location.container,
                                                      prefix, continuation, RENAMED_FOLDER_PAGE,
                                                      include_metadata=True)
        for item in items:
            seen += 1
            if (getattr(item, "metadata", None) or {}).get("hdi_isfolder") == "true":
                continue  # an ADLS Gen2 directory entry, not a file
            try:
                location = BlobLocation(renamed.location.account_url, renamed.location.container, item.name)
            except Exception as exc:  # InvalidName: a name no route may take
                outcomes.append(skip_event("unsafe_name", shown(str(exc), 200), renamed.event_id))
                continue
            created = BlobCreated(renamed.event_id, location, str(item.etag or ""), renamed.api,
                                  int(item.size or 0), renamed.event_time)
            outcomes.append(await _land(ctx, client, created))
        if not continuation:
            break
        if seen >= RENAMED_FOLDER_MAX_BLOBS:
            log.warning("landing: renamed folder %s holds more than %d blobs; the rest is left to the sweep",
                        renamed.location.url, RENAMED_FOLDER_MAX_BLOBS)
            break
    if not outcomes:
        return skip_event("empty_folder", f"{renamed.location.url} (renamed from {renamed.source}) is empty",
                          renamed.event_id)
    return min(outcomes, key=lambda o: _OUTCOME_RANK.index(o.action) if o.action in _OUTCOME_RANK
               else len(_OUTCOME_RANK))


async def _decide_and_act(ctx: LandingContext, client: Any, route: Route, created: BlobCreated) -> LandingOutcome:
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
        return await signal_quiet_folder(ctx, client, route, decision, created)
    raise AssertionError(f"unknown decision {decision.action}")


def _count(outcome: LandingOutcome) -> LandingOutcome:
    OUTCOMES[outcome.reason or outcome.action] += 1
    telemetry.count_landing(outcome.action, outcome.reason)
    return outcome


async def inspect_and_start(ctx: LandingContext, client: Any, route: Route, folder: Any, run_id: str,
                            details: dict, *, marker: Optional[tuple[str, Any]] = None,
                            source: str = "event") -> LandingOutcome:
    """List the folder once, refuse sub-folders / empty folders with a reason, else claim and start the run.
    Shared by the marker rule (from the event), the waiters' ``landing_start_run`` activity, the sweep and
    backfill.

    ``marker``: ``(name, ETag the event claimed)``. The listing must hold that marker, and the run is keyed
    on the marker's real ETag: a forged or stale event starts nothing new (issue 10)."""
    from ..runs.ids import landing_run_id

    listing, etags = await asyncio.to_thread(ctx.store.scan_folder, route, folder)
    if marker is not None:
        name, claimed = marker
        real = etags.get(name)
        if real is None:
            return skip_event("marker_missing", f"{folder.url}{name} does not exist", details.get("event_id"),
                              level=logging.WARNING)
        if claim_etag(claimed) != claim_etag(real):
            log.warning("landing: route %s: event for %s%s carries ETag %s, the blob's is %s: keyed on the"
                        " blob's", route.name, folder.url, name, claim_etag(claimed), claim_etag(real))
        run_id = landing_run_id(route.name, folder.url, claim_etag(real))
        details = {**details, "marker_etag": claim_etag(real)}
    verdict = rules.assess_folder(listing, route, folder.path)
    if not verdict.ok:
        log.error("landing: route %s: not starting a run for %s: %s", route.name, folder.url, verdict.detail)
        return _count(LandingOutcome("rejected", verdict.reason, run_id, verdict.detail))
    return await _start_run(ctx, client, route, folder, run_id, source, {**details, **verdict.details()})


async def _start_run(ctx: LandingContext, client: Any, route: Route, location: Any, run_id: str, source: str,
                     details: dict) -> LandingOutcome:
    from ..runs.starter import ClaimMismatch, start_run

    try:
        result = await start_run(client, ctx.store.ledger, ctx.settings, route, location, run_id=run_id,
                                 source=source, details=details, policy=ctx.claim_policy)
    except ClaimMismatch:  # the run id names another input: never start it, never retry the event
        return skip_event("claim_mismatch", f"run {run_id} was claimed for another input than {location.url}",
                          details.get("event_id"), level=logging.WARNING)
    return _count(LandingOutcome("started" if result.started else "duplicate", "", run_id, result.how))


async def _started_already(book: Any, key: str) -> bool:
    """One read: a duplicate event of a landing that has started costs no listing, HEAD or create."""
    from ..runs import claims

    record = await asyncio.to_thread(book.read, key)
    return isinstance(record, dict) and claims.state_of(record) == claims.STARTED


async def _start_folder(ctx: LandingContext, client: Any, route: Route, decision: rules.Decision,
                        created: Any) -> LandingOutcome:
    from ..runs.ids import landing_run_id

    run_id = landing_run_id(route.name, decision.folder.url, claim_etag(created.etag))
    if await _started_already(ctx.store.ledger.claims, run_id):
        return _count(LandingOutcome("duplicate", "", run_id, "duplicate"))
    return await inspect_and_start(ctx, client, route, decision.folder, decision.run_id,
                                   {"event_id": created.event_id},
                                   marker=(route.landing.marker_name, created.etag))


async def real_etag(ctx: LandingContext, route: Route, created: Any) -> Optional[tuple[str, int]]:
    """The blob's own (claim-form ETag, size), or ``None`` when the blob the event names does not exist."""
    found = await asyncio.to_thread(ctx.store.blob_etag, route, created.location)
    if found is None:
        return None
    etag, size = found
    if claim_etag(created.etag) != claim_etag(etag):
        log.warning("landing: route %s: event for %s carries ETag %s, the blob's is %s: keyed on the blob's",
                    route.name, created.location.url, claim_etag(created.etag), claim_etag(etag))
    return claim_etag(etag), size


async def start_file(ctx: LandingContext, client: Any, route: Route, created: Any,
                     source: str = "event") -> LandingOutcome:
    """A per-file route's blob: keyed on its real ETag (it must exist), then claimed and started."""
    from ..runs.ids import landing_run_id

    guess = landing_run_id(route.name, created.location.url, claim_etag(created.etag))
    if await _started_already(ctx.store.ledger.claims, guess):
        return _count(LandingOutcome("duplicate", "", guess, "duplicate"))
    found = await real_etag(ctx, route, created)
    if found is None:
        return skip_event("blob_missing", f"{created.location.url} does not exist", created.event_id,
                          level=logging.WARNING)
    etag, size = found
    run_id = landing_run_id(route.name, created.location.url, etag)
    return await _start_run(ctx, client, route, created.location, run_id, source,
                            {"event_id": created.event_id, "etag": etag, "file_count": 1, "total_bytes": size})


async def _start_file(ctx: LandingContext, client: Any, route: Route, decision: rules.Decision,
                      created: Any) -> LandingOutcome:
    return await start_file(ctx, client, route, created)


async def _start_waiter(ctx: LandingContext, client: Any, orchestrator: str, waiter_id: str,
                        job: dict) -> Any:
    """Claim the waiter, then start it, through the same claims as runs (``shared/runs/starter.py``); the
    ``StartResult`` says whether it had already been started."""
    from ..runs import claims
    from ..runs.starter import start_once

    from ..runs.fencing import WAITERS_BOOK, fence_for

    def fenced(epoch: int) -> dict:
        fence = fence_for(WAITERS_BOOK, waiter_id, epoch)
        return {**job, "fence": fence} if fence else job

    result = await start_once(client, ctx.store.waiter_claims, waiter_id, orchestrator, fenced,
                              {**job, "waiter_id": waiter_id}, fingerprint=claims.fingerprint("waiter", waiter_id),
                              policy=ctx.claim_policy)
    return result


async def start_manifest_waiter(ctx: LandingContext, client: Any, route: Route, created: Any) -> LandingOutcome:
    """A manifest landed: key its waiter and run on the manifest's real ETag (it must exist), start the
    waiter once."""
    from ..runs.ids import landing_run_id
    from blueprints.registry import Orchestrator

    folder = rules.folder_of(created)
    guess = rules.manifest_waiter_id(route.name, folder.url, claim_etag(created.etag))
    if await _started_already(ctx.store.waiter_claims, guess):
        return _count(LandingOutcome("duplicate", "manifest_waiter_exists",
                                     landing_run_id(route.name, folder.url, claim_etag(created.etag)), "duplicate"))
    found = await real_etag(ctx, route, created)
    if found is None:
        return skip_event("manifest_missing", f"{created.location.url} does not exist", created.event_id,
                          level=logging.WARNING)
    etag = found[0]
    run_id = landing_run_id(route.name, folder.url, etag)
    waiter_id = rules.manifest_waiter_id(route.name, folder.url, etag)
    job = {"mode": "manifest", "route": route.name, "folder_url": folder.url,
           "run_id": run_id, "manifest_name": route.landing.manifest_name,
           "manifest_etag": etag, "wait_minutes": route.landing.manifest_wait_minutes,
           "event_id": created.event_id}
    result = await _start_waiter(ctx, client, Orchestrator.LANDING_MANIFEST, waiter_id, job)
    if result.started:
        log.info("landing: route %s: manifest %s landed; waiting for its files (%s)", route.name,
                 created.location.url, waiter_id)
        return _count(LandingOutcome("waiter_started", "manifest_waiter_started", run_id, result.how))
    return _count(LandingOutcome("duplicate", "manifest_waiter_exists", run_id, result.how))


async def _start_manifest_waiter(ctx: LandingContext, client: Any, route: Route, decision: rules.Decision,
                                 created: Any) -> LandingOutcome:
    return await start_manifest_waiter(ctx, client, route, created)


def _status_code(exc: Exception) -> Optional[int]:
    """The Durable client raises a bare ``Exception`` whose text is the only clue (410 gone, 404 unknown)."""
    text = str(exc)
    if "is gone" in text:
        return 410
    if text.startswith("No instance with ID"):
        return 404
    return None


async def signal_quiet_folder(ctx: LandingContext, client: Any, route: Route, decision: rules.Decision,
                               created: Any) -> LandingOutcome:
    from blueprints.registry import Orchestrator

    from .orchestrations import FILE_EVENT

    file = {"name": created.name, "etag": created.etag, "size": created.content_length,
            "event_id": created.event_id}
    waiter_id = decision.waiter_id
    if waiter_id not in ctx.known_waiters:
        job = {"mode": "quiet_period", "route": route.name, "folder_url": decision.folder.url,
               "run_id": decision.run_id, "quiet_seconds": route.landing.quiet_seconds, "first_file": file}
        result = await _start_waiter(ctx, client, Orchestrator.LANDING_QUIET, waiter_id, job)
        ctx.remember_waiter(waiter_id)
        if result.started:
            return _count(LandingOutcome("waiter_started", "quiet_waiter_started", decision.run_id, result.how))
    attempt, healed = 0, False
    while True:
        try:
            await client.raise_event(waiter_id, FILE_EVENT, file)
            return _count(LandingOutcome("signalled", "quiet_signalled", decision.run_id))
        except Exception as exc:
            code = _status_code(exc)
            attempt += 1
            if code in (404, 410) and not healed and (code == 410 or attempt >= QUIET_SIGNAL_ATTEMPTS):
                # The waiter ended (410) or is gone (404): if it died before its run started, it is
                # restarted (once, shared/landing/healing.py) and takes this file; else the file is late.
                healed = True
                if await _heal(ctx, client, waiter_id):
                    attempt = 0
                    continue
            if code == 410:
                return await _report_late(ctx, route, decision, file)
            if code == 404 and attempt < QUIET_SIGNAL_ATTEMPTS:
                # The claim's winner has not started the waiter yet (it is between claim and start_new).
                await asyncio.sleep(QUIET_SIGNAL_BACKOFF_SECONDS * (2 ** (attempt - 1)))
                continue
            raise


async def _heal(ctx: LandingContext, client: Any, waiter_id: str) -> bool:
    from .healing import RESTARTED, TAKEN, heal_waiter

    return await heal_waiter(ctx, client, waiter_id) in (RESTARTED, TAKEN)


async def _report_late(ctx: LandingContext, route: Route, decision: rules.Decision, file: dict) -> LandingOutcome:
    recorded = await asyncio.to_thread(ctx.store.report_late_file, decision.run_id, file)
    log.warning("landing: route %s: %s landed in %s after its run %s was started; reported%s, not re-run",
                route.name, file["name"], decision.folder.url, decision.run_id,
                " on the run's ledger record" if recorded else " (the folder has no run: it was rejected)")
    return _count(LandingOutcome("late_file", "late_file", decision.run_id,
                                 f"{file['name']} landed after the folder's run was started"))
