"""Strict reading of what an HTTP caller sends: the body, query parameters and path parameters (pure).

One body reader serves every endpoint, so the same rules hold everywhere:

* at most :data:`MAX_BODY_BYTES` bytes (``413``); no ``Content-Encoding`` other than ``identity`` (``415``);
* UTF-8 (a leading byte-order mark is ignored), one JSON object, nested at most :data:`MAX_JSON_DEPTH` deep,
  no ``NaN``/``Infinity``, no key given twice, no key the endpoint does not know (``400`` naming it);
* every field has one type; ``null`` for an optional field means "not given".

Query parameters are checked the same way: unknown names are refused (``code``, the function key, is always
allowed), numbers are ASCII digits, times are ISO-8601. A run id in a path is checked against the run-id
grammar of :mod:`shared.paths` before it reaches the Durable client or storage.

Each refusal is an :class:`~shared.http_api.problems.HttpProblem` naming the input at fault.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping, Optional

from ..paths import InvalidName, check_route_name, check_run_id
from ..redact import redact, shown
from .problems import HttpProblem

MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32
MAX_REASON_CHARS = 500
MAX_TEXT_CHARS = 2048
ALWAYS_ALLOWED_QUERY = frozenset({"code"})  # the function key, when a caller passes it in the URL

_BOM = b"\xef\xbb\xbf"
_DIGITS = re.compile(r"[0-9]{1,6}")
# RFC 3339 / ISO-8601 extended format with ASCII digits only: a date, or a date and time with an optional
# fraction and zone. A space where a '+' was is read as '+': an unencoded '+' in a query string arrives as one.
_ISO_TIME = re.compile(r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
                       r"(?:[T ](?P<time>[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?)"
                       r"(?P<zone>Z|z|[+\- ][0-9]{2}:[0-9]{2})?)?")
_EPOCH = datetime(1970, 1, 1)
# a field or parameter name that may be echoed in an error: anything else may carry anything, a credential too
_ECHOABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,62}")
# C0, DEL, C1 controls, and the invisible bidirectional overrides that make a text read differently than it is
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")



# --- bodies ----------------------------------------------------------------------------------------------

def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    data: dict = {}
    for key, value in pairs:
        if key in data:
            named = _ECHOABLE_NAME.fullmatch(key) is not None
            raise HttpProblem(400, f"request body gives field {key!r} twice" if named else
                              "request body gives a field twice", field=key if named else None)
        data[key] = value
    return data


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of parsed JSON, stopping once past ``limit``."""
    stack = [(value, 1)]
    deepest = 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            break
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def parse_json_object(body: bytes, *, allowed: Optional[Iterable[str]] = None, required: bool = True,
                      example: str = "") -> dict:
    """The JSON object in ``body``, or :class:`HttpProblem`. ``allowed``: the only keys it may have (``None``:
    any). ``required=False``: an empty body is ``{}``."""
    if len(body) > MAX_BODY_BYTES:
        raise HttpProblem(413, f"request body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
    if body.startswith(_BOM):
        body = body[len(_BOM):]
    if not body.strip():
        if not required:
            return {}
        raise HttpProblem(400, "request body is empty; send a JSON object" + (f" such as {example}" if example else ""))
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HttpProblem(400, f"request body is not UTF-8 (byte {exc.start})") from None
    try:
        data = json.loads(text, parse_constant=_no_constants, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise HttpProblem(400, f"request body is nested too deeply; the limit is {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError and the NaN/Infinity refusal; the message has no body text
        raise HttpProblem(400, f"request body is not valid JSON: {str(exc)[:200]}") from None
    # Depth first: Python 3.13's parser reads far deeper documents without a RecursionError than 3.11's.
    if _depth(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise HttpProblem(400, f"request body is nested too deeply; the limit is {MAX_JSON_DEPTH} levels")
    if not isinstance(data, dict):
        raise HttpProblem(400, f"request body must be a JSON object, not a JSON {type(data).__name__}")
    if allowed is not None:
        reject_unknown(data, allowed, what="field")
    return data


def reject_unknown(given: Iterable[str], allowed: Iterable[str], *, what: str, hint: str = "") -> None:
    """Refuse names the endpoint does not know, naming them. A name that is not a plain identifier is not
    echoed (it may carry anything, a credential included): the answer says how long it is instead."""
    known = set(allowed)
    unknown = sorted(k for k in given if k not in known)
    if unknown:
        names = ", ".join(repr(k) if _ECHOABLE_NAME.fullmatch(k) else f"(a name of {len(k)} characters that is"
                          " not an identifier)" for k in unknown)
        expected = ", ".join(sorted(known)) or "none"
        first = unknown[0] if _ECHOABLE_NAME.fullmatch(unknown[0]) else None
        raise HttpProblem(400, f"unknown {what}(s): {names}; expected: {expected}{hint}", field=first)


def check_content_encoding(headers: Mapping[str, str]) -> None:
    encoding = (headers.get("Content-Encoding") or "").strip().lower()
    if encoding not in ("", "identity"):
        raise HttpProblem(415, f"header 'Content-Encoding: {shown(encoding, 30)}' is not supported; send the body"
                               " uncompressed", field="Content-Encoding")


def text_field(data: dict, key: str, *, required: bool, max_chars: int = MAX_TEXT_CHARS) -> Optional[str]:
    """A string field: present (unless optional), a JSON string, not blank, at most ``max_chars`` long."""
    value = data.get(key)
    if value is None:
        if required:
            raise HttpProblem(400, f"field '{key}' is required", field=key)
        return None
    if not isinstance(value, str):
        raise HttpProblem(400, f"field '{key}' must be a string, not a JSON {_json_type(value)}", field=key)
    if not value.strip():
        raise HttpProblem(400, f"field '{key}' must not be blank", field=key)
    if len(value) > max_chars:
        raise HttpProblem(400, f"field '{key}' is {len(value)} characters; the limit is {max_chars}", field=key)
    return value


def reason_field(data: dict, key: str = "reason") -> Optional[str]:
    """A free-text reason: at most :data:`MAX_REASON_CHARS` characters, control and bidi-override characters
    replaced by spaces, whitespace collapsed, credentials redacted. ``None`` when absent or empty."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise HttpProblem(400, f"field '{key}' must be a string, not a JSON {_json_type(value)}", field=key)
    if len(value) > MAX_REASON_CHARS:
        raise HttpProblem(400, f"field '{key}' is {len(value)} characters; the limit is {MAX_REASON_CHARS}",
                          field=key)
    cleaned = " ".join(_UNPRINTABLE.sub(" ", unicodedata.normalize("NFC", value)).split())
    return redact(cleaned) or None


def _json_type(value: Any) -> str:
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)


# --- path and query parameters ---------------------------------------------------------------------------

def run_id_param(route_params: Mapping[str, str]) -> str:
    """The ``{run_id}`` of a path, checked against the run-id grammar: ``400`` naming ``run_id`` when it cannot
    be a run id (so it never reaches a Durable URL or a blob name)."""
    try:
        return check_run_id(route_params.get("run_id", ""))
    except InvalidName as exc:
        raise HttpProblem(400, f"path parameter 'run_id' {exc.reason}; run ids are letters, digits, '-' and"
                               " '_' (at most 128)", field="run_id") from None


def check_query(params: Mapping[str, str], allowed: Iterable[str]) -> None:
    reject_unknown(params, set(allowed) | ALWAYS_ALLOWED_QUERY, what="query parameter")


def route_param(params: Mapping[str, str], key: str = "route") -> Optional[str]:
    text = params.get(key)
    if text is None or text == "":
        return None
    try:
        return check_route_name(text, field=key)
    except InvalidName as exc:
        raise HttpProblem(400, f"query '{key}' {exc.reason}", field=key) from None


def choice_param(params: Mapping[str, str], key: str, choices: Iterable[str]) -> Optional[str]:
    text = params.get(key)
    if text is None or text == "":
        return None
    options = sorted(choices)
    if text not in options:
        raise HttpProblem(400, f"query '{key}' must be one of {', '.join(options)}; got {shown(text, 30)!r}",
                          field=key)
    return text


def int_param(params: Mapping[str, str], key: str, *, default: int, low: int, high: int) -> int:
    """A whole number written in ASCII digits (so ``²`` or ``٣`` are refused, not read), within bounds."""
    text = params.get(key)
    if text is None or text == "":
        return default
    if not _DIGITS.fullmatch(text) or not low <= int(text) <= high:
        raise HttpProblem(400, f"query '{key}' must be a whole number from {low} to {high}; got {shown(text, 30)!r}",
                          field=key)
    return int(text)


def parse_time(text: str, *, field: str) -> datetime:
    """An ISO-8601 time as a naive UTC datetime, clamped to [1970-01-01, 9999-12-31].

    A time without a zone is UTC. An offset is applied (``10:00+02:00`` is ``08:00`` UTC): the Durable client
    writes times without a zone, so an aware time must become UTC before it reaches it. Years before 1970 mean
    "from the beginning" (no run is older); the clamp also keeps the client from writing a year it cannot
    format (``%Y`` writes year 999 as ``999``).
    """
    match = _ISO_TIME.fullmatch(text.strip())
    if not match:
        raise HttpProblem(400, f"query '{field}' must be an ISO-8601 time such as 2024-06-01T08:00:00Z;"
                               f" got {shown(text, 40)!r}", field=field)
    zone = match["zone"] or ""
    if zone.startswith(" "):
        zone = "+" + zone[1:]
    iso = match["date"] + ("T" + match["time"] if match["time"] else "") + ("+00:00" if zone in ("Z", "z") else zone)
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError as exc:
        raise HttpProblem(400, f"query '{field}' is not a valid time ({exc}); got {shown(text, 40)!r}",
                          field=field) from None
    if moment.tzinfo is None:
        return max(moment, _EPOCH)
    offset = moment.utcoffset() or timedelta(0)
    try:
        utc = moment.replace(tzinfo=None) - offset
    except OverflowError:  # past either end of the calendar: clamp
        return _EPOCH if moment.year < 5000 else datetime(9999, 12, 31)
    return max(utc, _EPOCH)


def time_param(params: Mapping[str, str], key: str, *, default: datetime) -> datetime:
    text = params.get(key)
    if text is None or text == "":
        return default
    return parse_time(text, field=key)


def utc_naive(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment
