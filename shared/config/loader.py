"""Read the routes document and turn it into :class:`AppSettings`: one pydantic call plus the cross-field rules.

Field types, defaults, bounds and grammars live in :mod:`.models` (validated by pydantic, which loads with this
module, never at ``function_app`` import); this module holds what spans fields: landing mode vs input type,
datastore references, sink names, the poll policy's orderings, unique routes, and outputs or sinks that would
land in a route's own landing location. It also writes the JSON Schema (``python -m shared.config``). Every
problem is collected and each names the route and the field (:mod:`.problems`), e.g.
``route 'heart': endpoint.scoring_uri: must be an https:// URL``. No problem echoes a credential.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Optional
from urllib.parse import unquote

from . import checks
from .connections import StorageConnectionError, account_url_of
from .exceptions import ConfigError
from .models import AnyRoute, AppSettings, Datastore, PollPolicy, Route, RoutesDocument, StateStore
from .problems import Problems, Where, check_fields, datastore_where, describe, route_where

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "config" / "routes.schema.json"
CONFIG_PATH_SETTING = "BATCH_CONFIG_PATH"
CONFIG_JSON_SETTING = "BATCH_CONFIG_JSON"
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024

_APP_DEFAULTS = {f.name: f.default for f in dataclasses.fields(AppSettings)}


def sink_default_name(url: str) -> str:
    """``<account>/<container>`` of a sink URL (pure; used when a sink has no ``name``)."""
    split = checks.split_storage_url(url)
    if split is None:
        return url
    account, container, _ = split
    account_name = account.rstrip("/").rsplit("/", 1)[-1] if checks.is_loopback_url(account) \
        else account.split("://", 1)[-1].split(".")[0]
    return f"{account_name}/{container}"


_adapters: dict[int, Any] = {}


def adapter(tp: Any) -> Any:
    """pydantic's validator (and JSON Schema) of a model, built once per process."""
    if id(tp) not in _adapters:
        from pydantic import TypeAdapter

        _adapters[id(tp)] = TypeAdapter(tp)
    return _adapters[id(tp)]


def validated(tp: Any, data: Any, at: Where, problems: Problems) -> Any:
    """``data`` as a ``tp`` (one pydantic call), or ``None`` with every problem added, located under ``at``."""
    from pydantic import ValidationError

    try:
        return adapter(tp).validate_python(data)
    except ValidationError as exc:
        for described in filter(None, (describe(error, tp, data) for error in exc.errors(include_url=False))):
            where, message = described
            problems.add(Where(at.label or where.label, at.path + where.path), message)
        return None
    except RecursionError:
        problems.add(at, "is nested too deeply")
        return None


def _without_nulls(value: Any, depth: int = 0) -> Any:
    """A member given as null takes its default, as if it were left out."""
    if isinstance(value, dict) and depth < 64:
        return {k: _without_nulls(v, depth + 1) for k, v in value.items() if v is not None}
    if isinstance(value, list) and depth < 64:
        return [_without_nulls(v, depth + 1) for v in value]
    return value


def _valid_parts(data: Any) -> Optional[RoutesDocument]:
    """After a refused document, the routes and datastores that are valid on their own: their cross-field rules
    still run, so that one pass reports every problem (the ones above are already reported)."""
    if not isinstance(data, dict):
        return None
    quiet = Problems()
    routes = data.get("routes") if isinstance(data.get("routes"), list) else []
    stores = data.get("datastores") if isinstance(data.get("datastores"), dict) else {}
    management_url = data.get("management_url")
    return RoutesDocument(
        routes=tuple(r for r in (validated(AnyRoute, item, Where(), quiet) for item in routes) if r is not None),
        datastores={key: store for key, item in stores.items() if isinstance(item, dict) and
                    (store := validated(Datastore, {**item, "name": key}, Where(), quiet)) is not None},
        management_url=management_url if isinstance(management_url, str) else None,
        state=validated(StateStore, data.get("state", {}), Where(), quiet) or StateStore())


def parse_settings(document: Any, environ: Mapping[str, str] = os.environ) -> AppSettings:
    """Validate a routes document (already JSON-decoded); raise :class:`ConfigError` listing all problems."""
    problems = Problems()
    data = _without_nulls(document)
    doc: Optional[RoutesDocument] = validated(RoutesDocument, data, Where(), problems) or _valid_parts(data)
    for n, item in enumerate(data.get("routes") if isinstance(data, dict) and isinstance(data.get("routes"), list)
                             else ()):
        check_fields(Route, item, route_where(item, n), problems)
    for key, item in (data.get("datastores") if isinstance(data, dict) and isinstance(data.get("datastores"), dict)
                      else {}).items():
        check_fields(Datastore, item, datastore_where(key), problems)
    routes = list(doc.routes) if doc else []
    datastores = {name: dataclasses.replace(store, account_url=store.account_url.rstrip("/"))
                  for name, store in (doc.datastores if doc else {}).items()}

    # A route whose name is not a name cannot be told apart from others: its own problems are reported, no more.
    # A datastore that is present but invalid has its own problems; routes using it are not told it is missing.
    named = set(document["datastores"]) if isinstance(document, dict) and isinstance(document.get("datastores"),
                                                                                    dict) else set()
    routes = [_route_rules(route, datastores, named, problems) for route in routes
              if not checks.route_name(route.name)]
    _unique_routes(routes, problems, environ)

    from .clouds import UnknownCloudError, current_cloud

    try:
        cloud = current_cloud(environ)   # AZURE_CLOUD decides the default ARM URL (and token audiences, Studio)
    except UnknownCloudError as exc:
        problems.add("AZURE_CLOUD", str(exc).split(": ", 1)[1])
        cloud = None
    management_url = environ.get("AML_MANAGEMENT_URL") or (doc.management_url if doc else None) \
        or (cloud.management_url if cloud else _APP_DEFAULTS["management_url"])
    for message in checks.endpoint_url(management_url):
        problems.add("management_url (or AML_MANAGEMENT_URL)", message)
    state_connection = (doc.state.connection if doc else None) or environ.get("STATE_CONNECTION") \
        or _APP_DEFAULTS["state_connection"]
    state_container = (doc.state.container if doc else None) or environ.get("STATE_CONTAINER") \
        or _APP_DEFAULTS["state_container"]
    from .. import paths

    if not paths.is_container_name(state_container):
        problems.add("state.container", f"{checks.shown(state_container)} is not a valid blob container name")

    _check_landing_overlaps(problems, routes, datastores, environ)
    _check_v1_datastore_accounts(problems, routes, datastores, environ)

    if problems.items:
        raise ConfigError(problems.items)
    return AppSettings(routes=tuple(routes), datastores=datastores, management_url=management_url.rstrip("/"),
                       state_connection=state_connection, state_container=state_container)


def _route_rules(route: Route, datastores: dict[str, Datastore], named: set, problems: Problems) -> Route:
    """Rules that span a route's fields; returns the route with normalised URLs and default sink names."""
    at = Where(f"route {route.name!r}")
    from .route_kinds import kind_rules

    kind_rules(route, datastores, named, problems, at)
    _poll_rules(route.poll, at.key("poll"), problems)
    hook = route.notify.webhook
    if hook is not None and (hook.url is None) == (hook.url_setting is None):
        problems.add(at.key("notify").key("webhook"), "give exactly one of url (in this document) and url_setting"
                                                      " (an app setting holding the URL)")

    sinks, names = [], set()
    for n, sink in enumerate(route.sinks):
        name = sink.name
        if not name:
            name = sink_default_name(sink.url)
            if name in names:
                name = f"{name}[{n}]"
        elif name in names:
            problems.add(at.key("sinks").index(n).key("name"), f"{name!r} is used by more than one sink of the route")
        names.add(name)
        sinks.append(dataclasses.replace(sink, name=name))
    endpoint = route.endpoint and dataclasses.replace(route.endpoint,
                                                      scoring_uri=route.endpoint.scoring_uri.rstrip("/"))
    return dataclasses.replace(route, sinks=tuple(sinks), endpoint=endpoint)


def _poll_rules(poll: PollPolicy, at: Where, problems: Problems) -> None:
    def larger(name: str, value: float, other: str, limit: float) -> None:
        problems.add(at.key(name), f"must not be larger than poll.{other} ({limit:g}), got {value:g}")

    if poll.max_seconds < poll.initial_seconds:
        problems.add(at.key("max_seconds"), f"must not be smaller than poll.initial_seconds"
                                            f" ({poll.initial_seconds:g}), got {poll.max_seconds:g}")
    if poll.min_history > poll.history_runs:
        larger("min_history", poll.min_history, "history_runs", poll.history_runs)
    if poll.near_seconds > poll.dense_seconds:
        larger("near_seconds", poll.near_seconds, "dense_seconds", poll.dense_seconds)
    if poll.dense_seconds > poll.max_seconds:
        larger("dense_seconds", poll.dense_seconds, "max_seconds", poll.max_seconds)
    if poll.events and poll.event_fallback_seconds < poll.max_seconds:
        problems.add(at.key("event_fallback_seconds"),
                     f"must not be smaller than poll.max_seconds ({poll.max_seconds:g}) when poll.events is"
                     f" true (the fallback widens polling), got {poll.event_fallback_seconds:g}")


def _check_v1_datastore_accounts(problems: Problems, routes: list[Route], datastores: dict[str, Datastore],
                                 environ: Mapping[str, str]) -> None:
    """A v1 route's ``pipeline_endpoint.datastore`` is on the landing account (its container is checked with the
    route); known only when the landing connection names its account."""
    from .route_kinds import landed_datastore_mismatch

    for route in routes:
        spec = route.pipeline_endpoint
        store = datastores.get(spec.datastore) if spec is not None and spec.datastore else None
        landing = _landing_account(route, environ) if store is not None else None
        if store is None or landing is None or store.container != route.match.container:
            continue
        theirs = checks.split_storage_url(store.account_url + "/c")
        if theirs is not None and theirs[0] != landing:
            problems.add(Where(f"route {route.name!r}").key("pipeline_endpoint").key("datastore"),
                         landed_datastore_mismatch(store.name, f"account {theirs[0]}", f"account {landing}"))


def _landing_account(route: Route, environ: Mapping[str, str]) -> Optional[str]:
    try:
        return checks.split_storage_url(account_url_of(route.match.connection, environ) + "/c")[0]
    except (StorageConnectionError, TypeError):
        return None


#: infra/modules/landing-subscriptions.bicep names a route's Event Grid subscription
#: ``take('landing-<name, lower case, '_' as '-'>', 64)`` (Event Grid's limit): the first 56 characters count.
RESOURCE_NAME_CHARS = 56


def route_resource_name(name: str) -> str:
    """How a route's name appears in the names of its Azure resources (see RESOURCE_NAME_CHARS)."""
    return name.lower().replace("_", "-")[:RESOURCE_NAME_CHARS]


def _unique_routes(routes: list[Route], problems: Problems, environ: Mapping[str, str]) -> None:
    """Route names are unique, and no two routes listen on the same account, container and prefix (the events
    of that location would start a run on an arbitrary one of them)."""
    names: set[str] = set()
    resource_names: dict[str, str] = {}
    places: dict[tuple, str] = {}
    for route in routes:
        if route.name in names:
            problems.add(Where(f"route {route.name!r}").key("name"), "is used by more than one route")
        elif route_resource_name(route.name) in resource_names:
            problems.add(Where(f"route {route.name!r}").key("name"),
                         f"names the same Azure resources as route {resource_names[route_resource_name(route.name)]!r}"
                         " (names are compared in lower case, with '_' as '-', on their first"
                         f" {RESOURCE_NAME_CHARS} characters: infra/ names an Event Grid subscription after each route)")
        names.add(route.name)
        resource_names.setdefault(route_resource_name(route.name), route.name)
        account = _landing_account(route, environ) or f"connection {route.match.connection}"
        place = (account, route.match.container, unquote(route.match.prefix))
        if place in places and places[place] != route.name:
            problems.add(Where(f"route {route.name!r}").key("match"),
                         f"listens on the same container and prefix as route {places[place]!r}"
                         f" ({route.match.container}/{route.match.prefix or '(root)'}); give each route its own"
                         " prefix")
        places.setdefault(place, route.name)


def _static_prefix(path: str) -> str:
    """The folder part of a template's path before its first placeholder, percent-decoded."""
    if "{" in path:
        path = path[: path.index("{")]
    return unquote(path[: path.rfind("/") + 1])


def _check_landing_overlaps(problems: Problems, routes: list[Route], datastores: dict[str, Datastore],
                            environ: Mapping[str, str]) -> None:
    """A sink or output location inside (or around) a landing prefix would feed a run's results back in as
    new landed data: every output would start another run. Reported here, before anything runs.

    Accounts are compared in canonical form (the dfs endpoint is the blob endpoint; abfss:// is a blob URL;
    host case does not matter). A route whose connection is not configured cannot be compared (and matches no
    events at runtime), so it is left out.
    """
    landings = [(route, account) for route in routes if (account := _landing_account(route, environ))]
    if not landings:
        return
    for route in routes:
        targets = []
        for output in route.job_outputs:
            datastore = datastores.get(output.datastore)
            if datastore is not None:
                split = checks.split_storage_url(datastore.account_url + "/" + datastore.container)
                if split:
                    targets.append((Where(f"route {route.name!r}").key("outputs" if route.outputs else "output"),
                                    (split[0], datastore.container, _static_prefix(output.path))))
        for n, sink in enumerate(route.sinks):
            split = checks.split_storage_url(sink.url)
            if split:
                targets.append((Where(f"route {route.name!r}").key("sinks").index(n).key("url"),
                                (split[0], split[1], _static_prefix(split[2]))))
        for where, (account, container, prefix) in targets:
            for landing_route, landing_account in landings:
                match = landing_route.match
                landing_prefix = unquote(match.prefix)
                if account == landing_account and container == match.container \
                        and (prefix.startswith(landing_prefix) or landing_prefix.startswith(prefix)):
                    problems.add(where, f"writes to container {container!r} under {prefix or '(root)'!r}, which"
                                        f" overlaps the landing location of route {landing_route.name!r}"
                                        f" (prefix {match.prefix or '(root)'!r}): its results would land as new"
                                        f" data and start more runs; use a separate container or prefix")


class DuplicateMember(ValueError):
    """A JSON object names a member twice: ``json`` keeps the last silently, which could hide a sink."""


def _unique_members(source: str):
    def hook(pairs: list) -> dict:
        seen: dict = {}
        for key, value in pairs:
            if key in seen:
                shown = key if len(key) <= 60 and key.isprintable() else f"(a name of {len(key)} characters)"
                raise DuplicateMember(f"{source}: member {shown!r} appears twice in one object; keep one")
            seen[key] = value
        return seen
    return hook


def decode_document(text: str, source: str) -> Any:
    """JSON text → document, or :class:`ConfigError`: malformed JSON, nesting deep enough to exhaust the
    parser's recursion, and numbers too long to convert are configuration errors, not crashes."""
    if len(text) > MAX_DOCUMENT_BYTES:
        raise ConfigError([f"{source}: is {len(text)} characters; the limit is {MAX_DOCUMENT_BYTES}"])
    try:
        return json.loads(text, object_pairs_hook=_unique_members(source))
    except DuplicateMember as exc:
        raise ConfigError([str(exc)]) from None
    except json.JSONDecodeError as exc:
        raise ConfigError([f"{source}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]) \
            from None
    except RecursionError:
        raise ConfigError([f"{source}: not valid JSON: nested too deeply"]) from None
    except ValueError as exc:  # e.g. an integer literal past Python's digit limit
        raise ConfigError([f"{source}: not valid JSON: {str(exc).split('; ')[0][:120]}"]) from None


def read_document(environ: Mapping[str, str] = os.environ) -> Any:
    """The routes document named by the app settings: inline JSON wins over a file path."""
    inline = environ.get(CONFIG_JSON_SETTING)
    path = environ.get(CONFIG_PATH_SETTING)
    if inline:
        source, text = CONFIG_JSON_SETTING, inline
    elif path:
        source = f"{CONFIG_PATH_SETTING} ({checks.shown(path)[1:-1]})"
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read(MAX_DOCUMENT_BYTES + 1)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise ConfigError([f"{source}: cannot read the file: {reason}"]) from None
    else:
        raise ConfigError([f"no configuration: set {CONFIG_PATH_SETTING} to a routes file"
                           f" or {CONFIG_JSON_SETTING} to inline JSON"])
    return decode_document(text, source)


_cache: dict[tuple, Any] = {}  # AppSettings, or the ConfigError of an invalid configuration


def load_settings(environ: Mapping[str, str] = os.environ,
                  reader: Callable[[Mapping[str, str]], Any] = read_document) -> AppSettings:
    """Read and validate once per distinct configuration (the worker reuses the process across calls).

    An invalid configuration is remembered too, so the anonymous health probe cannot make the app re-read and
    re-validate a large document on every call.
    """
    path = environ.get(CONFIG_PATH_SETTING)
    try:
        mtime = os.stat(path).st_mtime_ns if path else None
    except (OSError, ValueError):
        mtime = None
    key = (environ.get(CONFIG_JSON_SETTING), path, mtime, environ.get("AML_MANAGEMENT_URL"),
           environ.get("STATE_CONNECTION"), environ.get("STATE_CONTAINER"), reader)
    cached = _cache.get(key)
    if cached is None:
        try:
            cached = parse_settings(reader(environ), environ)
        except ConfigError as exc:
            cached = exc
        _cache.clear()
        _cache[key] = cached
    if isinstance(cached, ConfigError):
        raise ConfigError(cached.problems)
    return cached


def _untitled(schema: Any) -> Any:
    """pydantic's schema without the titles it derives from Python names (descriptions say what a field is)."""
    if isinstance(schema, dict):
        return {k: _untitled(v) for k, v in schema.items() if not (k == "title" and isinstance(v, str))}
    return [_untitled(v) for v in schema] if isinstance(schema, list) else schema


def routes_schema() -> dict:
    """The routes document's JSON Schema (draft 2020-12), generated from the models."""
    schema = _untitled(adapter(RoutesDocument).json_schema(by_alias=True))
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "batch-endpoint-functions routes document", **schema,
            "$defs": dict(sorted(schema["$defs"].items()))}


def render_schema() -> str:
    return json.dumps(routes_schema(), indent=2, ensure_ascii=False) + "\n"


def schema_main(argv: list[str]) -> int:
    """``python -m shared.config`` writes config/routes.schema.json; ``--check`` exits 1 when it is stale."""
    text = render_schema()
    if "--check" in argv:
        if (SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else "") != text:
            print(f"{SCHEMA_PATH} is stale: run python -m shared.config", file=sys.stderr)
            return 1
        return 0
    SCHEMA_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
    return 0
