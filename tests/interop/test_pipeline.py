"""adf/pipeline.json is a well-formed Data Factory pipeline whose Run-BatchEndpoint parameters (endpoint,
input, output) map onto a route of the shipped routes document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.interop.adf import Run

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = json.loads((ROOT / "adf" / "pipeline.json").read_text())
ACTIVITY_TYPES = {"WebActivity", "SetVariable", "Until", "IfCondition", "Fail"}


def walk(activities):
    for activity in activities:
        yield activity
        props = activity.get("typeProperties", {})
        for key in ("activities", "ifTrueActivities", "ifFalseActivities"):
            yield from walk(props.get(key, []))


def scopes(activities):
    yield activities
    for activity in activities:
        props = activity.get("typeProperties", {})
        for key in ("activities", "ifTrueActivities", "ifFalseActivities"):
            if key in props:
                yield from scopes(props[key])


def test_the_pipeline_is_well_formed():
    props = PIPELINE["properties"]
    every = list(walk(props["activities"]))
    names = [a["name"] for a in every]
    assert len(names) == len(set(names)), "activity names are unique in a pipeline"
    assert {a["type"] for a in every} <= ACTIVITY_TYPES
    for scope in scopes(props["activities"]):
        here = {a["name"] for a in scope}
        for activity in scope:
            for dep in activity.get("dependsOn", []):
                assert dep["activity"] in here, f"{activity['name']} depends on {dep['activity']} outside its scope"
                assert set(dep["dependencyConditions"]) <= {"Succeeded", "Failed", "Completed", "Skipped"}
    for activity in every:
        if activity["type"] == "SetVariable":
            assert activity["typeProperties"]["variableName"] in props["variables"]
        if activity["type"] == "WebActivity":
            assert activity["typeProperties"]["method"] in {"GET", "POST", "PUT", "PATCH", "DELETE"}
    # an Until must not nest another control activity's failure handling that ADF rejects: If inside If
    for activity in every:
        if activity["type"] == "IfCondition":
            inner = activity["typeProperties"].get("ifTrueActivities", []) + \
                activity["typeProperties"].get("ifFalseActivities", [])
            assert not {a["type"] for a in inner} & {"IfCondition", "Until", "ForEach", "Switch"}


def test_the_key_is_read_from_key_vault_and_kept_out_of_monitoring():
    every = {a["name"]: a for a in walk(PIPELINE["properties"]["activities"])}
    get_key = every["GetFunctionKey"]
    assert get_key["typeProperties"]["authentication"] == {"type": "MSI", "resource": "https://vault.azure.net"}
    assert "api-version=" in get_key["typeProperties"]["url"]
    assert get_key["policy"]["secureOutput"] is True
    for name, activity in every.items():
        if activity["type"] in ("Until", "IfCondition"):
            continue  # containers: their inner activities are checked one by one
        text = json.dumps(activity.get("typeProperties", {}))
        if "GetFunctionKey" in text or "statusUrl" in text:  # the key, or a URL that carries it
            assert activity.get("policy", {}).get("secureInput") is True, name
    for name in ("StartRun", "ReadRun", "SetStatusUrl"):  # their outputs hold the status URL with its key
        assert every[name]["policy"]["secureOutput"] is True, name


def test_the_start_uses_the_async_pattern_and_the_loop_outlasts_the_web_activity():
    every = {a["name"]: a for a in walk(PIPELINE["properties"]["activities"])}
    assert every["StartRun"]["typeProperties"]["headers"]["Idempotency-Key"] == "@pipeline().RunId"
    follow = every["FollowRun"]
    assert not follow["typeProperties"].get("turnOffAsync", False), "FollowRun follows Location on 202"
    from tests.interop.adf import timespan

    assert timespan(follow["policy"]["timeout"]) < timespan("7.00:00:00")  # the Web activity's async limit
    assert timespan(every["WaitForRun"]["typeProperties"]["timeout"]) > timespan(follow["policy"]["timeout"])
    assert timespan(every["WaitForRun"]["typeProperties"]["timeout"]) <= timespan("90.00:00:00")


# a space and unicode pass through; a "#" or "?" in a path is refused over HTTP (tests/hostile/test_http_api.py)
@pytest.mark.parametrize("input_path", ["heart/2024-06-01/", "heart/2024-06-01/part 1 ß/"])
def test_the_run_batch_endpoint_parameters_map_onto_a_route(monkeypatch, input_path):
    """endpoint -> route, input -> path; the body StartRun sends is accepted by the shipped example route."""
    for name in ("endpoint", "input", "output"):
        assert name in PIPELINE["properties"]["parameters"]
    sent = []

    def http(method, url, headers, body):
        sent.append((method, url, body))
        if "vault" in url:
            return 200, {}, b'{"value": "k"}'
        return 400, {}, b"{}"  # stop after the start; what matters here is the request

    Run(PIPELINE, {"endpoint": "heart", "input": input_path}, http, lambda s: None).execute()
    method, url, body = sent[1]
    assert method == "POST" and url == "https://<function-app>.azurewebsites.net/api/runs"  # no key in the URL
    start = json.loads(body)
    assert start == {"route": "heart", "path": input_path}

    from shared.config.loader import parse_settings
    from shared.http_api.runs import parse_start

    environ = {"LANDING__blobServiceUri": "https://landingacct.blob.core.windows.net"}
    monkeypatch.setenv("LANDING__blobServiceUri", environ["LANDING__blobServiceUri"])
    settings = parse_settings(json.loads((ROOT / "config" / "routes.example.json").read_text()), environ)
    route, location = parse_start(start, settings)
    assert route.name == "heart" and location.container == route.match.container
