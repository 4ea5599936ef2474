"""The runs HTTP API: start, read, list and cancel runs; and the health probe.

Long work follows the async request-reply pattern that ADF's Web activity and Logic Apps follow:
``202 Accepted`` with ``Location`` and ``Retry-After`` until the run has ended, then ``200``.

Hostile input is refused at the edge: every body goes through one reader, every query parameter and every
``{run_id}`` is checked against its grammar before it reaches the Durable client or storage
(:mod:`.inputs`); only run orchestrations are runs (:func:`is_run`); every answer is redacted (:mod:`.problems`,
:func:`describe`), and every handler answers, whatever fails underneath (:func:`guarded`).
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, Optional
from urllib.parse import quote, urlencode, urlsplit

import azure.functions as func

from .. import __version__
from ..config import AppSettings, ConfigError, UnknownRouteError, load_settings
from ..paths import InvalidName, check_relative_path, check_route_name
from ..timefmt import normalized
from ..redact import redact, redact_data
from ..storage.uris import BlobLocation
from .inputs import (MAX_BODY_BYTES, check_content_encoding, check_query, choice_param, int_param,
                     parse_json_object, reason_field, reject_unknown, route_param, run_id_param, text_field,
                     time_param, utc_naive)
from .problems import HttpProblem, failure_problem, json_response, problem_response

log = logging.getLogger(__name__)

__all__ = ["HttpProblem", "json_response", "problem_response", "MAX_BODY_BYTES", "start", "get", "list_runs",
           "cancel", "describe", "find_run", "is_run", "read_json_body", "no_input", "parse_start", "accepted"]

RETRY_AFTER_SECONDS = 10
RUNNING_STATES = {"Pending", "Running", "ContinuedAsNew", "Suspended"}
API_STATUS = {"Succeeded", "Failed", "Canceled", "TimedOut"}
START_FIELDS = frozenset({"route", "path", "container"})
CANCEL_FIELDS = frozenset({"reason"})
LIST_PARAMS = frozenset({"route", "status", "since", "limit", "view"})
VIEWS = {"public", "debug"}
DEFAULT_CANCEL_REASON = "cancelled via the HTTP API"
START_EXAMPLE = '{"route": "heart", "path": "heart/2024-06-01/"}'


def guarded(handler: Callable[..., Awaitable[func.HttpResponse]]) -> Callable[..., Awaitable[func.HttpResponse]]:
    """Every HTTP handler answers: an :class:`HttpProblem` becomes its error answer, an unreachable Durable
    task hub or storage a 503 (:func:`.problems.failure_problem`), anything else a 500 that says nothing of its
    cause (the cause is logged, redacted)."""

    @functools.wraps(handler)
    async def answer(req: func.HttpRequest, *args: Any, **kwargs: Any) -> func.HttpResponse:
        try:
            return await handler(req, *args, **kwargs)
        except HttpProblem as problem:
            return problem_response(problem)
        except Exception as exc:
            problem = failure_problem(exc)
            log.error("%s failed (%d): %s", handler.__name__, problem.status, redact(f"{type(exc).__name__}: {exc}"))
            return problem_response(problem)

    return answer


def _settings() -> AppSettings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise HttpProblem(503, "the app's configuration is invalid; see GET /api/health",
                          problems=exc.problems) from None


def read_json_body(req: func.HttpRequest, *, allowed: Optional[frozenset] = None, required: bool = True) -> dict:
    """The one body reader of every endpoint (see :mod:`shared.http_api.inputs` for its rules)."""
    check_content_encoding(req.headers)
    return parse_json_object(req.get_body() or b"", allowed=allowed, required=required, example=START_EXAMPLE)


def no_input(req: func.HttpRequest) -> None:
    """For an endpoint that takes nothing but its path: no query parameter (but ``code``), no body field."""
    check_query(req.params, ())
    read_json_body(req, allowed=frozenset(), required=False)


def _check_path(value: str) -> str:
    """The ``path`` field is the blob name itself (JSON carries any character, so nothing is percent-encoded).
    It must be a clean relative path as given *and* after one percent-decoding, so ``%2e%2e`` is refused
    like ``..`` whatever a later step might decode."""
    try:
        check_relative_path(value, field="path", decode=True)
        return check_relative_path(value, field="path", decode=False)
    except InvalidName as exc:
        raise HttpProblem(400, f"field 'path' {exc.reason}", field="path") from None


def parse_start(data: dict, settings: AppSettings) -> tuple[Any, BlobLocation]:
    """Which route and which input. The input is a path in a container the route allows, never a URL."""
    hint = " (inputs are given as 'container' and 'path', not as URLs)" if set(data) & {"url", "uri", "input_url"} \
        else ""
    reject_unknown(data, START_FIELDS, what="field", hint=hint)
    route_name = text_field(data, "route", required=True, max_chars=63)
    try:
        check_route_name(route_name)
        route = settings.route(route_name)
    except InvalidName as exc:
        raise HttpProblem(400, f"field 'route' {exc.reason}", field="route") from None
    except UnknownRouteError as exc:
        raise HttpProblem(404, str(exc), field="route") from None
    path = text_field(data, "path", required=True, max_chars=4096)
    container = text_field(data, "container", required=False, max_chars=63) or route.match.container
    if container != route.match.container:
        raise HttpProblem(400, f"field 'container': route {route.name!r} reads only from container"
                               f" {route.match.container!r}", field="container")
    if "://" in path:
        raise HttpProblem(400, "field 'path' must be a blob path inside the container, like 'heart/2024-06-01/',"
                               " not a URL", field="path")
    path = _check_path(path)
    if not path.startswith(route.match.prefix):
        raise HttpProblem(400, f"field 'path' must start with the route's prefix {route.match.prefix!r}",
                          field="path")
    if route.input.type == "uri_file" and path.endswith("/"):
        raise HttpProblem(400, f"field 'path': route {route.name!r} scores single files (uri_file); give a file",
                          field="path")
    from ..storage.connections import StorageConnectionError, account_url_of

    try:
        account_url = account_url_of(route.match.connection)
    except StorageConnectionError as exc:
        raise HttpProblem(503, redact(str(exc))) from None
    return route, BlobLocation(account_url, container, path)


def run_location(req: func.HttpRequest, run_id: str) -> str:
    """Absolute URL of the run's status in the async request-reply style (``async=true``: 202 while the run
    is going, 200 once it has ended), so a poller that follows ``Location`` (ADF's Web activity, Logic Apps'
    HTTP action) waits for the end. Carries the caller's own function key (``code``, or its
    ``x-functions-key`` header) as ``code``, as Durable's status URLs do: pollers may not resend headers."""
    parts = urlsplit(req.url)
    query = {"async": "true"}
    key = req.params.get("code") or req.headers.get("x-functions-key")
    if key:
        query["code"] = key
    return f"{parts.scheme}://{parts.netloc}/api/runs/{quote(run_id, safe='')}?{urlencode(query)}"


def accepted(req: func.HttpRequest, body: dict, run_id: str) -> func.HttpResponse:
    """202 + ``Location`` + ``Retry-After``; the body mirrors ``Location`` as ``status_url`` for callers that
    cannot read response headers (an ADF Web activity with ``turnOffAsync``)."""
    location = run_location(req, run_id)
    # The body never echoes a key: status_url is Location without ``code`` (the caller adds its own key).
    status_url = f"{location.split('?', 1)[0]}?async=true"
    return json_response(202, {**body, "status_url": status_url}, {"Location": location,
                                                                 "Retry-After": str(RETRY_AFTER_SECONDS)})


def is_run(status: Any) -> bool:
    """Only run orchestrations are runs. Landing waiters (``lq-…``, ``lw-…``) and any other orchestration
    share the task hub but are not listed, read, cancelled or redelivered through the API. Decided by the
    orchestrator's name, not an id prefix, since a route may be called ``lq``."""
    from blueprints.registry import Orchestrator

    return status is not None and getattr(status, "name", None) == Orchestrator.RUN


def describe(status: Any) -> Optional[dict]:
    """A Durable instance status as the API's run view; every text in it redacted."""
    if status is None or not getattr(status, "instance_id", None) or status.runtime_status is None:
        return None
    runtime = status.runtime_status.value if hasattr(status.runtime_status, "value") else str(status.runtime_status)
    custom = status.custom_status if isinstance(status.custom_status, dict) else {}
    output = status.output if isinstance(status.output, dict) else None
    from ..runs.ids import route_of

    view: dict[str, Any] = {"run_id": status.instance_id, "route": route_of(status.instance_id), **custom}
    if runtime in RUNNING_STATES:
        view["status"] = "Running"
    elif runtime == "Completed" and output:
        view.update(output)
        view["status"] = output.get("outcome", "Succeeded")
    elif runtime == "Terminated":
        view["status"] = "Canceled"
        view["error"] = f"the orchestration was terminated: {status.output}"
    else:
        view["status"] = "Failed"
        view["error"] = view.get("error") or f"the orchestration failed: {status.output}"
    view.pop("outcome", None)
    view["created_at"] = normalized(status.created_time)
    view["updated_at"] = normalized(status.last_updated_time)
    return redact_data(view)


async def find_run(client: Any, run_id: str, *, show_input: bool = False) -> tuple[Any, dict]:
    """The status and view of run ``run_id`` (already checked by :func:`inputs.run_id_param`), or 404."""
    status = await client.get_status(run_id, show_input=show_input)
    view = describe(status) if is_run(status) else None
    if view is None:
        raise HttpProblem(404, f"no run {run_id!r}", field="run_id")
    return status, view


def wants_async(req: func.HttpRequest) -> bool:
    return req.params.get("async", "").lower() in ("1", "true") or \
        "respond-async" in (req.headers.get("Prefer") or "").lower()


def force_field(data: dict) -> bool:
    """``"force": true`` starts a run whatever the pre-flight says; removed from ``data``."""
    force = data.pop("force", False)
    if not isinstance(force, bool):
        raise HttpProblem(400, "field 'force' must be true or false", field="force")
    return force


async def preflight(settings: AppSettings, route: Any, location: BlobLocation, store: Any = None) -> Any:
    """One listing of the input, judged by the landing rules (:mod:`shared.landing.preflight`)."""
    import asyncio

    from ..landing.preflight import check_input
    from ..landing.store import LandingStore

    store = store or LandingStore(settings)
    listing = await asyncio.to_thread(store.preflight_listing, route, location)
    return check_input(route, location, listing, datetime.now(timezone.utc))


def preflight_problem(verdict: Any) -> HttpProblem:
    return HttpProblem(verdict.status, f"{verdict.detail}; nothing was started (send \"force\": true to start"
                                       " anyway)", field="path", reason=verdict.reason)


@guarded
async def start(req: func.HttpRequest, client: Any, ledger: Any = None, policy: Any = None,
                store: Any = None) -> func.HttpResponse:
    """``ledger``, the claim ``policy`` and the landing ``store`` are injectable (fault-injection tests); by
    default the app's run ledger, the default lease and the app's storage. Before anything is claimed, the
    input is checked by the pre-flight (404/409/422 naming the reason) unless the body says ``"force": true``.
    An ``Idempotency-Key`` reused with a different path on the same route answers 422 (keys are scoped per route, like run ids): the key's claim keeps a fingerprint of the request
    that made it (``shared/runs/claims.py``)."""
    from ..runs.ids import fresh_run_id, idempotent_run_id
    from ..runs.ledger import RunLedger
    from ..runs.starter import ClaimMismatch, instance_exists, start_run

    try:
        check_query(req.params, ())
        settings = _settings()
        data = read_json_body(req)
        force = force_field(data)
        route, location = parse_start(data, settings)
        key = req.headers.get("Idempotency-Key")
        if key is not None and not (0 < len(key) <= 200):
            raise HttpProblem(400, "header 'Idempotency-Key' must be 1 to 200 characters")
        run_id = idempotent_run_id(route.name, key) if key else fresh_run_id(route.name)
        # a retried request (its Idempotency-Key's run exists) answers with that run whatever the folder holds now
        if not force and not (key and await instance_exists(client, run_id)):
            verdict = await preflight(settings, route, location, store)
            if not verdict.ok:
                raise preflight_problem(verdict)
        try:
            result = await start_run(client, ledger or RunLedger.from_settings(settings), settings, route,
                                     location, run_id=run_id, source="http",
                                     **({"policy": policy} if policy is not None else {}))
        except ClaimMismatch:
            raise HttpProblem(422, "header 'Idempotency-Key' was already used for a different request (another"
                                   " path on this route); use a new key for a new request", run_id=run_id) from None
    except HttpProblem as problem:
        return problem_response(problem)
    body = {"run_id": result.run_id, "route": route.name, "status": "Running", "input": location.url,
            "duplicate": not result.started}
    return accepted(req, body, result.run_id)


def debug_view(params: Any) -> bool:
    """``?view=debug`` answers the internal run view (monitor state included) instead of the public
    resource (:mod:`.resource`): for operators, undocumented beyond its name, free to change."""
    return choice_param(params, "view", VIEWS) == "debug"


@guarded
async def get(req: func.HttpRequest, client: Any) -> func.HttpResponse:
    run_id = run_id_param(req.route_params)
    check_query(req.params, ("async", "view"))
    debug = debug_view(req.params)
    _, view = await find_run(client, run_id)
    if not debug:
        from .resource import public_run

        view = public_run(view)
    if wants_async(req):
        # The async request-reply pattern: 202 while running; 200 with the result once ended, whatever the
        # outcome. A failed, canceled or timed-out run is a 200 whose body says so (``status``), as Durable's
        # own status endpoint does: pollers decide on the body (adf/pipeline.json fails on it).
        if view["status"] == "Running":
            return accepted(req, view, run_id)
        return json_response(200, view, {"X-Run-Status": view["status"]})
    return json_response(200, view)


@guarded
async def list_runs(req: func.HttpRequest, client: Any) -> func.HttpResponse:
    params = req.params
    check_query(params, LIST_PARAMS)
    route = route_param(params)
    wanted = choice_param(params, "status", API_STATUS | {"Running"})
    limit = int_param(params, "limit", default=50, low=1, high=1000)
    now = utc_naive(datetime.now(timezone.utc))
    since = time_param(params, "since", default=now - timedelta(days=7))
    if since > now:
        return json_response(200, {"runs": [], "count": 0})
    statuses = await client.get_status_by(created_time_from=since, created_time_to=now,
                                          instance_id_prefix=f"{route}-" if route else None)
    runs = [v for v in (describe(s) for s in statuses if is_run(s)) if v is not None]
    runs = [v for v in runs if (not route or v.get("route") == route) and (not wanted or v["status"] == wanted)]
    runs.sort(key=lambda v: str(v.get("created_at")), reverse=True)
    if debug_view(params):
        return json_response(200, {"runs": runs[:limit], "count": len(runs)})
    from .resource import public_list

    return json_response(200, public_list(runs[:limit], len(runs)))


@guarded
async def cancel(req: func.HttpRequest, client: Any) -> func.HttpResponse:
    from ..runs.models import CANCEL_EVENT

    run_id = run_id_param(req.route_params)
    check_query(req.params, ())
    body = read_json_body(req, allowed=CANCEL_FIELDS, required=False)
    reason = reason_field(body, "reason") or DEFAULT_CANCEL_REASON
    _, view = await find_run(client, run_id)
    if view["status"] != "Running":
        raise HttpProblem(409, f"run {run_id!r} has already ended ({view['status']})", field="run_id")
    try:
        await client.raise_event(run_id, CANCEL_EVENT, {"reason": reason})
    except Exception as exc:  # the SDK raises a bare Exception for 404 and 410 from the task hub
        text = str(exc)
        if "is gone" in text:
            raise HttpProblem(409, f"run {run_id!r} has already ended", field="run_id") from None
        if "No instance" in text:
            raise HttpProblem(404, f"no run {run_id!r}", field="run_id") from None
        raise
    return accepted(req, {"run_id": run_id, "status": "Running", "cancel_requested": True,
                          "reason": reason}, run_id)
