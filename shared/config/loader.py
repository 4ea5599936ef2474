"""Parse and validate the routes document into :class:`AppSettings`.

Every problem is collected (not just the first) and each message names the route and the field, e.g.
``route 'heart': endpoint.scoring_uri: must be an https:// URL``.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Callable, Mapping, Optional
from urllib.parse import urlsplit

from .exceptions import ConfigError
from .models import (
    DEFAULT_CONNECTION,
    AppSettings,
    Datastore,
    DeliveryPolicy,
    EndpointConfig,
    InputSpec,
    JobOverrides,
    LandingRule,
    MatchRule,
    NotifyConfig,
    OutputSpec,
    PollPolicy,
    QueueNotification,
    Route,
    SinkConfig,
    WebhookNotification,
    Workspace,
)

CONFIG_PATH_SETTING = "BATCH_CONFIG_PATH"
CONFIG_JSON_SETTING = "BATCH_CONFIG_JSON"

_ROUTE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
_CONTAINER_NAME = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
_CONNECTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
_QUEUE_NAME = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
_SINK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,127}$")
OUTCOME_NAMES = ("Succeeded", "Failed", "Canceled", "TimedOut")

OUTPUT_PLACEHOLDERS = {"run_id", "route", "date", "attempt"}
SINK_PLACEHOLDERS = {"route", "folder", "run_id", "date", "file"}


class _Problems:
    """Collects problems; ``where`` prefixes each message with its location."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}" if where else message)


class _Section:
    """Typed access to one JSON object that records a problem instead of raising."""

    def __init__(self, data: Any, where: str, problems: _Problems, known: set[str]):
        self.where = where
        self.problems = problems
        if not isinstance(data, dict):
            problems.add(where, f"must be an object, got {type(data).__name__}")
            data = {}
        self.data = data
        for key in data:
            if key not in known:
                problems.add(self._at(key), f"unknown field (known: {', '.join(sorted(known))})")

    def _at(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where and not self.where.endswith(":") else f"{self.where} {key}".strip()

    def text(self, key: str, default: Optional[str] = None, *, required: bool = False) -> Optional[str]:
        value = self.data.get(key, default)
        if value is None:
            if required:
                self.problems.add(self._at(key), "is required")
            return None
        if not isinstance(value, str) or not value.strip():
            self.problems.add(self._at(key), "must be a non-empty string")
            return default
        return value

    def number(self, key: str, default: Any = None, *, minimum: float, integer: bool = False,
               maximum: Optional[float] = None) -> Any:
        value = self.data.get(key, default)
        if value is None:
            return None
        kind_ok = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not kind_ok:
            self.problems.add(self._at(key), f"must be {'an integer' if integer else 'a number'}, got {value!r}")
            return default
        if value < minimum or (maximum is not None and value > maximum):
            upper = f" and at most {maximum:g}" if maximum is not None else ""
            self.problems.add(self._at(key), f"must be at least {minimum:g}{upper}, got {value!r}")
            return default
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            self.problems.add(self._at(key), f"must be true or false, got {value!r}")
            return default
        return value

    def choice(self, key: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.data.get(key, default)
        if value not in allowed:
            self.problems.add(self._at(key), f"must be one of {', '.join(allowed)}, got {value!r}")
            return default
        return value

    def section(self, key: str, known: set[str], *, required: bool = False) -> Optional["_Section"]:
        if key not in self.data or self.data[key] is None:
            if required:
                self.problems.add(self._at(key), "is required")
            return None
        return _Section(self.data[key], self._at(key), self.problems, known)


def is_loopback_url(url: str) -> bool:
    return (urlsplit(url).hostname or "") in _LOOPBACK_HOSTS


def _check_url(problems: _Problems, where: str, url: Optional[str]) -> None:
    """Remote services must be https; plain http is allowed only on loopback (emulator, Azurite)."""
    if url is None:
        return
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and is_loopback_url(url):
        return
    problems.add(where, f"must be an https:// URL (http only on 127.0.0.1/localhost), got {url!r}")


def _placeholders(template: str) -> set[str]:
    return set(re.findall(r"{([^{}]*)}", template))


def _check_template(problems: _Problems, where: str, template: Optional[str], allowed: set[str]) -> None:
    if template is None:
        return
    unknown = _placeholders(template) - allowed
    if unknown:
        problems.add(where, f"unknown placeholder(s) {', '.join('{' + u + '}' for u in sorted(unknown))};"
                            f" allowed: {', '.join('{' + a + '}' for a in sorted(allowed))}")


def _check_connection(problems: _Problems, where: str, name: Optional[str]) -> None:
    if name is not None and not _CONNECTION_NAME.match(name):
        problems.add(where, f"must be an app-setting name (letters, digits, _), got {name!r}")


def _parse_datastores(raw: Any, problems: _Problems) -> dict[str, Datastore]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.add("datastores", "must be an object mapping datastore name to {account_url, container}")
        return {}
    result = {}
    for name, body in raw.items():
        s = _Section(body, f"datastore {name!r}:", problems, {"account_url", "container", "connection"})
        account_url = s.text("account_url", required=True)
        container = s.text("container", required=True)
        connection = s.text("connection", DEFAULT_CONNECTION)
        _check_url(problems, f"datastore {name!r}: account_url", account_url)
        _check_connection(problems, f"datastore {name!r}: connection", connection)
        if account_url and container:
            result[name] = Datastore(name, account_url.rstrip("/"), container, connection or DEFAULT_CONNECTION)
    return result


def _parse_route(raw: Any, index: int, datastores: dict[str, Datastore], problems: _Problems) -> Optional[Route]:
    name = raw.get("name") if isinstance(raw, dict) else None
    label = f"route {name!r}:" if isinstance(name, str) and name else f"routes[{index}]:"
    s = _Section(raw, label, problems, {"name", "match", "landing", "endpoint", "input", "output",
                                        "overrides", "poll", "sinks", "delivery", "notify", "description"})
    if isinstance(name, str) and name and not _ROUTE_NAME.match(name):
        problems.add(f"{label} name", "must be 1-63 letters, digits, '-' or '_'")
    s.text("name", required=True)
    s.text("description")

    m = s.section("match", {"container", "prefix", "connection"}, required=True)
    match = None
    if m:
        container = m.text("container", required=True)
        if container and not _CONTAINER_NAME.match(container):
            problems.add(m._at("container"), f"{container!r} is not a valid blob container name")
        prefix = m.data.get("prefix", "")
        if not isinstance(prefix, str) or prefix.startswith("/"):
            problems.add(m._at("prefix"), "must be a blob name prefix without a leading '/'")
            prefix = ""
        connection = m.text("connection", DEFAULT_CONNECTION)
        _check_connection(problems, m._at("connection"), connection)
        if container:
            match = MatchRule(container, prefix, connection or DEFAULT_CONNECTION)

    land = s.section("landing", {"mode", "marker_name", "manifest_name", "quiet_seconds",
                                 "manifest_wait_minutes", "ignore_subfolders"})
    landing = LandingRule()
    if land:
        landing = LandingRule(
            mode=land.choice("mode", "marker", ("marker", "manifest", "quiet_period", "per_file")),
            marker_name=land.text("marker_name", "_SUCCESS") or "_SUCCESS",
            manifest_name=land.text("manifest_name", "_manifest.json") or "_manifest.json",
            quiet_seconds=land.number("quiet_seconds", 60, minimum=1, integer=True),
            manifest_wait_minutes=land.number("manifest_wait_minutes", 60, minimum=1, integer=True),
            ignore_subfolders=land.flag("ignore_subfolders", False),
        )

    e = s.section("endpoint", {"scoring_uri", "deployment", "workspace"}, required=True)
    endpoint = None
    if e:
        scoring_uri = e.text("scoring_uri", required=True)
        _check_url(problems, e._at("scoring_uri"), scoring_uri)
        deployment = e.text("deployment")
        workspace = None
        w = e.section("workspace", {"subscription_id", "resource_group", "name"})
        if w:
            sub, rg, ws = (w.text(k, required=True) for k in ("subscription_id", "resource_group", "name"))
            if sub and rg and ws:
                workspace = Workspace(sub, rg, ws)
        if scoring_uri:
            endpoint = EndpointConfig(scoring_uri.rstrip("/"), deployment, workspace)

    i = s.section("input", {"type", "name"})
    input_spec = InputSpec()
    if i:
        input_spec = InputSpec(type=i.choice("type", "uri_folder", ("uri_folder", "uri_file")),
                               name=i.text("name", "input_data") or "input_data")
    if landing.mode == "per_file" and input_spec.type != "uri_file":
        problems.add(f"{label} input.type", "must be 'uri_file' when landing.mode is 'per_file'")

    o = s.section("output", {"datastore", "path", "name", "action"}, required=True)
    output = None
    if o:
        datastore = o.text("datastore", required=True)
        path = o.text("path", required=True)
        if datastore and datastore not in datastores:
            problems.add(o._at("datastore"), f"datastore {datastore!r} is not in the datastores map"
                                             f" (known: {', '.join(sorted(datastores)) or 'none'})")
        if path:
            _check_template(problems, o._at("path"), path, OUTPUT_PLACEHOLDERS)
            if "{run_id}" not in path:
                problems.add(o._at("path"), "must contain {run_id}: a batch job fails when its output file"
                                            " already exists, so every run needs its own path")
            if path.startswith("/") or path.endswith("/"):
                problems.add(o._at("path"), "must be the output file's path inside the datastore,"
                                            " without a leading or trailing '/'")
        if datastore and path:
            output = OutputSpec(datastore, path, o.text("name", "score") or "score",
                                o.choice("action", "append_row", ("append_row", "summary_only")))

    ov = s.section("overrides", {"mini_batch_size", "instance_count", "max_retries", "timeout_seconds",
                                 "error_threshold", "output_file_name", "experiment_name"})
    overrides = JobOverrides()
    if ov:
        overrides = JobOverrides(
            mini_batch_size=ov.number("mini_batch_size", minimum=1, integer=True),
            instance_count=ov.number("instance_count", minimum=1, integer=True),
            max_retries=ov.number("max_retries", minimum=0, integer=True),
            timeout_seconds=ov.number("timeout_seconds", minimum=1, integer=True),
            error_threshold=ov.number("error_threshold", minimum=-1, integer=True),
            output_file_name=ov.text("output_file_name"),
            experiment_name=ov.text("experiment_name"),
        )

    poll = _parse_poll(s, label, problems)

    sinks = _parse_sinks(s, label, problems)
    delivery = _parse_delivery(s)
    notify = _parse_notify(s, label, problems)

    if not (isinstance(name, str) and match and endpoint and output):
        return None
    return Route(name=name, match=match, endpoint=endpoint, input=input_spec, output=output,
                 landing=landing, overrides=overrides, poll=poll, sinks=tuple(sinks), delivery=delivery,
                 notify=notify)


def _sink_url_problem(url: str) -> Optional[str]:
    """Blob (``https://acct.blob...``), ADLS Gen2 (``https://acct.dfs...``, ``abfss://fs@acct.dfs...``) or
    loopback path-style URLs, each naming a container (file system)."""
    parts = urlsplit(url)
    if parts.scheme == "abfss":
        if "@" not in parts.netloc or not parts.netloc.split("@", 1)[0]:
            return f"an abfss:// URL must look like abfss://<filesystem>@<account>.dfs.core.windows.net/<path>," \
                   f" got {url!r}"
        return None
    segments = [seg for seg in parts.path.split("/") if seg]
    needed = 2 if (parts.hostname or "") in _LOOPBACK_HOSTS else 1
    if len(segments) < needed:
        return "must name a container after the account, like https://<account>.blob.core.windows.net/" \
               f"<container>/<path>, got {url!r}"
    return None


def sink_default_name(url: str) -> str:
    """``<account>/<container>`` of a sink URL (pure; used when a sink has no ``name``)."""
    parts = urlsplit(url)
    segments = [seg for seg in parts.path.split("/") if seg]
    if parts.scheme == "abfss":
        filesystem, _, host = parts.netloc.partition("@")
        return f"{host.split('.')[0]}/{filesystem}"
    if (parts.hostname or "") in _LOOPBACK_HOSTS:
        return "/".join(segments[:2])
    return "/".join([(parts.hostname or "").split(".")[0], *segments[:1]])


def _parse_sinks(s: "_Section", label: str, problems: _Problems) -> list[SinkConfig]:
    sinks: list[SinkConfig] = []
    raw_sinks = s.data.get("sinks", [])
    if not isinstance(raw_sinks, list):
        problems.add(f"{label} sinks", "must be a list")
        raw_sinks = []
    names: set[str] = set()
    for n, raw_sink in enumerate(raw_sinks):
        k = _Section(raw_sink, f"{label} sinks[{n}]", problems, {"url", "connection", "name"})
        url = k.text("url", required=True)
        connection = k.text("connection", DEFAULT_CONNECTION)
        sink_name = k.text("name")
        if url and urlsplit(url).scheme == "abfss":
            problem = _sink_url_problem(url)
        else:
            _check_url(problems, k._at("url"), url)
            problem = _sink_url_problem(url) if url else None
        if problem:
            problems.add(k._at("url"), problem)
        _check_template(problems, k._at("url"), url, SINK_PLACEHOLDERS)
        _check_connection(problems, k._at("connection"), connection)
        if sink_name is not None and not _SINK_NAME.match(sink_name):
            problems.add(k._at("name"), f"must be 1-128 letters, digits or _.:/@- , got {sink_name!r}")
        if url:
            if sink_name is None:
                sink_name = sink_default_name(url)
                if sink_name in names:
                    sink_name = f"{sink_name}[{n}]"
            elif sink_name in names:
                problems.add(k._at("name"), f"{sink_name!r} is used by more than one sink of the route")
            names.add(sink_name)
            sinks.append(SinkConfig(url, connection or DEFAULT_CONNECTION, sink_name))
    return sinks


def _parse_delivery(s: "_Section") -> DeliveryPolicy:
    d = s.section("delivery", {"strategy", "copy_timeout_minutes"})
    if not d:
        return DeliveryPolicy()
    defaults = DeliveryPolicy()
    return DeliveryPolicy(
        strategy=d.choice("strategy", defaults.strategy, ("auto", "server_side", "streaming")),
        copy_timeout_minutes=d.number("copy_timeout_minutes", defaults.copy_timeout_minutes, minimum=1,
                                      maximum=7 * 24 * 60))


def _parse_notify(s: "_Section", label: str, problems: _Problems) -> NotifyConfig:
    n = s.section("notify", {"queue", "webhook", "on"})
    if not n:
        return NotifyConfig()
    queue = webhook = None
    q = n.section("queue", {"connection", "name"})
    if q:
        connection = q.text("connection", DEFAULT_CONNECTION)
        queue_name = q.text("name", required=True)
        _check_connection(problems, q._at("connection"), connection)
        if queue_name and not _QUEUE_NAME.match(queue_name):
            problems.add(q._at("name"), f"{queue_name!r} is not a valid queue name (3-63 lowercase letters,"
                                        " digits and single '-')")
        elif queue_name:
            queue = QueueNotification(connection or DEFAULT_CONNECTION, queue_name)
    w = n.section("webhook", {"url", "secret_setting"})
    if w:
        url = w.text("url", required=True)
        _check_url(problems, w._at("url"), url)
        if url and urlsplit(url).username is not None:
            problems.add(w._at("url"), "must not carry credentials; use secret_setting to sign the body")
        secret_setting = w.text("secret_setting")
        _check_connection(problems, w._at("secret_setting"), secret_setting)
        if url:
            webhook = WebhookNotification(url, secret_setting)
    on = n.data.get("on", list(NotifyConfig().on))
    if not isinstance(on, list) or not on or any(o not in OUTCOME_NAMES for o in on):
        problems.add(n._at("on"), f"must be a non-empty list of outcomes from {', '.join(OUTCOME_NAMES)},"
                                  f" got {on!r}")
        on = list(NotifyConfig().on)
    return NotifyConfig(queue, webhook, tuple(on))


POLL_FIELDS = {"initial_seconds", "max_seconds", "growth", "deadline_hours", "polls_per_execution",
               "max_status_errors", "duration_aware", "history_runs", "min_history", "near_seconds",
               "dense_seconds", "sparse_fraction", "events", "event_fallback_seconds"}


def _parse_poll(s: "_Section", label: str, problems: _Problems) -> PollPolicy:
    """The route's ``poll`` section: adaptive, duration-aware and event-fallback settings."""
    p = s.section("poll", POLL_FIELDS)
    if not p:
        return PollPolicy()
    d = PollPolicy()
    max_seconds = p.number("max_seconds", d.max_seconds, minimum=1, maximum=6 * 24 * 3600)
    # Defaults of unset fields follow the route's max_seconds, so a route that only shortens max_seconds
    # (e.g. config/routes.local.json, max 10 s) is not rejected for near/dense/fallback values it never set.
    dense_default = min(d.dense_seconds, max_seconds)
    dense_seconds = p.number("dense_seconds", dense_default, minimum=1, maximum=6 * 3600)
    poll = PollPolicy(
        initial_seconds=p.number("initial_seconds", d.initial_seconds, minimum=1),
        max_seconds=max_seconds,
        growth=p.number("growth", d.growth, minimum=1, maximum=10),
        deadline_hours=p.number("deadline_hours", d.deadline_hours, minimum=0.001, maximum=24 * 90),
        polls_per_execution=p.number("polls_per_execution", d.polls_per_execution, minimum=5, integer=True),
        max_status_errors=p.number("max_status_errors", d.max_status_errors, minimum=1, integer=True),
        duration_aware=p.flag("duration_aware", d.duration_aware),
        history_runs=p.number("history_runs", d.history_runs, minimum=2, maximum=500, integer=True),
        min_history=p.number("min_history", d.min_history, minimum=2, maximum=500, integer=True),
        near_seconds=p.number("near_seconds", min(d.near_seconds, dense_seconds), minimum=1, maximum=3600),
        dense_seconds=dense_seconds,
        sparse_fraction=p.number("sparse_fraction", d.sparse_fraction, minimum=0.01, maximum=1),
        events=p.flag("events", d.events),
        event_fallback_seconds=p.number("event_fallback_seconds", max(d.event_fallback_seconds, max_seconds),
                                        minimum=60, maximum=6 * 24 * 3600),
    )
    where = f"{label} poll."
    if poll.max_seconds < poll.initial_seconds:
        problems.add(f"{where}max_seconds", f"must not be smaller than poll.initial_seconds"
                                            f" ({poll.initial_seconds:g}), got {poll.max_seconds:g}")
    if poll.min_history > poll.history_runs:
        problems.add(f"{where}min_history", f"must not be larger than poll.history_runs"
                                            f" ({poll.history_runs}), got {poll.min_history}")
    if poll.near_seconds > poll.dense_seconds:
        problems.add(f"{where}near_seconds", f"must not be larger than poll.dense_seconds"
                                             f" ({poll.dense_seconds:g}), got {poll.near_seconds:g}")
    if poll.dense_seconds > poll.max_seconds:
        problems.add(f"{where}dense_seconds", f"must not be larger than poll.max_seconds"
                                              f" ({poll.max_seconds:g}), got {poll.dense_seconds:g}")
    if poll.events and poll.event_fallback_seconds < poll.max_seconds:
        problems.add(f"{where}event_fallback_seconds",
                     f"must not be smaller than poll.max_seconds ({poll.max_seconds:g}) when poll.events is"
                     f" true (the fallback widens polling), got {poll.event_fallback_seconds:g}")
    return poll


def parse_settings(document: Any, environ: Mapping[str, str] = os.environ) -> AppSettings:
    """Validate a routes document (already JSON-decoded); raise :class:`ConfigError` listing all problems."""
    problems = _Problems()
    top = _Section(document, "", problems, {"routes", "datastores", "management_url", "state",
                                            "$schema", "description"})
    datastores = _parse_datastores(top.data.get("datastores"), problems)

    raw_routes = top.data.get("routes")
    if not isinstance(raw_routes, list) or not raw_routes:
        problems.add("routes", "must be a non-empty list of routes")
        raw_routes = []
    routes: list[Route] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_routes):
        route = _parse_route(raw, index, datastores, problems)
        if route is None:
            continue
        if route.name in seen:
            problems.add(f"route {route.name!r}: name", "is used by more than one route")
        seen.add(route.name)
        routes.append(route)

    management_url = environ.get("AML_MANAGEMENT_URL") or top.data.get("management_url") \
        or "https://management.azure.com"
    _check_url(problems, "management_url (or AML_MANAGEMENT_URL)", management_url)

    state = top.section("state", {"connection", "container"})
    state_connection = (state.text("connection") if state else None) or environ.get(
        "STATE_CONNECTION", DEFAULT_CONNECTION)
    state_container = (state.text("container") if state else None) or environ.get("STATE_CONTAINER", "batchruns")
    if not _CONTAINER_NAME.match(state_container):
        problems.add("state.container", f"{state_container!r} is not a valid blob container name")

    _check_landing_overlaps(problems, routes, datastores, environ)

    if problems.items:
        raise ConfigError(problems.items)
    return AppSettings(routes=tuple(routes), datastores=datastores, management_url=management_url.rstrip("/"),
                       state_connection=state_connection, state_container=state_container)


def _check_landing_overlaps(problems: _Problems, routes: list[Route], datastores: dict[str, Datastore],
                            environ: Mapping[str, str]) -> None:
    """A sink or output location inside (or around) a landing prefix would feed a run's results back in as
    new landed data: every output would start another run. Reported here, before anything runs.

    A route's landing account comes from its connection's app settings; a route whose connection is not
    configured cannot be compared (and matches no events at runtime), so it is left out.
    """
    from ..landing.rules import output_location, prefixes_overlap, template_location
    from ..storage.connections import StorageConnectionError, account_url_of

    landings = []
    for route in routes:
        try:
            account = account_url_of(route.match.connection, environ).rstrip("/").lower()
        except StorageConnectionError:
            continue
        landings.append((route, account))
    if not landings:
        return
    settings = AppSettings(routes=tuple(routes), datastores=datastores)
    for route in routes:
        targets = [(f"route {route.name!r}: output", output_location(settings, route))]
        targets += [(f"route {route.name!r}: sinks[{n}].url", template_location(sink.url))
                    for n, sink in enumerate(route.sinks)]
        for where, target in targets:
            if target is None:
                continue
            account, container, prefix = target
            for landing_route, landing_account in landings:
                match = landing_route.match
                if account == landing_account and container == match.container \
                        and prefixes_overlap(prefix, match.prefix):
                    problems.add(where, f"writes to container {container!r} under {prefix or '(root)'!r}, which"
                                        f" overlaps the landing location of route {landing_route.name!r}"
                                        f" (prefix {match.prefix or '(root)'!r}): its results would land as new"
                                        f" data and start more runs; use a separate container or prefix")


def read_document(environ: Mapping[str, str] = os.environ) -> Any:
    """The routes document named by the app settings: inline JSON wins over a file path."""
    inline = environ.get(CONFIG_JSON_SETTING)
    path = environ.get(CONFIG_PATH_SETTING)
    if inline:
        source, text = CONFIG_JSON_SETTING, inline
    elif path:
        source = f"{CONFIG_PATH_SETTING} ({path})"
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise ConfigError([f"{source}: cannot read the file: {exc.strerror}"]) from None
    else:
        raise ConfigError([f"no configuration: set {CONFIG_PATH_SETTING} to a routes file"
                           f" or {CONFIG_JSON_SETTING} to inline JSON"])
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError([f"{source}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]) \
            from None


_cache: dict[tuple, AppSettings] = {}


def load_settings(environ: Mapping[str, str] = os.environ,
                  reader: Callable[[Mapping[str, str]], Any] = read_document) -> AppSettings:
    """Read and validate once per distinct configuration (the worker reuses the process across calls)."""
    path = environ.get(CONFIG_PATH_SETTING)
    try:
        mtime = os.stat(path).st_mtime_ns if path else None
    except OSError:
        mtime = None
    key = (environ.get(CONFIG_JSON_SETTING), path, mtime, environ.get("AML_MANAGEMENT_URL"),
           environ.get("STATE_CONNECTION"), environ.get("STATE_CONTAINER"))
    cached = _cache.get(key)
    if cached is None:
        cached = parse_settings(reader(environ), environ)
        _cache.clear()
        _cache[key] = cached
    return cached
