"""plan_delivery with named outputs: each output to the sinks naming it; a sink that receives several outputs
keeps them apart by output name; with no configured output, the outputs the job resource lists."""
from __future__ import annotations

from shared.config import load_settings
from shared.delivery.activities import plan_delivery


def outputs_route(env) -> None:
    env.configure(endpoint={**env.route["endpoint"], "deployment_kind": "pipeline_component"}, output=None,
                  outputs=[{"name": "scores", "type": "uri_folder", "datastore": "workspaceblobstore",
                            "path": "batch/heart/{run_id}/scores"},
                           {"name": "summary", "datastore": "workspaceblobstore",
                            "path": "batch/heart/{run_id}/summary.json"}],
                  sinks=[{**env.route["sinks"][0], "output": "summary"},
                         {**env.route["sinks"][1], "output": "scores"}])


def test_each_named_output_goes_to_the_sink_that_names_it(env):
    outputs_route(env)
    run = env.run_input()["run"]
    run_id = run["run_id"]
    env.put_output(run_id, "scores/a.csv", b"a")
    env.put_output(run_id, "scores/b.csv", b"b")
    env.put_output(run_id, "summary.json", b"{}")
    plan = plan_delivery({"run": run, "job_name": "job-1"}, load_settings())
    assert {(c["sink"], c["output"], c["file"]) for c in plan["copies"]} == {
        ("curated", "summary", "summary.json"), ("lake", "scores", "a.csv"), ("lake", "scores", "b.csv")}
    assert {c["datastore"] for c in plan["copies"]} == {"workspaceblobstore"}


def test_no_configured_output_reads_the_job_and_a_shared_sink_nests_outputs_by_name(env):
    env.configure(output=None)
    run = env.run_input()["run"]
    run_id = run["run_id"]
    assert run["outputs"] == {} and run["output_uri"] is None
    env.put_output(run_id, "score/predictions.csv", b"p")
    env.put_output(run_id, "extra/x.txt", b"x")
    listed = {"score": f"azureml://datastores/workspaceblobstore/paths/batch/heart/{run_id}/score/predictions.csv",
              "extra": f"azureml://datastores/workspaceblobstore/paths/batch/heart/{run_id}/extra/"}
    asked = []

    def job_outputs(settings, route, job_name):
        asked.append(job_name)
        return listed

    plan = plan_delivery({"run": run, "job_name": "job-7"}, load_settings(), job_outputs=job_outputs)
    assert asked == ["job-7"]
    assert sorted((c["sink"], c["file"]) for c in plan["copies"]) == [
        ("curated", "extra/x.txt"), ("curated", "score/predictions.csv"),
        ("lake", "extra/x.txt"), ("lake", "score/predictions.csv")]
    assert plan_delivery({"run": run, "job_name": "job-7"}, load_settings(),
                         job_outputs=lambda *a: {})["error"].endswith("job job-7 lists no outputs")
