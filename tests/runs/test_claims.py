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


# --- fencing tokens (issue 16 case 1) --------------------------------------------------------------------

def _fenced(record, epoch, execution="exec-b", **kw):
    return claims.fence_verdict(record, epoch=epoch, execution=execution,
                                now=datetime(2024, 6, 1, tzinfo=timezone.utc), **kw)


def test_every_take_over_advances_the_epoch():
    now = datetime(2024, 6, 1, tzinfo=timezone.utc)
    first = claims.new_claim({}, token="a", fingerprint_="f", now=now, grace_seconds=10)
    second = claims.new_claim(first, token="b", fingerprint_="f", now=now, grace_seconds=10)
    assert (claims.epoch_of(first), claims.epoch_of(second)) == (1, 2)
    assert claims.epoch_of({"state": "claimed"}) == 0 and claims.epoch_of({"epoch": True}) == 0


def test_a_run_that_ended_is_never_executed_again_whatever_the_epoch():
    ended = {"epoch": 2, "began_epoch": 2, "began_by": "exec-a", "ended_at": "t", "outcome": "Succeeded"}
    for epoch in (1, 2, 3):
        verdict = _fenced(ended, epoch)
        assert verdict.action == claims.ENDED and verdict.record is None and "Succeeded" in verdict.reason


def test_a_start_older_than_the_epoch_that_began_the_run_is_superseded():
    begun = {"epoch": 2, "began_epoch": 2, "began_by": "exec-a"}
    verdict = _fenced(begun, 1)
    assert verdict.action == claims.SUPERSEDED and verdict.record is None
    # a second execution of the same epoch too (a run's submit must not run twice) ...
    assert _fenced(begun, 2).action == claims.SUPERSEDED
    # ... but a landing waiter that failed may run again (the run it starts is claimed on its own)
    assert _fenced(begun, 2, rerun_unended=True).action == claims.PROCEED
    assert _fenced(begun, 1, rerun_unended=True).action == claims.SUPERSEDED
    assert _fenced(None, 1).action == claims.SUPERSEDED


def test_the_claims_own_start_begins_and_its_retry_proceeds():
    verdict = _fenced({"epoch": 1, "state": "started"}, 1, "exec-a")
    assert verdict.action == claims.PROCEED
    assert verdict.record["began_epoch"] == 1 and verdict.record["began_by"] == "exec-a"
    again = _fenced(verdict.record, 1, "exec-a")  # the activity retried
    assert again.action == claims.PROCEED and again.record is None


def test_a_stale_start_landing_before_the_owners_begins_in_its_place():
    """Ending it would lose the run: the owner's start_new is refused while it runs ("already exists")."""
    verdict = _fenced({"epoch": 2, "state": "claimed"}, 1, "exec-a")
    assert verdict.action == claims.PROCEED and verdict.record["began_epoch"] == 2
    assert _fenced(verdict.record, 2, "exec-b").action == claims.SUPERSEDED  # the owner's start, landing later
    ended = claims.ended_record(verdict.record, epoch=1, now=datetime(2024, 6, 1, tzinfo=timezone.utc),
                                outcome="Succeeded", summary={"outcome": "Succeeded"})
    assert _fenced(ended, 2, "exec-b").action == claims.ENDED and ended["summary"] == {"outcome": "Succeeded"}
