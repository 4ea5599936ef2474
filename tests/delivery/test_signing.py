"""Standard Webhooks signatures: the spec's reference vector, the reference library's verifier, secrets."""

import base64
from datetime import datetime, timezone

import pytest

from shared.delivery.signing import (WebhookSecretError, decode_secret, secrets_of, sign, signature_headers,
                                     webhook_id)

# The reference vector of the Standard Webhooks libraries' test suites.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_reference_vector():
    key = decode_secret(VECTOR_SECRET, setting="S")
    assert sign(key, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE
    assert decode_secret(VECTOR_SECRET[len("whsec_"):], setting="S") == key   # the prefix may be left off


def test_the_reference_library_verifies_our_headers():
    import standardwebhooks  # requirements-dev.txt: a missing package fails the test, never skips it
    now = int(datetime.now(timezone.utc).timestamp())
    body = b'{"run_id": "heart-1", "outcome": "Succeeded"}'
    headers = signature_headers([decode_secret(VECTOR_SECRET, setting="S")], webhook_id("heart-1:Succeeded:t"),
                                now, body)
    assert standardwebhooks.Webhook(VECTOR_SECRET).verify(body, headers) == {"run_id": "heart-1",
                                                                             "outcome": "Succeeded"}
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):      # a tampered body
        standardwebhooks.Webhook(VECTOR_SECRET).verify(body.replace(b"Succeeded", b"Failed"), headers)
    old = signature_headers([decode_secret(VECTOR_SECRET, setting="S")], "msg_x", now - 3600, body)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):      # a replay an hour later
        standardwebhooks.Webhook(VECTOR_SECRET).verify(body, old)


def test_rotation_signs_with_every_secret():
    new = "whsec_" + base64.b64encode(b"n" * 32).decode()
    keys = secrets_of(f"{VECTOR_SECRET} {new}", setting="S")
    headers = signature_headers(keys, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY)
    first, second = headers["webhook-signature"].split(" ")
    assert first == VECTOR_SIGNATURE and second == sign(keys[1], VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY)


def test_ids_are_stable_per_notification_and_unsigned_requests_still_carry_them():
    assert webhook_id("r:Failed:t") == webhook_id("r:Failed:t") != webhook_id("r:Failed:t2")
    assert webhook_id("r:Failed:t").startswith("msg_")
    assert signature_headers([], "msg_1", 5, b"{}") == {"webhook-id": "msg_1", "webhook-timestamp": "5"}


@pytest.mark.parametrize("value", ["s3cret-hmac-key", "whsec_" + base64.b64encode(b"short").decode(),
                                   "whsec_" + base64.b64encode(b"x" * 65).decode(), "whsec_!!!!", "   "])
def test_secrets_that_are_not_standard_webhooks_secrets_are_refused_without_echoing_them(value):
    with pytest.raises(WebhookSecretError) as err:
        secrets_of(value, setting="WEBHOOK_SECRET")
    assert "WEBHOOK_SECRET" in str(err.value)
    assert not value.strip() or value.strip() not in str(err.value)
