import copy
import json
from pathlib import Path

import pytest

from shared.config import ConfigError, UnknownRouteError, load_settings, parse_settings
from shared.config.loader import CONFIG_JSON_SETTING, CONFIG_PATH_SETTING

VALID = {
    "datastores": {"workspaceblobstore": {"account_url": "https://ws.blob.core.windows.net",
                                          "container": "azureml-blobstore"}},
    "routes": [{
        "name": "heart",
        "match": {"container": "landing", "prefix": "heart/"},
        "endpoint": {"scoring_uri": "https://heart.eastus.inference.ml.azure.com/jobs", "deployment": None},
        "input": {"type": "uri_folder", "name": "heart_dataset"},
        "output": {"datastore": "workspaceblobstore", "path": "batch/heart/{run_id}/predictions.csv"},
        "overrides": {"mini_batch_size": 10, "instance_count": 2},
        "poll": {"initial_seconds": 15, "max_seconds": 120, "deadline_hours": 24},
        "sinks": [{"url": "https://curated.blob.core.windows.net/scores/heart/{folder}/", "connection": "CURATED"}],
    }],
}


def problems_of(document) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(document, {})
    return caught.value.problems


def with_route(**changes):
    document = copy.deepcopy(VALID)
    document["routes"][0].update(changes)
    return document


def test_the_issue_example_parses_into_typed_objects():
    settings = parse_settings(VALID, {})
    route = settings.route("heart")
    assert route.endpoint.scoring_uri == "https://heart.eastus.inference.ml.azure.com/jobs"
    assert route.endpoint.deployment is None
    assert route.input.type == "uri_folder" and route.input.name == "heart_dataset"
    assert route.overrides.mini_batch_size == 10 and route.overrides.instance_count == 2
    assert route.poll.initial_seconds == 15 and route.poll.max_seconds == 120
    assert route.sinks[0].connection == "CURATED"
    assert route.landing.mode == "marker" and route.landing.marker_name == "_SUCCESS"
    assert settings.datastores["workspaceblobstore"].container == "azureml-blobstore"
    assert settings.management_url == "https://management.azure.com"


def test_a_bad_field_is_named_with_its_route():
    problems = problems_of(with_route(overrides={"mini_batch_size": 0}))
    assert problems == ["route 'heart': overrides.mini_batch_size: must be at least 1 and at most 1000000, got 0"]


def test_every_problem_is_reported_not_just_the_first():
    document = with_route(endpoint={"scoring_uri": "http://example.com/jobs"},
                          output={"datastore": "nope", "path": "out/predictions.csv"},
                          poll={"initial_seconds": 60, "max_seconds": 10})
    problems = problems_of(document)
    assert any("endpoint.scoring_uri: must be an https:// URL" in p for p in problems)
    assert any("output.datastore: datastore 'nope' is not in the datastores map" in p for p in problems)
    assert any("output.path: must contain {run_id}" in p for p in problems)
    assert any("poll.max_seconds: must not be smaller than poll.initial_seconds" in p for p in problems)
    assert all(p.startswith("route 'heart':") for p in problems)


@pytest.mark.parametrize("change, expected", [
    ({"input": {"type": "folder"}}, "input.type: must be one of uri_folder, uri_file, got 'folder'"),
    ({"match": {"container": "Landing_Zone"}}, "match.container: 'Landing_Zone' is not a valid blob container name"),
    ({"match": {"container": "landing"}, "surprise": 1}, "route 'heart': surprise: unknown field"),
    ({"overrides": {"timeout_seconds": "30"}}, "overrides.timeout_seconds: must be an integer, got '30'"),
    ({"output": {"datastore": "workspaceblobstore", "path": "a/{run_id}/{when}.csv"}},
     "output.path: unknown placeholder(s) {when}"),
    ({"sinks": [{"url": "https://c.blob.core.windows.net/s/{folder}/", "connection": "bad-name"}]},
     "sinks[0].connection: must be an app-setting name"),
    ({"landing": {"mode": "per_file"}}, "input.type: must be 'uri_file' when landing.mode is 'per_file'"),
    ({"endpoint": {"scoring_uri": "https://x.inference.ml.azure.com/jobs", "workspace": {"name": "w"}}},
     "endpoint.workspace.subscription_id: is required"),
])
def test_field_problems_have_precise_messages(change, expected):
    problems = problems_of(with_route(**change))
    assert any(expected in p for p in problems), problems


def test_loopback_http_is_allowed_for_the_emulator_and_azurite():
    document = with_route(endpoint={"scoring_uri": "http://127.0.0.1:5100/endpoints/heart/jobs"})
    document["datastores"]["workspaceblobstore"]["account_url"] = "http://127.0.0.1:10000/devstoreaccount1"
    assert parse_settings(document, {}).route("heart").endpoint.scoring_uri.startswith("http://127.0.0.1")


def test_duplicate_route_names_and_empty_routes_are_rejected():
    document = copy.deepcopy(VALID)
    document["routes"].append(copy.deepcopy(document["routes"][0]))
    assert any("is used by more than one route" in p for p in problems_of(document))
    assert problems_of({"routes": []}) == ["routes: must be a non-empty list of routes"]


def test_unknown_route_lookup_lists_known_routes():
    with pytest.raises(UnknownRouteError, match="unknown route 'lungs'; configured routes: heart"):
        parse_settings(VALID, {}).route("lungs")


def test_load_settings_reads_inline_json_and_files(tmp_path):
    path = tmp_path / "routes.json"
    path.write_text(json.dumps(VALID))
    assert load_settings({CONFIG_PATH_SETTING: str(path)}).route("heart")
    assert load_settings({CONFIG_JSON_SETTING: json.dumps(VALID)}).route("heart")


@pytest.mark.parametrize("environ, expected", [
    ({}, "no configuration: set BATCH_CONFIG_PATH"),
    ({CONFIG_JSON_SETTING: "{not json"}, "BATCH_CONFIG_JSON: not valid JSON"),
    ({CONFIG_PATH_SETTING: "/nonexistent/routes.json"}, "cannot read the file"),
])
def test_load_settings_explains_missing_or_broken_documents(environ, expected):
    with pytest.raises(ConfigError, match=expected):
        load_settings(environ)


def test_management_url_comes_from_the_app_setting():
    settings = parse_settings(VALID, {"AML_MANAGEMENT_URL": "http://127.0.0.1:5100/management"})
    assert settings.management_url == "http://127.0.0.1:5100/management"
    assert any("AML_MANAGEMENT_URL" in p for p in problems_of({**VALID, "management_url": "ftp://x"}))


def test_urls_are_normalised_without_trailing_slashes():
    document = copy.deepcopy(VALID)
    document["datastores"]["workspaceblobstore"]["account_url"] += "/"
    document["routes"][0]["endpoint"]["scoring_uri"] += "/"
    settings = parse_settings(document, {"AML_MANAGEMENT_URL": "https://management.azure.com/"})
    assert settings.datastores["workspaceblobstore"].account_url == "https://ws.blob.core.windows.net"
    assert settings.route("heart").endpoint.scoring_uri.endswith("/jobs")
    assert settings.management_url == "https://management.azure.com"


def test_an_invalid_configuration_is_validated_once_and_reported_every_time():
    calls = []

    def reader(environ):
        calls.append(1)
        return {"routes": []}

    environ = {CONFIG_JSON_SETTING: "the key of this configuration"}
    for _ in range(3):
        with pytest.raises(ConfigError, match="routes: must be a non-empty list of routes"):
            load_settings(environ, reader)
    assert len(calls) == 1


def test_a_member_named_twice_is_a_config_error_not_a_silent_overwrite():
    from shared.config import ConfigError
    from shared.config.loader import decode_document

    text = '{"routes": [{"name": "a", "sinks": [{"url": "https://x.blob.core.windows.net/c/"}], "sinks": []}]}'
    with pytest.raises(ConfigError) as err:
        decode_document(text, "BATCH_CONFIG_JSON")
    assert err.value.problems == ["BATCH_CONFIG_JSON: member 'sinks' appears twice in one object; keep one"]


def test_routes_whose_azure_resource_names_would_collide_are_refused():
    from shared.config import ConfigError
    from shared.config.loader import parse_settings

    document = json.loads((Path(__file__).resolve().parents[2] / "config" / "routes.local.json").read_text())
    first = document["routes"][0]
    twin = json.loads(json.dumps(first))
    twin["name"] = first["name"].upper().replace("-", "_") if "-" in first["name"] else first["name"].upper()
    twin["match"]["prefix"] = "other/"
    twin.pop("sinks", None)
    document["routes"].append(twin)
    with pytest.raises(ConfigError) as err:
        parse_settings(document, {"AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    assert any("names the same Azure resources as route" in p and "name" in p for p in err.value.problems), \
        err.value.problems
