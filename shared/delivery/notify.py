"""Notifications: a storage queue message and/or an HTTP POST to a configured webhook, per finished run.

Targets come from the route's configuration only (``notify.queue``, ``notify.webhook``), never from a
request or from history. The body is the run summary (locations, names, counts; no secrets). A webhook with
``secret_setting`` gets an HMAC-SHA256 signature of the body in ``X-Signature-SHA256``; the key is read from
that app setting here and goes nowhere else. Every message carries ``notification_id`` (run, outcome, end
time) so receivers can drop the duplicates that retries may cause.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from typing import Any, Callable, Mapping, Optional

from .. import telemetry
from ..config import AppSettings, load_settings
from ..config.models import QueueNotification, WebhookNotification
from .copy import redact

log = logging.getLogger(__name__)

MAX_QUEUE_MESSAGE_BYTES = 48 * 1024   # the queue limit is 64 KiB after base64; leave room for it
WEBHOOK_TIMEOUT_SECONDS = 30.0


def _compact(body: dict, limit: int) -> bytes:
    data = json.dumps(body, default=str).encode()
    if len(data) <= limit:
        return data
    trimmed = {**body, "outputs": [{"sink": o.get("sink"), "receipt": o.get("receipt")}
                                   for o in body.get("outputs", [])], "truncated": True}
    data = json.dumps(trimmed, default=str).encode()
    if len(data) <= limit:
        return data
    keep = ("run_id", "route", "outcome", "job_name", "output_uri", "finished_at", "notification_id")
    return json.dumps({**{k: body.get(k) for k in keep}, "error": (body.get("error") or "")[:2000] or None,
                       "truncated": True}).encode()


def queue_client(target: QueueNotification, environ: Mapping[str, str] = os.environ) -> Any:
    """A QueueClient from the Functions connection convention (connection string, or
    ``<NAME>__queueServiceUri`` / ``<NAME>__serviceUri`` with managed identity)."""
    from azure.storage.queue import QueueClient, TextBase64EncodePolicy

    from ..config.loader import is_loopback_url
    from ..storage.connections import AZURITE_API_VERSION, StorageConnectionError, _managed_identity

    encode = {"message_encode_policy": TextBase64EncodePolicy()}  # what a Functions queue trigger expects
    value = environ.get(target.connection)
    if value:
        if value.strip().lower().startswith("usedevelopmentstorage=true"):
            value = "UseDevelopmentStorage=true"
        parts = dict(p.split("=", 1) for p in value.split(";") if "=" in p)
        endpoint = parts.get("QueueEndpoint", "http://127.0.0.1:10001" if "UseDevelopment" in value else "")
        extra = {"api_version": AZURITE_API_VERSION} if endpoint and is_loopback_url(endpoint) else {}
        return QueueClient.from_connection_string(value, target.queue, **encode, **extra)
    for key in (f"{target.connection}__queueServiceUri", f"{target.connection}__serviceUri"):
        if environ.get(key):
            url = environ[key].rstrip("/")
            extra = {"api_version": AZURITE_API_VERSION} if is_loopback_url(url) else {}
            return QueueClient(url, target.queue, credential=_managed_identity(target.connection, environ),
                               **encode, **extra)
    raise StorageConnectionError(f"queue connection {target.connection!r} is not configured: set"
                                 f" {target.connection!r} to a connection string or"
                                 f" {target.connection}__queueServiceUri (managed identity)")


def send_to_queue(target: QueueNotification, body: dict, environ: Mapping[str, str] = os.environ) -> None:
    from azure.core.exceptions import ResourceExistsError

    client = queue_client(target, environ)
    data = _compact(body, MAX_QUEUE_MESSAGE_BYTES).decode()
    try:
        client.send_message(data)
    except Exception as exc:
        if getattr(exc, "error_code", None) != "QueueNotFound":
            raise
        try:
            client.create_queue()
        except ResourceExistsError:
            pass
        client.send_message(data)


def send_to_webhook(target: WebhookNotification, body: dict, environ: Mapping[str, str] = os.environ,
                    transport: Optional[Any] = None) -> None:
    import httpx

    data = json.dumps(body, default=str).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "batch-endpoint-functions",
               "X-Notification-Id": body.get("notification_id", "")}
    if target.secret_setting:
        secret = environ.get(target.secret_setting)
        if not secret:
            raise LookupError(f"app setting {target.secret_setting!r} (webhook secret) is not set")
        headers["X-Signature-SHA256"] = "sha256=" + hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()
    with httpx.Client(timeout=WEBHOOK_TIMEOUT_SECONDS, transport=transport, follow_redirects=False) as client:
        response = client.post(target.url, content=data, headers=headers)
    if response.status_code >= 300:
        raise RuntimeError(f"HTTP {response.status_code} from the webhook")


@telemetry.traced("notify")
def send_notification(payload: dict, settings: Optional[AppSettings] = None,
                      environ: Mapping[str, str] = os.environ,
                      senders: Optional[dict[str, Callable[..., None]]] = None) -> dict:
    """Send to every configured target (or only ``payload["targets"]``); one target's failure does not stop
    the others. Returns ``{"sent": [...], "failed": {target: reason}}`` — never raises for a target."""
    settings = settings or load_settings()
    summary = payload["summary"]
    route = settings.route(summary["route"])
    config = route.notify
    if summary.get("outcome") not in config.on:
        return {"sent": [], "failed": {}}
    wanted = payload.get("targets")
    senders = senders or {"queue": send_to_queue, "webhook": send_to_webhook}
    sent, failed = [], {}
    for name in config.targets:
        if wanted is not None and name not in wanted:
            continue
        target = config.queue if name == "queue" else config.webhook
        try:
            senders[name](target, summary, environ)
            sent.append(name)
        except Exception as exc:
            reason = redact(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")[:500]
            failed[name] = reason
            log.warning("run %s: %s notification failed: %s", summary.get("run_id"), name, reason)
    return {"sent": sent, "failed": failed}
