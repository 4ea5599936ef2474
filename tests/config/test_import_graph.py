"""``shared.config`` stands alone: it imports nothing from ``shared.storage`` or ``shared.identity`` (they import
from it), so there is no import loop between them, at module level or inside function bodies."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What configuration may build on: name grammars, redaction, and the package itself.
ALLOWED_OUTSIDE_CONFIG = {"shared", "shared.paths", "shared.blob_urls", "shared.job_inputs", "shared.redact", "shared.log_redaction", "shared.addresses"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports anywhere (also lazily inside functions), as absolute names."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)  # submodules imported by name
    return found


def shared_modules() -> dict[str, Path]:
    return {module_name(p): p for p in (ROOT / "shared").rglob("*.py")}


def closure(start: set[str], modules: dict[str, Path]) -> set[str]:
    seen, todo = set(), list(start)
    while todo:
        current = todo.pop()
        if current in seen or current not in modules:
            continue
        seen.add(current)
        todo.extend(m for m in imports_of(modules[current]) if m in modules)
        parent = current.rpartition(".")[0]
        if parent:
            todo.append(parent)  # importing a submodule runs its package's __init__
    return seen


def test_config_reaches_neither_storage_nor_identity_even_lazily():
    modules = shared_modules()
    config = {m for m in modules if m == "shared.config" or m.startswith("shared.config.")}
    reached = closure(config, modules)
    outside = {m for m in reached if m not in config}
    assert outside <= ALLOWED_OUTSIDE_CONFIG, sorted(outside - ALLOWED_OUTSIDE_CONFIG)


def test_storage_and_identity_depend_on_config_one_way():
    modules = shared_modules()
    users = {m for m in modules if m.startswith(("shared.storage", "shared.identity"))}
    assert any(i.startswith("shared.config") for m in users for i in imports_of(modules[m]))
    config = {m for m in modules if m.startswith("shared.config")}
    assert not (closure(config, modules) & users)


def test_importing_and_using_config_loads_no_storage_identity_or_sdk_module():
    code = ("import json, sys; from shared.config import parse_settings; from shared.config import loader;"
            "doc = json.load(open('config/routes.local.json'));"
            "parse_settings(doc, {'AzureWebJobsStorage': 'UseDevelopmentStorage=true'}); loader.render_schema();"
            "bad = [m for m in sys.modules if m.startswith(('shared.storage', 'shared.identity', 'shared.landing',"
            " 'azure.storage', 'azure.identity', 'azure.core'))]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
