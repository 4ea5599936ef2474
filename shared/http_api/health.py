"""The health probe: anonymous status and counts; the problems themselves only with a function key.

``GET /api/health`` is anonymous (load balancers, uptime checks): it says whether the configuration is valid and
how many routes or problems there are, and nothing else. ``GET /api/health/details`` needs a function key and
lists the problems and which kind of credential each storage connection uses. Problems are redacted when they
are made (:class:`shared.config.ConfigError`) and never hold a setting's value.
"""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func

from .. import __version__
from ..config import AppSettings, ConfigError, load_settings


def _answer(status: int, body: dict) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json",
                             headers={"Cache-Control": "no-store"})


def health() -> func.HttpResponse:
    """Anonymous: status, version and counts only."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        return _answer(503, {"status": "invalid_configuration", "version": __version__,
                             "problem_count": len(exc.problems), "details": "GET /api/health/details (function key)"})
    body = {"status": "ok", "version": __version__, "route_count": len(settings.routes)}
    deprecated = deprecated_routes(settings)
    if deprecated:
        body["deprecated_routes"] = len(deprecated)
    return _answer(200, body)


def deprecated_routes(settings: AppSettings) -> list[dict]:
    """Routes of a kind that is on its way out (pipeline_endpoint_v1: SDK v1 support ended 2026-06-30)."""
    return [{"route": route.name, "kind": route.kind, "message": route.deprecated}
            for route in settings.routes if route.deprecated]


def connection_kinds(settings: AppSettings) -> dict[str, Any]:
    """Each storage connection the configuration uses → how it authenticates, or why it cannot be used."""
    from ..config.connections import StorageConnectionError, resolve

    names = {settings.state_connection}
    for route in settings.routes:
        names.add(route.match.connection)
        names.update(sink.connection for sink in route.sinks)
        if route.notify.queue:
            names.add(route.notify.queue.connection)
    names.update(datastore.connection for datastore in settings.datastores.values())
    kinds: dict[str, Any] = {}
    for name in sorted(names):
        try:
            kinds[name] = resolve(name).kind
        except StorageConnectionError as exc:
            kinds[name] = {"problem": str(exc)}
    return kinds


def details() -> func.HttpResponse:
    """Function key: the problems of an invalid configuration, or the routes and connections of a valid one."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        return _answer(503, {"status": "invalid_configuration", "version": __version__,
                             "problem_count": len(exc.problems), "problems": exc.problems})
    body = {"status": "ok", "version": __version__, "route_count": len(settings.routes),
            "routes": [route.name for route in settings.routes], "connections": connection_kinds(settings)}
    deprecated = deprecated_routes(settings)
    if deprecated:
        body["deprecated"] = deprecated
    return _answer(200, body)
