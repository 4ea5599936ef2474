"""The routes document's JSON Schema, generated from the typed models (never kept by hand).

    python -m shared.config.schema            # writes config/routes.schema.json
    python -m shared.config.schema --check    # exit 1 when the committed file is stale

Editors (VS Code, JetBrains) validate a routes file as it is typed when the file says
``"$schema": "./routes.schema.json"``. The schema holds every type, default, bound, enum and grammar of the
models; the checks that JSON Schema cannot express (URL credentials, templates, overlaps) are described in each
field's ``description`` and enforced by the app at start (``GET /api/health/details`` lists what fails).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import typing
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from .fields import MISSING, default_of, doc_of, json_name, rule_of
from .models import RoutesDocument

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "config" / "routes.schema.json"
_NONE = type(None)


def _json_value(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {json_name(f): _json_value(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not rule_of(f).from_key and getattr(value, f.name) is not None}
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    return value


class _Generator:
    def __init__(self) -> None:
        self.defs: dict[str, dict] = {}

    def ref(self, cls: type) -> dict:
        if cls.__name__ not in self.defs:
            self.defs[cls.__name__] = {}  # reserve: recursion-safe
            self.defs[cls.__name__] = self.object_schema(cls)
        return {"$ref": f"#/$defs/{cls.__name__}"}

    def object_schema(self, cls: type) -> dict:
        hints = typing.get_type_hints(cls)
        properties, required = {}, []
        for f in dataclasses.fields(cls):
            rule = rule_of(f)
            if not f.init or rule.from_key:
                continue
            name = json_name(f)
            schema = self.field_schema(hints[f.name], rule)
            default = default_of(f)
            if default is MISSING or (rule.min_items and not default):
                required.append(name)
            elif default is not None and not (isinstance(default, (dict, tuple)) and not default) \
                    and not dataclasses.is_dataclass(default):
                schema["default"] = _json_value(default)
            if rule.doc:
                schema = {"description": rule.doc, **schema}
            if rule.examples:
                schema["examples"] = list(rule.examples)
            properties[name] = schema
        out: dict[str, Any] = {"type": "object"}
        if doc_of(cls):
            out["description"] = doc_of(cls)
        out["properties"] = properties
        if required:
            out["required"] = required
        out["additionalProperties"] = False
        return out

    def field_schema(self, tp: Any, rule: Any) -> dict:
        origin = get_origin(tp)
        if origin is Union and len([a for a in get_args(tp) if a is not _NONE]) > 1:  # models.Scalar
            kinds = {bool: "boolean", int: "integer", float: "number", str: "string"}
            names = [kinds[a] for a in get_args(tp) if a is not _NONE]
            if "number" in names and "integer" in names:
                names.remove("integer")
            if _NONE in get_args(tp):
                names.append("null")
            out = {"type": names}
            if rule.max_length is not None:
                out["maxLength"] = rule.max_length
            return out
        if origin is Union:
            inner = self.field_schema([a for a in get_args(tp) if a is not _NONE][0], rule)
            if "type" in inner and "$ref" not in inner:
                kinds = inner["type"] if isinstance(inner["type"], list) else [inner["type"]]
                return {**inner, "type": [*kinds, "null"]}
            return {"anyOf": [inner, {"type": "null"}]}
        if origin is Literal:
            return {"type": "string", "enum": list(get_args(tp))}
        if origin is tuple:
            items = self.field_schema(get_args(tp)[0], type(rule)())
            out: dict[str, Any] = {"type": "array", "items": items}
            if rule.min_items:
                out["minItems"] = rule.min_items
            return out
        if origin is dict:
            value_type = get_args(tp)[1]
            out = {"type": "object", "additionalProperties": self.field_schema(value_type, type(rule)())}
            key_fields = [f for f in dataclasses.fields(value_type) if rule_of(f).from_key] \
                if dataclasses.is_dataclass(value_type) else []
            if key_fields and rule_of(key_fields[0]).pattern:
                out["propertyNames"] = {"pattern": rule_of(key_fields[0]).pattern}
            return out
        if dataclasses.is_dataclass(tp):
            return self.ref(tp)
        if tp is bool:
            return {"type": "boolean"}
        if tp is int or tp is float:
            out = {"type": "integer" if tp is int else "number"}
            if rule.minimum is not None:
                out["minimum"] = rule.minimum
            if rule.maximum is not None:
                out["maximum"] = rule.maximum
            return out
        if tp is str:
            out = {"type": "string"}
            if not rule.allow_empty:
                out["minLength"] = 1
            if rule.max_length is not None:
                out["maxLength"] = rule.max_length
            if rule.pattern:
                out["pattern"] = rule.pattern
            if rule.format:
                out["format"] = rule.format
            return out
        raise TypeError(f"no JSON Schema form for {tp!r}")  # pragma: no cover - a model bug


def routes_schema() -> dict:
    """The JSON Schema (draft 2020-12) of the routes document."""
    generator = _Generator()
    root = generator.object_schema(RoutesDocument)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "batch-endpoint-functions routes document", **root,
            "$defs": dict(sorted(generator.defs.items()))}


def render() -> str:
    return json.dumps(routes_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else ""
        if current != text:
            print(f"{SCHEMA_PATH} is stale: run python -m shared.config.schema", file=sys.stderr)
            return 1
        return 0
    SCHEMA_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
