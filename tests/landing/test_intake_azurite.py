"""Events Azure really sends land: CloudEvents through the worker's own decoder, ADLS Gen2 (dfs, abfss),
raw '#', '%' and unicode in folder names. The real trigger functions on Azurite with the Durable test host."""

from __future__ import annotations

import json
import logging

import azure.functions as func
import pytest
from azure.functions import meta
from azure.functions.eventgrid import EventGridEventInConverter

from shared.landing import handler
from tests.app_index import user_function
from tests.support.durable_host import DurableTestHost, run_async
from tools.events import blob_created_event


@pytest.fixture
def host():
    with DurableTestHost({}, {}) as h:
        h.start_server()
        yield h


@pytest.fixture
def env(landing_env, monkeypatch):
    e = landing_env({"a": {"mode": "marker"}, "p": {"mode": "per_file"}})
    for key, value in e.env.items():
        monkeypatch.setenv(key, value)
    return e


def deliver(host, body: dict) -> None:
    """As Event Grid → the Functions worker → on_blob_created: the worker's converter decodes the JSON body."""
    event = EventGridEventInConverter.decode(meta.Datum(json.dumps(body), "json"), trigger_metadata={})
    run_async(user_function("on_blob_created")(event=event, client=host.client_binding()))


def marker_event(env, name: str, **kwargs) -> dict:
    props = env.container().get_blob_client(name).upload_blob(b"", overwrite=True)
    return blob_created_event(env.blob_url("x"), props["etag"], content_length=0, name=name, **kwargs)


def folder_of_run(host, run_id: str) -> str:
    return json.loads(host.status(run_id)["input"])["run"]["input"]["path"]


@pytest.mark.parametrize("schema", ["eventgrid", "cloudevents"])
@pytest.mark.parametrize("endpoint", ["blob", "dfs"])
def test_a_marker_lands_in_either_schema_through_either_endpoint(env, host, schema, endpoint):
    env.upload("a/day/part-1.csv")
    if endpoint == "dfs":  # ADLS Gen2: CreateFile (empty) first, then FlushWithClose
        deliver(host, marker_event(env, "a/day/_SUCCESS", endpoint="dfs", api="CreateFile", schema=schema))
        assert host.instance_ids() == []
    deliver(host, marker_event(env, "a/day/_SUCCESS", endpoint=endpoint, schema=schema))
    (run_id,) = host.instance_ids()
    assert folder_of_run(host, run_id) == "a/day/"


@pytest.mark.parametrize("folder", ["a/in#box/", "a/lit%20ral/", "a/sp ace?/", "a/caf\u00e9\U0001F48E/"])
@pytest.mark.parametrize("encode_url", [False, True])
def test_raw_hash_percent_space_and_unicode_folders_start_their_own_run(env, host, folder, encode_url):
    env.upload(folder + "part-1.csv")
    deliver(host, marker_event(env, folder + "_SUCCESS", encode_url=encode_url))
    (run_id,) = host.instance_ids()
    assert folder_of_run(host, run_id) == folder
    (record,) = env.ledger_records()
    assert record["details"]["file_count"] == 1


def test_a_skipped_route_marker_is_a_warning_and_other_skips_are_info(env, host, caplog):
    caplog.set_level(logging.INFO, logger="shared.landing.handler")
    before = handler.SKIPPED["name_mismatch"]
    event = marker_event(env, "a/day/_SUCCESS")
    event["data"]["url"] = env.blob_url("a/other/_SUCCESS")
    deliver(host, event)
    assert handler.SKIPPED["name_mismatch"] == before + 1
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "name_mismatch" in warning.getMessage() and "marker" in warning.getMessage()
    caplog.clear()
    deliver(host, marker_event(env, "a/day/_SUCCESS", api="CreateFile", endpoint="dfs"))  # normal for ADLS
    deliver(host, marker_event(env, "a/day/data.csv", api="CreateFile", endpoint="dfs"))
    assert [r.levelno for r in caplog.records if "skipped event" in r.getMessage()] == [logging.INFO, logging.INFO]
    assert host.instance_ids() == []


def test_a_cloudevents_queue_message_lands(env, host):
    env.upload("a/q/part-1.csv")
    body = json.dumps(marker_event(env, "a/q/_SUCCESS", schema="cloudevents", endpoint="dfs")).encode()
    run_async(user_function("on_blob_created_queued")(msg=func.QueueMessage(id="m", body=body),
                                                      client=host.client_binding()))
    (run_id,) = host.instance_ids()
    assert folder_of_run(host, run_id) == "a/q/"
