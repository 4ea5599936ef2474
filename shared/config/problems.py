"""Problems of a routes document in the project's words: where each is (``route 'heart': poll.max_seconds``)
and what is wrong, from pydantic's errors and from the checks no JSON Schema keyword expresses (:class:`Says`).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, Optional, Union, get_args, get_origin

from .checks import kind_of, route_name, shown
from .models import ROUTE_KINDS, Says

_NONE = type(None)


@dataclass(frozen=True)
class Where:
    """A location in the document: an optional label (``route 'heart'``) and a dotted path below it."""

    label: str = ""
    path: tuple[str, ...] = ()

    def key(self, name: object) -> "Where":
        text = name if isinstance(name, str) else repr(name)
        return Where(self.label, self.path + (text if len(text) <= 64 else text[:63] + "…",))

    def index(self, n: int) -> "Where":
        if not self.path:
            return Where(self.label, (f"[{n}]",))
        return Where(self.label, self.path[:-1] + (f"{self.path[-1]}[{n}]",))

    def __str__(self) -> str:
        dotted = ".".join(self.path)
        return f"{self.label}: {dotted}" if self.label and dotted else self.label or dotted


class Problems:
    """Collects problems in order; each one is ``"<where>: <message>"``."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: Union[Where, str], message: str) -> None:
        text = str(where)
        if (f"{text}: {message}" if text else message) in self.items:
            return  # one problem, reported once (a list's items can each repeat the list's message)
        self.items.append(f"{text}: {message}" if text else message)


def route_where(route: Any, n: int) -> Where:
    """``route 'heart'`` when the route names itself with a valid name, else ``routes[0]``."""
    name = route.get("name") if isinstance(route, dict) else getattr(route, "name", None)
    return Where(f"route {name!r}") if isinstance(name, str) and not route_name(name) else Where(f"routes[{n}]")


def datastore_where(key: Any) -> Where:
    return Where(f"datastore {shown(key, 66)}")


@lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


def _facts(tp: Any, found: dict) -> Any:
    """The bare type under ``Annotated``/``Optional``; constraints and :class:`Says` collected into ``found``."""
    while True:
        if get_origin(tp) is typing.Annotated:
            for meta in tp.__metadata__:
                for item in [meta, *getattr(meta, "metadata", ())]:
                    if isinstance(item, Says):
                        found.setdefault("says", item)
                    for name in ("ge", "le", "min_length", "max_length"):
                        if getattr(item, name, None) is not None:
                            found.setdefault(name, getattr(item, name))
            tp = tp.__origin__
        elif get_origin(tp) is Union and _NONE in get_args(tp) and len(get_args(tp)) == 2:
            tp = [a for a in get_args(tp) if a is not _NONE][0]
        else:
            return tp


def _field_at(root: type, loc: tuple) -> tuple[Any, dict, Any]:
    """The type, facts and owning dataclass of the field at ``loc`` (as far as the models know it)."""
    tp, facts, owner = root, {}, None
    for part in loc:
        facts = {}
        bare = _facts(tp, facts)
        if get_origin(bare) is Union and part in ROUTE_KINDS:  # the route kinds' union: pydantic names the kind
            tp = ROUTE_KINDS[part]
        elif dataclasses.is_dataclass(bare) and isinstance(part, str) and part in _fields(bare):
            owner, tp = bare, _hints(bare)[_fields(bare)[part]]
        elif get_origin(bare) is tuple and isinstance(part, int):
            tp = get_args(bare)[0]
        elif get_origin(bare) is dict:
            tp = get_args(bare)[1]
        else:
            return None, {}, bare if dataclasses.is_dataclass(bare) else None
    facts = {}
    return _facts(tp, facts), facts, owner


@lru_cache(maxsize=None)
def _fields(cls: type) -> dict[str, str]:
    """Document name → attribute name of a model's fields (``$schema``, ``name`` aliases included)."""
    out = {}
    for f in dataclasses.fields(cls):
        alias = next((getattr(m, "alias", None) for m in getattr(_hints(cls)[f.name], "__metadata__", ())
                      if getattr(m, "alias", None)), None)
        out[alias or f.name] = f.name
    return out


def _clean(loc: tuple) -> tuple:
    """``loc`` without the route kind's tag pydantic puts after ``routes[n]``."""
    if len(loc) > 2 and loc[0] == "routes" and isinstance(loc[1], int) and loc[2] in ROUTE_KINDS:
        return loc[:2] + loc[3:]
    return loc[1:] if loc and loc[0] in ROUTE_KINDS else loc


def where_of(loc: tuple, document: Any) -> Where:
    """Today's words for a pydantic location: routes by name, datastores by key, then a dotted path."""
    loc = _clean(loc)
    where, rest = Where(), loc
    if len(loc) >= 2 and loc[0] == "routes" and isinstance(loc[1], int):
        routes = document.get("routes") if isinstance(document, dict) else None
        item = routes[loc[1]] if isinstance(routes, list) and loc[1] < len(routes) else None
        where, rest = route_where(item, loc[1]), loc[2:]
    elif len(loc) >= 2 and loc[0] == "datastores":
        where, rest = datastore_where(loc[1]), loc[2:] if loc[2:] != ("name",) else ()
    for part in rest:
        where = where.index(part) if isinstance(part, int) else where.key(part)
    return where


def _bounds(facts: dict, value: Any) -> str:
    def number(v: float) -> str:
        return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else f"{v:g}"

    low, high = facts.get("ge"), facts.get("le")
    text = " and ".join(p for p in (f"at least {number(low)}" if low is not None else "",
                                    f"at most {number(high)}" if high is not None else "") if p)
    says = facts.get("says") or Says()
    above = high is not None and isinstance(value, (int, float)) and value > high
    return f"must be {text}, got {shown(value)}" + (f" {says.why_max}" if says.why_max and above else "")


def describe(error: dict, root: type, document: Any) -> Optional[tuple[Where, str]]:
    """One pydantic error as ``(where, message)``: the messages the project's validator has always given."""
    kind, loc, value = error["type"], tuple(error["loc"]), error.get("input")
    tp, facts, owner = _field_at(root, loc)
    says: Says = facts.get("says") or Says()
    where = where_of(loc, document)
    got = kind_of(value)
    if says.items and get_origin(tp) is tuple and get_origin(_facts(get_args(tp)[0], {})) is Literal:
        # A short list of scalars (notify.on) is judged as a whole: one message naming what it may hold.
        return where, f"{says.items}, got {_list_text(value) if isinstance(value, list) else got}"
    if kind == "literal_error" and len(loc) > 1 and isinstance(loc[-1], int):
        _, parent, _ = _field_at(root, loc[:-1])
        if parent.get("says") and parent["says"].items:
            return where_of(loc[:-1], document), f"{parent['says'].items}, got {_list_text(_at(document, loc[:-1]))}"
    if kind == "missing":
        return where, says.items or "is required"
    if kind == "unexpected_keyword_argument":
        known = sorted(name for name, attr in _fields(owner).items()
                       if attr != "name" or owner.__name__ != "Datastore") if owner else []
        return where, f"unknown field (known: {', '.join(known)})"
    if kind in ("dataclass_type", "dataclass_exact_type", "union_tag_not_found"):
        return where, f"must be an object, got {got}"
    if kind == "dict_type":
        return where, f"must be an object mapping names to {get_args(tp)[1].__name__} settings, got {got}" \
            if get_origin(tp) is dict and dataclasses.is_dataclass(get_args(tp)[1]) else f"must be an object, got {got}"
    if kind in ("tuple_type", "list_type"):
        return where, f"must be a list, got {got}"
    if kind == "too_short":
        if isinstance(value, list) and len(value) >= error["ctx"]["min_length"]:
            return None  # "too short after validation": its items' own problems say why
        return where, says.items or f"must hold at least {facts.get('min_length')} item(s)"
    if kind in ("string_type", "string_too_short"):
        empty = "" if facts.get("min_length") is None else "non-empty "
        return where, f"must be a {empty}string" + ("" if isinstance(value, str) else f", got {got}")
    if kind == "string_too_long":
        return where, f"must be at most {error['ctx']['max_length']} characters, got {len(value)}"
    if kind == "string_pattern_mismatch":
        if isinstance(value, str) and not value.strip():
            return where, "must be a non-empty string"
        return where, (says.pattern or "does not match its pattern {pattern}").format(
            value=shown(value), pattern=error["ctx"]["pattern"])
    if kind.startswith("int_"):
        return where, f"must be an integer, got {got}"
    if kind in ("float_type", "float_parsing"):
        return where, f"must be a number, got {got}"
    if kind == "finite_number":
        return where, f"must be a finite number, got {value!r} (NaN and Infinity are not allowed)"
    if kind in ("greater_than_equal", "less_than_equal"):
        return where, _bounds(facts, value)
    if kind == "bool_type":
        return where, f"must be true or false, got {got}"
    if kind == "literal_error":
        return where, f"must be one of {', '.join(map(str, get_args(tp)))}, got {got}"
    if kind == "union_tag_invalid":
        tag = value.get("kind") if isinstance(value, dict) else value
        return where.key("kind"), f"must be one of {', '.join(ROUTE_KINDS)}, got {kind_of(tag)}"
    return where, error["msg"]  # our own validators' messages (PydanticCustomError), already in these words


def _at(document: Any, loc: tuple) -> Any:
    for part in _clean(loc):
        document = document[part]
    return document


def _list_text(value: Any) -> str:
    if not isinstance(value, list):
        return kind_of(value)
    if len(value) > 8 or any(isinstance(v, (list, dict)) for v in value):
        return "a list"
    return "[" + ", ".join(shown(v, 40) for v in value) + "]"


def check_fields(tp: type, data: Any, where: Where, problems: Problems) -> None:
    """Run the :class:`Says` checks of ``tp``'s fields over a document's object, valid or not (a route refused for
    one field still hears about its URLs and templates), and refuse blank names."""
    if not (dataclasses.is_dataclass(tp) and isinstance(data, dict)):
        return
    for name, attr in _fields(tp).items():
        if name not in data:
            continue
        item, here, facts = data[name], where.key(name), {}
        bare = _facts(_hints(tp)[attr], facts)
        if isinstance(item, str):
            if facts.get("min_length") and not item.strip():
                problems.add(here, "must be a non-empty string")
            elif len(item) <= facts.get("max_length", len(item)):  # too long: that is its problem
                for check in (facts.get("says") or Says()).checks:
                    for message in check(item):
                        problems.add(here, message)
        elif dataclasses.is_dataclass(bare):
            check_fields(bare, item, here, problems)
        elif isinstance(item, list) and get_origin(bare) is tuple and dataclasses.is_dataclass(get_args(bare)[0]):
            for n, member in enumerate(item):
                check_fields(get_args(bare)[0], member, here.index(n), problems)
