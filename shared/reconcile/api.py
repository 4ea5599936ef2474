"""The reconcile entry points: the timer, ``POST /api/backfill`` and ``POST /api/landing/poison/redrive``."""

from __future__ import annotations

import logging
import os
from typing import Any, Mapping

import azure.functions as func

log = logging.getLogger(__name__)

ENABLED_SETTING = "RECONCILE_ENABLED"
# The schedule (RECONCILE_SCHEDULE, default every 15 minutes) is read in function_app.py, where the timer
# trigger is declared: it must be known when the app is indexed, before any shared module loads.


def enabled(environ: Mapping[str, str] = os.environ) -> bool:
    return (environ.get(ENABLED_SETTING) or "true").strip().lower() not in ("0", "false", "no", "off")


async def reconcile_timer(timer: Any, client: Any, *, environ: Mapping[str, str] = os.environ,
                          context: Any = None, poison: Any = None) -> dict:
    """One sweep tick (``RECONCILE_ENABLED=false`` turns it off; so does the platform's own
    ``AzureWebJobs.reconcile_sweep.Disabled=true``). Never raises: a failure is logged (redacted, with what
    it means: :func:`shared.http_api.problems.failure_problem`) and the next tick tries again."""
    try:
        return await _tick(client, environ=environ, context=context, poison=poison)
    except Exception as exc:
        from ..http_api.problems import failure_problem
        from ..redact import redact

        problem = failure_problem(exc)
        log.error("reconcile: the tick failed: %s (%s)", problem.message, redact(f"{type(exc).__name__}: {exc}"))
        return {"error": problem.message}


async def _tick(client: Any, *, environ: Mapping[str, str], context: Any, poison: Any) -> dict:
    from ..config import ConfigError, load_settings
    from ..landing.handler import landing_context
    from .poison import poison_queue_client
    from .sweep import sweep

    if not enabled(environ):
        log.info("reconcile: disabled (%s)", ENABLED_SETTING)
        return {"disabled": True}
    if context is None:
        try:
            context = landing_context(load_settings())
        except ConfigError as exc:
            log.error("reconcile: not sweeping, the configuration is invalid: %s", exc)
            return {"error": "the app's configuration is invalid; see GET /api/health"}
    from .deadletter import deadletter_container

    try:
        deadletters = deadletter_container(environ)
    except Exception as exc:  # a bad setting or connection: the rest of the sweep still runs
        log.warning("reconcile: not re-driving dead letters: %s", type(exc).__name__)
        deadletters = None
    if poison is None:
        try:
            poison = poison_queue_client(environ=environ)
        except LookupError as exc:
            log.warning("reconcile: not re-driving poison messages: %s", exc)
    return await sweep(context, client, poison=poison, deadletters=deadletters)


def _settings(context: Any) -> Any:
    """The context's settings, or the app's; 503 when the configuration is invalid."""
    from ..config import ConfigError, load_settings
    from ..http_api.problems import HttpProblem

    if context is not None:
        return context.settings
    try:
        return load_settings()
    except ConfigError:
        raise HttpProblem(503, "the app's configuration is invalid; see GET /api/health") from None


def _backfill_query(params: Mapping[str, str]) -> None:
    """Backfill reads its fields from the JSON body only: a field given as a query parameter would be
    silently ignored, so it is refused, naming it (like any unknown query parameter)."""
    from ..http_api.inputs import check_query
    from ..http_api.problems import HttpProblem
    from .backfill import FIELDS

    misplaced = sorted(set(params) & set(FIELDS))
    if misplaced:
        raise HttpProblem(400, f"query parameter '{misplaced[0]}': backfill reads its fields from the JSON body,"
                               f" e.g. {{\"route\": \"heart\", \"{misplaced[0]}\": ...}}", field=misplaced[0])
    check_query(params, ())


def _guarded(handler: Any) -> Any:
    from ..http_api.runs import guarded

    return guarded(handler)


async def backfill_http(req: func.HttpRequest, client: Any, *, context: Any = None) -> func.HttpResponse:
    """``POST /api/backfill`` with a JSON body ``{route, prefix?, since?, dry_run?, max_runs?}``: through the
    runs API's guarded path and strict readers (a storage refusal is a 503 naming it, never an exception)."""
    return await _guarded(_backfill)(req, client, context=context)


async def _backfill(req: func.HttpRequest, client: Any, *, context: Any = None) -> func.HttpResponse:
    from ..http_api.problems import HttpProblem
    from ..http_api.runs import json_response, read_json_body
    from ..landing.handler import landing_context
    from ..redact import redact
    from .backfill import BadField, backfill, parse_backfill

    _backfill_query(req.params)
    body = read_json_body(req)
    settings = _settings(context)
    try:
        request = parse_backfill(body, settings)
    except BadField as exc:
        raise HttpProblem(400, redact(str(exc)), field=exc.field) from None
    ctx = context or landing_context(settings)
    if not request.dry_run:  # an asynchronous operation (shared/reconcile/operation.py): 202 + Location
        from . import operation

        import asyncio

        route = request.route
        if ctx.account_urls.get(route.match.connection) is None:
            raise HttpProblem(503, f"route {route.name!r}: its storage connection is not configured")
        # one name listed first: a connection that cannot list is a 503 now, not a failed operation later
        await asyncio.to_thread(ctx.store.list_page, route, route.match.container, request.prefix, None, 1)
        return await operation.start(req, client, ctx, request)
    try:
        result = await backfill(ctx, client, request)  # a dry run only lists (bounded): answered at once
    except LookupError as exc:
        raise HttpProblem(503, redact(str(exc))) from None
    return json_response(200, result)


async def backfill_status_http(req: func.HttpRequest, client: Any) -> func.HttpResponse:
    """``GET /api/backfill/{operation_id}``: 202 + ``Location`` while it runs, 200 once it has ended."""
    from .operation import status

    return await _guarded(status)(req, client)


async def backfill_cancel_http(req: func.HttpRequest, client: Any) -> func.HttpResponse:
    """``POST /api/backfill/{operation_id}/cancel``: honoured between steps; 409 once it has ended."""
    from .operation import cancel

    return await _guarded(cancel)(req, client)


async def redrive_poison_http(req: func.HttpRequest, client: Any, *, context: Any = None,
                              queue: Any = None) -> func.HttpResponse:
    """``POST /api/landing/poison/redrive?max_messages=N`` (1 to 256, default 32), no body (or ``{}``)."""
    return await _guarded(_redrive_poison)(req, client, context=context, queue=queue)


async def _redrive_poison(req: func.HttpRequest, client: Any, *, context: Any = None,
                          queue: Any = None) -> func.HttpResponse:
    from ..http_api.inputs import check_query
    from ..http_api.problems import HttpProblem
    from ..http_api.runs import json_response, read_json_body
    from ..landing.handler import landing_context
    from .poison import MAX_MESSAGES_PER_CALL, poison_queue_client, redrive

    check_query(req.params, ("max_messages",))
    text = req.params.get("max_messages", "32")
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_MESSAGES_PER_CALL:
        raise HttpProblem(400, f"query 'max_messages' must be a whole number from 1 to {MAX_MESSAGES_PER_CALL}",
                          field="max_messages")
    read_json_body(req, allowed=frozenset(), required=False)
    ctx = context or landing_context(_settings(context))
    try:
        queue = queue or poison_queue_client()
    except LookupError as exc:
        raise HttpProblem(503, str(exc)) from None
    counts = await redrive(queue, ctx, client, max_messages=int(text))
    return json_response(200, {"queue": "landing-events-poison", "counts": dict(sorted(counts.items()))})
