"""Glue between the landing functions' bindings and the handler, plus the waiters' activity bodies."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any, Optional

from ..config import ConfigError, load_settings
from ..config.models import AppSettings
from .events import SkipEvent, decode_queue_message, read_event, safe_event_id
from .handler import LandingContext, LandingOutcome, handle_blob_created, landing_context, skip_event

log = logging.getLogger(__name__)

CHECK_NAMES_KEPT = 10   # names per list in a manifest check's answer (it is stored in Durable history)


def _settings(event_id: Any) -> AppSettings:
    try:
        return load_settings()
    except ConfigError as exc:
        log.error("landing: cannot handle event %s, the configuration is invalid: %s", event_id, exc)
        raise


async def handle_event_grid(event: Any, client: Any, settings: Optional[AppSettings] = None,
                            context: Optional[LandingContext] = None) -> LandingOutcome:
    """Bad events are skipped with a counted reason and never raise; infrastructure failures do raise,
    so that Event Grid redelivers the event (the run ledger keeps that from starting a second run)."""
    try:
        envelope = read_event(event)  # a func.EventGridEvent or a func.CloudEvent (either schema)
    except SkipEvent as exc:
        return skip_event(exc.reason, exc.detail, safe_event_id(event))
    settings = settings or _settings(envelope.id)
    return await handle_blob_created(envelope.id, envelope.type, envelope.data, client, settings,
                                     context=context, subject=envelope.subject, event_time=envelope.time)


async def handle_queue_message(message: Any, client: Any, settings: Optional[AppSettings] = None,
                               context: Optional[LandingContext] = None) -> list[LandingOutcome]:
    """A Storage-queue message from an Event Grid → queue subscription: the event JSON (Event Grid or
    CloudEvents schema, possibly base64). Same rules as :func:`handle_event_grid`: a bad message is skipped
    (and so removed from the queue), an outage raises (the queue retries, then poisons the message)."""
    message_id = getattr(message, "id", None)
    try:
        body = message.get_body() if hasattr(message, "get_body") else message
        events = decode_queue_message(body)
    except SkipEvent as exc:
        return [skip_event(exc.reason, exc.detail, message_id)]
    except Exception as exc:
        return [skip_event("malformed", f"unreadable queue message: {type(exc).__name__}", message_id)]
    settings = settings or _settings(message_id)
    outcomes = []
    for event in events:
        try:
            envelope = read_event(event)
        except SkipEvent as exc:
            outcomes.append(skip_event(exc.reason, exc.detail, safe_event_id(event)))
            continue
        outcomes.append(await handle_blob_created(envelope.id if envelope.id is not None else message_id,
                                                  envelope.type, envelope.data, client, settings, context=context,
                                                  subject=envelope.subject, event_time=envelope.time))
    return outcomes


# --- activities of the waiting orchestrations ---------------------------------------------------------------

def _route_and_folder(payload: dict, settings: AppSettings) -> tuple[Any, Any]:
    from ..storage.uris import parse_blob_url

    return settings.route(payload["route"]), parse_blob_url(payload["folder_url"])


def check_manifest(payload: dict, settings: Optional[AppSettings] = None,
                   context: Optional[LandingContext] = None) -> dict:
    """Read the manifest and list the folder: ``complete``, or what is missing / mismatched; ``error`` for a
    manifest that cannot be used or a folder with sub-folders (these fail the waiter at once)."""
    from . import rules

    settings = settings or load_settings()
    ctx = context or landing_context(settings)
    route, folder = _route_and_folder(payload, settings)
    entries = read_manifest(ctx, route, folder.child(payload["manifest_name"]))
    if isinstance(entries, str):
        return {"error": entries}
    listing = ctx.store.list_folder(route, folder)
    if listing.subfolders and not route.landing.ignore_subfolders:
        return {"error": rules.assess_folder(listing, route, folder.path).detail}
    check = rules.check_manifest(entries, listing.files)
    # Stored in the waiter's history at every check: counts and the first few names, never the whole lists.
    return {"complete": check.complete, "missing": list(check.missing[:CHECK_NAMES_KEPT]),
            "missing_count": len(check.missing), "mismatched": list(check.mismatched[:CHECK_NAMES_KEPT]),
            "mismatched_count": len(check.mismatched), "listed": len(entries), "summary": check.describe()}


MAX_MANIFEST_BYTES = 1_000_000    # as plan reads at most (shared/plan.py): a manifest is a list of names
MANIFEST_CACHE_SIZE = 32          # parsed manifests kept per process, by (URL, ETag)
_manifests: "OrderedDict[tuple[str, str], Any]" = OrderedDict()
_manifests_lock = threading.Lock()


def read_manifest(ctx: LandingContext, route: Any, location: Any) -> Any:
    """The manifest's parsed entries, or the text of why it cannot be used (a verdict: the waiter fails).

    Read once per change: one HEAD per check, and the body only when its ETag is new to this process. Never
    more than ``MAX_MANIFEST_BYTES`` read or parsed (a 74 MB manifest once took a worker to 1.6 GB): a bigger
    one is refused, logged and counted (``manifest_too_large``), and nothing starts."""
    from . import rules

    head = ctx.store.blob_head(route, location)
    if head is None:
        return "the manifest blob is gone"
    etag, size = head
    key = (location.url, etag)
    with _manifests_lock:
        if key in _manifests:
            _manifests.move_to_end(key)
            return _manifests[key]
    raw = b"" if size > MAX_MANIFEST_BYTES else ctx.store.read_blob_capped(route, location, etag, MAX_MANIFEST_BYTES)
    if raw is None:
        return "the manifest blob is gone"
    if size > MAX_MANIFEST_BYTES or len(raw) > MAX_MANIFEST_BYTES:
        from .. import telemetry
        from .handler import OUTCOMES

        OUTCOMES["manifest_too_large"] += 1
        telemetry.count_landing("rejected", "manifest_too_large", route.name)
        log.error("landing: route %s: manifest %s is %d bytes, over the %d-byte cap: not read, nothing starts",
                  route.name, location.url, max(size, len(raw)), MAX_MANIFEST_BYTES)
        verdict: Any = f"the manifest is {max(size, len(raw))} bytes, over the {MAX_MANIFEST_BYTES}-byte cap"
    else:
        try:
            verdict = rules.parse_manifest(raw)
        except rules.ManifestError as exc:
            verdict = f"unusable manifest: {exc}"
    with _manifests_lock:
        _manifests[key] = verdict
        while len(_manifests) > MANIFEST_CACHE_SIZE:
            _manifests.popitem(last=False)
    return verdict


async def start_folder_run(payload: dict, client: Any, settings: Optional[AppSettings] = None,
                           context: Optional[LandingContext] = None) -> dict:
    """A waiter found its folder complete: inspect it, then claim and start the run (idempotent: a retried
    activity finds the claim and reports ``started: false, duplicate``)."""
    from .handler import inspect_and_start

    settings = settings or load_settings()
    ctx = context or landing_context(settings)
    route, folder = _route_and_folder(payload, settings)
    details = {k: v for k, v in {"mode": payload.get("mode"), "event_id": payload.get("event_id"),
                                 **(payload.get("details") or {})}.items() if v is not None}
    outcome = await inspect_and_start(ctx, client, route, folder, payload["run_id"], details)
    return {"run_id": payload["run_id"], "action": outcome.action, "started": outcome.action == "started",
            **({"reason": outcome.reason, "detail": outcome.detail} if outcome.action == "rejected" else {})}


def report_late_files(payload: dict, settings: Optional[AppSettings] = None,
                      context: Optional[LandingContext] = None) -> dict:
    settings = settings or load_settings()
    ctx = context or landing_context(settings)
    recorded = [ctx.store.report_late_file(payload["run_id"], file) for file in payload.get("files") or []]
    return {"reported": len(recorded), "recorded": sum(1 for r in recorded if r)}

