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
    ``AzureWebJobs.reconcile_sweep.Disabled=true``)."""
    from ..config import load_settings
    from ..landing.handler import landing_context
    from .poison import poison_queue_client
    from .sweep import sweep

    if not enabled(environ):
        log.info("reconcile: disabled (%s)", ENABLED_SETTING)
        return {"disabled": True}
    ctx = context or landing_context(load_settings())
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
    return await sweep(ctx, client, poison=poison, deadletters=deadletters)


def _problem(status: int, message: str, **extra: Any) -> func.HttpResponse:
    from ..http_api.runs import HttpProblem, problem_response

    return problem_response(HttpProblem(status, message, **extra))


async def backfill_http(req: func.HttpRequest, client: Any, *, context: Any = None) -> func.HttpResponse:
    from ..config import ConfigError, load_settings
    from ..http_api.runs import HttpProblem, json_response, problem_response, read_json_body
    from ..landing.handler import landing_context
    from ..redact import redact
    from .backfill import BadField, backfill, parse_backfill

    try:
        settings = context.settings if context is not None else load_settings()
    except ConfigError:
        return _problem(503, "the app's configuration is invalid; see GET /api/health")
    try:
        request = parse_backfill(read_json_body(req), settings)
    except HttpProblem as problem:
        return problem_response(problem)
    except BadField as exc:
        return _problem(400, redact(str(exc)), field=exc.field)
    ctx = context or landing_context(settings)
    try:
        result = await backfill(ctx, client, request)
    except LookupError as exc:
        return _problem(503, str(exc))
    return json_response(200, result)


async def redrive_poison_http(req: func.HttpRequest, client: Any, *, context: Any = None,
                              queue: Any = None) -> func.HttpResponse:
    """``POST /api/landing/poison/redrive?max_messages=N`` (1 to 256, default 32)."""
    from ..config import ConfigError, load_settings
    from ..http_api.runs import json_response
    from ..landing.handler import landing_context
    from .poison import MAX_MESSAGES_PER_CALL, poison_queue_client, redrive

    text = req.params.get("max_messages", "32")
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_MESSAGES_PER_CALL:
        return _problem(400, f"query 'max_messages' must be a whole number from 1 to {MAX_MESSAGES_PER_CALL}",
                        field="max_messages")
    try:
        ctx = context or landing_context(load_settings())
    except ConfigError:
        return _problem(503, "the app's configuration is invalid; see GET /api/health")
    try:
        queue = queue or poison_queue_client()
    except LookupError as exc:
        return _problem(503, str(exc))
    counts = await redrive(queue, ctx, client, max_messages=int(text))
    return json_response(200, {"queue": "landing-events-poison", "counts": dict(sorted(counts.items()))})
