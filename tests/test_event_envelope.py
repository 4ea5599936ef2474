"""shared/event_envelope: both schemas, every shape the worker hands over, queue bodies; never raises but SkipEvent."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import azure.functions as func
import pytest
from azure.functions import meta
from azure.functions.eventgrid import EventGridEventInConverter
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.event_envelope import CLOUD_EVENTS, EVENT_GRID, SkipEvent, decode_queue_message, iso_time, read_event
from tools.events import blob_created_event, to_cloud_event

URL = "https://acct.blob.core.windows.net/landing/a/f/_SUCCESS"


def worker_decode(body: dict):
    """What the Functions worker hands an Event Grid trigger for this JSON body."""
    return EventGridEventInConverter.decode(meta.Datum(json.dumps(body), "json"), trigger_metadata={})


def test_the_worker_hands_a_cloudevent_for_a_specversion_body_and_both_read_the_same():
    grid = blob_created_event(URL, '"0x1"', content_length=0, event_id="e1")
    cloud = to_cloud_event(grid)
    assert isinstance(worker_decode(cloud), func.CloudEvent)
    assert isinstance(worker_decode(grid), func.EventGridEvent)
    a, b = read_event(worker_decode(grid)), read_event(worker_decode(cloud))
    assert (a.schema, b.schema) == (EVENT_GRID, CLOUD_EVENTS)
    for envelope in (a, b, read_event(grid), read_event(cloud)):
        assert (envelope.id, envelope.type, envelope.subject) == ("e1", grid["eventType"], grid["subject"])
        assert envelope.data == grid["data"] and envelope.time == iso_time(grid["eventTime"])


def test_an_old_worker_decodes_a_cloudevent_without_its_type():
    cloud = to_cloud_event(blob_created_event(URL, '"0x1"', content_length=0))
    old = func.EventGridEvent(id=cloud["id"], data=cloud["data"], topic=None, subject=cloud["subject"],
                              event_type=cloud.get("eventType"), event_time=None, data_version=None)
    envelope = read_event(old)
    assert envelope.type is None and envelope.subject == cloud["subject"] and envelope.data == cloud["data"]


def test_event_times_from_either_field_in_utc_with_seven_digits():
    assert iso_time("2017-06-26T18:41:00.9584103Z") == "2017-06-26T18:41:00.958Z"
    assert iso_time("2024-06-01T14:00:00+02:00") == "2024-06-01T12:00:00.000Z"
    assert iso_time(datetime(2024, 6, 1, tzinfo=timezone.utc)) == "2024-06-01T00:00:00.000Z"
    assert iso_time("yesterday") is None and iso_time(12) is None and iso_time("9" * 100) is None


@pytest.mark.parametrize("event, reason", [
    ({"id": "x\r\ninjected", "eventType": "t"}, "malformed"),
    ({"id": "i" * 300, "eventType": "t"}, "malformed"),
    ({"id": "e", "eventType": ["t"]}, "malformed"),
    ({"id": "e", "specversion": "0.3", "type": "t"}, "malformed"),
    ({"id": "e", "eventType": "t", "subject": {"a": 1}}, "malformed"),
    ("a string", "malformed"),
    (None, "malformed"),
])
def test_unusable_envelopes_skip_as_malformed(event, reason):
    with pytest.raises(SkipEvent) as info:
        read_event(event)
    assert info.value.reason == reason and "\n" not in info.value.detail


def test_queue_bodies_plain_base64_twice_and_arrays():
    event = {"id": "1", "eventType": "Microsoft.Storage.BlobCreated", "data": {}}
    text = json.dumps(event)
    once = base64.b64encode(text.encode())
    for body in (text, text.encode(), once, base64.b64encode(once)):
        assert decode_queue_message(body) == [event]
    assert decode_queue_message(json.dumps([event, event])) == [event, event]


@pytest.mark.parametrize("body", [None, b"", b"   ", b"not json", b"[]", b"[1, 2]", b"{", "[" * 100_000 + "]" * 100_000,
                                  json.dumps([{}] * 5001), b"x" * (3 * 1024 * 1024), 12, b"\xff\xfe{"])
def test_bad_queue_bodies_are_malformed(body):
    with pytest.raises(SkipEvent) as info:
        decode_queue_message(body)
    assert info.value.reason == "malformed"


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(st.sampled_from(["id", "type", "eventType", "specversion", "data",
                                                              "subject", "time", "eventTime", "topic", "source",
                                                              "api", "url", "runId"]) | st.text(max_size=5),
                                             children, max_size=6),
                           max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(value=json_values)
def test_reading_any_json_raises_only_skip_event(value):
    try:
        read_event(value)
    except SkipEvent:
        pass
    try:
        decode_queue_message(json.dumps(value))
    except SkipEvent:
        pass


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=200))
def test_decoding_any_bytes_raises_only_skip_event(body):
    try:
        decode_queue_message(body)
    except SkipEvent:
        pass
