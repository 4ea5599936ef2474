"""blueprints/registry.py is the one place a Durable function's name is written.

The blueprints register every name in it with the right trigger (and nothing else), and the code that
schedules an activity or starts an orchestration names it through the registry: no string literal anywhere in
the app spells a registered name, and every registry attribute the code uses exists.
"""

import ast
import json
from pathlib import Path

from blueprints.registry import Activity, Orchestrator, names

ROOT = Path(__file__).resolve().parents[1]
TABLES = {"Activity": names(Activity), "Orchestrator": names(Orchestrator)}
REGISTERED = set(TABLES["Activity"].values()) | set(TABLES["Orchestrator"].values())
#: the SDK calls whose first argument is an activity's or orchestration's name, and the app's own wrappers of them
NAME_TAKING_CALLS = {"call_activity", "call_activity_with_retry", "call_sub_orchestrator",
                     "call_sub_orchestrator_with_retry", "start_new", "call", "call_with_retry", "start_once",
                     "_start_waiter"}


def app_sources() -> list[Path]:
    return [ROOT / "function_app.py", *sorted((ROOT / "blueprints").rglob("*.py")),
            *sorted((ROOT / "shared").rglob("*.py"))]


def trigger_type(function) -> str:
    return next(json.loads(b)["type"] for b in function.get_raw_bindings() if json.loads(b)["type"].endswith("Trigger"))


def test_every_activity_and_orchestrator_in_the_registry_is_registered_with_its_trigger(app_functions):
    by_kind = {"activityTrigger": set(), "orchestrationTrigger": set()}
    for name, function in app_functions.items():
        by_kind.setdefault(trigger_type(function), set()).add(name)
    assert by_kind["activityTrigger"] == set(TABLES["Activity"].values())
    assert by_kind["orchestrationTrigger"] == set(TABLES["Orchestrator"].values())


def test_no_name_is_written_twice():
    values = [*TABLES["Activity"].values(), *TABLES["Orchestrator"].values()]
    assert len(values) == len(set(values))


def test_no_source_spells_a_registered_name_outside_the_registry():
    found = []
    for path in app_sources():
        if path == ROOT / "blueprints" / "registry.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and node.value in REGISTERED:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert found == []


def test_every_registry_attribute_the_code_uses_exists():
    missing = []
    for path in app_sources():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in TABLES \
                    and node.attr not in TABLES[node.value.id]:
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value.id}.{node.attr}")
    assert missing == []


def test_every_call_that_names_a_durable_function_names_it_through_the_registry():
    """The first argument of ``call_activity``, ``start_new`` and the app's wrappers of them is a registry
    attribute, or a variable that holds one (a wrapper's own parameter, a mode → orchestrator table)."""
    literal, through_registry = [], 0
    for path in app_sources():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name))):
                continue
            called = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
            if called not in NAME_TAKING_CALLS:
                continue
            args = [a for a in node.args if not isinstance(a, ast.Starred)]
            if called in {"start_once", "_start_waiter"}:  # (…, name, …): the name is the 4th/3rd argument
                args = args[3:4] if called == "start_once" else args[2:3]
            if not args:
                continue
            first = args[0]
            if isinstance(first, ast.Attribute) and isinstance(first.value, ast.Name) and first.value.id in TABLES:
                through_registry += 1
            elif isinstance(first, (ast.Constant, ast.JoinedStr)):
                literal.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(first)}")
    assert literal == []
    assert through_registry > 0  # the scan sees the calls (a rename of the SDK's API would empty it)


def test_each_orchestrator_calls_only_registered_activities():
    """What the orchestration modules schedule, read from their code: every name is a registered activity."""
    modules = ["shared/runs/orchestrator.py", "shared/runs/fencing.py", "shared/delivery/orchestration.py",
               "shared/landing/orchestrations.py", "shared/reconcile/operation.py"]
    called = set()
    for module in modules:
        for node in ast.walk(ast.parse((ROOT / module).read_text(), module)):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Activity":
                called.add(getattr(Activity, node.attr))
    assert called == set(TABLES["Activity"].values())
