"""Issue 16 case 5 end to end: a run keeps the workspace and endpoint it submitted to until it ends.

The routes document moves the route to another workspace (and scoring URI) while the run's job is running;
the run's status calls and its deadline cancel still reach the job where it is (the emulator answers 404
for any other workspace, as Azure does), so the job is cancelled, not left running.
"""
from __future__ import annotations

from .test_e2e import finish, land_sample, run_view, statuses, wait_for_job


def test_a_route_moved_to_another_workspace_mid_run_still_cancels_its_job_at_the_deadline(stack, host):
    stack.configure(poll={"deadline_hours": 0.002})  # 7.2 s of orchestration time
    stack.emulator.emulator.faults.apply({"jobs": [{"effect": "hang"}]})
    run_id, _ = land_sample(stack, host)
    job = wait_for_job(stack, host, run_id, "Running")
    pinned = host.status(run_id)["input"]
    assert "ws-local" in str(pinned)

    moved = stack.document["routes"][0]["endpoint"]
    stack.configure(poll={"deadline_hours": 0.002}, endpoint={
        "scoring_uri": moved["scoring_uri"].replace("/endpoints/heart/", "/endpoints/heart-moved/"),
        "workspace": {**moved["workspace"], "name": "ws-moved"}})
    assert stack.document["routes"][0]["endpoint"]["workspace"]["name"] == "ws-moved"

    summary = finish(host, run_id)
    assert summary["outcome"] == "TimedOut", summary
    assert job.status.value == "Canceled", statuses(job)  # the cancel reached the original workspace
    assert "cancelling job" not in (summary.get("error") or ""), summary
    assert run_view(host, run_id)["status"] == "TimedOut"
