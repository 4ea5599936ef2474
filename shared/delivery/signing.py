"""Standard Webhooks signatures for notification POSTs (pure).

The `Standard Webhooks <https://www.standardwebhooks.com/>`_ scheme, so a receiver verifies with an existing
library (``standardwebhooks`` for Python, ``standardwebhooks`` for TypeScript, ``StandardWebhooks`` for .NET,
Svix's libraries) and rejects replays:

* ``webhook-id``: the message id. Derived from the notification's own id, so every retry of one notification
  carries the same id and a receiver can drop the duplicates;
* ``webhook-timestamp``: Unix seconds of this attempt (receivers refuse timestamps too far from their clock);
* ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, one per secret, separated
  by spaces (two during a secret rotation).

A secret is ``whsec_`` followed by the base64 of 24 to 64 random bytes, as the libraries generate it
(``whsec_`` may be left off). An app setting may hold several secrets separated by spaces: each signs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64


class WebhookSecretError(ValueError):
    """The configured secret is not a Standard Webhooks secret. The message names the setting, never the value."""


def decode_secret(value: str, *, setting: str) -> bytes:
    """The key bytes of ``whsec_<base64>`` (or bare base64)."""
    text = value.strip()
    if text.startswith(SECRET_PREFIX):
        text = text[len(SECRET_PREFIX):]
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookSecretError(f"app setting {setting!r} is not a Standard Webhooks secret: expected"
                                 f" '{SECRET_PREFIX}' followed by base64") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise WebhookSecretError(f"app setting {setting!r}: a webhook secret must be {MIN_SECRET_BYTES} to"
                                 f" {MAX_SECRET_BYTES} random bytes, this one is {len(key)}")
    return key


def secrets_of(value: str, *, setting: str) -> list[bytes]:
    """Every secret in an app setting (space-separated during a rotation)."""
    keys = [decode_secret(part, setting=setting) for part in value.split()]
    if not keys:
        raise WebhookSecretError(f"app setting {setting!r} (webhook secret) is empty")
    return keys


def webhook_id(notification_id: str) -> str:
    """A stable message id for one notification: the same for each retry, different for each notification."""
    return "msg_" + hashlib.sha256(notification_id.encode("utf-8")).hexdigest()[:32]


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = msg_id.encode("utf-8") + b"." + str(timestamp).encode("ascii") + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def signature_headers(keys: list[bytes], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers (no ``webhook-signature`` without a key)."""
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp)}
    if keys:
        headers["webhook-signature"] = " ".join(sign(key, msg_id, timestamp, body) for key in keys)
    return headers
