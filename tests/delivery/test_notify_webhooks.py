"""Webhook notifications on the wire: a real HTTP server on 127.0.0.1 receives them, and the reference
Standard Webhooks library verifies them."""

from __future__ import annotations

import base64
import json

import pytest

from shared.config.models import WebhookNotification
from shared.delivery.notify import send_to_webhook
from shared.delivery.signing import webhook_id
from tests.delivery.test_notify_azurite import Webhook

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
SAS = "sv=2024-05-04&sp=rl&sig=U0VDUkVUU0lHTkFUVVJF%3D"


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.close()


def summary(**changes) -> dict:
    return {"run_id": "heart-1", "route": "heart", "outcome": "Failed", "finished_at": "2024-06-01T12:00:00Z",
            "notification_id": "heart-1:Failed:2024-06-01T12:00:00Z", "error": "boom", **changes}


def test_a_webhook_is_signed_so_the_reference_library_verifies_it(webhook):
    import standardwebhooks  # requirements-dev.txt: a missing package fails the test, never skips it
    target = WebhookNotification(webhook.url, "WEBHOOK_SECRET")
    send_to_webhook(target, summary(), {"WEBHOOK_SECRET": SECRET})
    [(headers, body)] = webhook.requests
    assert standardwebhooks.Webhook(SECRET).verify(body, headers)["run_id"] == "heart-1"
    assert headers["webhook-id"] == webhook_id("heart-1:Failed:2024-06-01T12:00:00Z")
    assert "X-Signature-SHA256" not in headers


def test_every_retry_of_one_notification_carries_the_same_webhook_id(webhook):
    target = WebhookNotification(webhook.url, "WEBHOOK_SECRET")
    webhook.statuses = [500]
    with pytest.raises(RuntimeError):
        send_to_webhook(target, summary(), {"WEBHOOK_SECRET": SECRET}, now=lambda: 1_700_000_000)
    send_to_webhook(target, summary(), {"WEBHOOK_SECRET": SECRET}, now=lambda: 1_700_000_060)
    first, second = (headers for headers, _ in webhook.requests)
    assert first["webhook-id"] == second["webhook-id"]
    assert (first["webhook-timestamp"], second["webhook-timestamp"]) == ("1700000000", "1700000060")
    send_to_webhook(target, summary(outcome="Succeeded", notification_id="heart-1:Succeeded:x"),
                    {"WEBHOOK_SECRET": SECRET})
    assert webhook.requests[-1][0]["webhook-id"] != first["webhook-id"]


def settings_with_webhook(url: str):
    from shared.config import load_settings

    route = {"name": "heart", "match": {"container": "landing", "prefix": "heart/"},
             "endpoint": {"scoring_uri": "http://127.0.0.1:9/endpoints/heart/jobs",
                          "workspace": {"subscription_id": "s", "resource_group": "rg", "name": "ws"}},
             "input": {"type": "uri_folder", "name": "heart_dataset"},
             "output": {"datastore": "workspaceblobstore", "path": "batch/heart/{run_id}/predictions.csv"},
             "notify": {"webhook": {"url": url, "secret_setting": "WEBHOOK_SECRET"}}}
    config = {"datastores": {"workspaceblobstore": {"account_url": "http://127.0.0.1:10000/devstoreaccount1",
                                                    "container": "azureml-blobstore"}}, "routes": [route]}
    return load_settings({"BATCH_CONFIG_JSON": json.dumps(config)})


def test_no_secret_reaches_a_notification_and_a_bad_secret_setting_is_reported_by_name(webhook):
    from shared.delivery.notify import send_notification

    settings = settings_with_webhook(webhook.url)
    error = f"copy failed: BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature={SAS}"
    result = send_notification({"summary": summary(error=error)}, settings, {"WEBHOOK_SECRET": SECRET})
    assert result == {"sent": ["webhook"], "failed": {}}
    [(_, body)] = webhook.requests
    assert "U0VDUkVUU0lHTkFUVVJF" not in body.decode() and "SharedAccessSignature=***" in json.loads(body)["error"]

    result = send_notification({"summary": summary()}, settings, {"WEBHOOK_SECRET": "not-a-whsec-secret"})
    assert "WEBHOOK_SECRET" in result["failed"]["webhook"] and "not-a-whsec" not in result["failed"]["webhook"]
    assert len(webhook.requests) == 1
