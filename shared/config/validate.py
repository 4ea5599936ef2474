"""A generic validator: walks a JSON document against the typed models and builds them, collecting problems.

The models' field types (``str``, ``int``, ``float``, ``bool``, ``Literal``, ``Optional``, ``tuple[X, ...]``,
``dict[str, X]``, nested dataclasses) and their :class:`~.fields.Rule` metadata say everything: there is no
per-field code here. Every problem names where it is, e.g. ``route 'heart': overrides.mini_batch_size: must be
at least 1 and at most 1000000, got 0``, and every problem is reported, not just the first.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, Optional, Union, get_args, get_origin

from .checks import shown
from .fields import MISSING, UNSET, Rule, default_of, json_name, rule_of

_NONE = type(None)


@dataclass(frozen=True)
class Where:
    """A location in the document: an optional label (``route 'heart'``) and a dotted path below it."""

    label: str = ""
    path: tuple[str, ...] = ()

    def key(self, name: object) -> "Where":
        text = name if isinstance(name, str) else repr(name)
        if len(text) > 64:
            text = text[:63] + "…"
        return Where(self.label, self.path + (text,))

    def index(self, n: int) -> "Where":
        if not self.path:
            return Where(self.label, (f"[{n}]",))
        return Where(self.label, self.path[:-1] + (f"{self.path[-1]}[{n}]",))

    def __str__(self) -> str:
        dotted = ".".join(self.path)
        if self.label and dotted:
            return f"{self.label}: {dotted}"
        return self.label or dotted


class Problems:
    """Collects problems in document order; each one is ``"<where>: <message>"``."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: Union[Where, str], message: str) -> None:
        text = str(where)
        self.items.append(f"{text}: {message}" if text else message)


@lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return shown(value)


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"


def build(cls: type, data: Any, where: Where, problems: Problems, *, key: Optional[str] = None) -> Any:
    """An instance of the dataclass ``cls`` from ``data``, or ``None`` when a required part is unusable."""
    if not isinstance(data, dict):
        problems.add(where, f"must be an object, got {_kind(data)}")
        return None
    fields = [f for f in dataclasses.fields(cls) if f.init]
    known = sorted(json_name(f) for f in fields if not rule_of(f).from_key)
    for name in data:
        if name not in known:
            problems.add(where.key(name), f"unknown field (known: {', '.join(known)})")
    kwargs: dict[str, Any] = {}
    usable = True
    for f in fields:
        rule = rule_of(f)
        if rule.from_key:
            good, value = convert(_hints(cls)[f.name], key, where, rule, problems)
            usable &= good
            kwargs[f.name] = value
            continue
        name = json_name(f)
        default = default_of(f)
        value = data.get(name)
        if value is None:
            if default is MISSING:
                problems.add(where.key(name), "is required")
                usable = False
            elif rule.min_items and len(default) < rule.min_items:
                problems.add(where.key(name), rule.min_items_message or f"must hold at least {rule.min_items} item(s)")
                usable = False
            elif rule.document_default is not UNSET:
                kwargs[f.name] = default
            continue
        good, converted = convert(_hints(cls)[f.name], value, where.key(name), rule, problems)
        if good:
            kwargs[f.name] = converted
        elif default is MISSING:
            usable = False
        elif rule.document_default is not UNSET:
            kwargs[f.name] = default
    if not usable:
        return None
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:  # pragma: no cover - a model's __post_init__ refusing checked values
        problems.add(where, f"is not usable: {exc}")
        return None


def convert(tp: Any, value: Any, where: Where, rule: Rule, problems: Problems) -> tuple[bool, Any]:
    """``(True, converted)`` or ``(False, None)`` after recording why ``value`` does not fit ``tp``."""
    origin = get_origin(tp)
    if origin is Union:
        options = [a for a in get_args(tp) if a is not _NONE]
        if value is None:
            return True, None
        if len(options) > 1:  # a scalar union (models.Scalar): any of the JSON scalars it lists
            return _convert_scalar(tuple(options), value, where, rule, problems)
        return convert(options[0], value, where, rule, problems)
    if origin is Literal:
        allowed = get_args(tp)
        if isinstance(value, str) and value in allowed:
            return True, value
        problems.add(where, f"must be one of {', '.join(allowed)}, got {_kind(value)}")
        return False, None
    if origin is tuple:
        return _convert_list(get_args(tp)[0], value, where, rule, problems)
    if origin is dict:
        return _convert_mapping(get_args(tp)[1], value, where, rule, problems)
    if dataclasses.is_dataclass(tp):
        built = build(tp, value, where, problems)
        return built is not None, built
    if tp is bool:
        if isinstance(value, bool):
            return True, value
        problems.add(where, f"must be true or false, got {_kind(value)}")
        return False, None
    if tp is int or tp is float:
        return _convert_number(tp, value, where, rule, problems)
    if tp is str:
        return _convert_text(value, where, rule, problems)
    raise TypeError(f"the validator does not know the type {tp!r}")  # pragma: no cover - a model bug


def _convert_scalar(options: tuple, value: Any, where: Where, rule: Rule, problems: Problems) -> tuple[bool, Any]:
    if isinstance(value, str) and str in options:
        return _convert_text(value, where, rule, problems)
    if isinstance(value, bool):
        if bool in options:
            return True, value
    elif isinstance(value, (int, float)) and (float in options or (int in options and isinstance(value, int))):
        return _convert_number(float if isinstance(value, float) else int, value, where, Rule(), problems)
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    problems.add(where, f"must be {' or '.join(names[o] for o in options)}, got {_kind(value)}")
    return False, None


def _convert_number(tp: type, value: Any, where: Where, rule: Rule, problems: Problems) -> tuple[bool, Any]:
    integer = tp is int
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        problems.add(where, f"must be {'an integer' if integer else 'a number'}, got {_kind(value)}")
        return False, None
    if isinstance(value, float) and not math.isfinite(value):
        problems.add(where, f"must be a finite number, got {value!r} (NaN and Infinity are not allowed)")
        return False, None
    low, high = rule.minimum, rule.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = " and ".join(part for part in (
            f"at least {_number_text(low)}" if low is not None else "",
            f"at most {_number_text(high)}" if high is not None else "") if part)
        why = f" {rule.why_max}" if rule.why_max and high is not None and value > high else ""
        problems.add(where, f"must be {bounds}, got {_kind(value)}{why}")
        return False, None
    return True, value


def _convert_text(value: Any, where: Where, rule: Rule, problems: Problems) -> tuple[bool, Any]:
    if not isinstance(value, str) or (not rule.allow_empty and not value.strip()):
        got = "" if isinstance(value, str) else f", got {_kind(value)}"
        problems.add(where, f"must be a {'' if rule.allow_empty else 'non-empty '}string{got}")
        return False, None
    if rule.max_length is not None and len(value) > rule.max_length:
        problems.add(where, f"must be at most {rule.max_length} characters, got {len(value)}")
        return False, None
    if rule.pattern and not re.match(rule.pattern, value):
        message = rule.pattern_message or "does not match its pattern {pattern}"
        problems.add(where, message.format(value=shown(value), pattern=rule.pattern))
        return False, None
    for check in rule.checks:
        for message in check(value):
            problems.add(where, message)
    # A string that fails a semantic check is still a string: the model is built with it so that the rules
    # spanning fields report their problems too (the document is rejected either way).
    return True, value


def _convert_list(item_type: Any, value: Any, where: Where, rule: Rule, problems: Problems) -> tuple[bool, Any]:
    scalar_items = not dataclasses.is_dataclass(item_type)
    if scalar_items and rule.min_items_message:
        # A short list of scalars (e.g. notify.on) is judged as a whole: one message naming what it may hold.
        if isinstance(value, list) and len(value) >= rule.min_items:
            scratch = Problems()
            items = [convert(item_type, item, where, Rule(), scratch) for item in value]
            if not scratch.items:
                return True, tuple(converted for _, converted in items)
        got = _list_text(value) if isinstance(value, list) else _kind(value)
        problems.add(where, f"{rule.min_items_message}, got {got}")
        return False, None
    if not isinstance(value, list):
        problems.add(where, f"must be a list, got {_kind(value)}")
        return False, None
    if len(value) < rule.min_items:
        problems.add(where, rule.min_items_message or f"must hold at least {rule.min_items} item(s)")
        return False, None
    out = []
    for n, item in enumerate(value):
        item_where = _item_where(item_type, rule, item, where, n)
        good, converted = convert(item_type, item, item_where, Rule(), problems)
        if good:
            out.append(converted)
    return True, tuple(out)


def _list_text(value: list) -> str:
    if len(value) > 8 or any(isinstance(v, (list, dict)) for v in value):
        return "a list"
    return "[" + ", ".join(shown(v, 40) for v in value) + "]"


def _item_where(item_type: Any, rule: Rule, item: Any, where: Where, n: int) -> Where:
    """``route 'heart'`` when the item names itself with a name its own grammar accepts, else ``routes[0]``."""
    if rule.item_label and dataclasses.is_dataclass(item_type) and isinstance(item, dict):
        name = item.get("name")
        names = [f for f in dataclasses.fields(item_type) if f.name == "name"]
        pattern = rule_of(names[0]).pattern if names else None
        if isinstance(name, str) and pattern and re.match(pattern, name):
            return Where(rule.item_label.format(name=name))
    if rule.item_label:  # labelled items keep the label form: "routes[0]: name: ..."
        return Where(str(where.index(n)))
    return where.index(n)


def _convert_mapping(item_type: Any, value: Any, where: Where, rule: Rule, problems: Problems) -> tuple[bool, Any]:
    if not isinstance(value, dict):
        problems.add(where, f"must be an object mapping names to {item_type.__name__} settings, got {_kind(value)}")
        return False, None
    out = {}
    for key, item in value.items():
        item_where = Where(rule.item_label.format(key=shown(key, 66))) if rule.item_label else where.key(key)
        if dataclasses.is_dataclass(item_type):
            built = build(item_type, item, item_where, problems, key=key)
            if built is not None:
                out[key] = built
        else:
            good, converted = convert(item_type, item, item_where, Rule(), problems)
            if good:
                out[key] = converted
    return True, out
