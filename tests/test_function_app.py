"""Index the app as the Functions worker does, and apply the worker's own parameter rules.

``get_functions()`` alone does not check parameter names or annotations; the worker does, and a mistake
there stops ``func start``. These tests make such a mistake fail in CI instead.
"""

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
from azure.functions import meta

ROOT = Path(__file__).resolve().parents[1]

EXPECTED_TRIGGERS = {
    "health": ("httpTrigger", "health", ["GET"], "ANONYMOUS"),
    "health_details": ("httpTrigger", "health/details", ["GET"], "FUNCTION"),
    "start_run": ("httpTrigger", "runs", ["POST"], "FUNCTION"),
    "list_runs": ("httpTrigger", "runs", ["GET"], "FUNCTION"),
    "get_run": ("httpTrigger", "runs/{run_id}", ["GET"], "FUNCTION"),
    "cancel_run": ("httpTrigger", "runs/{run_id}/cancel", ["POST"], "FUNCTION"),
    "confirm_run_job": ("httpTrigger", "runs/{run_id}/confirm-job", ["POST"], "FUNCTION"),
    "resubmit_run": ("httpTrigger", "runs/{run_id}/resubmit", ["POST"], "FUNCTION"),
    "on_blob_created": ("eventGridTrigger", None, None, None),
    "run_orchestrator": ("orchestrationTrigger", None, None, None),
    "submit_job": ("activityTrigger", None, None, None),
    "get_job_status": ("activityTrigger", None, None, None),
    "cancel_job": ("activityTrigger", None, None, None),
    "find_attempt_job": ("activityTrigger", None, None, None),
    "fence_run": ("activityTrigger", None, None, None),
    "plan_delivery": ("activityTrigger", None, None, None),
    "copy_output": ("activityTrigger", None, None, None),
    "write_receipt": ("activityTrigger", None, None, None),
    "send_notification": ("activityTrigger", None, None, None),
    "redeliver_run": ("httpTrigger", "runs/{run_id}/redeliver", ["POST"], "FUNCTION"),
    "on_blob_created_queued": ("queueTrigger", None, None, None),
    "on_aml_run_event": ("eventGridTrigger", None, None, None),
    "reconcile_sweep": ("timerTrigger", None, None, None),
    "backfill": ("httpTrigger", "backfill", ["POST"], "FUNCTION"),
    "run_stats": ("httpTrigger", "runs/stats", ["GET"], "FUNCTION"),
    "openapi": ("httpTrigger", "openapi.json", ["GET"], "FUNCTION"),
    "backfill_status": ("httpTrigger", "backfill/{operation_id}", ["GET"], "FUNCTION"),
    "backfill_cancel": ("httpTrigger", "backfill/{operation_id}/cancel", ["POST"], "FUNCTION"),
    "backfill_orchestrator": ("orchestrationTrigger", None, None, None),
    "backfill_step": ("activityTrigger", None, None, None),
    "redrive_landing_poison": ("httpTrigger", "landing/poison/redrive", ["POST"], "FUNCTION"),
}


def bindings(function) -> list[dict]:
    return [json.loads(raw) for raw in function.get_raw_bindings()]


def trigger_of(function) -> dict:
    triggers = [b for b in bindings(function) if b["type"].endswith("Trigger")]
    assert len(triggers) == 1, f"{function.get_function_name()} must have exactly one trigger"
    return triggers[0]


def test_the_expected_functions_are_indexed_with_their_triggers(app_functions):
    for name, (kind, route, methods, auth) in EXPECTED_TRIGGERS.items():
        assert name in app_functions, f"{name} is not indexed"
        trigger = trigger_of(app_functions[name])
        assert trigger["type"] == kind, name
        if kind == "httpTrigger":
            assert (trigger["route"], trigger["methods"], trigger["authLevel"]) == (route, methods, auth), name


def test_only_the_health_probe_is_anonymous(app_functions):
    for name, function in app_functions.items():
        trigger = trigger_of(function)
        if trigger["type"] == "httpTrigger":
            assert (trigger["authLevel"] == "ANONYMOUS") == (name == "health"), name


def test_parameters_match_bindings_and_annotations_are_accepted(app_functions):
    """The worker's rules: parameter names equal binding names; each annotation is accepted by its binding."""
    registry = meta.get_binding_registry()
    problems = []
    for name, function in app_functions.items():
        user_function = function.get_user_function()
        parameters = inspect.signature(user_function).parameters
        bound = {b["name"]: b for b in bindings(function) if b["name"] != "$return"}
        if set(parameters) != set(bound):
            problems.append(f"{name}: parameters {sorted(parameters)} != bindings {sorted(bound)}")
            continue
        for parameter_name, binding in bound.items():
            converter = registry.get(binding["type"])
            annotation = parameters[parameter_name].annotation
            if converter is None:
                problems.append(f"{name}: no converter for binding type {binding['type']}")
            elif annotation is not inspect.Parameter.empty and binding["direction"] == "IN" \
                    and not converter.check_input_type_annotation(annotation):
                problems.append(f"{name}: annotation {annotation!r} not accepted by {binding['type']}")
    assert problems == []


def test_the_orchestrator_context_parameter_is_named_context(app_functions):
    handle = app_functions["run_orchestrator"].get_user_function()
    assert list(inspect.signature(handle).parameters) == ["context"]


def test_host_json_uses_the_v4_bundle_and_a_named_task_hub():
    host = json.loads((ROOT / "host.json").read_text())
    assert host["extensionBundle"]["version"] == "[4.*, 5.0.0)"
    assert host["extensions"]["durableTask"]["hubName"]


def test_local_settings_sample_names_every_setting_the_app_reads():
    values = json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]
    source = "\n".join(p.read_text() for p in (ROOT / "shared").rglob("*.py"))
    for setting in ("BATCH_CONFIG_PATH", "BATCH_CONFIG_JSON", "AML_MANAGEMENT_URL", "STATE_CONNECTION",
                    "STATE_CONTAINER", "AZURE_CLIENT_ID"):
        assert setting in values and setting in source, setting
    assert values["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"


@pytest.mark.parametrize("module", ["httpx", "azure.identity", "azure.storage.blob", "shared", "pydantic"])
def test_importing_the_app_does_not_load_heavy_adapters(module):
    """Cold start: these load on first use inside a function, not when the worker imports the app."""
    code = f"import sys, function_app; print({module!r} in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_each_area_is_one_blueprint_and_the_app_indexes_all_of_them(app_functions):
    """devhost/indexing.py (and so the tests, benchmarks and local host) sees every blueprint's functions."""
    from blueprints import aml_events, delivery, http_api, landing, reconcile, runs

    areas = {m.__name__: {b._function.get_function_name() for b in m.bp._function_builders}
             for m in (http_api, landing, runs, delivery, aml_events, reconcile)}
    assert all(areas.values())
    every = [name for names in areas.values() for name in names]
    assert len(every) == len(set(every)) and set(every) == set(app_functions)
