"""Field metadata for the typed configuration models: one place for bounds, grammars, enums and docs.

A model field is declared once, with its default, through :func:`setting`:

    quiet_seconds: int = setting(60, minimum=1, maximum=7 * 86400, doc="...", why_max="...")

The generic validator (:mod:`.validate`) and the JSON Schema generator (:mod:`.schema`) both read this
metadata, so a default, a bound or a pattern is never written twice. Pure: no I/O, no Azure SDK.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Optional

MISSING = dataclasses.MISSING


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: ``Rule.document_default`` when the field's dataclass default is also the document's.
UNSET = _Unset()

#: A named semantic check: ``check(value) -> list of problem messages`` (empty when fine).
Check = Callable[[Any], "list[str]"]


@dataclass(frozen=True)
class Rule:
    """What a field accepts, beyond its Python type.

    ``pattern`` is a regular expression (also published in the JSON Schema); ``pattern_message`` explains a
    mismatch and may contain ``{value}`` (the offending value, shortened and redacted) — leave it out for
    fields whose wrong values are likely secrets (app-setting names). ``checks`` are semantic checks with no
    JSON Schema form (URLs, templates); ``doc`` says what the field is for and ends up in the schema.
    """

    doc: str = ""
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    why_max: str = ""
    pattern: Optional[str] = None
    pattern_message: str = ""
    max_length: Optional[int] = None
    allow_empty: bool = False
    checks: tuple[Check, ...] = ()
    json_name: Optional[str] = None
    from_key: bool = False
    document_default: Any = UNSET
    min_items: int = 0
    min_items_message: str = ""
    item_label: str = ""
    examples: tuple = ()
    format: Optional[str] = None


def setting(default: Any = MISSING, *, default_factory: Any = MISSING, **rule: Any) -> Any:
    """A dataclass field with its validation :class:`Rule` in ``metadata["rule"]``."""
    metadata = {"rule": Rule(**rule)}
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    if default is MISSING:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def rule_of(f: dataclasses.Field) -> Rule:
    return f.metadata.get("rule") or Rule()


def json_name(f: dataclasses.Field) -> str:
    return rule_of(f).json_name or f.name


def default_of(f: dataclasses.Field) -> Any:
    """The field's default as the document sees it (``MISSING`` when the field is required)."""
    rule = rule_of(f)
    if rule.document_default is not UNSET:
        return rule.document_default
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return MISSING


def doc_of(cls: type) -> str:
    """The first paragraph of a class docstring, on one line."""
    text = (cls.__doc__ or "").strip()
    if text.startswith(cls.__name__ + "("):  # dataclass's generated signature, not a description
        return ""
    return " ".join(text.split("\n\n")[0].split())
