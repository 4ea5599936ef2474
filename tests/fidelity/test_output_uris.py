"""Every output form of every route kind, built for two runs, gives two different final URIs (issue 17, case 1).

The final URI is what the job receives: the invoke body's ``outputData`` (batch endpoints) or the
``DataPathAssignments`` (v1 pipelines). A URI shared by two runs makes the service fail all but the first
("already exists"), so configuration refuses an output whose final URI does not keep ``{run_id}``.
"""
from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from shared.batch_endpoint.job_spec import job_spec
from shared.config import ConfigError, parse_settings
from shared.config.outputs import outputs_shared_between_runs
from shared.config.route_kinds import kind_rules
from shared.config.problems import Problems, Where
from shared.pipeline_v1.requests import submission_body
from shared.runs.models import new_run_input
from shared.storage.uris import BlobLocation

ENV = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}
WS = {"subscription_id": "00000000-0000-0000-0000-000000000000", "resource_group": "rg", "name": "ws"}
ACCOUNT = "https://lake.blob.core.windows.net"
DATASTORES = {"ws": {"account_url": ACCOUNT, "container": "out"},
              "landing": {"account_url": ACCOUNT, "container": "landing"}}
ENDPOINT = {"scoring_uri": "https://r.eastus.inference.ml.azure.com/jobs", "workspace": WS}
BASE = {"name": "r", "match": {"container": "landing", "prefix": "in/"}}

FORMS = {
    "model, output file": dict(endpoint=ENDPOINT, output={"datastore": "ws", "path": "batch/{run_id}/p.csv"}),
    "model, output folder + output_file_name (issue 17 case 1)": dict(
        endpoint=ENDPOINT, output={"datastore": "ws", "path": "batch/{run_id}"},
        overrides={"output_file_name": "scores.csv"}),
    "model, {run_id} inside the last segment + output_file_name": dict(
        endpoint=ENDPOINT, output={"datastore": "ws", "path": "batch/out-{run_id}"},
        overrides={"output_file_name": "scores.csv"}),
    "model, outputs list + output_file_name": dict(
        endpoint=ENDPOINT, outputs=[{"name": "score", "datastore": "ws", "path": "b/{date}/{run_id}"}],
        overrides={"output_file_name": "s.csv"}),
    "pipeline component, uri_folder and uri_file": dict(
        endpoint={**ENDPOINT, "deployment_kind": "pipeline_component"},
        outputs=[{"name": "scores", "type": "uri_folder", "datastore": "ws", "path": "o/{run_id}/scores"},
                 {"name": "summary", "datastore": "ws", "path": "o/{route}/{run_id}.json"}]),
    "v1 pipeline, DataPath folders": dict(
        kind="pipeline_endpoint_v1",
        pipeline_endpoint={"api_url": "https://eastus2.api.azureml.ms", "id": "a275bc5d-0000", "experiment_name": "e",
                           "workspace": WS, "data_path_name": "in_path"},
        outputs=[{"name": "scored", "type": "uri_folder", "datastore": "ws", "path": "v1/{run_id}/scored"},
                 {"name": "extra", "type": "uri_folder", "datastore": "ws", "path": "v1/{attempt}/{run_id}"}]),
}


def route_of(form: dict):
    document = {"datastores": copy.deepcopy(DATASTORES), "routes": [{**copy.deepcopy(BASE), **copy.deepcopy(form)}]}
    settings = parse_settings(document, ENV)
    return settings, settings.routes[0]


def final_uris(settings, route, run_id: str) -> dict[str, str]:
    """The output URIs the job receives for run ``run_id``, read from the request body itself."""
    run = new_run_input(settings, route, run_id, BlobLocation(ACCOUNT, "landing", "in/2024-06-01/"),
                        source="test", now=datetime(2024, 6, 1, tzinfo=timezone.utc))
    if route.kind == "pipeline_endpoint_v1":
        body = submission_body(route, run, {"batchrun.attempt_id": run_id})
        return {name: "{DataStoreName}/{RelativePath}".format(**spec)
                for name, spec in body["DataPathAssignments"].items() if name != route.pipeline_endpoint.data_path_name}
    body = job_spec(route, run).body["properties"]
    return {name: spec["uri"] for name, spec in body["outputData"].items()}


@pytest.mark.parametrize("form", list(FORMS))
def test_two_runs_never_share_an_output_uri(form):
    settings, route = route_of(FORMS[form])
    first, second = final_uris(settings, route, "run-one-1111"), final_uris(settings, route, "run-two-2222")
    assert set(first) == {o.name for o in route.job_outputs} and first.keys() == second.keys()
    for name in first:
        assert first[name] != second[name], (form, name, first[name])
        assert "run-one-1111" in first[name] and "run-two-2222" in second[name]


def test_the_output_file_name_is_appended_to_the_folder_as_the_sdk_does():
    settings, route = route_of(FORMS["model, output folder + output_file_name (issue 17 case 1)"])
    uris = final_uris(settings, route, "run-one-1111")
    assert uris == {"score": "azureml://datastores/ws/paths/batch/run-one-1111/scores.csv"}


def test_a_final_uri_without_run_id_is_refused(monkeypatch):
    """The fold this issue found (the file name replacing the path's last segment) would be refused: with it,
    ``batch/{run_id}`` + ``scores.csv`` is ``batch/scores.csv`` for every run."""
    from shared.config import outputs

    settings, route = route_of(FORMS["model, output folder + output_file_name (issue 17 case 1)"])
    assert outputs_shared_between_runs(route) == []
    folded = lambda r, o: o.path.rsplit("/", 1)[0] + "/" + outputs.appends_file_name(r)  # noqa: E731
    monkeypatch.setattr(outputs, "final_path_template", folded)
    assert outputs_shared_between_runs(route) == ["score"]
    problems = Problems()
    kind_rules(route, settings.datastores, set(), problems, Where("route 'r'"))
    assert any("final URI does not keep {run_id}" in message for message in problems.items), problems.items


def test_an_output_path_without_run_id_is_refused_by_configuration():
    document = {"datastores": DATASTORES, "routes": [{**BASE, **FORMS["model, output folder + output_file_name"
                                                                       " (issue 17 case 1)"],
                                                      "output": {"datastore": "ws", "path": "batch/fixed"}}]}
    with pytest.raises(ConfigError) as caught:
        parse_settings(document, ENV)
    assert any("output.path" in p and "{run_id}" in p for p in caught.value.problems), caught.value.problems
