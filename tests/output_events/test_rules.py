"""An output blob's path → its run (every output form), hostile names refused, and the handler's checks."""
from __future__ import annotations

import asyncio

import pytest

from shared.config import parse_settings
from shared.output_events.handler import handle_output_blob
from shared.output_events.rules import build_watches, match_output, signal_gaps
from shared.runs.ids import derived_run_id
from shared.storage.uris import BlobLocation

OUT = "https://ws.blob.core.windows.net"
ENV = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}
ENDPOINT = {"scoring_uri": "https://r.eastus.inference.ml.azure.com/jobs"}


def settings(*routes):
    return parse_settings({"datastores": {"ws": {"account_url": OUT, "container": "out"}}, "routes": list(routes)}, ENV)


def route(name="r", prefix="in/", **extra):
    return {"name": name, "match": {"container": "landing", "prefix": prefix}, "endpoint": ENDPOINT,
            "poll": {"output_events": True}, **extra}


FILE = route(output={"datastore": "ws", "path": "scores/{date}/{run_id}/p.csv"})
NAMED_FILE = route(output={"datastore": "ws", "path": "scores/{run_id}"},
                   overrides={"output_file_name": "predictions.csv"})
PIPELINE = route(name="pipe", prefix="pin/",
                 endpoint={**ENDPOINT, "deployment_kind": "pipeline_component"},
                 outputs=[{"name": "scored", "datastore": "ws", "path": "pipe/{run_id}/scored", "type": "uri_folder"},
                          {"name": "metrics", "datastore": "ws", "path": "pipe/{run_id}/metrics",
                           "type": "uri_folder"}])
RUN = derived_run_id("r", "x")
PIPE_RUN = derived_run_id("pipe", "x")


def match(doc, path, container="out", account=OUT):
    return match_output(build_watches(settings(doc)), account, container, path)


def test_a_file_output_names_its_run():
    found = match(FILE, f"scores/2024-06-01/{RUN}/p.csv")
    assert (found.route, found.output, found.run_id) == ("r", "score", RUN)


def test_a_file_output_with_the_sdk_appended_file_name_names_its_run():
    assert match(NAMED_FILE, f"scores/{RUN}/predictions.csv").run_id == RUN
    assert match(NAMED_FILE, f"scores/{RUN}") is None          # the folder itself is never the output


def test_named_folder_outputs_name_their_run_and_output():
    found = match(PIPELINE, f"pipe/{PIPE_RUN}/metrics/part-0001.json")
    assert (found.route, found.output, found.run_id) == ("pipe", "metrics", PIPE_RUN)
    assert match(PIPELINE, f"pipe/{PIPE_RUN}/scored/a/b.csv").output == "scored"


@pytest.mark.parametrize("path", [
    f"scores/2024-06-01/{RUN}/p.csv.tmp",                       # not the output's name
    f"scores/2024-06-01/{RUN}/x/p.csv",                          # one segment per placeholder
    "scores/2024-06-01/other-route-0123456789abcdef01234567/p.csv",   # a run of another route
    "scores/2024-06-01/r-../p.csv",                               # dot segment where the run id goes
    "scores/2024-06-01/r-%2e%2e/p.csv",
    "scores/2024-06-01/r-a b/p.csv",                              # outside the run-id grammar
    "scores/2024-06-01/r-a%2Fb/p.csv",
    f"scores/../scores/2024-06-01/{RUN}/p.csv",                   # dot segments anywhere
    f"scores/2024-06-01/{RUN}/p.csv\n",
    "scores/2024-06-01/" + "r-" + "a" * 300 + "/p.csv",            # too long for a run id
])
def test_hostile_or_foreign_names_are_refused(path):
    assert match(FILE, path) is None


def test_other_containers_and_accounts_are_not_outputs():
    assert match(FILE, f"scores/2024-06-01/{RUN}/p.csv", container="landing") is None
    assert match(FILE, f"scores/2024-06-01/{RUN}/p.csv", account="https://evil.blob.core.windows.net") is None


def test_routes_that_cannot_signal_are_not_watched_and_say_why():
    summary = route(output={"datastore": "ws", "path": "s/{run_id}/p.csv", "action": "summary_only"})
    default = route()
    off = {**FILE, "poll": {}}
    assert build_watches(settings(summary)) == [] and build_watches(settings(default)) == []
    assert build_watches(settings(off)) == []
    assert "summary_only" in signal_gaps(settings(summary).routes[0])[0]
    assert "default output location" in signal_gaps(settings(default).routes[0])[0]
    assert signal_gaps(settings(FILE).routes[0]) == []


class Ledger:
    def __init__(self, records):
        self.records, self.reads = records, 0

    def get(self, run_id):
        self.reads += 1
        return self.records.get(run_id)


class Client:
    def __init__(self, fail=False):
        self.raised, self.fail = [], fail

    async def raise_event(self, instance_id, name, payload):
        if self.fail:
            raise RuntimeError("instance not running")
        self.raised.append((instance_id, name, payload))


def handle(path, records, client=None):
    ledger = Ledger(records)
    client = client or Client()
    reason = asyncio.run(handle_output_blob(build_watches(settings(FILE)), BlobLocation(OUT, "out", path), "ev-1",
                                            "2024-06-01T12:00:00Z", client, ledger))
    return reason, ledger, client


def test_the_handler_tells_the_run_after_one_ledger_read():
    path = f"scores/2024-06-01/{RUN}/p.csv"
    record = {"route": "r", "output_uri": f"azureml://datastores/ws/paths/{path}"}
    reason, ledger, client = handle(path, {RUN: record})
    assert reason == "hinted" and ledger.reads == 1
    (instance, name, payload), = client.raised
    assert (instance, name) == (RUN, "job_status")
    assert payload["signal"] == "output" and payload["status"] == "Finalizing" and "job_name" not in payload


def test_the_handler_refuses_unknown_runs_other_outputs_and_ended_runs():
    path = f"scores/2024-06-01/{RUN}/p.csv"
    assert handle(path, {})[0] == "unknown_run"
    assert handle(path, {RUN: {"route": "other"}})[0] == "other_route"
    assert handle(path, {RUN: {"route": "r", "output_uri": "azureml://datastores/ws/paths/elsewhere/p.csv"}})[0] \
        == "not_its_output"
    assert handle(path, {RUN: {"route": "r"}}, Client(fail=True))[0] == "run_not_running"
    reason, ledger, client = handle("scores/2024-06-01/r-../p.csv", {})
    assert reason == "not_an_output" and ledger.reads == 0 and client.raised == []
