"""Every deployment kind end to end on real parts (Azurite, the emulator, the Durable replay engine):

* a pipeline-component deployment: the landed folder, a data asset (``azureml:regions@latest``, resolved to
  its latest version's ARM id at submit), a literal and two outputs delivered to two sinks;
* a model deployment with no output: the deployment's default location, found from the job resource;
* a v1 PipelineEndpoint route (deprecated kind): submit, poll the run, deliver its DataPath output;
* ``tools.plan`` for each: what a landing would do, with no side effect.
"""
from __future__ import annotations

import copy
import json

from samples.heart.model import sample_files
from tests.emulator.helpers import V1_PIPELINE_ENDPOINT_ID, pipeline_sales_files, upload_pipeline_assets

from .conftest import DATASTORE_CONTAINER, LANDING_CONTAINER, SINK_CONNECTION, routes_document
from .test_e2e import deliver, event_grid_event, finish, http  # noqa: F401 - shared helpers

WORKSPACE = {"subscription_id": "00000000-0000-0000-0000-000000000000", "resource_group": "rg-local",
             "name": "ws-local"}


def plan(stack, route: str) -> dict:
    """``python -m tools.plan`` for the stack's landing folder; asserts it changed nothing."""
    import io

    from tools.plan import main

    jobs, blobs = stack.job_names(), stack.sink_names()
    out = io.StringIO()
    assert main(["--route", route, "--path", f"{stack.folder}/"], out=out) == 0, out.getvalue()
    assert stack.job_names() == jobs and stack.sink_names() == blobs  # no side effect
    answer = json.loads(out.getvalue())
    assert "Bearer <token for" in answer["request"]["headers"]["Authorization"]  # no token was requested
    return answer


def land(stack, host, files: dict[str, bytes], route: str) -> tuple[str, dict, dict]:
    """Land the files, plan (folder not complete yet), land the marker, plan again; returns (run_id, plans)."""
    before = set(host.instance_ids())
    for name, data in files.items():
        deliver(host, stack.upload(name, data))
    early = plan(stack, route)
    assert early["completion"]["checked"] and early["completion"]["complete"] is False
    assert early["completion"]["files"] == len(files) and early["run_id"] is None
    deliver(host, stack.upload("_SUCCESS", b""))
    started = set(host.instance_ids()) - before
    assert len(started) == 1, started
    run_id = started.pop()
    late = plan(stack, route)
    assert late["completion"]["complete"] is True and late["run_id"] == run_id  # the plan names the real run
    assert set(host.instance_ids()) - before == {run_id}
    return run_id, early, late


def pipeline_document(stack) -> dict:
    document = routes_document(stack.emulator, stack.azurite, stack.sink_container)
    route = document["routes"][0]
    sink = f"{stack.azurite.sink.blob_url}/{stack.sink_container}"
    route.update({
        "name": "sales",
        "endpoint": {"scoring_uri": stack.emulator.scoring_uri("sales"), "workspace": WORKSPACE,
                     "deployment_kind": "pipeline_component"},
        "input": {"name": "sales"},
        "inputs": [{"name": "regions", "path": "azureml:regions@latest"},
                   {"name": "threshold", "type": "literal", "value": 100}],
        "outputs": [{"name": "scores", "type": "uri_folder", "datastore": "workspaceblobstore",
                     "path": "pipe/{run_id}/scores"},
                    {"name": "summary", "datastore": "workspaceblobstore", "path": "pipe/{run_id}/summary.json"}],
        "overrides": {},
        "sinks": [{"name": "scores-sink", "output": "scores", "url": f"{sink}/scores/{{folder}}/",
                   "connection": SINK_CONNECTION},
                  {"name": "summary-sink", "output": "summary", "url": f"{sink}/summary/{{folder}}/",
                   "connection": SINK_CONNECTION}],
    })
    route.pop("output")
    return document


def sink_text(stack, name: str) -> str:
    return stack.sink.get_blob_client(stack.sink_container, name).download_blob().readall().decode()


def test_pipeline_component_deployment_with_an_asset_a_literal_and_two_outputs_to_two_sinks(stack, host):
    upload_pipeline_assets(stack.landing.get_container_client(DATASTORE_CONTAINER))
    stack.configure(pipeline_document(stack))
    run_id, _, planned = land(stack, host, pipeline_sales_files(), "sales")
    summary = finish(host, run_id)
    assert summary["outcome"] == "Succeeded", summary
    job = stack.job(summary["job_name"])
    # the plan showed this job: its name, its body (the asset still to be resolved), the sinks' paths
    # the plan names the job the app asks for; the strict service names it itself (the request is what matches)
    assert planned["job_name"] == job.requested_name and planned["request"]["url"] == stack.emulator.scoring_uri("sales")
    inputs = planned["request"]["body"]["properties"]["inputData"]
    assert inputs["threshold"] == {"jobInputType": "Literal", "value": 100}
    assert inputs["regions"]["uri"].endswith("/data/regions/versions/{latest}")
    assert planned["resolved_at_submit"][0]["call"]["url"].startswith(stack.emulator.management_url)
    assert set(planned["request"]["body"]["properties"]["outputData"]) == {"scores", "summary"}
    by_sink = {s["sink"]: s["paths"] for s in planned["sinks"]}
    assert by_sink["summary-sink"][0]["path"] == f"{stack.sink_container}/summary/{stack.folder}/summary.json"
    assert by_sink["scores-sink"][0]["path"] == f"{stack.sink_container}/scores/{stack.folder}/{{file}}"
    assert planned["completion"]["rule"] == "complete when the marker '_SUCCESS' lands in the folder"
    over_http = plan_http({"route": "sales", "path": f"{stack.folder}/"})  # POST /api/plan: the same plan
    assert over_http.status_code == 200
    assert {k: v for k, v in json.loads(over_http.get_body()).items() if k != "completion"} == \
        {k: v for k, v in planned.items() if k != "completion"}
    # the asset went as the ARM id of its latest version (2), the literal as its JSON value
    assert job.bindings["regions"] == ("UriFolder", "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
                                       "rg-local/providers/Microsoft.MachineLearningServices/workspaces/ws-local/"
                                       "data/regions/versions/2")
    assert job.bindings["threshold"] == ("Literal", 100.0)
    assert job.bindings["sales"][1].endswith(f"/{LANDING_CONTAINER}/{stack.folder}/")
    # each output reached the sink configured for it, and only that one
    names = stack.sink_names()
    assert f"scores/{stack.folder}/day1.csv" in names and f"scores/{stack.folder}/day2.csv" in names
    assert f"summary/{stack.folder}/summary.json" in names
    assert not any(n.startswith(f"scores/{stack.folder}/summary") for n in names)
    assert json.loads(sink_text(stack, f"summary/{stack.folder}/summary.json"))["totals"] == \
        {"East": 300.0, "North": 130.0, "South": 80.0}
    assert "e,East,300,true" in sink_text(stack, f"scores/{stack.folder}/day2.csv")
    assert {o["sink"] for o in summary["outputs"]} == {"scores-sink", "summary-sink"}


def test_a_route_with_no_output_uses_the_default_location_and_delivery_finds_it_on_the_job(stack, host):
    document = routes_document(stack.emulator, stack.azurite, stack.sink_container)
    del document["routes"][0]["output"]
    stack.configure(document)
    run_id, _, planned = land(stack, host, {p.name: p.read_bytes() for p in sample_files()}, "heart")
    assert "outputData" not in planned["request"]["body"]["properties"]
    assert "default output location" in planned["outputs"]["default"]
    summary = finish(host, run_id)
    assert summary["outcome"] == "Succeeded", summary
    job = stack.job(summary["job_name"])
    assert job.request.output is None  # no OutputData was sent
    assert job.output_uri == f"azureml://datastores/workspaceblobstore/paths/azureml/{job.name}/score/predictions.csv"
    lines = stack.sink_blob("predictions.csv").download_blob().readall().decode().splitlines()
    assert len(lines) == 80


def v1_document(stack) -> dict:
    document = routes_document(stack.emulator, stack.azurite, stack.sink_container)
    document["datastores"]["landingstore"] = {"account_url": stack.azurite.default.blob_url,
                                              "container": LANDING_CONTAINER, "connection": "AzureWebJobsStorage"}
    route = document["routes"][0]
    route.update({
        "name": "sales-v1", "kind": "pipeline_endpoint_v1",
        "pipeline_endpoint": {"api_url": stack.emulator.base_url, "id": V1_PIPELINE_ENDPOINT_ID, "version": "2",
                              "experiment_name": "sales-v1-exp", "workspace": WORKSPACE, "data_path_name": "sales",
                              "parameters": {"threshold": 50}},
        "outputs": [{"name": "scores", "type": "uri_folder", "datastore": "workspaceblobstore",
                     "path": "v1/{run_id}/scores"}],
        "overrides": {},
    })
    for key in ("endpoint", "output", "input"):
        route.pop(key, None)
    return document


def test_a_v1_pipeline_endpoint_route_submits_polls_and_delivers(stack, host):
    upload_pipeline_assets(stack.landing.get_container_client(DATASTORE_CONTAINER))
    stack.configure(v1_document(stack))
    run_id, _, planned = land(stack, host, pipeline_sales_files(), "sales-v1")
    assert planned["request"]["url"].endswith(f"/PipelineEndpointSubmit/Id/{V1_PIPELINE_ENDPOINT_ID}"
                                              "/2?pipelineVersion=2")   # where the SDK sends the version
    assert planned["request"]["body"]["DataPathAssignments"]["sales"] == {"DataStoreName": "landingstore",
                                                                          "RelativePath": stack.folder}
    assert planned["job_name"] is None and "deprecated" in planned
    summary = finish(host, run_id)
    assert summary["outcome"] == "Succeeded", summary
    job = stack.job(summary["job_name"])
    assert job.v1 and job.experiment_name == "sales-v1-exp"
    assert job.bindings["sales"] == ("UriFolder", f"azureml://datastores/landingstore/paths/{stack.folder}")
    assert job.bindings["threshold"] == ("Literal", 50.0)
    assert job.request.tags["batchrun.run_id"] == run_id
    text = stack.sink_blob("day1.csv").download_blob().readall().decode()
    assert "n,North,120,true" in text and "s,South,80,true" in text  # threshold 50


def plan_http(body: dict):
    import azure.functions as func

    from tests.app_index import user_function

    req = func.HttpRequest("POST", "http://localhost:7071/api/plan", headers={"Content-Type": "application/json"},
                           params={}, body=json.dumps(body).encode())
    return user_function("plan")(req=req)


def test_plan_refuses_what_a_start_refuses_with_the_same_answer(stack, host):
    import io

    from tools.plan import main

    for body in ({"route": "nope", "path": f"{stack.folder}/"}, {"route": "heart", "path": "heart/../x/"},
                 {"route": "heart", "path": "other/x/"}, {"route": "Bad Name", "path": "heart/x/"}):
        started = http("start_run", host, "POST", "http://localhost:7071/api/runs", body=body)
        planned = plan_http(body)
        assert (planned.status_code, planned.get_body()) == (started.status_code, started.get_body()), body
        assert started.status_code in (400, 404)
        out = io.StringIO()
        assert main(["--route", body["route"], "--path", body["path"]], out=out) == 2
        tool = json.loads(out.getvalue())
        assert (tool["status"], tool["error"]) == (started.status_code, json.loads(started.get_body())["error"])
    assert host.instance_ids() == []
    extra = plan_http({"route": "heart", "path": f"{stack.folder}/", "url": "https://x"})
    assert extra.status_code == 400 and b"url" in extra.get_body()


def test_health_flags_a_v1_route_as_deprecated(stack):
    from tests.app_index import user_function

    stack.configure(v1_document(stack))
    import azure.functions as func

    response = user_function("health_details")(req=func.HttpRequest("GET", "http://localhost/api/health/details",
                                                                    body=b"", params={}))
    body = json.loads(response.get_body())
    assert body["deprecated"] == [{"route": "sales-v1", "kind": "pipeline_endpoint_v1",
                                   "message": body["deprecated"][0]["message"]}]
    assert "2026-06-30" in body["deprecated"][0]["message"]
    anonymous = json.loads(user_function("health")(req=func.HttpRequest("GET", "http://localhost/api/health",
                                                                        body=b"", params={})).get_body())
    assert anonymous["deprecated_routes"] == 1
