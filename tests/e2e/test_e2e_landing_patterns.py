"""Landing patterns other than a direct upload, end to end on Azurite: a folder renamed into the route's prefix
(Spark's, ADF copy's and azcopy's write-to-temp-then-rename), a marker renamed into place, and a marker
uploaded over SFTP. Each must start exactly one run, with the run id a direct upload of the same folder gets.

Azurite has no hierarchical namespace, so it cannot rename: each test arranges the blobs as they are after the
rename, then delivers the events ADLS Gen2 documents for it (``tools/events.py``) to the real
``on_blob_created`` function, in the Event Grid schema and in CloudEvents 1.0.
"""
from __future__ import annotations

import azure.functions as func

from samples.heart.model import sample_files
from shared.runs.claims import claim_etag
from shared.runs.ids import landing_run_id
from tests.app_index import user_function
from tests.support.durable_host import run_async
from tools.events import blob_created_event, renamed_event, sftp_commit_event

from .conftest import LANDING_CONTAINER
from .test_e2e import finish

ROUTE = "heart"


def worker_event(raw: dict):
    """The event as the Functions worker hands it to the trigger (``EventGridEvent`` or ``CloudEvent``)."""
    if "specversion" in raw:
        return func.CloudEvent(id=raw["id"], source=raw["source"], specversion="1.0", type=raw["type"],
                               subject=raw["subject"], time=raw["time"], data=raw["data"])
    return func.EventGridEvent(id=raw["id"], data=raw["data"], topic=raw["topic"], subject=raw["subject"],
                               event_type=raw["eventType"], event_time=raw["eventTime"],
                               data_version=raw["dataVersion"])


def deliver(host, raw: dict) -> None:
    run_async(user_function("on_blob_created")(event=worker_event(raw), client=host.client_binding()))


def direct_upload_run_id(stack) -> str:
    """The run id a direct upload of the folder's marker gets (its folder URL and the marker's ETag)."""
    marker = stack.landing.get_blob_client(LANDING_CONTAINER, f"{stack.folder}/_SUCCESS").get_blob_properties()
    return landing_run_id(ROUTE, f"{stack.azurite.default.blob_url}/{LANDING_CONTAINER}/{stack.folder}/",
                          claim_etag(marker.etag))


def land_folder(stack) -> str:
    """The sample folder and its marker, as they are once in place; returns the marker's ETag."""
    stack.upload_sample(sample_files())
    return stack.upload("_SUCCESS", b"")["etag"]


def finishes_once(stack, host, run_id: str) -> None:
    assert host.instance_ids() == [run_id]
    summary = finish(host, run_id)
    assert summary["outcome"] == "Succeeded", summary
    assert host.instance_ids() == [run_id]
    assert stack.sink_blob("predictions.csv").exists()
    assert (stack.ledger(run_id) or {}).get("state") is not None


def test_a_folder_renamed_into_the_route_prefix_lands_once_like_an_upload(stack, host):
    marker_etag = land_folder(stack)   # Spark wrote heart-tmp/_temporary/<id>/..., then renamed it into place
    source = f"{stack.azurite.default.blob_url}/{LANDING_CONTAINER}/heart-tmp/_temporary/{stack.folder[6:]}"
    destination = f"{stack.azurite.default.blob_url}/{LANDING_CONTAINER}/{stack.folder}"
    renamed = renamed_event(source, destination, directory=True)
    deliver(host, renamed)
    run_id = direct_upload_run_id(stack)
    assert host.instance_ids() == [run_id], "the renamed folder must start the run a direct upload starts"
    # Event Grid redelivers (either schema), and a direct upload event of the same marker arrives too
    deliver(host, renamed)
    deliver(host, renamed_event(source, destination, directory=True, event_id=renamed["id"], schema="cloudevents"))
    deliver(host, blob_created_event(stack.blob_url("_SUCCESS"), marker_etag, content_length=0))
    finishes_once(stack, host, run_id)


def test_a_rename_of_a_folder_outside_every_route_starts_nothing(stack, host):
    land_folder(stack)
    base = f"{stack.azurite.default.blob_url}/{LANDING_CONTAINER}"
    deliver(host, renamed_event(f"{base}/elsewhere/a", f"{base}/elsewhere/b", directory=True))
    assert host.instance_ids() == []


def test_a_marker_renamed_into_place_lands_once_and_renamed_part_files_wait(stack, host):
    stack.upload_sample(sample_files())
    for path in sample_files():  # each part file was renamed from its attempt's temporary name
        deliver(host, renamed_event(stack.blob_url(f"_temporary/0/{path.name}"), stack.blob_url(path.name),
                                    schema="cloudevents"))
    assert host.instance_ids() == [], "a renamed data file must not start a run in marker mode"
    stack.upload("_SUCCESS", b"")
    deliver(host, renamed_event(stack.blob_url("_SUCCESS.tmp"), stack.blob_url("_SUCCESS")))
    run_id = direct_upload_run_id(stack)
    assert host.instance_ids() == [run_id]
    deliver(host, renamed_event(stack.blob_url("_SUCCESS.tmp"), stack.blob_url("_SUCCESS"), schema="cloudevents"))
    finishes_once(stack, host, run_id)


def test_a_marker_renamed_away_again_starts_nothing(stack, host):
    stack.upload_sample(sample_files())
    deliver(host, renamed_event(stack.blob_url("_SUCCESS.tmp"), stack.blob_url("_SUCCESS")))
    assert host.instance_ids() == []


def test_an_sftp_marker_lands_once_like_an_upload(stack, host):
    stack.upload_sample(sample_files())
    marker_etag = stack.upload("_SUCCESS", b"")["etag"]
    # SFTP's put: SftpCreate (the empty blob opened) then SftpCommit (closed); only the commit completes it
    created = sftp_commit_event(stack.blob_url("_SUCCESS"), marker_etag)
    created["data"]["api"] = "SftpCreate"
    deliver(host, created)
    assert host.instance_ids() == [], "SftpCreate is the empty blob an SFTP put opens: it must not start a run"
    deliver(host, sftp_commit_event(stack.blob_url("_SUCCESS"), marker_etag))
    run_id = direct_upload_run_id(stack)
    assert host.instance_ids() == [run_id]
    deliver(host, sftp_commit_event(stack.blob_url("_SUCCESS"), marker_etag, schema="cloudevents"))
    deliver(host, blob_created_event(stack.blob_url("_SUCCESS"), marker_etag, content_length=0))
    finishes_once(stack, host, run_id)


def old_worker_event(raw: dict) -> func.EventGridEvent:
    """A CloudEvents delivery as Core Tools' bundled (older) azure-functions decodes it: an ``EventGridEvent``
    read with the Event Grid schema's keys, so its type, topic and time are ``None`` (id, subject, data kept)."""
    return func.EventGridEvent(id=raw["id"], data=raw["data"], topic=raw.get("topic"), subject=raw["subject"],
                               event_type=raw.get("eventType"), event_time=None, data_version=raw.get("dataVersion"))


def test_renamed_and_sftp_landings_survive_an_old_worker_that_loses_type_and_time(stack, host):
    land_folder(stack)
    base = f"{stack.azurite.default.blob_url}/{LANDING_CONTAINER}"
    renamed = renamed_event(f"{base}/heart-tmp/x", f"{base}/{stack.folder}", directory=True, schema="cloudevents")
    decoded = old_worker_event(renamed)
    assert (decoded.event_type, decoded.topic, decoded.event_time) == (None, None, None)
    run_async(user_function("on_blob_created")(event=decoded, client=host.client_binding()))
    run_id = direct_upload_run_id(stack)
    assert host.instance_ids() == [run_id]
    marker_etag = stack.landing.get_blob_client(LANDING_CONTAINER, f"{stack.folder}/_SUCCESS").get_blob_properties().etag
    sftp = old_worker_event(sftp_commit_event(stack.blob_url("_SUCCESS"), marker_etag, schema="cloudevents"))
    run_async(user_function("on_blob_created")(event=sftp, client=host.client_binding()))
    assert host.instance_ids() == [run_id]
