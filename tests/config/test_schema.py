"""config/routes.schema.json is generated from the models, is current, and agrees with the app's validator."""

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from shared.config import ConfigError, parse_settings
from shared.config.loader import SCHEMA_PATH, render_schema as render, schema_main as main

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "config").glob("routes*.json"))
SHIPPED = [p for p in SHIPPED if p.name != "routes.schema.json"]
ENV = {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "LANDING__blobServiceUri":
       "https://landingacct.blob.core.windows.net", "CURATED__blobServiceUri": "https://curated.blob.core.windows.net"}


def validator():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_committed_schema_is_the_generated_one():
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render(), "run: python -m shared.config"
    assert main(["--check"]) == 0


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_documents_validate_against_the_schema_and_the_app(path):
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["$schema"] == "./routes.schema.json"
    errors = [e.message for e in validator().iter_errors(document)]
    assert errors == []
    assert parse_settings(document, ENV).routes


def test_the_schema_carries_defaults_bounds_and_enums_from_the_models():
    schema = json.loads(render())
    poll = schema["$defs"]["PollPolicy"]["properties"]
    assert poll["deadline_hours"] == {**poll["deadline_hours"], "type": "number", "minimum": 0.001,
                                      "maximum": 720, "default": 24.0}
    assert poll["polls_per_execution"]["maximum"] == 10000
    landing = schema["$defs"]["LandingRule"]["properties"]
    assert landing["mode"]["enum"] == ["marker", "manifest", "quiet_period", "per_file"]
    assert schema["$defs"]["QueueNotification"]["properties"]["name"]["pattern"]
    assert schema["$defs"]["QueueNotification"]["properties"]["connection"]["default"] == "AzureWebJobsStorage"
    assert schema["required"] == ["routes"]
    # endpoint: required for kind batch_endpoint; output: null means the deployment's default location (loader rules)
    assert set(schema["$defs"]["BatchEndpointRoute"]["required"]) == {"name", "match"}
    # route kinds: one schema each, told apart by kind (a route without kind is a batch_endpoint route)
    assert schema["properties"]["routes"]["items"]["oneOf"] == [{"$ref": "#/$defs/BatchEndpointRoute"},
                                                                {"$ref": "#/$defs/PipelineEndpointV1Route"}]
    assert set(schema["$defs"]["PipelineEndpointV1Route"]["required"]) == {"name", "match", "kind"}


BASE = json.loads((ROOT / "config" / "routes.local.json").read_text(encoding="utf-8"))


def changed(path: str, value):
    document = copy.deepcopy(BASE)
    target = document
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    target[keys[-1]] = value
    return document


@pytest.mark.parametrize("path, value", [
    ("routes.0.overrides.mini_batch_size", 0),
    ("routes.0.overrides.instance_count", 100000),
    ("routes.0.poll.deadline_hours", 1e9),
    ("routes.0.poll.polls_per_execution", 2 ** 40),
    ("routes.0.poll.events", "yes"),
    ("routes.0.landing.mode", "sometimes"),
    ("routes.0.match.container", "Landing_Zone"),
    ("routes.0.match.connection", "DefaultEndpointsProtocol=https;AccountKey=abc"),
    ("routes.0.input", {"type": "uri_folder", "nmae": "x"}),
    ("routes", []),
    ("routes.0.name", "a/b"),
    ("datastores.workspaceblobstore.container", "Bad Container"),
])
def test_schema_and_validator_reject_the_same_shape_errors(path, value):
    document = changed(path, value)
    assert list(validator().iter_errors(document)), "the schema accepts it"
    with pytest.raises(ConfigError):
        parse_settings(document, ENV)
