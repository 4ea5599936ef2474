"""Catalogue: bad and unusual events on the three event triggers, through the real functions.

Event Grid (``on_blob_created``): each body goes through the worker's own Event Grid converter, so the function
gets a ``func.EventGridEvent`` or a ``func.CloudEvent`` exactly as in Azure. Queue (``on_blob_created_queued``):
raw message bodies. Azure ML (``on_aml_run_event``): run events in both schemas.

Every case asserts the exact outcome counted (and logged) for it, that nothing was created (no orchestration,
no ledger record, no blob anywhere but its place) and, where a secret was in the input, that it appears in no
log record. A skipped event that was a route's marker must be logged at WARNING.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Optional

import azure.functions as func
import pytest
from azure.functions import meta
from azure.functions.eventgrid import EventGridEventInConverter

from shared.aml_events import handler as aml_handler
from shared.landing import handler as landing_handler
from tests.app_index import user_function
from tests.landing.conftest import routes_document
from tests.support.durable_host import DurableTestHost, run_async
from tools.events import blob_created_event, run_status_changed_event, to_cloud_event

SECRET = "c2VjcmV0LXNpZ25hdHVyZS12YWx1ZQ"  # what a SAS sig / password looks like; must never be logged
ETAG = '"0x8DC0FFEE"'


@dataclass
class World:
    account_url: str
    landing: str
    outputs: str
    state: str
    victim: str
    service: Any
    host: Any

    def blob_url(self, container: str, name: str) -> str:
        return f"{self.account_url}/{container}/{name}"

    def snapshot(self) -> set[tuple[str, str]]:
        found = set()
        for container in (self.landing, self.outputs, self.state, self.victim):
            client = self.service.get_container_client(container)
            if client.exists():
                found |= {(container, b.name) for b in client.list_blobs()}
        return found

    def ledger_records(self) -> list[str]:
        client = self.service.get_container_client(self.state)
        return [b.name for b in client.list_blobs(name_starts_with="runs/")] if client.exists() else []


@pytest.fixture(scope="module")
def world(azurite):
    from azure.storage.blob import BlobServiceClient

    tag = uuid.uuid4().hex[:8]
    landing, outputs, state, victim = f"hl{tag}", f"ho{tag}", f"hs{tag}", f"hv{tag}"
    account_url = azurite.default.blob_url
    document = routes_document(account_url, landing, outputs, {"a": {"mode": "marker"}, "p": {"mode": "per_file"}})
    env = {"AzureWebJobsStorage": azurite.default.connection_string, "STATE_CONTAINER": state,
           "BATCH_CONFIG_JSON": json.dumps(document)}
    service = BlobServiceClient.from_connection_string(azurite.default.connection_string)
    for name in (landing, outputs, state, victim):
        service.create_container(name)
    service.get_blob_client(victim, "predictions.csv").upload_blob(b"victim's own data")
    service.get_blob_client(landing, "a/data-only/part-1.csv").upload_blob(b"x,y\n1,2\n")
    with pytest.MonkeyPatch.context() as mp, DurableTestHost({}, {}) as host:
        for key, value in env.items():
            mp.setenv(key, value)
        host.start_server()
        yield World(account_url, landing, outputs, state, victim, service, host)


# --- delivering, and checking one case -----------------------------------------------------------------------

def deliver_event_grid(world: World, body: dict) -> None:
    event = EventGridEventInConverter.decode(meta.Datum(json.dumps(body), "json"), trigger_metadata={})
    run_async(user_function("on_blob_created")(event=event, client=world.host.client_binding()))


def deliver_queue(world: World, body: Any) -> None:
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    message = func.QueueMessage(id="m-" + uuid.uuid4().hex[:6], body=raw)
    run_async(user_function("on_blob_created_queued")(msg=message, client=world.host.client_binding()))


def deliver_aml(world: World, body: dict) -> None:
    event = EventGridEventInConverter.decode(meta.Datum(json.dumps(body), "json"), trigger_metadata={})
    run_async(user_function("on_aml_run_event")(event=event, client=world.host.client_binding()))


def check_case(catalogue, world: World, surface: str, name: str, deliver: Callable[[], None],
               expected: dict[str, int], counter: Counter, *, logged: Optional[Counter] = None, secrets=(),
               warn: bool = False,
               allowed: Callable[[str, str], bool] = lambda container, blob: False) -> None:
    with catalogue.case(surface, name, secrets=secrets) as c:
        caplog = catalogue.caplog
        caplog.clear()
        before_counts, before_blobs = Counter(counter), world.snapshot()
        before_logged = Counter(logged if logged is not None else counter)
        deliver()
        delta = Counter(counter)
        delta.subtract(before_counts)
        delta = +delta
        c.check(dict(delta) == expected, f"outcomes {dict(delta)}, expected {expected}")
        created = world.snapshot() - before_blobs
        c.check(all(allowed(*item) for item in created), f"created {sorted(created)}")
        c.check(world.host.instance_ids() == [], f"started {world.host.instance_ids()}")
        c.check(world.ledger_records() == [], f"ledger {world.ledger_records()}")
        messages = [(r.levelno, r.getMessage()) for r in caplog.records if r.name.startswith("shared.")]
        for reason in expected:  # every skip is logged with its reason (in-memory "waiting" decisions are not)
            if Counter(logged if logged is not None else counter)[reason] > before_logged[reason]:
                c.check(any(reason in text for _, text in messages), f"no log line names {reason!r}: {messages}")
        warned = any(level >= logging.WARNING for level, _ in messages)
        c.check(warned == warn, f"WARNING logged: {warned}, expected {warn}: {messages}")
        c.no_secret_in(*(r.getMessage() for r in caplog.records))


# --- Event Grid trigger: BlobCreated in both schemas ------------------------------------------------------------

def marker(world: World, name: str = "a/f/_SUCCESS", **kwargs) -> dict:
    return blob_created_event(world.blob_url(world.landing, "x"), ETAG, content_length=0, name=name, **kwargs)


def put(path: str, value: Any) -> Callable[[dict], None]:
    def change(event: dict) -> None:
        *parents, last = path.split(".")
        target = event
        for key in parents:
            target = target[key]
        if value is DELETE:
            target.pop(last, None)
        else:
            target[last] = value(event) if callable(value) else value
    return change


DELETE = object()
# container/name in a subject built from the url's container
SUBJECT = "/blobServices/default/containers/{c}/blobs/{n}"


@dataclass(frozen=True)
class GridCase:
    name: str
    changes: tuple
    reason: str
    event_name: str = "a/f/_SUCCESS"
    warn: bool = False
    secret: bool = False
    schema: str = "eventgrid"
    endpoint: str = "blob"
    api: Optional[str] = None
    container: Optional[str] = None  # which of the world's containers: "landing", "outputs", "state", "victim"
    upload: bool = False              # land the blob for real first (its real eTag in the event)


GRID_CASES = [
    # event types
    GridCase("blob_deleted", (put("eventType", "Microsoft.Storage.BlobDeleted"),), "wrong_event_type"),
    # a rename lands what it put in place (issue 17), but only through its documented destinationUrl
    GridCase("blob_renamed_without_destination_url", (put("eventType", "Microsoft.Storage.BlobRenamed"),
                                                      put("data.api", "RenameFile")), "malformed"),
    GridCase("directory_created", (put("eventType", "Microsoft.Storage.DirectoryCreated"),
                                   put("data.api", "CreateDirectory")), "wrong_event_type"),
    GridCase("type_lower_case", (put("eventType", "microsoft.storage.blobcreated"),), "wrong_event_type"),
    GridCase("aml_type_on_storage", (put("eventType", "Microsoft.MachineLearningServices.RunCompleted"),),
             "wrong_event_type"),
    GridCase("tier_changed", (put("eventType", "Microsoft.Storage.BlobTierChanged"), put("data.api", "SetBlobTier")),
             "wrong_event_type"),
    GridCase("type_missing_delete_api", (put("eventType", DELETE), put("data.api", "DeleteBlob")), "wrong_event_type"),
    GridCase("type_is_a_list", (put("eventType", ["Microsoft.Storage.BlobCreated"]),), "malformed"),
    GridCase("type_is_huge", (put("eventType", "Microsoft.Storage.BlobCreated" + "x" * 5000),), "malformed"),
    # data
    GridCase("data_null", (put("data", None),), "malformed"),
    GridCase("data_string", (put("data", "PutBlob"),), "malformed"),
    GridCase("data_list", (put("data", [{"api": "PutBlob"}]),), "malformed"),
    GridCase("data_number", (put("data", 7),), "malformed"),
    GridCase("data_empty_object", (put("data", {}),), "uncommitted_api"),
    # api
    GridCase("api_missing", (put("data.api", DELETE),), "uncommitted_api", warn=False),
    GridCase("api_put_block", (put("data.api", "PutBlock"),), "uncommitted_api"),
    GridCase("api_adls_create_file", (), "uncommitted_api", endpoint="dfs", api="CreateFile"),
    GridCase("api_adls_create_file_cloudevents", (), "uncommitted_api", endpoint="dfs", api="CreateFile",
             schema="cloudevents"),
    GridCase("api_adls_append", (put("data.api", "AppendFile"),), "uncommitted_api", endpoint="dfs"),
    GridCase("api_sftp_create", (put("data.api", "SftpCreate"),), "uncommitted_api"),
    GridCase("api_lower_case", (put("data.api", "putblob"),), "uncommitted_api"),
    GridCase("api_is_a_list", (put("data.api", ["PutBlob"]),), "uncommitted_api"),
    GridCase("api_is_huge", (put("data.api", "P" * 100_000),), "uncommitted_api"),
    # url
    GridCase("url_missing", (put("data.url", DELETE),), "malformed"),
    GridCase("url_number", (put("data.url", 12345),), "malformed"),
    GridCase("url_ftp", (put("data.url", "ftp://acct.blob.core.windows.net/landing/a/f/_SUCCESS"),), "malformed"),
    GridCase("url_with_password", (put("data.url", lambda e: e["data"]["url"].replace(
        "://", f"://user:{SECRET}@")),), "malformed", secret=True),
    GridCase("url_with_sas", (put("data.url", lambda e: e["data"]["url"] + f"?sv=2024-01-01&sig={SECRET}"),),
             "malformed", secret=True),
    GridCase("url_too_long", (put("data.url", lambda e: e["data"]["url"] + "x" * 10_000),), "malformed"),
    GridCase("url_control_char", (put("data.url", lambda e: e["data"]["url"].replace("_SUCCESS", "_SUC\x07CESS")),),
             "malformed"),
    GridCase("url_upper_case_container", (put("data.url", lambda e: e["data"]["url"].replace("/hl", "/HL")),),
             "malformed"),
    GridCase("url_dotdot_container", (put("data.url", "https://acct.blob.core.windows.net/../a/f/_SUCCESS"),),
             "malformed"),
    GridCase("url_no_container", (put("data.url", "https://acct.blob.core.windows.net/"),), "malformed"),
    GridCase("url_port_out_of_range", (put("data.url", "http://127.0.0.1:99999/devstoreaccount1/x/a/_SUCCESS"),),
             "malformed"),
    GridCase("url_unicode_host", (put("data.url", "https://acct.bl\u00f6b.core.windows.net/x/a/_SUCCESS"),),
             "malformed"),
    GridCase("url_abfss_without_account", (put("data.url", "abfss://landing@/a/f/_SUCCESS"),), "malformed"),
    GridCase("url_not_a_url", (put("data.url", "a/f/_SUCCESS"),), "malformed"),
    # subject vs url
    GridCase("subject_not_a_blob_subject", (put("subject", "s"),), "malformed"),
    GridCase("subject_number", (put("subject", 42),), "malformed"),
    GridCase("subject_huge", (put("subject", lambda e: e["subject"] + "x" * 10_000),), "malformed"),
    GridCase("subject_other_container_like_the_docs_sample",
             (put("subject", lambda e: e["subject"].replace("/containers/hl", "/containers/test-hl")),),
             "name_mismatch"),
    GridCase("subject_other_blob", (put("subject", lambda e: e["subject"].replace("/f/", "/g/")),), "name_mismatch",
             warn=True),
    GridCase("url_lost_the_hash_part", (put("data.url", lambda e: e["data"]["url"].split("#")[0] + "/_SUCCESS"),),
             "name_mismatch", event_name="a/in#box/_SUCCESS", warn=True),
    GridCase("url_with_query_appended", (put("data.url", lambda e: e["data"]["url"] + "?comp=block"),),
             "name_mismatch", warn=True),
    GridCase("subject_mangled_and_url_other",
             (put("subject", lambda e: e["subject"].replace("/f/", "/\ufffd/")),
              put("data.url", lambda e: e["data"]["url"].replace("/f/_SUCCESS", "/zz/other"))),
             "name_mismatch", warn=True),
    GridCase("cloudevents_subject_mismatch", (put("subject", lambda e: e["subject"].replace("/f/", "/g/")),),
             "name_mismatch", schema="cloudevents", warn=True),
    # eTag and id
    GridCase("etag_missing", (put("data.eTag", DELETE),), "malformed", warn=True),
    GridCase("etag_empty", (put("data.eTag", ""),), "malformed", warn=True),
    GridCase("etag_crlf", (put("data.eTag", '"0x1"\r\nX-Injected: 1'),), "malformed", warn=True),
    GridCase("etag_huge", (put("data.eTag", "0" * 10_000),), "malformed", warn=True),
    GridCase("etag_number", (put("data.eTag", 12345),), "malformed", warn=True),
    GridCase("etag_object", (put("data.eTag", {"v": 1}),), "malformed", warn=True),
    GridCase("id_crlf_log_injection", (put("id", "e1\r\nINFO landing: started run forged"),), "malformed"),
    GridCase("id_huge", (put("id", "i" * 10_000),), "malformed"),
    GridCase("id_object", (put("id", {"x": 1}),), "malformed"),
    GridCase("cloudevents_id_crlf", (put("id", "e1\nforged"),), "malformed", schema="cloudevents"),
    # traversal and unsafe names
    GridCase("name_dotdot", (), "unsafe_name", event_name="a/../../victim/_SUCCESS", warn=True),
    GridCase("name_encoded_dotdot", (), "unsafe_name", event_name="a/trav/%2e%2e/%2e%2e/%2e%2e/victim/_SUCCESS",
             warn=True),
    GridCase("name_double_encoded_dotdot", (), "unsafe_name", event_name="a/%252e%252e/_SUCCESS", warn=True),
    GridCase("name_encoded_slash_dotdot", (), "unsafe_name", event_name="a/%2e%2e%2f%2e%2e/_SUCCESS", warn=True),
    GridCase("name_encoded_backslash_dotdot", (), "unsafe_name", event_name="a/%5c..%5c../_SUCCESS", warn=True),
    GridCase("name_backslash", (), "unsafe_name", event_name="a/x\\..\\_SUCCESS"),
    GridCase("name_backslash_folder", (), "unsafe_name", event_name="a/x\\y/_SUCCESS", warn=True),
    GridCase("name_fullwidth_dots", (), "unsafe_name", event_name="a/\uff0e\uff0e/_SUCCESS", warn=True),
    GridCase("name_single_dot", (), "unsafe_name", event_name="a/./_SUCCESS", warn=True),
    GridCase("name_empty_segment", (), "unsafe_name", event_name="a//_SUCCESS", warn=True),
    GridCase("name_nul", (), "malformed", event_name="a/x\x00/_SUCCESS"),
    GridCase("name_del_char", (), "malformed", event_name="a/x\x7f/_SUCCESS"),
    GridCase("name_too_long", (), "unsafe_name", event_name="a/" + "x/" * 600 + "_SUCCESS", warn=True),
    GridCase("name_segment_too_long", (), "unsafe_name", event_name="a/" + "x" * 300 + "/_SUCCESS", warn=True),
    GridCase("name_leading_slash", (), "unsafe_name", event_name="/a/f/_SUCCESS"),
    GridCase("dfs_name_dotdot", (), "unsafe_name", event_name="a/../../victim/_SUCCESS", endpoint="dfs", warn=True),
    GridCase("cloudevents_name_encoded_dotdot", (), "unsafe_name", event_name="a/%2e%2e/_SUCCESS",
             schema="cloudevents", warn=True),
    GridCase("directory_not_a_blob", (), "not_a_blob", event_name="a/f/"),
    GridCase("container_root_not_a_blob", (put("data.url", lambda e: e["data"]["url"].rsplit("/", 3)[0] + "/"),
                                           put("subject", lambda e: e["subject"].split("/blobs/")[0] + "/blobs/")),
             "not_a_blob"),
    # where it landed
    GridCase("other_container", (), "no_route", container="victim", event_name="a/f/_SUCCESS"),
    GridCase("other_account", (put("data.url", "https://elsewhere.blob.core.windows.net/landing/a/f/_SUCCESS"),
                               put("subject", SUBJECT.format(c="landing", n="a/f/_SUCCESS"))), "no_route"),
    GridCase("other_account_dfs", (put("data.url", "https://elsewhere.dfs.core.windows.net/landing/a/f/_SUCCESS"),
                                   put("subject", SUBJECT.format(c="landing", n="a/f/_SUCCESS"))), "no_route"),
    GridCase("other_account_abfss", (put("data.url", "abfss://landing@elsewhere.dfs.core.windows.net/a/f/_SUCCESS"),
                                     put("subject", SUBJECT.format(c="landing", n="a/f/_SUCCESS"))), "no_route"),
    GridCase("ipv6_loopback_account", (put("data.url", lambda e: e["data"]["url"].replace("127.0.0.1", "[::1]")),),
             "no_route"),
    GridCase("unrouted_prefix", (), "no_route", event_name="zzz/f/_SUCCESS"),
    GridCase("marker_in_output_location", (), "output_location", container="outputs",
             event_name="scores/a/r1/_SUCCESS"),
    GridCase("marker_in_sink_location", (), "output_location", container="outputs", event_name="sink/a/r1/_SUCCESS"),
    GridCase("marker_in_state_container", (), "output_location", container="state", event_name="runs/_SUCCESS"),
    # accepted but nothing to start
    GridCase("data_file_waits_for_marker", (), "awaiting_marker", event_name="a/f/part-9.csv"),
    GridCase("per_file_empty_blob", (), "empty_blob", event_name="p/in/empty.csv"),
    GridCase("per_file_control_blob", (), "control_blob", event_name="p/in/_SUCCESS"),
    GridCase("marker_of_an_empty_folder", (), "empty_folder", event_name="a/empty/_SUCCESS", warn=True, upload=True),
    GridCase("marker_with_raw_hash_in_an_empty_folder", (), "empty_folder", event_name="a/in#box/_SUCCESS", warn=True, upload=True),
    GridCase("cloudevents_marker_of_an_empty_folder", (), "empty_folder", event_name="a/empty2/_SUCCESS",
             schema="cloudevents", warn=True, upload=True),
    GridCase("dfs_marker_of_an_empty_folder", (), "empty_folder", event_name="a/empty3/_SUCCESS", endpoint="dfs",
             warn=True, upload=True),
    GridCase("no_subject_url_with_raw_hash", (put("subject", DELETE),), "empty_folder",
             event_name="a/no#subject/_SUCCESS", warn=True, upload=True),
    GridCase("negative_content_length", (put("data.contentLength", -1),), "malformed", warn=True),
    GridCase("cloudevents_data_base64_only", (put("data", DELETE), put("data_base64", "eyJhcGkiOiAiUHV0QmxvYiJ9")),
             "malformed", schema="cloudevents"),
    GridCase("cloudevents_specversion_0_3", (put("specversion", "0.3"),), "malformed", schema="cloudevents"),
    GridCase("cloudevents_blob_deleted", (put("type", "Microsoft.Storage.BlobDeleted"),), "wrong_event_type",
             schema="cloudevents"),
    GridCase("cloudevents_huge_extension", (put("x-extension", "y" * 100_000),), "empty_folder",
             event_name="a/empty4/_SUCCESS", schema="cloudevents", warn=True, upload=True),
]


def _grid_body(world: World, case: GridCase) -> dict:
    container = getattr(world, case.container) if case.container else world.landing
    etag = ETAG
    if case.upload:
        etag = world.service.get_blob_client(container, case.event_name).upload_blob(b"", overwrite=True)["etag"]
    event = blob_created_event(world.blob_url(container, "x"), etag, content_length=0, name=case.event_name,
                               endpoint=case.endpoint, api=case.api)
    if case.schema == "cloudevents":
        event = to_cloud_event(event)
        event["data"] = copy.deepcopy(event["data"])
    for change in case.changes:
        change(event)
    return event


@pytest.mark.parametrize("case", GRID_CASES, ids=[c.name for c in GRID_CASES])
def test_event_grid_trigger(catalogue, world, case):
    body = _grid_body(world, case)
    check_case(catalogue, world, "events.event_grid", case.name, lambda: deliver_event_grid(world, body),
               {case.reason: 1}, landing_handler.OUTCOMES, logged=landing_handler.SKIPPED,
               secrets=[SECRET] if case.secret else (), warn=case.warn)


# --- queue trigger: raw bodies, batches, encodings --------------------------------------------------------------

def _queue_cases(world: World) -> list[tuple[str, Any, dict, bool, bool]]:
    """(name, body, expected outcomes, secret, warn)"""
    etag = world.service.get_blob_client(world.landing, "a/qf/_SUCCESS").upload_blob(b"", overwrite=True)["etag"]
    good = blob_created_event(world.blob_url(world.landing, "x"), etag, content_length=0, name="a/qf/_SUCCESS")
    traversal = marker(world, "a/../../victim/_SUCCESS")
    b64 = lambda value: base64.b64encode(value if isinstance(value, bytes) else json.dumps(value).encode())  # noqa: E731
    sas = copy.deepcopy(good)
    sas["data"]["url"] += f"?sig={SECRET}"
    crlf = copy.deepcopy(good)
    crlf["id"] = "q\r\nforged"
    return [
        ("empty_body", b"", {"malformed": 1}, False, False),
        ("whitespace_body", b"  \n ", {"malformed": 1}, False, False),
        ("not_json", b"not json", {"malformed": 1}, False, False),
        ("truncated_json", b'{"id": "x", "data": {', {"malformed": 1}, False, False),
        ("json_number", b"42", {"malformed": 1}, False, False),
        ("json_string", b'"PutBlob"', {"malformed": 1}, False, False),
        ("json_null", b"null", {"malformed": 1}, False, False),
        ("empty_array", b"[]", {"malformed": 1}, False, False),
        ("array_of_numbers", b"[1, 2]", {"malformed": 1}, False, False),
        ("deeply_nested_json", b"[" * 50_000 + b"]" * 50_000, {"malformed": 1}, False, False),
        ("three_megabytes", b"{" + b" " * (3 * 1024 * 1024) + b"}", {"malformed": 1}, False, False),
        ("over_5000_events", json.dumps([{"id": "x"}] * 5001).encode(), {"malformed": 1}, False, False),
        ("base64_of_garbage", base64.b64encode(b"\x00\x01garbage"), {"malformed": 1}, False, False),
        ("base64_three_times", b64(b64(b64(good))), {"malformed": 1}, False, False),
        ("invalid_utf8", b"\xff\xfe{\"id\": 1}", {"malformed": 1}, False, False),
        ("utf16_json", json.dumps(good).encode("utf-16"), {"malformed": 1}, False, False),
        ("other_event_type", b'{"eventType": "Other", "data": {}}', {"wrong_event_type": 1}, False, False),
        ("cloudevents_other_type", {"specversion": "1.0", "id": "1", "type": "Other", "source": "s", "data": {}},
         {"wrong_event_type": 1}, False, False),
        ("cloudevents_bad_time", {**to_cloud_event(marker(world, "a/q1/_SUCCESS")), "time": "yesterday",
                                  "type": "Microsoft.Storage.BlobDeleted"}, {"wrong_event_type": 1}, False, False),
        ("base64_traversal", b64(traversal), {"unsafe_name": 1}, False, True),
        ("base64_twice_cloudevents_traversal", b64(b64(to_cloud_event(traversal))), {"unsafe_name": 1}, False, True),
        ("sas_in_url", json.dumps(sas).encode(), {"malformed": 1}, True, False),
        ("crlf_in_id", json.dumps(crlf).encode(), {"malformed": 1}, False, False),
        ("batch_of_mixed_bad_events",
         json.dumps([traversal, {"eventType": "Other"}, marker(world, "a/qf/part.csv"),
                     {**good, "data": "x"}]).encode(),
         {"unsafe_name": 1, "wrong_event_type": 1, "awaiting_marker": 1, "malformed": 1}, False, True),
        ("batch_with_a_non_object", json.dumps([good, 1]).encode(), {"malformed": 1}, False, False),
        ("event_not_an_object_in_batch", json.dumps([[good]]).encode(), {"malformed": 1}, False, False),
        ("nan_content_length", json.dumps({**good, "data": {**good["data"], "contentLength": float("nan")}}),
         {"empty_folder": 1}, False, True),
        ("huge_number", ('{"id": "n", "eventType": "x", "data": {"contentLength": ' + "9" * 5000 + "}}").encode(),
         {"malformed": 1}, False, False),
        ("duplicate_keys_last_wins", b'{"eventType": "Microsoft.Storage.BlobCreated", "eventType": "Other"}',
         {"wrong_event_type": 1}, False, False),
        ("no_id_uses_message_id", {k: v for k, v in traversal.items() if k != "id"}, {"unsafe_name": 1}, False, True),
        ("dfs_create_file_cloudevents", to_cloud_event(marker(world, "a/qf/_SUCCESS", endpoint="dfs", api="CreateFile")),
         {"uncommitted_api": 1}, False, False),
    ]


QUEUE_CASE_NAMES = [
    "empty_body", "whitespace_body", "not_json", "truncated_json", "json_number", "json_string", "json_null",
    "empty_array", "array_of_numbers", "deeply_nested_json", "three_megabytes", "over_5000_events",
    "base64_of_garbage", "base64_three_times", "invalid_utf8", "utf16_json", "other_event_type",
    "cloudevents_other_type", "cloudevents_bad_time", "base64_traversal", "base64_twice_cloudevents_traversal",
    "sas_in_url", "crlf_in_id", "batch_of_mixed_bad_events", "batch_with_a_non_object",
    "event_not_an_object_in_batch", "nan_content_length", "huge_number", "duplicate_keys_last_wins",
    "no_id_uses_message_id", "dfs_create_file_cloudevents",
]


@pytest.mark.parametrize("name", QUEUE_CASE_NAMES)
def test_queue_trigger(catalogue, world, name):
    cases = {case[0]: case for case in _queue_cases(world)}
    _, body, expected, secret, warn = cases[name]
    check_case(catalogue, world, "events.queue", name, lambda: deliver_queue(world, body), expected,
               landing_handler.OUTCOMES, logged=landing_handler.SKIPPED, secrets=[SECRET] if secret else (),
               warn=warn)


def test_every_queue_case_is_listed(world):
    assert sorted(case[0] for case in _queue_cases(world)) == sorted(QUEUE_CASE_NAMES)


# --- Azure ML run events ---------------------------------------------------------------------------------------

def _aml(job: str = "batchjob-hostile-1", status: Any = "Running", schema: str = "eventgrid", **changes) -> dict:
    event = run_status_changed_event(job, status, schema="eventgrid")
    for path, value in changes.items():
        put(path.replace("__", "."), value)(event)
    return to_cloud_event(event) if schema == "cloudevents" else event


AML_CASES = [
    ("blob_created_type", _aml(eventType="Microsoft.Storage.BlobCreated"), "not_a_run_event", False),
    ("model_registered", _aml(eventType="Microsoft.MachineLearningServices.ModelRegistered"), "not_a_run_event", False),
    ("type_missing_no_status", _aml(eventType=DELETE, data__runStatus=DELETE), "not_a_run_event", False),
    ("data_missing", _aml(data=DELETE), "malformed", False),
    ("data_string", _aml(data="Completed"), "malformed", False),
    ("run_id_missing", _aml(data__runId=DELETE), "malformed", False),
    ("run_id_number", _aml(data__runId=7), "malformed", False),
    ("run_id_blank", _aml(data__runId="   "), "malformed", False),
    ("run_id_traversal", _aml("../runs/heart-victim"), "unsafe_name", False),
    ("run_id_traversal_to_job_index", _aml("../jobs/other-job"), "unsafe_name", False),
    ("run_id_slash", _aml("job/1"), "unsafe_name", False),
    ("run_id_query", _aml("job?x=1"), "unsafe_name", False),
    ("run_id_fragment", _aml("job#1"), "unsafe_name", False),
    ("run_id_dotdot", _aml(".."), "unsafe_name", False),
    ("run_id_dot", _aml("."), "unsafe_name", False),
    ("run_id_encoded_traversal", _aml("..%2fjobs%2fx"), "unsafe_name", False),
    ("run_id_backslash", _aml("job\\..\\x"), "unsafe_name", False),
    ("run_id_crlf_also_in_subject", _aml("job\r\nforged"), "malformed", False),
    ("run_id_crlf", _aml("job\r\nforged", subject="experiments/e/runs/job"), "unsafe_name", False),
    ("run_id_nul", _aml("job\x00", subject="experiments/e/runs/job"), "unsafe_name", False),
    ("run_id_too_long", _aml("j" * 300), "unsafe_name", False),
    ("run_id_unicode", _aml("job-\u00e9"), "unsafe_name", False),
    ("run_id_fullwidth_dots", _aml("\uff0e\uff0e"), "unsafe_name", False),
    ("run_id_with_sas", _aml(f"job?sig={SECRET}"), "unsafe_name", True),
    ("run_status_unknown", _aml(status="Sleeping"), "malformed", False),
    ("run_status_number", _aml(status=3), "malformed", False),
    ("run_status_huge", _aml(status="R" * 10_000), "malformed", False),
    ("run_status_missing", _aml(data__runStatus=DELETE), "malformed", False),
    ("id_crlf", _aml(id="e\r\nforged"), "malformed", False),
    ("id_huge", _aml(id="i" * 10_000), "malformed", False),
    ("topic_huge", _aml(topic="t" * 10_000), "malformed", False),
    ("subject_object", _aml(subject={"a": 1}), "malformed", False),
    ("cloudevents_traversal", _aml("../runs/x", schema="cloudevents"), "unsafe_name", False),
    ("cloudevents_wrong_type", _aml(schema="cloudevents", eventType="Microsoft.Storage.BlobCreated"),
     "not_a_run_event", False),
    ("cloudevents_specversion_2", {**_aml(schema="cloudevents"), "specversion": "2.0"}, "malformed", False),
    ("cloudevents_no_data", {k: v for k, v in _aml(schema="cloudevents").items() if k != "data"}, "malformed", False),
    ("unknown_job_is_parked_in_its_place", _aml("batchjob-nobody-knows"), "unknown_job", False),
    ("unknown_job_cloudevents_parked", _aml("batchjob-nobody-knows-2", "Completed", schema="cloudevents"),
     "unknown_job", False),
]


@pytest.mark.parametrize("case", AML_CASES, ids=[c[0] for c in AML_CASES])
def test_azure_ml_trigger(catalogue, world, case):
    name, body, reason, secret = case
    import re

    from shared.paths import check_job_name

    def in_its_place(container: str, blob: str) -> bool:
        match = re.fullmatch(r"job-events/(.+)\.json", blob)
        return container == world.state and match is not None and check_job_name(match[1]) == match[1]

    check_case(catalogue, world, "events.azure_ml", name, lambda: deliver_aml(world, body), {reason: 1},
               aml_handler.EVENT_COUNTS, secrets=[SECRET] if secret else (), allowed=in_its_place)
