"""Output events end to end: the only signal of a job's end is the BlobCreated of its own output.

Real parts only: Azurite, the batch-endpoint emulator (its ``events.blob_url`` posts a BlobCreated for every
output a job writes, as a subscription on the datastore's account would) and the real function app served by
the local Functions host (``devhost``: the Event Grid webhook, the Durable host). Azure ML events are off;
the route's safety poll is hours away (orchestration time), so a run that ends within seconds was told by its
output event: through the same webhook and function as landing events, mapped to its run by the path.
"""
from __future__ import annotations

import time

import httpx

from devhost.host import LocalFunctionsHost
from samples.heart.model import sample_files
from tools.events import blob_created_event

from .conftest import SPEED

WEBHOOK = "/runtime/webhooks/eventgrid?functionName=on_blob_created"


def post_event(http: httpx.Client, landed: dict) -> None:
    event = blob_created_event(landed["url"], landed["etag"], content_length=landed["content_length"])
    answer = http.post(WEBHOOK, json=[event], headers={"aeg-event-type": "Notification"})
    assert answer.status_code == 202, answer.text


def test_only_the_output_event_tells_the_run_its_job_ended(stack):
    stack.configure(poll={"output_events": True, "events": False, "duration_aware": False,
                          "initial_seconds": 1, "max_seconds": 10, "event_fallback_seconds": 3600})
    events = stack.emulator.emulator.events
    with LocalFunctionsHost(port=0, speed=SPEED, poll_queues=False, run_timers=False) as app:
        events.update({"blob_url": app.base_url + WEBHOOK, "url": None})
        try:
            with httpx.Client(base_url=app.base_url, timeout=30) as http:
                for landed in stack.upload_sample(sample_files()):
                    post_event(http, landed)
                post_event(http, stack.upload("_SUCCESS", b""))
                deadline = time.monotonic() + 60
                while not app.durable.instance_ids():
                    assert time.monotonic() < deadline, f"no run started: {app.errors}"
                    time.sleep(0.05)
                run_id, = app.durable.instance_ids()
                started = time.monotonic()
                status = app.durable.run_until_complete(run_id, timeout_s=60)
                took = time.monotonic() - started
        finally:
            events.update({"blob_url": None})
    out = status["output"]
    assert status["runtimeStatus"] == "Completed" and out["outcome"] == "Succeeded", out
    custom = status["customStatus"]
    assert custom["events"].get("output_hint", 0) >= 1            # the output event reached the run ...
    sent = [e for e in events.sent if e["eventType"] == "Microsoft.Storage.BlobCreated"]
    assert any(f"/{run_id}/predictions.csv" in e["data"]["url"] for e in sent)
    # ... and ended the wait: the first safety poll was 2 x 3600 s of orchestration time away (1,440 s of
    # wall time at this speed); the job itself ends in a few seconds
    assert took < 0.1 * 2 * 3600 / SPEED, f"the run took {took:.1f} s: not the output event"
    assert out["polls"] <= 3, out
    assert not app.errors
