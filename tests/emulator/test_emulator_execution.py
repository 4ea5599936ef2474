"""Execution semantics (contract §4): state sequence, append_row output, mini-batching, retries,
timeouts, error_threshold, summary_only, existing output path."""
from __future__ import annotations

from tests.emulator.helpers import body, ds_uri, emulator_job, unique, upload, wait_for
from samples.heart.model import expected_lines, load_model, sample_files

NO_SUCCESS = "No succeeded mini batch item returned from run()"


def run_lab(client, store, files: dict[str, str], deployment: str = "flaky", **props) -> tuple[dict, str]:
    folder = unique("in/lab")
    upload(store, folder, files)
    out = unique("out") + "/predictions.csv"
    r = client.post("/endpoints/lab/jobs", json=body(ds_uri(folder), ds_uri(out), **props),
                    headers={"azureml-model-deployment": deployment})
    assert r.status_code == 201, r.text
    return wait_for(client, "lab", r.json()["name"]), out


def logs(client, endpoint: str, name: str) -> str:
    r = client.get(f"/endpoints/{endpoint}/jobs/{name}/logs")
    assert r.status_code == 200
    return r.text


def test_heart_job_walks_the_state_sequence_and_predictions_match_the_model(server, client, store):
    folder = unique("in/heart")
    upload(store, folder, {f.name: f.read_bytes() for f in sample_files()})
    out = unique("out/heart") + "/predictions.csv"
    r = client.post("/endpoints/heart/jobs", json=body(ds_uri(folder), ds_uri(out)))
    assert r.status_code == 201, r.text
    name = r.json()["name"]
    job = wait_for(client, "heart", name)
    assert job["properties"]["status"] == "Completed", job["properties"].get("error")
    assert emulator_job(server, name)["history"] == ["NotStarted", "Queued", "Preparing", "Running", "Finalizing",
                                                     "Completed"]
    model = load_model()
    expected = [line for f in sample_files() for line in expected_lines(f.name, f.read_text(), model)]
    got = store.download_blob(out).readall().decode().splitlines()
    assert len(got) == 80
    assert sorted(got) == sorted(expected)  # order across mini-batches is not guaranteed by the service
    info = emulator_job(server, name)
    assert info["counters"]["mini_batches"] == 2 and info["counters"]["files"] == 4  # mini_batch_size 2
    text = logs(client, "heart", name)
    assert "Total mini batches: 2" in text and "scored heart-unlabeled-0.csv: 20 rows" in text


def test_status_is_observable_while_running(client, store):
    # a sleeping batch keeps the job in Running long enough to see it through the data-plane GET
    folder = unique("in/obs")
    upload(store, folder, {"s.csv": "sleep:0.6"})
    r = client.post("/endpoints/lab/jobs", json=body(ds_uri(folder), ds_uri(unique("out") + "/p.csv")))
    name = r.json()["name"]
    assert wait_for(client, "lab", name, {"Running"})["properties"]["status"] == "Running"
    assert wait_for(client, "lab", name)["properties"]["status"] == "Completed"


def test_nested_folders_are_not_explored(server, client, store):
    job, out = run_lab(client, store, {"top.csv": "ok", "sub/nested.csv": "ok", "sub/deeper/x.csv": "ok"})
    assert job["properties"]["status"] == "Completed"
    assert store.download_blob(out).readall().decode() == "top.csv ok\n"
    assert emulator_job(server, job["name"])["counters"]["files"] == 1


def test_existing_output_path_fails_the_job(client, store):
    out = unique("out/exists") + "/predictions.csv"
    store.upload_blob(out, b"old")
    folder = unique("in/exists")
    upload(store, folder, {"a.csv": "ok"})
    r = client.post("/endpoints/lab/jobs", json=body(ds_uri(folder), ds_uri(out)))
    assert r.status_code == 201  # fails after submission, not at invoke
    job = wait_for(client, "lab", r.json()["name"])
    assert job["properties"]["status"] == "Failed"
    assert "the path already exists" in job["properties"]["error"]["message"]
    assert store.download_blob(out).readall() == b"old"
    assert "the path already exists" in logs(client, "lab", job["name"])


def test_raising_batch_is_retried_then_succeeds(client, store):
    job, out = run_lab(client, store, {"a.csv": "fail-once", "b.csv": "ok"})
    assert job["properties"]["status"] == "Completed"
    assert sorted(store.download_blob(out).readall().decode().splitlines()) == ["a.csv fail-once", "b.csv ok"]
    text = logs(client, "lab", job["name"])
    assert "attempt 1: run() raised RuntimeError: transient failure on a.csv" in text
    assert "RuntimeError: transient failure on a.csv" in text  # traceback in the script's stderr


def test_timed_out_batch_is_killed_and_retried(server, client, store):
    job, out = run_lab(client, store, {"slow.csv": "sleep-once:5", "fast.csv": "ok"},
                       retrySettings={"maxRetries": 1, "timeout": "PT1S"})
    assert job["properties"]["status"] == "Completed"
    assert sorted(store.download_blob(out).readall().decode().splitlines()) == ["fast.csv ok", "slow.csv sleep-once:5"]
    assert "No progress update in 1 seconds" in logs(client, "lab", job["name"])


def test_batch_failing_all_retries_counts_its_files_as_failed(server, client, store):
    job, out = run_lab(client, store, {"bad.csv": "fail", "good.csv": "ok"}, retrySettings={"maxRetries": 2})
    assert job["properties"]["status"] == "Completed"  # error_threshold -1: failures are tolerated
    assert store.download_blob(out).readall().decode() == "good.csv ok\n"
    info = emulator_job(server, job["name"])
    assert info["counters"]["failed_items"] == 1 and info["counters"]["failed_mini_batches"] == 1
    assert logs(client, "lab", job["name"]).count("run() raised ValueError: cannot score bad.csv") == 3


def test_timeout_on_every_attempt_fails_the_batch(server, client, store):
    job, _ = run_lab(client, store, {"stuck.csv": "sleep:3"}, retrySettings={"maxRetries": 1, "timeout": "PT0.5S"})
    assert job["properties"]["status"] == "Failed"
    assert NO_SUCCESS in job["properties"]["error"]["message"]
    assert logs(client, "lab", job["name"]).count("No progress update in 0.5 seconds") == 2


def test_error_threshold_aborts_when_exceeded(client, store):
    files = {"a.csv": "fail", "b.csv": "fail", "c.csv": "fail", "d.csv": "ok"}
    job, _ = run_lab(client, store, files, errorThreshold=2, retrySettings={"maxRetries": 0})
    assert job["properties"]["status"] == "Failed"
    assert "error threshold (2)" in job["properties"]["error"]["message"]
    assert "Failed items: 3 (error_threshold=2)" in logs(client, "lab", job["name"])
    job, out = run_lab(client, store, files, errorThreshold=3, retrySettings={"maxRetries": 0})
    assert job["properties"]["status"] == "Completed"
    assert store.download_blob(out).readall().decode() == "d.csv ok\n"


def test_all_batches_failing_fails_with_service_message(client, store):
    job, _ = run_lab(client, store, {"a.csv": "fail", "b.csv": "fail"}, retrySettings={"maxRetries": 0})
    assert job["properties"]["status"] == "Failed"
    assert job["properties"]["error"]["message"].startswith(NO_SUCCESS)


def test_fewer_returned_elements_count_as_failures(server, client, store):
    job, _ = run_lab(client, store, {"a.csv": "skip", "b.csv": "ok"}, errorThreshold=0)
    assert job["properties"]["status"] == "Failed"
    assert "fewer elements than inputs" in logs(client, "lab", job["name"])
    job, out = run_lab(client, store, {"a.csv": "skip", "b.csv": "ok"}, errorThreshold=1)
    assert job["properties"]["status"] == "Completed"
    assert emulator_job(server, job["name"])["counters"]["failed_items"] == 1


def test_crashing_worker_is_restarted_and_retried(client, store):
    job, out = run_lab(client, store, {"a.csv": "exit", "b.csv": "ok"}, retrySettings={"maxRetries": 1})
    assert job["properties"]["status"] == "Completed"
    assert store.download_blob(out).readall().decode() == "b.csv ok\n"
    assert "scoring process exited unexpectedly (exit code 3)" in logs(client, "lab", job["name"])


def test_summary_only_uploads_script_files_and_merges_nothing(server, client, store):
    job, out = run_lab(client, store, {"a.csv": "write", "b.csv": "write"}, deployment="summary")
    assert job["properties"]["status"] == "Completed"
    folder = out.rsplit("/", 1)[0]
    names = sorted(b.name for b in store.list_blobs(name_starts_with=folder + "/"))
    assert names == [f"{folder}/a.csv.out", f"{folder}/b.csv.out"]
    assert store.download_blob(f"{folder}/a.csv.out").readall() == b"custom output for a.csv\n"


def test_script_stdout_and_stderr_reach_the_logs(client, store):
    job, _ = run_lab(client, store, {"p.csv": "print"})
    text = logs(client, "lab", job["name"])
    assert "flaky init" in text and "stdout line from p.csv" in text and "stderr line from p.csv" in text


def test_missing_input_folder_fails_the_job(client, store):
    r = client.post("/endpoints/lab/jobs", json=body(ds_uri(unique("in/none")), ds_uri(unique("out") + "/p.csv")))
    job = wait_for(client, "lab", r.json()["name"])
    assert job["properties"]["status"] == "Failed" and "has no files" in job["properties"]["error"]["message"]


def test_dataframe_result_is_written_without_header_space_separated(client, store):
    job, out = run_lab(client, store, {"a.csv": "x\ny\n", "b.csv": "x\n", "c.csv": ""}, deployment="frame")
    assert job["properties"]["status"] == "Completed", job["properties"].get("error")
    assert sorted(store.download_blob(out).readall().decode().splitlines()) == ["a.csv 2 0.5", "b.csv 1 0.5",
                                                                                   "c.csv 0 0.5"]
