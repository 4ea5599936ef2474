"""End to end with the names Azure really carries: a landed folder whose name has a raw '#', a literal '%20',
a space and unicode, announced by an ADLS Gen2 (dfs) CloudEvent, is scored from exactly that folder and
delivered under exactly that name in the sink; nothing lands anywhere else."""

from __future__ import annotations

import json

from azure.functions import meta
from azure.functions.eventgrid import EventGridEventInConverter

from samples.heart.model import sample_files
from tests.app_index import user_function
from tests.support.durable_host import run_async
from tools.events import blob_created_event

from .conftest import LANDING_CONTAINER
from .test_e2e import expected_predictions, finish


def deliver_as_worker(host, body: dict) -> None:
    event = EventGridEventInConverter.decode(meta.Datum(json.dumps(body), "json"), trigger_metadata={})
    run_async(user_function("on_blob_created")(event=event, client=host.client_binding()))


def test_a_folder_with_hash_literal_percent_space_and_unicode_lands_and_delivers_verbatim(stack, host):
    stack.folder = f"{stack.folder}/in#box lit%20 caf\u00e9"
    for landed in stack.upload_sample(sample_files()):
        deliver_as_worker(host, blob_created_event(landed["url"], landed["etag"], content_length=landed["content_length"],
                                                   endpoint="dfs", schema="cloudevents", encode_url=True))
    assert host.instance_ids() == []
    marker = stack.upload("_SUCCESS", b"")
    deliver_as_worker(host, blob_created_event(marker["url"], marker["etag"], content_length=0, endpoint="dfs",
                                               schema="cloudevents", api="CreateFile"))
    assert host.instance_ids() == []                       # CreateFile is not a landing
    deliver_as_worker(host, blob_created_event(marker["url"], marker["etag"], content_length=0, endpoint="dfs",
                                               schema="cloudevents"))
    (run_id,) = host.instance_ids()
    run = json.loads(host.status(run_id)["input"])["run"]
    assert run["input"]["path"] == f"{stack.folder}/"

    summary = finish(host, run_id)
    assert summary["outcome"] == "Succeeded", summary
    lines = stack.sink_blob("predictions.csv").download_blob().readall().decode().splitlines()
    assert sorted(lines) == sorted(expected_predictions())
    names = stack.sink_names()
    assert names and all(n.startswith(stack.sink_prefix) for n in names), names
    landing = stack.landing.get_container_client(LANDING_CONTAINER)
    assert sorted(b.name for b in landing.list_blobs(name_starts_with=stack.folder.split("/")[0] + "/")
                  if b.name.startswith(stack.folder)) == sorted(
        [f"{stack.folder}/{p.name}" for p in sample_files()] + [f"{stack.folder}/_SUCCESS"])
