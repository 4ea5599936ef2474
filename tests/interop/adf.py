"""Replays an Azure Data Factory pipeline (adf/pipeline.json) as Data Factory documents it, against any HTTP
callable. Enough of ADF to run this project's pipeline, not a general emulator:

* expressions: ``@expr`` values and ``@{expr}`` interpolation; functions ``pipeline()``, ``activity()``,
  ``variables()``, ``concat``, ``equals``, ``not``, ``and``, ``or``, ``empty``, ``contains``, ``string``,
  ``json``, ``coalesce``, ``if``, ``uriComponent``; property access ``.name``, ``['name']`` and the null-safe ``?.name``.
* activities: ``WebActivity``, ``SetVariable``, ``Until``, ``IfCondition``, ``Fail``, with ``dependsOn``
  conditions (``Succeeded``, ``Failed``, ``Completed``, ``Skipped``).
* the Web activity (learn.microsoft.com/azure/data-factory/control-flow-web-activity): a 2xx answer succeeds
  and its JSON object is the output; any other status fails the activity (error 2108). Unless
  ``turnOffAsync``, a ``202`` is followed: GET the ``Location`` after ``Retry-After`` seconds, again and
  again, until a non-202 answer. Whether ADF resends the request's headers when it polls is undocumented,
  so the replay sends none: the pipeline must not depend on them. ``policy.timeout`` bounds the whole
  activity; ``Until.timeout`` bounds the loop (an inner failure does not stop the loop, as documented).

Time is the caller's: ``sleep(seconds)`` is called for every wait (tests advance a simulated clock).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable, Optional
from urllib.parse import quote

HttpCall = Callable[[str, str, dict, Optional[bytes]], tuple[int, dict, bytes]]
"""(method, url, headers, body) -> (status, headers, body)"""


class ActivityFailed(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def timespan(text: str) -> timedelta:
    """ADF ``d.hh:mm:ss`` / ``hh:mm:ss``."""
    days, _, rest = text.rpartition(".") if text.count(":") == 2 and "." in text.split(":")[0] else ("", "", text)
    hours, minutes, seconds = (int(part) for part in rest.split(":"))
    return timedelta(days=int(days or 0), hours=hours, minutes=minutes, seconds=seconds)


# --- expressions -------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
                    r"|(?P<punct>\?\.|\?\[|[().,\[\]]))")


class _Parser:
    def __init__(self, text: str, scope: "Run"):
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if not match or match.end() == position:
                if text[position:].strip() == "":
                    break
                raise ValueError(f"cannot parse expression at {text[position:]!r}")
            kind = match.lastgroup
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
        self.index = 0
        self.scope = scope

    def peek(self) -> Optional[tuple[str, str]]:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, value: Optional[str] = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise ValueError(f"expected {value!r}, got {token!r}")
        self.index += 1
        return token

    def parse(self) -> Any:
        value = self.expression()
        if self.peek() is not None:
            raise ValueError(f"trailing tokens: {self.tokens[self.index:]}")
        return value

    def expression(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            value: Any = text[1:-1].replace("''", "'")
        elif kind == "num":
            value = float(text) if "." in text else int(text)
        elif kind == "name" and text in ("true", "false", "null") and (self.peek() or ("", ""))[1] != "(":
            value = {"true": True, "false": False, "null": None}[text]
        elif kind == "name":
            self.take("(")
            args = []
            while (self.peek() or ("", ""))[1] != ")":
                args.append(self.expression())
                if (self.peek() or ("", ""))[1] == ",":
                    self.take(",")
            self.take(")")
            value = self.scope.call(text, args)
        else:
            raise ValueError(f"unexpected {text!r}")
        while (self.peek() or ("", ""))[1] in (".", "[", "?.", "?["):
            accessor = self.take()[1]
            key = self.take()[1] if accessor.endswith(".") else self.expression()
            if accessor.endswith("["):
                self.take("]")
            if accessor.startswith("?"):  # null-safe: a missing property is null
                value = value.get(key) if isinstance(value, dict) else None
            else:
                value = _member(value, key)
        return value


def _member(value: Any, key: Any) -> Any:
    if isinstance(value, dict):
        if key not in value:
            raise ActivityFailed("InvalidTemplate", f"property {key!r} doesn't exist, available: {sorted(value)}")
        return value[key]
    if isinstance(value, list) and isinstance(key, int):
        return value[key]
    raise ActivityFailed("InvalidTemplate", f"cannot select {key!r} from {type(value).__name__}")


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


# --- the pipeline run --------------------------------------------------------------------------------

@dataclass
class ActivityRun:
    name: str
    type: str
    status: str  # Succeeded | Failed | Skipped
    output: Any = None
    error: Optional[ActivityFailed] = None
    requests: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Run:
    pipeline: dict
    parameters: dict
    http: HttpCall
    sleep: Callable[[float], None]
    run_id: str = "adf-run-0001"
    default_retry_after: float = 10.0
    variables: dict = field(default_factory=dict)
    activity_runs: list[ActivityRun] = field(default_factory=list)
    latest: dict = field(default_factory=dict)
    elapsed: float = 0.0
    status: str = "InProgress"
    failure: Optional[ActivityFailed] = None

    def __post_init__(self) -> None:
        declared = self.pipeline["properties"].get("parameters", {})
        values = {name: spec.get("defaultValue") for name, spec in declared.items()}
        unknown = set(self.parameters) - set(declared)
        if unknown:
            raise ValueError(f"the pipeline has no parameter(s) {sorted(unknown)}")
        values.update(self.parameters)
        missing = [name for name, value in values.items() if value is None]
        if missing:
            raise ValueError(f"parameters without a value: {missing}")
        self.parameters = values
        for name, spec in self.pipeline["properties"].get("variables", {}).items():
            self.variables[name] = spec.get("defaultValue")

    # expressions
    def call(self, name: str, args: list) -> Any:
        functions: dict[str, Callable[..., Any]] = {
            "pipeline": lambda: {"parameters": self.parameters, "RunId": self.run_id},
            "activity": lambda activity: {"output": self._output_of(activity)},
            "variables": lambda variable: self.variables[variable],
            "concat": lambda *parts: "".join(_string(p) for p in parts),
            "equals": lambda a, b: a == b,
            "not": lambda a: not a,
            "and": lambda *xs: all(xs),
            "or": lambda *xs: any(xs),
            "empty": lambda v: v is None or len(v) == 0,
            "contains": lambda haystack, needle: needle in haystack,
            "string": _string,
            "json": lambda text: json.loads(text),
            "coalesce": lambda *xs: next((x for x in xs if x is not None), None),
            "if": lambda condition, a, b: a if condition else b,
            "uriComponent": lambda text: quote(_string(text), safe=""),
        }
        if name not in functions:
            raise ValueError(f"expression function {name!r} is not supported by this replay")
        return functions[name](*args)

    def _output_of(self, activity: str) -> Any:
        if activity not in self.latest:
            raise ActivityFailed("InvalidTemplate", f"activity {activity!r} has not run")
        return self.latest[activity].output

    def evaluate(self, value: Any) -> Any:
        if isinstance(value, dict):
            if value.get("type") == "Expression" and set(value) == {"value", "type"}:
                return self.evaluate(value["value"])
            return {key: self.evaluate(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.evaluate(item) for item in value]
        if not isinstance(value, str):
            return value
        if value.startswith("@@"):
            return value[1:]
        if value.startswith("@{") or "@{" in value:
            return re.sub(r"@\{(.*?)\}", lambda m: _string(_Parser(m.group(1), self).parse()), value)
        if value.startswith("@"):
            return _Parser(value[1:], self).parse()
        return value

    # control flow
    def execute(self) -> "Run":
        try:
            self._run_block(self.pipeline["properties"]["activities"], top_level=True)
            self.status = "Failed" if self.failure else "Succeeded"
        except ActivityFailed as exc:
            self.failure = exc
            self.status = "Failed"
        return self

    def _run_block(self, activities: list[dict], top_level: bool = False) -> None:
        done: dict[str, ActivityRun] = {}
        pending = list(activities)
        while pending:
            progressed = False
            for activity in list(pending):
                deps = activity.get("dependsOn", [])
                if any(dep["activity"] not in done for dep in deps):
                    continue
                pending.remove(activity)
                progressed = True
                ready = all(_condition_met(done[dep["activity"]].status, dep["dependencyConditions"])
                            for dep in deps)
                run = self._run_activity(activity) if ready else ActivityRun(activity["name"], activity["type"],
                                                                              "Skipped")
                done[activity["name"]] = run
                self.activity_runs.append(run)
                if run.status != "Skipped":
                    self.latest[activity["name"]] = run
            if not progressed:
                raise ValueError(f"dependency cycle or unknown dependency among {[a['name'] for a in pending]}")
        if top_level:
            handled = {dep["activity"] for a in activities for dep in a.get("dependsOn", [])
                       if {"Failed", "Completed"} & set(dep["dependencyConditions"])}
            for run in done.values():
                if run.status == "Failed" and (run.type == "Fail" or run.name not in handled):
                    self.failure = self.failure or run.error

    def _run_activity(self, activity: dict) -> ActivityRun:
        run = ActivityRun(activity["name"], activity["type"], "Succeeded")
        try:
            kind = activity["type"]
            props = activity.get("typeProperties", {})
            if kind == "WebActivity":
                run.output = self._web(activity, run)
            elif kind == "SetVariable":
                self.variables[props["variableName"]] = self.evaluate(props["value"])
            elif kind == "Until":
                self._until(props)
            elif kind == "IfCondition":
                branch = "ifTrueActivities" if self.evaluate(props["expression"]) else "ifFalseActivities"
                self._run_block(props.get(branch, []), top_level=True)
                if self.failure:
                    raise self.failure
            elif kind == "Fail":
                raise ActivityFailed(str(self.evaluate(props["errorCode"])), str(self.evaluate(props["message"])))
            else:
                raise ValueError(f"activity type {kind!r} is not supported by this replay")
        except ActivityFailed as exc:
            run.status, run.error = "Failed", exc
        return run

    def _until(self, props: dict) -> None:
        limit = timespan(props.get("timeout", "7.00:00:00")).total_seconds()
        started = self.elapsed
        while True:
            self._run_block(props["activities"])
            if self.evaluate(props["expression"]):
                return
            if self.elapsed - started >= limit:
                raise ActivityFailed("ActivityTimedOut", "the Until loop reached its timeout")

    def _wait(self, seconds: float) -> None:
        self.sleep(seconds)
        self.elapsed += seconds

    def _web(self, activity: dict, run: ActivityRun) -> Any:
        props = activity["typeProperties"]
        limit = timespan(activity.get("policy", {}).get("timeout", "7.00:00:00")).total_seconds()
        started = self.elapsed
        method = props["method"].upper()
        url = self.evaluate(props["url"])
        headers = {k: _string(v) for k, v in self.evaluate(props.get("headers", {})).items()}
        body = None
        if method in ("POST", "PUT", "PATCH"):
            if "body" not in props:
                raise ActivityFailed("2108", "body is required for POST, PUT and PATCH")
            evaluated = self.evaluate(props["body"])
            body = (evaluated if isinstance(evaluated, str) else json.dumps(evaluated)).encode()
        status, answer_headers, raw = self.http(method, url, headers, body)
        run.requests.append((method, url))
        while status == 202 and not props.get("turnOffAsync", False):
            location = _header(answer_headers, "Location")
            if not location:
                break
            retry_after = _header(answer_headers, "Retry-After")
            self._wait(float(retry_after) if retry_after else self.default_retry_after)
            if self.elapsed - started > limit:
                raise ActivityFailed("ActivityTimedOut", f"activity {activity['name']!r} timed out")
            status, answer_headers, raw = self.http("GET", location, {}, None)
            run.requests.append(("GET", location))
        if not 200 <= status < 300:
            raise ActivityFailed("2108", f"Error calling the endpoint '{url}'. Response status code: '{status}'")
        try:
            output = json.loads(raw) if raw else {}
        except ValueError:
            raise ActivityFailed("2108", "the response is not valid JSON") from None
        if not isinstance(output, dict):
            raise ActivityFailed("2108", "the response must be a JSON object")
        output["ADFWebActivityResponseHeaders"] = dict(answer_headers)
        return output


def _header(headers: dict, name: str) -> Optional[str]:
    return next((value for key, value in headers.items() if key.lower() == name.lower()), None)


def _condition_met(status: str, conditions: list[str]) -> bool:
    return any(c == status or (c == "Completed" and status in ("Succeeded", "Failed")) for c in conditions)
