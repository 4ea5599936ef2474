"""Notifications: a storage queue message and a signed webhook POST per ended run, on success and on
failure; a failing target is retried and never changes the run's result."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.delivery.conftest import payload_bytes, run_to_end, secrets_in


class Webhook:
    """A real HTTP server on 127.0.0.1 that records POSTs and answers ``status``."""

    def __init__(self):
        self.requests: list[tuple[dict, bytes]] = []
        self.statuses: list[int] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.requests.append((dict(self.headers), body))
                status = hook.statuses.pop(0) if hook.statuses else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/batch"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.close()


def queue_messages(env) -> list[dict]:
    from azure.storage.queue import QueueClient

    client = QueueClient.from_connection_string(env.azurite.default.connection_string, env.queue)
    return [json.loads(base64.b64decode(m.content)) for m in client.receive_messages(max_messages=32)]


WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"s3cret-hmac-key-of-32-bytes-long").decode()


def configure_notify(env, webhook, monkeypatch, **webhook_extra):
    monkeypatch.setenv("NOTIFY_QUEUE", env.azurite.default.connection_string)
    monkeypatch.setenv("WEBHOOK_SECRET", WEBHOOK_SECRET)
    env.configure(notify={"queue": {"connection": "NOTIFY_QUEUE", "name": env.queue},
                          "webhook": {"url": webhook.url, "secret_setting": "WEBHOOK_SECRET", **webhook_extra}})


def test_a_succeeded_run_sends_a_queue_message_and_a_signed_webhook(env, durable, webhook, monkeypatch):
    configure_notify(env, webhook, monkeypatch)
    run = env.run_input()
    run_id = run["run"]["run_id"]
    env.put_output(run_id, "predictions.csv", payload_bytes(1000))

    status = run_to_end(durable, run)

    out = status["output"]
    assert out["outcome"] == "Succeeded" and out["notifications"] == {"sent": ["queue", "webhook"], "failed": {}}
    [message] = queue_messages(env)
    assert message["run_id"] == run_id and message["outcome"] == "Succeeded"
    assert {o["sink"] for o in message["outputs"]} == {"curated", "lake"}
    [(headers, body)] = webhook.requests
    assert json.loads(body)["notification_id"] == message["notification_id"]
    msg = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body   # Standard Webhooks
    expected = base64.b64encode(hmac.new(b"s3cret-hmac-key-of-32-bytes-long", msg, hashlib.sha256).digest())
    assert headers["webhook-signature"] == f"v1,{expected.decode()}"
    assert secrets_in(json.dumps(durable.executions(run_id)) + json.dumps(status), env) == []
    assert "s3cret" not in json.dumps(durable.executions(run_id))


def test_a_failed_run_notifies_too_and_a_failing_webhook_is_retried_without_changing_the_result(
        env, durable, webhook, monkeypatch):
    configure_notify(env, webhook, monkeypatch)
    webhook.statuses = [500, 503]   # the third POST succeeds
    run = env.run_input()           # no output file: delivery fails
    run_id = run["run"]["run_id"]

    status = run_to_end(durable, run)

    out = status["output"]
    assert out["outcome"] == "Failed" and "does not exist" in out["error"]
    assert out["notifications"] == {"sent": ["queue", "webhook"], "failed": {}}
    assert len(webhook.requests) == 3 and len(queue_messages(env)) == 1   # the queue was not sent again
    assert json.loads(webhook.requests[-1][1])["outcome"] == "Failed"
    assert len({headers["webhook-id"] for headers, _ in webhook.requests}) == 1   # one id across the retries


def test_a_notification_that_never_gets_through_is_reported_and_the_run_keeps_its_outcome(
        env, durable, webhook, monkeypatch):
    configure_notify(env, webhook, monkeypatch)
    webhook.statuses = [500] * 10
    run = env.run_input()
    run_id = run["run"]["run_id"]
    env.put_output(run_id, "predictions.csv", payload_bytes(10))

    status = run_to_end(durable, run)

    out = status["output"]
    assert status["runtimeStatus"] == "Completed" and out["outcome"] == "Succeeded"
    assert out["notifications"]["sent"] == ["queue"]
    assert out["notifications"]["failed"] == {"webhook": "RuntimeError: HTTP 500 from the webhook"}
    assert len(webhook.requests) == 4
