"""Notifications: a storage queue message and/or an HTTP POST to a configured webhook, per finished run.

Targets come from the route's configuration only (``notify.queue``, ``notify.webhook``), never from a
request or from history. The body is the run summary (locations, names, counts), every text in it redacted, so
an error built from a connection string carries no SAS or key. Webhooks are signed the Standard Webhooks way
(:mod:`shared.delivery.signing`): ``webhook-id`` (stable across retries of one notification),
``webhook-timestamp`` and, with ``secret_setting``, ``webhook-signature``; the secret is read from that app
setting here and goes nowhere else. The URL comes from the routes document (``url``) or from an app setting
read at call time (``url_setting``: a Key Vault reference for URLs that carry their own key); every host is
checked against metadata and platform addresses before connecting (:mod:`shared.outbound`), and
``traceparent`` is sent only with ``send_trace_context``. Every message also carries ``notification_id`` (run, outcome, end time) in
its body so queue receivers can drop the duplicates that retries may cause.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from typing import Any, Callable, Iterator, Mapping, Optional

from .. import telemetry
from ..config import AppSettings, load_settings
from ..config.models import QueueNotification, WebhookNotification
from ..redact import redact_data, shown
from .signing import secrets_of, signature_headers, webhook_id

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
    """A QueueClient from the Functions connection convention (shared.storage.connections)."""
    from azure.storage.queue import TextBase64EncodePolicy

    from ..storage.connections import queue_client as convention_queue_client

    # Base64 text is what a Functions queue trigger expects.
    return convention_queue_client(target.connection, target.queue, environ,
                                   message_encode_policy=TextBase64EncodePolicy())


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


def webhook_request(target: WebhookNotification, body: dict, environ: Mapping[str, str] = os.environ,
                    now: Callable[[], float] = time.time) -> tuple[bytes, dict[str, str]]:
    """The body bytes and headers of one webhook attempt (pure but for reading the secret's app setting)."""
    data = json.dumps(body, default=str).encode()
    keys: list[bytes] = []
    if target.secret_setting:
        value = environ.get(target.secret_setting)
        if not value:
            raise LookupError(f"app setting {target.secret_setting!r} (webhook secret) is not set")
        keys = secrets_of(value, setting=target.secret_setting)
    msg_id = webhook_id(str(body.get("notification_id") or data.decode()))
    headers = {"Content-Type": "application/json", "User-Agent": "batch-endpoint-functions",
               **signature_headers(keys, msg_id, int(now()), data)}
    return data, headers


def webhook_url(target: WebhookNotification, environ: Mapping[str, str] = os.environ) -> str:
    """The receiver's URL: from the routes document, or read now from the app setting ``url_setting`` and
    checked like one (scheme, no user info, no metadata address). Errors name the setting, never its value."""
    if not target.url_setting:
        assert target.url is not None
        return target.url
    from ..config.checks import webhook_url_from_setting

    value = (environ.get(target.url_setting) or "").strip()
    if not value:
        raise LookupError(f"app setting {target.url_setting!r} (webhook url) is not set")
    problems = webhook_url_from_setting(value)
    if problems:
        raise ValueError(f"app setting {target.url_setting!r} (webhook url): {'; '.join(problems)}"
                         " (the value is not shown)")
    return value


@contextlib.contextmanager
def _trace_context(target: WebhookNotification, headers: dict[str, str]) -> Iterator[None]:
    """``traceparent`` only when the route asks for it: otherwise the HTTP client instrumentation (which would
    inject it, and record the call's URL in a span) is suppressed for this call."""
    from opentelemetry import context

    if target.send_trace_context:
        from opentelemetry import propagate

        propagate.inject(headers)
        yield
        return
    token = context.attach(context.set_value(context._SUPPRESS_HTTP_INSTRUMENTATION_KEY, True))  # noqa: SLF001
    try:
        yield
    finally:
        context.detach(token)


def send_to_webhook(target: WebhookNotification, body: dict, environ: Mapping[str, str] = os.environ,
                    transport: Optional[Any] = None, now: Callable[[], float] = time.time) -> None:
    import httpx

    from ..outbound import client_transport

    url = webhook_url(target, environ)
    data, headers = webhook_request(target, body, environ, now)
    with _trace_context(target, headers), \
            httpx.Client(timeout=WEBHOOK_TIMEOUT_SECONDS, transport=client_transport(transport),
                         follow_redirects=False) as client:
        response = client.post(url, content=data, headers=headers)
    if response.status_code >= 300:
        raise RuntimeError(f"HTTP {response.status_code} from the webhook")


@telemetry.traced("notify")
def send_notification(payload: dict, settings: Optional[AppSettings] = None,
                      environ: Mapping[str, str] = os.environ,
                      senders: Optional[dict[str, Callable[..., None]]] = None) -> dict:
    """Send to every configured target (or only ``payload["targets"]``); one target's failure does not stop
    the others. Returns ``{"sent": [...], "failed": {target: reason}}`` — never raises for a target."""
    settings = settings or load_settings()
    summary = redact_data(payload["summary"])  # no secret leaves in a notification, whatever an error said
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
            reason = shown(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", 499)
            failed[name] = reason
            log.warning("run %s: %s notification failed: %s", summary.get("run_id"), name, reason)
    return {"sent": sent, "failed": failed}
