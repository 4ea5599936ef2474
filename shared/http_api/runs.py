"""The runs HTTP API: start, read, list and cancel runs; and the health probe.

Long work follows the async request-reply pattern that ADF's Web activity and Logic Apps follow:
``202 Accepted`` with ``Location`` and ``Retry-After`` until the run has ended, then ``200``.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Optional
from urllib.parse import quote, urlencode, urlsplit

import azure.functions as func

from .. import __version__
from ..config import AppSettings, ConfigError, UnknownRouteError, load_settings
from ..storage.uris import BlobLocation

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
RETRY_AFTER_SECONDS = 10
RUNNING_STATES = {"Pending", "Running", "ContinuedAsNew", "Suspended"}
API_STATUS = {"Succeeded", "Failed", "Canceled", "TimedOut"}


class HttpProblem(Exception):
    """An error answer: status code and a message a caller can act on."""

    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def json_response(status: int, body: Any, headers: Optional[dict] = None) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body, default=str), status_code=status, mimetype="application/json",
                             headers=headers or {})


def problem_response(problem: HttpProblem) -> func.HttpResponse:
    return json_response(problem.status, {"error": problem.message, **problem.extra})


def _settings() -> AppSettings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise HttpProblem(503, "the app's configuration is invalid; see GET /api/health",
                          problems=exc.problems) from None


def read_json_body(req: func.HttpRequest) -> dict:
    body = req.get_body() or b""
    if len(body) > MAX_BODY_BYTES:
        raise HttpProblem(413, f"request body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
    if not body.strip():
        raise HttpProblem(400, "request body is empty; send a JSON object such as"
                               ' {"route": "heart", "path": "heart/2024-06-01/"}')
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HttpProblem(400, f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise HttpProblem(400, "request body must be a JSON object")
    return data


def _text_field(data: dict, key: str, *, required: bool) -> Optional[str]:
    value = data.get(key)
    if value is None:
        if required:
            raise HttpProblem(400, f"field '{key}' is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise HttpProblem(400, f"field '{key}' must be a non-empty string")
    return value


def parse_start(data: dict, settings: AppSettings) -> tuple[Any, BlobLocation]:
    """Which route and which input. The input is a path in a container the route allows, never a URL."""
    unknown = set(data) - {"route", "path", "container", "reason"}
    if unknown:
        hint = " (inputs are given as 'container' and 'path', not as URLs)" if unknown & {"url", "uri", "input_url"} \
            else ""
        raise HttpProblem(400, f"unknown field(s): {', '.join(sorted(unknown))}{hint}")
    route_name = _text_field(data, "route", required=True)
    try:
        route = settings.route(route_name)
    except UnknownRouteError as exc:
        raise HttpProblem(404, str(exc)) from None
    path = _text_field(data, "path", required=True)
    container = _text_field(data, "container", required=False) or route.match.container
    if container != route.match.container:
        raise HttpProblem(400, f"field 'container': route {route.name!r} reads only from container"
                               f" {route.match.container!r}")
    if "://" in path or path.startswith("/") or ".." in path.split("/"):
        raise HttpProblem(400, "field 'path' must be a blob path inside the container, like 'heart/2024-06-01/'")
    if not path.startswith(route.match.prefix):
        raise HttpProblem(400, f"field 'path' must start with the route's prefix {route.match.prefix!r}")
    if route.input.type == "uri_file" and path.endswith("/"):
        raise HttpProblem(400, f"field 'path': route {route.name!r} scores single files (uri_file); give a file")
    from ..storage.connections import StorageConnectionError, account_url_of

    try:
        account_url = account_url_of(route.match.connection)
    except StorageConnectionError as exc:
        raise HttpProblem(503, str(exc)) from None
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
    return json_response(202, {**body, "status_url": location}, {"Location": location,
                                                                 "Retry-After": str(RETRY_AFTER_SECONDS)})


def describe(status: Any) -> Optional[dict]:
    """A Durable instance status as the API's run view."""
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
    view["created_at"] = status.created_time
    view["updated_at"] = status.last_updated_time
    return view


def wants_async(req: func.HttpRequest) -> bool:
    return req.params.get("async", "").lower() in ("1", "true") or \
        "respond-async" in (req.headers.get("Prefer") or "").lower()


async def start(req: func.HttpRequest, client: Any) -> func.HttpResponse:
    from ..runs.ids import fresh_run_id, idempotent_run_id
    from ..runs.ledger import RunLedger
    from ..runs.starter import start_run

    try:
        settings = _settings()
        route, location = parse_start(read_json_body(req), settings)
        key = req.headers.get("Idempotency-Key")
        if key is not None and not (0 < len(key) <= 200):
            raise HttpProblem(400, "header 'Idempotency-Key' must be 1 to 200 characters")
        run_id = idempotent_run_id(route.name, key) if key else fresh_run_id(route.name)
        result = await start_run(client, RunLedger.from_settings(settings), settings, route, location,
                                 run_id=run_id, source="http")
    except HttpProblem as problem:
        return problem_response(problem)
    body = {"run_id": result.run_id, "route": route.name, "status": "Running", "input": location.url,
            "duplicate": not result.started}
    return accepted(req, body, result.run_id)


async def get(req: func.HttpRequest, client: Any) -> func.HttpResponse:
    run_id = req.route_params.get("run_id", "")
    view = describe(await client.get_status(run_id))
    if view is None:
        return problem_response(HttpProblem(404, f"no run {run_id!r}"))
    if wants_async(req):
        # The async request-reply pattern: 202 while running; 200 with the result once ended, whatever the
        # outcome. A failed, canceled or timed-out run is a 200 whose body says so (``status``), as Durable's
        # own status endpoint does: pollers decide on the body (adf/pipeline.json fails on it).
        if view["status"] == "Running":
            return accepted(req, view, run_id)
        return json_response(200, view, {"X-Run-Status": view["status"]})
    return json_response(200, view)


def _since(text: Optional[str]) -> datetime:
    if not text:
        return datetime.now(timezone.utc) - timedelta(days=7)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise HttpProblem(400, f"query 'since' must be an ISO-8601 time, got {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


async def list_runs(req: func.HttpRequest, client: Any) -> func.HttpResponse:
    try:
        route = req.params.get("route")
        wanted = req.params.get("status")
        if wanted and wanted not in API_STATUS | {"Running"}:
            raise HttpProblem(400, f"query 'status' must be one of Running, {', '.join(sorted(API_STATUS))}")
        limit_text = req.params.get("limit", "50")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 1000:
            raise HttpProblem(400, "query 'limit' must be a whole number from 1 to 1000")
        since = _since(req.params.get("since"))
    except HttpProblem as problem:
        return problem_response(problem)
    statuses = await client.get_status_by(created_time_from=since, created_time_to=datetime.now(timezone.utc),
                                          instance_id_prefix=f"{route}-" if route else None)
    runs = [v for v in (describe(s) for s in statuses) if v is not None]
    runs = [v for v in runs if (not route or v.get("route") == route) and (not wanted or v["status"] == wanted)]
    runs.sort(key=lambda v: str(v.get("created_at")), reverse=True)
    return json_response(200, {"runs": runs[: int(limit_text)], "count": len(runs)})


async def cancel(req: func.HttpRequest, client: Any) -> func.HttpResponse:
    from ..runs.models import CANCEL_EVENT

    run_id = req.route_params.get("run_id", "")
    reason = "cancelled via the HTTP API"
    if req.get_body():
        try:
            body = read_json_body(req)
            reason = _text_field(body, "reason", required=False) or reason
        except HttpProblem as problem:
            return problem_response(problem)
    view = describe(await client.get_status(run_id))
    if view is None:
        return problem_response(HttpProblem(404, f"no run {run_id!r}"))
    if view["status"] != "Running":
        return problem_response(HttpProblem(409, f"run {run_id!r} has already ended ({view['status']})"))
    await client.raise_event(run_id, CANCEL_EVENT, {"reason": reason})
    return accepted(req, {"run_id": run_id, "status": "Running", "cancel_requested": True}, run_id)


def health() -> func.HttpResponse:
    """Anonymous: whether the configuration is valid, and the version. Nothing secret."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        return json_response(503, {"status": "invalid_configuration", "version": __version__,
                                   "problems": exc.problems})
    return json_response(200, {"status": "ok", "version": __version__,
                               "routes": [route.name for route in settings.routes]})
