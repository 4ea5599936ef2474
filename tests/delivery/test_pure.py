"""Pure parts of delivery: configuration, destinations, receipts, redaction, the redelivery input."""

from __future__ import annotations

import copy
import json

import pytest

from shared.config import ConfigError, parse_settings
from shared.config.models import SinkConfig
from shared.redact import redact
from shared.delivery.orchestration import notification_body, pending_wait
from shared.delivery.sinks import blob_endpoint_url, receipt_location, sink_location
from shared.http_api.redeliver import redelivery_input
from shared.http_api.runs import HttpProblem
from shared.storage.uris import parse_blob_url

BASE = {
    "datastores": {"ws": {"account_url": "https://mlstore.blob.core.windows.net", "container": "azureml"}},
    "routes": [{
        "name": "heart",
        "match": {"container": "landing", "prefix": "heart/"},
        "endpoint": {"scoring_uri": "https://heart.eastus.inference.ml.azure.com/jobs"},
        "output": {"datastore": "ws", "path": "batch/{run_id}/predictions.csv"},
        "sinks": [{"url": "https://curated.blob.core.windows.net/scores/{folder}/", "connection": "CURATED"},
                  {"url": "abfss://lake@datalake.dfs.core.windows.net/ml/{date}/{run_id}/", "connection": "LAKE"}],
    }],
}


def route_with(**changes):
    doc = copy.deepcopy(BASE)
    doc["routes"][0].update(changes)
    return doc


def test_sinks_get_names_and_delivery_and_notify_defaults():
    route = parse_settings(BASE, {}).route("heart")
    assert [s.name for s in route.sinks] == ["curated/scores", "datalake/lake"]
    assert route.delivery.strategy == "auto" and route.notify.targets == ()
    assert route.output.action == "append_row"


@pytest.mark.parametrize("changes, message", [
    ({"sinks": [{"url": "https://a.blob.core.windows.net/"}]}, "route 'heart': sinks[0].url: must name a container"),
    ({"sinks": [{"url": "abfss://a.dfs.core.windows.net/x"}]}, "route 'heart': sinks[0].url: an abfss:// URL"),
    ({"sinks": [{"url": "https://a.blob.core.windows.net/c/", "name": "x"},
                {"url": "https://b.blob.core.windows.net/c/", "name": "x"}]},
     "route 'heart': sinks[1].name: 'x' is used by more than one sink"),
    ({"delivery": {"strategy": "teleport"}}, "route 'heart': delivery.strategy: must be one of auto"),
    ({"delivery": {"copy_timeout_minutes": 0}}, "route 'heart': delivery.copy_timeout_minutes: must be at least 1"),
    ({"notify": {"webhook": {"url": "http://hooks.example.com/x"}}}, "route 'heart': notify.webhook.url: must be an"
                                                                      " https:// URL"),
    ({"notify": {"webhook": {"url": "https://u:p@hooks.example.com/x"}}},
     "route 'heart': notify.webhook.url: must not carry credentials"),
    ({"notify": {"queue": {"name": "Bad_Queue"}}}, "route 'heart': notify.queue.name: 'Bad_Queue' is not a valid"),
    ({"notify": {"queue": {"connection": "x"}}}, "route 'heart': notify.queue.name: is required"),
    ({"notify": {"on": ["Done"]}}, "route 'heart': notify.on: must be a non-empty list of outcomes"),
    ({"output": {"datastore": "ws", "path": "b/{run_id}/p.csv", "action": "zip"}},
     "route 'heart': output.action: must be one of append_row, summary_only"),
])
def test_bad_delivery_settings_name_the_route_and_field(changes, message):
    with pytest.raises(ConfigError) as err:
        parse_settings(route_with(**changes), {})
    assert any(p.startswith(message) for p in err.value.problems), err.value.problems


def test_adls_urls_are_written_through_the_blob_endpoint():
    assert blob_endpoint_url("abfss://lake@dl.dfs.core.windows.net/ml/x") == "https://dl.blob.core.windows.net/lake/ml/x"
    assert blob_endpoint_url("https://dl.dfs.core.windows.net/lake/ml/") == "https://dl.blob.core.windows.net/lake/ml/"
    sink = SinkConfig("abfss://lake@dl.dfs.core.windows.net/ml/{date}/{run_id}/", "LAKE", "lake")
    loc = sink_location(sink, route="heart", folder="heart/2024-06-01", run_id="r1", date="2024-06-01",
                        file_name="parts/p1.csv")
    assert loc.url == "https://dl.blob.core.windows.net/lake/ml/2024-06-01/r1/parts/p1.csv"


def test_an_empty_folder_leaves_no_double_slash_and_file_placeholders_work():
    sink = SinkConfig("http://127.0.0.1:10000/devstoreaccount1/scores/{folder}/out-{file}", "C", "c")
    loc = sink_location(sink, route="r", folder="", run_id="x", date="d", file_name="a.csv")
    assert loc.container == "scores" and loc.path == "out-a.csv"


def test_the_receipt_sits_in_the_deepest_common_folder():
    dests = [parse_blob_url(u) for u in ("https://a.blob.core.windows.net/c/x/r1/p.csv",
                                         "https://a.blob.core.windows.net/c/x/r1/parts/q.csv")]
    assert receipt_location(dests).url == "https://a.blob.core.windows.net/c/x/r1/_RESULT.json"
    assert receipt_location(dests[:1] and [parse_blob_url("https://a.blob.core.windows.net/c/p.csv")]).path == \
        "_RESULT.json"


def test_redact_removes_sas_and_keys():
    text = "copy from https://a/c/b?sv=2024&sig=abc%2Bdef&se=2030 failed; AccountKey=Zm9v;x"
    out = redact(text)
    assert "abc" not in out and "Zm9v" not in out and "sig=***" in out


def test_pending_waits_grow_then_stay_at_a_minute():
    assert [pending_wait(i) for i in range(7)] == [5, 10, 20, 40, 60, 60, 60]


def test_notification_body_has_a_stable_id():
    body = notification_body({"run_id": "r", "outcome": "Failed", "finished_at": "t", "notifications": {}})
    assert body["notification_id"] == "r:Failed:t" and "notifications" not in body


class Status:
    def __init__(self, runtime, custom, output, input_):
        self.instance_id, self.runtime_status = "heart-1", runtime
        self.custom_status, self.output, self.input_ = custom, output, input_
        self.created_time = self.last_updated_time = None


def test_redelivery_resumes_a_completed_job_at_delivery():
    custom = {"run_id": "heart-1", "route": "heart", "phase": "Failed", "error": "x", "job_name": "job-1",
              "job_status": "Completed", "deadline": "2024-01-01T01:00:00Z", "polls": 4, "polls_here": 4,
              "status_errors": 0, "started_at": "2024-01-01T00:00:00Z"}
    output = {"outcome": "Failed", "job_name": "job-1", "job_status": "Completed"}
    new = redelivery_input(Status("Completed", custom, output, json.dumps({"run": {"run_id": "heart-1"}})))
    assert new["run"] == {"run_id": "heart-1"}
    assert new["monitor"]["job_status"] == "Completed" and new["monitor"]["polls_here"] == 0
    assert new["monitor"]["redeliveries"] == 1 and "error" not in new["monitor"] and "phase" not in new["monitor"]


@pytest.mark.parametrize("runtime, job_status, code", [("Running", "Running", 409), ("Completed", "Failed", 409)])
def test_redelivery_refuses_runs_with_nothing_to_deliver(runtime, job_status, code):
    custom = {"job_name": "j", "job_status": job_status}
    with pytest.raises(HttpProblem) as err:
        redelivery_input(Status(runtime, custom, {"outcome": "Failed", "job_status": job_status}, {"run": {}}))
    assert err.value.status == code
