"""Reads the Bicep templates with pycep-parser (a parser only: no type checks, no ARM output; there is no
Bicep compiler on this machine) and answers the questions tests/infra asks of them."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Iterator

from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
GUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


@functools.lru_cache(maxsize=None)
def parse(path: Path) -> dict:
    return BicepParser().parse(file_path=path)


def body(declaration: dict) -> dict:
    """The ``config`` of a resource or module, unwrapped from its ``if`` condition or ``for`` loop."""
    config = declaration["config"]
    while "config" in config and ("condition" in config or "loop_type" in config):
        config = config["config"]
    return config


def walk(value: Any) -> Iterator[Any]:
    """Every scalar in a parsed value (strings include the raw text of interpolated strings)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from walk(item)
    else:
        yield value


def resources(of_type: str) -> Iterator[tuple[Path, str, dict]]:
    """``(file, symbol, body)`` of every resource of a type, in every file."""
    for path in bicep_files():
        for symbol, declaration in parse(path).get("resources", {}).items():
            if declaration["type"] == of_type:
                yield path, symbol, body(declaration)


def module_calls() -> Iterator[tuple[Path, str, dict, Path]]:
    """``(calling file, symbol, body, module file)`` of every local module call."""
    for path in bicep_files():
        for symbol, declaration in parse(path).get("modules", {}).items():
            yield path, symbol, body(declaration), (path.parent / declaration["detail"]["path"]).resolve()


def main() -> dict:
    return parse(INFRA / "main.bicep")


def app_settings() -> dict:
    """The app settings main.bicep passes to the function app (literal names)."""
    return main()["variables"]["appSettings"]["value"]


def durable_scheduler_settings() -> dict:
    """The app settings main.bicep adds for the Durable Task Scheduler backend (empty for Azure Storage)."""
    operands = main()["variables"]["durableSchedulerSettings"]["value"]["operator"]["operands"]
    assert operands["condition"] == "durableOnStorage" and operands["true_value"] == {}, operands
    return operands["false_value"]
