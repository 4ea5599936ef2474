"""Backfill as an asynchronous operation: one Durable orchestration per backfill request.

A backfill of 1,000 folders at 2 starts/s takes 500 s, past the 230 s an HTTP-triggered function may take.
``POST /api/backfill`` therefore answers ``202`` with ``Location`` (and ``Retry-After``) to
``GET /api/backfill/{operation_id}`` (progress counts; state Running, Completed, Failed or Canceled) and
``POST /api/backfill/{operation_id}/cancel``, as runs do. The orchestration (:func:`backfill_orchestrator`,
deterministic, no I/O) calls :func:`backfill_step` until the listing ends or ``max_runs`` runs started; each
step lists one page and makes at most :data:`STEP_STARTS` paced starts (bounded time), through the same
claims as events (:func:`shared.reconcile.sweep.ensure_landing`), so a step that is retried or replayed
starts nothing twice. A cancel is latched and honoured between steps.

The operation id is derived from the request (route, prefix, since, max_runs), or from the route and the
``Idempotency-Key`` header when given (reused for another request: 422): the same request twice is the same operation (its claim, ``backfill/<id>.json`` in the
state container, decides who starts it); to run a finished backfill again, send a new ``Idempotency-Key``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections import Counter
from datetime import timedelta
from typing import Any, Optional

from blueprints.registry import Activity, Orchestrator

log = logging.getLogger(__name__)

CANCEL_EVENT = "cancel"
CLAIMS_PREFIX = "backfill/"
OPERATION_ID = re.compile(r"^backfill-[0-9a-f]{32}$")
STEP_STARTS = 40       # starts per step: 20 s at 2/s, far inside an activity's time
STEP_LANDINGS = 500    # landings looked at per step (most are "exists" on a repeated backfill)
RUNS_SHOWN = 1000      # the output lists at most this many started runs (max_runs is at most 1,000)
MAX_PAGES = 50         # pages listed in all (as the synchronous backfill): call again to go on
RUNNING, COMPLETED, FAILED, CANCELED = "Running", "Completed", "Failed", "Canceled"


def operation_id(fields: dict, idempotency_key: Optional[str]) -> str:
    """Same request (and key), same operation; route names never contain 32 hex digits after 'backfill-'
    in a run id (those have 24), so an operation id is never a run id."""
    from ..runs.claims import fingerprint

    # with a key, the key (per route) names the operation, and its claim's fingerprint catches a key reused
    # for another request (422); without one, the request itself does
    identity = ("key", fields.get("route"), idempotency_key) if idempotency_key else ("request", fields)
    digest = hashlib.sha256(fingerprint("backfill", *identity).encode()).hexdigest()
    return f"backfill-{digest[:32]}"


def request_fields(request: Any) -> dict:
    """The request as JSON (what the orchestration carries and each step parses again)."""
    out = {"route": request.route.name, "prefix": request.prefix, "max_runs": request.max_runs}
    if request.since is not None:
        out["since"] = request.since.isoformat()
    return out


# --- the orchestration (deterministic: no I/O, no wall clock) -----------------------------------------------

def backfill_orchestrator(context: Any):
    from ..durable.waiting import StandingWaits

    op = context.get_input() or {}
    waits = StandingWaits(context, latched=(CANCEL_EVENT,))
    fields = op.get("request") or {}
    counts: Counter = Counter()
    runs: list[dict] = []
    cursor: dict[str, Any] = {"continuation": None, "after": None, "pages": 0}
    state, complete, error = RUNNING, False, None

    def progress() -> dict:
        return {"operation_id": context.instance_id, "state": state, "route": fields.get("route"),
                "prefix": fields.get("prefix"), "counts": dict(sorted(counts.items())), "started": len(runs),
                "pages": cursor["pages"], "complete": complete}

    context.set_custom_status(progress())
    while True:
        if CANCEL_EVENT in waits.latched:
            state = CANCELED
            break
        remaining = int(fields.get("max_runs", 0)) - len(runs)
        if remaining <= 0 or cursor["pages"] >= MAX_PAGES:
            break
        payload = {"request": fields, **cursor, "remaining": remaining}
        try:
            _, step = yield from waits.call_with_retry(Activity.BACKFILL_STEP, payload, lambda _arrival: False, attempts=3,
                                                       first_delay=timedelta(seconds=5))
        except Exception as exc:  # ActivityFailed: the operation fails, naming why (redacted)
            from ..durable.waiting import error_text
            from ..redact import redact

            state, error = FAILED, redact(error_text(exc))
            break
        counts.update(step.get("counts") or {})
        runs.extend(step.get("runs") or [])
        cursor = {"continuation": step.get("continuation"), "after": step.get("after"),
                  "pages": cursor["pages"] + int(step.get("pages", 0))}
        if step.get("done"):
            complete = True
            break
        context.set_custom_status(progress())
    if state == RUNNING:
        state = COMPLETED
    result = {**progress(), "runs": runs[:RUNS_SHOWN]}
    if error:
        result["error"] = error
    context.set_custom_status(progress())
    return result


# --- the step (an activity with a Durable client) --------------------------------------------------------

async def backfill_step(payload: dict, client: Any, *, context: Any = None) -> dict:
    """One bounded step: one page from ``continuation``, the landings after ``after`` in it, at most
    :data:`STEP_STARTS` started (paced) and ``remaining`` in all."""
    from ..config import load_settings
    from ..landing.handler import landing_context
    from . import backfill as bf
    from .scan import landings
    from .sweep import REPAIRED, STARTED, listed_items

    settings = context.settings if context is not None else load_settings()
    request = bf.parse_backfill(dict(payload["request"]), settings)
    ctx = context or landing_context(settings)
    route = request.route
    account_url = ctx.account_urls.get(route.match.connection)
    if account_url is None:
        raise LookupError(f"route {route.name!r}: its storage connection is not configured")
    continuation, after = payload.get("continuation"), payload.get("after")
    remaining = min(int(payload.get("remaining", 0)), STEP_STARTS)
    pace = 1.0 / bf.STARTS_PER_SECOND if bf.STARTS_PER_SECOND > 0 else 0.0
    items, next_token = await asyncio.to_thread(ctx.store.list_page, route, route.match.container, request.prefix,
                                                continuation, bf.PAGE_SIZE)
    found = [f for f in landings(route, account_url, route.match.container, listed_items(items),
                                 since=request.since, source="backfill")
             if after is None or f.created.location.path > after]
    counts: Counter = Counter()
    runs: list[dict] = []
    looked = 0
    for landing in found:
        if len(runs) >= remaining or looked >= STEP_LANDINGS:
            # the page is not done: the next step lists it again and goes on after this name
            return {"counts": dict(counts), "runs": runs, "continuation": continuation,
                    "after": found[looked - 1].created.location.path if looked else after, "pages": 0,
                    "done": False}
        outcome = await bf.ensure_landing(ctx, client, route, landing, source="backfill")
        looked += 1
        counts[outcome] += 1
        if outcome in (STARTED, REPAIRED):
            runs.append({"run_id": landing.run_id, "url": landing.created.location.url, "kind": landing.action,
                         "outcome": outcome})
            if pace:
                await asyncio.sleep(pace)
    return {"counts": dict(counts), "runs": runs, "continuation": next_token, "after": None, "pages": 1,
            "done": next_token is None}


# --- the HTTP side ------------------------------------------------------------------------------------------

def operation_param(route_params: Any) -> str:
    from ..http_api.problems import HttpProblem

    value = route_params.get("operation_id", "")
    if not isinstance(value, str) or not OPERATION_ID.fullmatch(value):
        raise HttpProblem(400, "path parameter 'operation_id' must be 'backfill-' and 32 lowercase hex digits, as"
                               " POST /api/backfill answered", field="operation_id")
    return value


def operation_location(req: Any, op_id: str, suffix: str = "") -> str:
    """Absolute URL of the operation's status, with the caller's own key as ``code`` (pollers may not resend
    headers), like a run's ``Location``."""
    from urllib.parse import urlencode, urlsplit

    parts = urlsplit(req.url)
    key = req.params.get("code") or req.headers.get("x-functions-key")
    query = f"?{urlencode({'code': key})}" if key else ""
    return f"{parts.scheme}://{parts.netloc}/api/backfill/{op_id}{suffix}{query}"


def accepted(req: Any, body: dict, op_id: str) -> Any:
    from ..http_api.problems import json_response
    from ..http_api.runs import RETRY_AFTER_SECONDS

    location = operation_location(req, op_id)
    return json_response(202, {**body, "status_url": location.split("?", 1)[0]},
                         {"Location": location, "Retry-After": str(RETRY_AFTER_SECONDS)})


def describe(status: Any) -> Optional[dict]:
    """An operation's Durable status as the API's view (redacted), or ``None`` when it is not a backfill."""
    from ..redact import redact_data

    if status is None or getattr(status, "name", None) != Orchestrator.BACKFILL or status.runtime_status is None:
        return None
    runtime = status.runtime_status.value if hasattr(status.runtime_status, "value") else str(status.runtime_status)
    custom = status.custom_status if isinstance(status.custom_status, dict) else {}
    view: dict[str, Any] = {"operation_id": status.instance_id, **custom}
    if runtime in ("Pending", "Running", "ContinuedAsNew", "Suspended"):
        view["state"] = RUNNING
    elif runtime == "Completed" and isinstance(status.output, dict):
        view.update(status.output)
    elif runtime == "Terminated":
        view["state"] = CANCELED
    else:
        view["state"] = FAILED
        view.setdefault("error", "the backfill orchestration failed; the function's log has the cause")
    view["created_at"] = status.created_time
    view["updated_at"] = status.last_updated_time
    return redact_data(view)


async def find(client: Any, op_id: str) -> dict:
    from ..http_api.problems import HttpProblem

    view = describe(await client.get_status(op_id))
    if view is None:
        raise HttpProblem(404, f"no backfill operation {op_id!r}", field="operation_id")
    return view


async def start(req: Any, client: Any, ctx: Any, request: Any) -> Any:
    """Claim and start the request's operation exactly once; 202 to its status (``duplicate`` when it had
    been started already)."""
    from ..http_api.problems import HttpProblem
    from ..runs import claims
    from ..runs.ledger import ClaimBook
    from ..runs.starter import ClaimMismatch, start_once

    key = req.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key) <= 200):
        raise HttpProblem(400, "header 'Idempotency-Key' must be 1 to 200 characters")
    fields = request_fields(request)
    op_id = operation_id(fields, key)
    book = ClaimBook(ctx.store.ledger, CLAIMS_PREFIX)
    try:
        result = await start_once(client, book, op_id, Orchestrator.BACKFILL, {"request": fields},
                                  {"operation_id": op_id, "route": request.route.name},
                                  fingerprint=claims.fingerprint("backfill", fields), policy=ctx.claim_policy)
    except ClaimMismatch:
        raise HttpProblem(422, "header 'Idempotency-Key' was already used for a different backfill request; use a"
                               " new key for a new request", operation_id=op_id) from None
    return accepted(req, {"operation_id": op_id, "state": RUNNING, **fields, "duplicate": not result.started}, op_id)


async def status(req: Any, client: Any) -> Any:
    from ..http_api.inputs import check_query
    from ..http_api.problems import json_response

    op_id = operation_param(req.route_params)
    check_query(req.params, ())
    view = await find(client, op_id)
    if view["state"] == RUNNING:
        return accepted(req, view, op_id)
    return json_response(200, view, {"X-Operation-State": view["state"]})


async def cancel(req: Any, client: Any) -> Any:
    from ..http_api.problems import HttpProblem
    from ..http_api.runs import no_input

    op_id = operation_param(req.route_params)
    no_input(req)
    view = await find(client, op_id)
    if view["state"] != RUNNING:
        raise HttpProblem(409, f"backfill {op_id!r} has already ended ({view['state']})", field="operation_id")
    try:
        await client.raise_event(op_id, CANCEL_EVENT, {"reason": "cancelled via the HTTP API"})
    except Exception as exc:  # the SDK raises a bare Exception for 404 and 410 from the task hub
        if "is gone" in str(exc):
            raise HttpProblem(409, f"backfill {op_id!r} has already ended", field="operation_id") from None
        raise
    return accepted(req, {**view, "cancel_requested": True}, op_id)
