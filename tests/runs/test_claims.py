"""The claim decisions (pure): every state a caller can find, with and without the Durable client's answer."""

from datetime import datetime, timedelta, timezone

import pytest

from shared.runs import claims

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def record(state=claims.CLAIMED, owner="other", age=0.0, grace=10.0, fingerprint="f"):
    made = claims.new_claim({}, token=owner, fingerprint_=fingerprint, now=NOW - timedelta(seconds=age),
                            grace_seconds=grace)
    return {**made, "state": state}


@pytest.mark.parametrize("found, exists, action", [
    (None, None, claims.START),
    (record(claims.STARTED), None, claims.DUPLICATE),
    (record(claims.STARTED), False, claims.DUPLICATE),  # started and purged: still never started again
    (record(owner="me"), None, claims.START),  # a lost create answer: our own token
    (record(), None, claims.CHECK_INSTANCE),
    (record(), True, claims.MARK_STARTED),  # its starter died after start_new
    (record(age=1), False, claims.WAIT),  # fresh: its starter may be between claim and start_new
    (record(age=11), False, claims.TAKE_OVER),  # lease expired, no instance: an orphan
    (record(claims.RELEASED, age=0), False, claims.TAKE_OVER),  # released: at once
    (record(claims.RELEASED, owner="me"), True, claims.MARK_STARTED),  # released, yet it landed
    (record(fingerprint="g"), None, claims.MISMATCH),
    (record(claims.STARTED, fingerprint="g"), None, claims.MISMATCH),
])
def test_decide(found, exists, action):
    assert claims.decide(found, token="me", fingerprint_="f", now=NOW, grace_seconds=10,
                         instance_exists=exists).action == action


def test_a_legacy_record_without_owner_or_lease_counts_from_claimed_at():
    legacy = {"run_id": "r", "state": "claimed", "claimed_at": (NOW - timedelta(seconds=5)).isoformat()}
    assert claims.decide(legacy, token="me", fingerprint_="f", now=NOW, grace_seconds=10,
                         instance_exists=False).action == claims.WAIT
    assert claims.decide(legacy, token="me", fingerprint_="f", now=NOW + timedelta(seconds=6), grace_seconds=10,
                         instance_exists=False).action == claims.TAKE_OVER


def test_fingerprints_are_stable_and_order_free_in_objects():
    assert claims.fingerprint("run", {"a": 1, "b": 2}) == claims.fingerprint("run", {"b": 2, "a": 1})
    assert claims.fingerprint("run", "x") != claims.fingerprint("run", "y")
