"""The reconcile sweep: find what should have run, or should have been delivered, and was not.

Per route it lists the landing prefix a few pages at a time (a continuation token per route in the state
container, so a tick's work is bounded and the next tick goes on where this one stopped), reads the listing
through the landing rules (``scan.py``), and makes sure every landing has its run, through the same claims as
events: a folder whose event was lost or dead-lettered starts now; an orphaned claim is taken over; one
that already ran costs one ledger read. Then it pages through the run ledger for runs whose batch job
completed but whose delivery did not finish, and redelivers them (at most ``max_auto_redeliveries`` times
each). Everything is idempotent: a second sweep over the same state starts nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any, Optional

from ..config.models import Route
from ..timefmt import now_text
from ..landing import rules
from ..runs import claims
from .scan import Landing, Listed, landings

log = logging.getLogger(__name__)

CURSOR_PREFIX = "reconcile/"
RUNS_CURSOR = "_runs"

# What happened to one landing; the sweep's and backfill's counts are keyed by these.
EXISTS = "exists"            # its run (or waiter) had been started
STARTED = "started"          # nothing had claimed it: a lost event, now started
REPAIRED = "repaired"        # an orphaned claim taken over, or a started instance recorded
WOULD_START = "would_start"  # dry run
WAITING = "waiting"          # its waiter owns it (running); see shared/landing/healing.py for the others:
#                              waiter_ended, waiter_restarted, waiter_restart_taken, waiter_given_up


@dataclass(frozen=True)
class SweepLimits:
    page_size: int = 500            # blobs per listing page
    pages_per_route: int = 2        # listing pages per route per tick
    runs_page_size: int = 200       # ledger records per page
    runs_pages: int = 1             # ledger pages per tick
    max_auto_redeliveries: int = 3  # per run, then it is left to an operator
    poison_messages: int = 32       # poison-queue messages re-driven per tick


class Cursors:
    """Continuation tokens in the state container: ``reconcile/<name>.json``."""

    def __init__(self, store: Any):
        self.store = store

    def get(self, name: str) -> Optional[str]:
        doc = self.store.read(f"{CURSOR_PREFIX}{name}.json")
        return doc.get("continuation") if isinstance(doc, dict) else None

    def put(self, name: str, continuation: Optional[str], **info: Any) -> None:
        self.store.write(f"{CURSOR_PREFIX}{name}.json", {
            "continuation": continuation, "updated_at": now_text(),
            **info})


def listed_items(items: list[Any]) -> list[Listed]:
    """SDK listing items (``BlobProperties``) as the scan reads them."""
    return [Listed(item.name, str(item.etag or ""), int(item.size or 0), getattr(item, "last_modified", None))
            for item in items]


def _outcome(result: Any) -> str:
    """A landing handler outcome as a sweep count."""
    if result.action in ("started", "waiter_started"):
        return REPAIRED if result.detail == "taken_over" else STARTED
    if result.action == "duplicate":
        return REPAIRED if result.detail == "repaired" else EXISTS
    if result.action in ("rejected", "skipped"):
        return f"{result.action}:{result.reason}"
    return result.action


async def ensure_landing(ctx: Any, client: Any, route: Route, landing: Landing, *, source: str,
                         dry_run: bool = False) -> str:
    """Make sure one landing has its run (or waiter), through the same claims as its event; return what
    happened (one of the constants above, or ``rejected:<reason>`` / ``skipped:<reason>``)."""
    from ..landing import handler

    ledger = ctx.store.ledger
    record = await asyncio.to_thread(ledger.get, landing.run_id)
    if isinstance(record, dict) and claims.state_of(record) == claims.STARTED:
        return EXISTS
    created, decision = landing.created, landing.decision
    if decision.action in (rules.AWAIT_MANIFEST, rules.SIGNAL_FOLDER):
        waiter_id = (rules.manifest_waiter_id(route.name, decision.folder.url, created.etag)
                     if decision.action == rules.AWAIT_MANIFEST else decision.waiter_id)
        waiter = await asyncio.to_thread(ctx.store.waiter_claims.read, waiter_id)
        if isinstance(waiter, dict) and claims.state_of(waiter) == claims.STARTED:
            from ..landing.healing import heal_waiter

            # a waiter that failed, was terminated or vanished before its run started is restarted once
            return await heal_waiter(ctx, client, waiter_id, dry_run=dry_run)
    if dry_run:
        return WOULD_START
    if decision.action == rules.START_FOLDER:
        result = await handler.inspect_and_start(ctx, client, route, decision.folder, landing.run_id,
                                                 {"event_id": created.event_id},
                                                 marker=(route.landing.marker_name, created.etag), source=source)
    elif decision.action == rules.START_FILE:
        result = await handler.start_file(ctx, client, route, created, source=source)
    elif decision.action == rules.AWAIT_MANIFEST:
        result = await handler.start_manifest_waiter(ctx, client, route, created)
    else:
        result = await handler.signal_quiet_folder(ctx, client, route, decision, created)
    return _outcome(result)


async def sweep_route(ctx: Any, client: Any, route: Route, cursors: Cursors, limits: SweepLimits,
                      counts: Counter) -> None:
    """Up to ``pages_per_route`` listing pages of the route's prefix, from where the last tick stopped."""
    account_url = ctx.account_urls.get(route.match.connection)
    if account_url is None:
        counts["route_unresolvable"] += 1
        return
    continuation = await asyncio.to_thread(cursors.get, route.name)
    for _ in range(limits.pages_per_route):
        items, continuation = await asyncio.to_thread(ctx.store.list_page, route, route.match.container,
                                                      route.match.prefix, continuation, limits.page_size)
        counts["blobs_listed"] += len(items)
        for landing in landings(route, account_url, route.match.container, listed_items(items)):
            try:
                outcome = await ensure_landing(ctx, client, route, landing, source="reconcile")
            except Exception as exc:  # one bad folder must not stop the sweep; the next pass retries it
                log.warning("reconcile: route %s: %s failed: %s", route.name, landing.created.location.url,
                            type(exc).__name__)
                outcome = "errors"
            counts[outcome] += 1
            if outcome in (STARTED, REPAIRED):  # (a restarted waiter is logged by healing.py)
                log.warning("reconcile: route %s: %s had no run (%s): %s", route.name,
                            landing.created.location.url, landing.action, outcome)
        if continuation is None:
            counts["passes_completed"] += 1
            break
    await asyncio.to_thread(cursors.put, route.name, continuation, route=route.name)


async def repair_deliveries(client: Any, ledger: Any, cursors: Cursors, limits: SweepLimits,
                            counts: Counter) -> None:
    """Runs whose batch job completed but whose delivery never finished: start them again at delivery.

    A run's ledger record is ``started``; the Durable status says it ended Failed although its job
    Completed (a delivery that failed, or an orchestration that crashed after the job). Once a run has
    ended for good (succeeded, cancelled, its job failed, or the redelivery cap reached) its record is
    marked ``settled`` and later passes skip it."""
    from ..http_api.redeliver import redelivery_input
    from ..http_api.runs import HttpProblem, describe
    from blueprints.registry import Orchestrator

    continuation = await asyncio.to_thread(cursors.get, RUNS_CURSOR)
    for _ in range(limits.runs_pages):
        names, continuation = await asyncio.to_thread(ledger.page, "runs/", continuation, limits.runs_page_size)
        for name in names:
            run_id = name[len("runs/"):-len(".json")] if name.endswith(".json") else None
            if not run_id:
                continue
            record = await asyncio.to_thread(ledger.get, run_id)
            if not isinstance(record, dict) or record.get("settled") \
                    or claims.state_of(record) != claims.STARTED:
                continue
            counts["runs_checked"] += 1
            status = await client.get_status(run_id, show_input=True)
            view = describe(status)
            if view is None:
                await asyncio.to_thread(ledger.update_record, run_id, settled="gone")
                continue
            if view["status"] == "Running":
                continue
            if view["status"] != "Failed":
                await asyncio.to_thread(ledger.update_record, run_id, settled=view["status"])
                continue
            try:
                new_input = redelivery_input(status)
            except HttpProblem:  # nothing to deliver (the job itself failed)
                await asyncio.to_thread(ledger.update_record, run_id, settled="Failed")
                continue
            if new_input["monitor"]["redeliveries"] > limits.max_auto_redeliveries:
                log.error("reconcile: run %s still undelivered after %d redeliveries; leaving it to an operator"
                          " (POST /api/runs/%s/redeliver)", run_id, limits.max_auto_redeliveries, run_id)
                await asyncio.to_thread(ledger.update_record, run_id, settled="undelivered")
                counts["undelivered"] += 1
                continue
            try:
                await client.start_new(Orchestrator.RUN, instance_id=run_id, client_input=new_input)
            except Exception as exc:  # someone redelivered it first (409), or the client failed: next pass
                log.info("reconcile: run %s: redelivery not started: %s", run_id, type(exc).__name__)
                counts["redelivery_errors"] += 1
                continue
            log.warning("reconcile: run %s: its job completed but delivery did not; redelivery %d started",
                        run_id, new_input["monitor"]["redeliveries"])
            counts["redelivered"] += 1
        if continuation is None:
            break
    await asyncio.to_thread(cursors.put, RUNS_CURSOR, continuation)


async def resolve_uncertain_submits(client: Any, ledger: Any, counts: Counter, *, limit: int = 50,
                                    find: Any = None) -> None:
    """Runs waiting in ``SubmitUncertain`` (a lost submit answer; their job cannot be searched for, so they
    never post again on their own): look for the attempt's job once more, where anything can be looked at
    (its name, on a service that keeps client names; the job list, when the endpoint names a workspace), and
    hand a found job to the run. Otherwise the run stays visibly waiting for an operator (counted, logged):
    ``POST /api/runs/{id}/confirm-job`` or ``/resubmit``. Index entries of runs that moved on are removed."""
    import itertools
    import json

    from ..http_api.runs import describe
    from ..runs.models import RESOLVE_EVENT, SUBMIT_UNCERTAIN

    if find is None:
        from ..activities import find_attempt_job as find
    entries = await asyncio.to_thread(lambda: list(itertools.islice(ledger.uncertain_runs(), limit)))
    for entry in entries:
        run_id = entry["run_id"]
        status = await client.get_status(run_id, show_input=True)
        view = describe(status)
        uncertain = (view or {}).get("uncertain")
        if view is None or view["status"] != "Running" or (view.get("job_name") and not uncertain):
            await asyncio.to_thread(ledger.settle_uncertain, run_id)
            counts["uncertain_settled"] += 1
            continue
        if view.get("phase") != SUBMIT_UNCERTAIN or not isinstance(uncertain, dict):
            continue  # not waiting (yet): the next tick looks again
        given = json.loads(status.input_) if isinstance(status.input_, str) else status.input_
        run = (given or {}).get("run") or {}
        payload = {"route": run.get("route"), "run_id": run_id, "attempt": uncertain.get("attempt"),
                   "output_uri": run.get("output_uri"),
                   **({"endpoint": run["endpoint"]} if run.get("endpoint") else {})}
        try:
            found = await asyncio.to_thread(find, payload)
        except Exception as exc:  # the look-up failed: the next tick tries again
            log.warning("reconcile: run %s: looking for its uncertain submit's job failed: %s", run_id,
                        type(exc).__name__)
            counts["uncertain_errors"] += 1
            continue
        if isinstance(found, dict) and found.get("job_name"):
            await client.raise_event(run_id, RESOLVE_EVENT, {"action": "confirm", "job_name": found["job_name"],
                                                             "attempt": uncertain.get("attempt"), "by": "sweep"})
            log.warning("reconcile: run %s: found job %s of its uncertain submit; the run watches it now",
                        run_id, found["job_name"])
            counts["uncertain_resolved"] += 1
            continue
        log.warning("reconcile: run %s is waiting in SubmitUncertain since %s: its job cannot be found from here;"
                    " confirm it (POST /api/runs/%s/confirm-job) or resubmit (POST /api/runs/%s/resubmit)",
                    run_id, uncertain.get("since"), run_id, run_id)
        counts["submit_uncertain"] += 1


async def sweep(ctx: Any, client: Any, *, limits: SweepLimits = SweepLimits(), poison: Any = None,
                deadletters: Any = None) -> dict:
    """One tick: every route's landings, then the ledger's undelivered runs, then the poison queue
    (``poison``: a queue client, or ``None`` to leave it), then Event Grid's dead letters (``deadletters``: the
    container client, or ``None``). Returns the counts, also logged."""
    from .deadletter import redrive_deadletters
    from .poison import redrive

    counts: Counter = Counter()
    cursors = Cursors(ctx.store.ledger)
    for route in ctx.settings.routes:
        try:
            await sweep_route(ctx, client, route, cursors, limits, counts)
        except Exception as exc:
            log.error("reconcile: route %s: listing failed: %s", route.name, type(exc).__name__)
            counts["route_errors"] += 1
    try:
        await repair_deliveries(client, ctx.store.ledger, cursors, limits, counts)
    except Exception as exc:
        log.error("reconcile: checking runs for undelivered outputs failed: %s", type(exc).__name__)
        counts["ledger_errors"] += 1
    try:
        await resolve_uncertain_submits(client, ctx.store.ledger, counts)
    except Exception as exc:
        log.error("reconcile: checking uncertain submits failed: %s", type(exc).__name__)
        counts["ledger_errors"] += 1
    if poison is not None:
        try:
            counts.update({f"poison_{k}": v for k, v in (await redrive(
                poison, ctx, client, max_messages=limits.poison_messages)).items()})
        except Exception as exc:  # the queue endpoint did not answer: the rest of the tick still runs
            log.error("reconcile: re-driving poison messages failed: %s", type(exc).__name__)
            counts["poison_errors"] += 1
    if deadletters is not None:
        try:
            counts.update({f"deadletter_{k}": v for k, v in (await redrive_deadletters(deadletters, ctx, client)).items()})
        except Exception as exc:
            log.error("reconcile: re-driving dead letters failed: %s", type(exc).__name__)
            counts["deadletter_errors"] += 1
    summary = dict(sorted(counts.items()))
    summary["repaired_total"] = counts[STARTED] + counts[REPAIRED] + counts["redelivered"] \
        + counts["poison_redriven"] + counts["deadletter_redriven"] + counts["waiter_restarted"] \
        + counts["uncertain_resolved"]
    log.info("reconcile: %s", summary)
    try:  # the tick log feeds the dashboard's trends; a failure to write it never fails the tick
        from datetime import datetime, timezone

        from .ticks import record_tick

        await asyncio.to_thread(record_tick, ctx.store.ledger, summary, datetime.now(timezone.utc))
    except Exception as exc:
        log.warning("reconcile: the tick log was not written: %s", type(exc).__name__)
    return summary
