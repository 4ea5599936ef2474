"""Orchestration state survives a restart of the local development host: an interrupted run resumes."""

from __future__ import annotations

import time

from devhost.durable import DurableTestHost, split_functions
from devhost.history import ET
from devhost.indexing import functions_of
from tests.devhost import tiny_app


def make_host(state_dir, **options) -> DurableTestHost:
    orchestrators, activities = split_functions(functions_of(tiny_app.app))
    return DurableTestHost(orchestrators, activities, clock="scaled", state_dir=state_dir, **options)


def wait_for(host, instance_id, status, timeout_s=20.0):
    deadline = time.monotonic() + timeout_s
    while (host.status(instance_id) or {}).get("runtimeStatus") != status:
        assert time.monotonic() < deadline, host.status(instance_id)
        time.sleep(0.05)
    return host.status(instance_id)


def test_a_waiting_orchestration_resumes_after_a_restart(tmp_path):
    tiny_app.CALLS["hello"] = []
    first = make_host(tmp_path).start_pump()
    first.start("greet", "ada", instance_id="g-1")
    deadline = time.monotonic() + 20
    while first.count("g-1", ET.TASK_COMPLETED) < 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    first.step()  # the episode that takes the activity's answer
    first.close()  # the process stops while the orchestration waits for "go"

    second = make_host(tmp_path).start_pump()
    try:
        assert second.status("g-1")["runtimeStatus"] == "Running"
        second.raise_event("g-1", "go", "!", as_python_client=False)
        done = wait_for(second, "g-1", "Completed")
        assert done["output"] == "hello ada!"
        assert tiny_app.CALLS["hello"] == ["ada"]  # the answered activity did not run again
    finally:
        second.close()


def test_an_activity_that_never_answered_runs_again_after_a_restart(tmp_path):
    tiny_app.CALLS["hello"] = []
    first = make_host(tmp_path, activity_mode="inline")
    first.start("greet", "bob", instance_id="g-2")
    first.step()  # the first episode schedules the activity ...
    first.save()  # ... and the process dies before the activity ran
    first.close()
    assert tiny_app.CALLS["hello"] == []

    second = make_host(tmp_path).start_pump()
    try:
        deadline = time.monotonic() + 20
        while tiny_app.CALLS["hello"] != ["bob"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        second.raise_event("g-2", "go", "?", as_python_client=False)
        assert wait_for(second, "g-2", "Completed")["output"] == "hello bob?"
    finally:
        second.close()


def test_a_damaged_state_file_starts_empty(tmp_path):
    (tmp_path / "durable-state.pickle").write_bytes(b"not a pickle")
    host = make_host(tmp_path)
    try:
        assert host.instance_ids() == []
    finally:
        host.close()
