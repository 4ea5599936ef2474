"""What is deployed is what is tested, and nothing a test or script creates is published.

* Functions' remote build runs ``pip install -r requirements.txt``: requirements.txt constrains itself with
  constraints.txt (shipped with the app), and the test venv is installed through the same file
  (requirements-dev.txt → requirements.txt), so every package of the deployed set has here the version
  the deployment gets. (Before: ``pip install -r requirements.txt`` alone resolved python-dateutil 4.0.0
  while the test venv pinned < 3.)
* ``.funcignore`` keeps out of the package every path scripts/ and the tests create (venvs on any Python,
  logs, caches, Azurite's files).
"""

from __future__ import annotations

import fnmatch
import re
import sys
from pathlib import Path

import pytest

from tools.lock import closure, top_level

ROOT = Path(__file__).resolve().parents[1]


def constraint_lines() -> list[str]:
    lines = []
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def pins_for_this_python() -> dict[str, str]:
    from packaging.requirements import Requirement

    pins = {}
    for line in constraint_lines():
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate():
            (spec,) = requirement.specifier
            assert spec.operator == "==", f"constraints.txt must pin exactly: {line}"
            assert requirement.name not in pins, f"{requirement.name} is pinned twice for this Python"
            pins[requirement.name.lower()] = spec.version
    return pins


def test_requirements_txt_installs_through_the_constraints_file_it_ships_with():
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert "-c constraints.txt" in lines  # a path relative to requirements.txt: deployed next to it
    dev = (ROOT / "requirements-dev.txt").read_text()
    assert re.search(r"^-r requirements\.txt$", dev, re.M), "the test venv must install through requirements.txt"


def test_every_deployed_package_is_pinned_to_the_version_tested_here():
    installed = closure(top_level())
    pins = pins_for_this_python()
    missing = sorted(set(installed) - set(pins))
    assert not missing, f"deployed but not pinned in constraints.txt (run tools/lock.py): {missing}"
    differ = {name: (installed[name], pins[name]) for name in installed if installed[name] != pins[name]}
    assert not differ, f"tested version != deployed version (installed, pinned): {differ}"


def test_python_dateutil_is_pinned_below_3_for_the_deployment_too():
    assert int(pins_for_this_python()["python-dateutil"].split(".")[0]) < 3


# --- .funcignore ---------------------------------------------------------------------------------------------

def funcignore_patterns() -> list[str]:
    lines = (ROOT / ".funcignore").read_text(encoding="utf-8").splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str) -> bool:
    """gitignore semantics (what Core Tools applies to .funcignore), for patterns without negation: a pattern
    without '/' matches any path component; one with '/' matches from the root."""
    parts = path.strip("/").split("/")
    for pattern in funcignore_patterns():
        assert not pattern.startswith("!"), "negated .funcignore patterns are not modelled here"
        if "/" in pattern.strip("/"):
            if fnmatch.fnmatch(path.strip("/"), pattern.strip("/")) or path.startswith(pattern.strip("/") + "/"):
                return True
        elif any(fnmatch.fnmatch(part, pattern) for part in parts):
            return True
    return False


def created_by_scripts() -> set[str]:
    """Paths in the app root that scripts/ and .ci/ create: venvs (any VENV=...), mkdir'd folders, logs."""
    found = {".venv"}
    for script in [*(ROOT / "scripts").glob("*.sh"), ROOT / ".ci" / "run"]:
        if not script.is_file():
            continue
        text = script.read_text(encoding="utf-8")
        found |= set(re.findall(r"\bVENV=([\w.\-]+)", text))
        found |= set(re.findall(r"\bVENV:-([\w.\-]+)\}", text))
        found |= set(re.findall(r"venv:-([\w.\-]+)\}", text))
        found |= {p.split("/", 1)[0] for p in re.findall(r"mkdir -p ([\w.\-/]+)", text)}
        found |= {p.split("/", 1)[0] for p in re.findall(r"^\s*log=([\w.\-/]+)", text, re.M)}
    return found


#: created by the test run itself: caches, Azurite's local files, installs, the Azure Developer CLI's state
CREATED_BY_TESTS = {".pytest_cache", ".hypothesis", "__pycache__", "shared/__pycache__/paths.cpython-313.pyc",
                    "node_modules", ".azurite", "__azurite_db_blob__.json", "__blobstorage__", "__queuestorage__",
                    ".local", ".azure", ".venv-3.13", ".venv-3.12/bin/python"}


@pytest.mark.parametrize("path", sorted(created_by_scripts() | CREATED_BY_TESTS))
def test_nothing_a_script_or_test_creates_is_published(path):
    assert ignored(path), f".funcignore does not keep {path} out of the deployment package"


def test_the_scripts_venvs_are_found_and_what_the_app_needs_is_published():
    assert {".venv", ".venv-3.13", ".local"} <= created_by_scripts()
    for test_only in ("requirements-dev.txt", "requirements-worker.txt", "tests/worker/protos/FunctionRpc.proto"):
        assert ignored(test_only), test_only
    for needed in ("function_app.py", "blueprints/registry.py",
                   "host.json", "requirements.txt", "constraints.txt", "shared/paths.py",
                   "config/routes.schema.json"):
        assert (ROOT / needed).exists() and not ignored(needed), needed
    assert sys.version_info >= (3, 11)
