"""The bounded durable wait for server-side copies that are still pending (Azurite completes copies at once, so
storage's "pending" answer is scripted here; the orchestrator, timers and the other activities are real)."""

from __future__ import annotations

from shared.delivery import activities as delivery
from tests.delivery.conftest import payload_bytes, run_to_end
from tests.support.history import ET


def scripted_copy(pending_rounds: int):
    """Storage answers "pending" for the first ``pending_rounds`` calls of each file, then the real activity runs."""
    seen: dict = {}

    def copy_output(payload):
        first = payload["items"][0]
        key = (payload["sink"], first["file"])
        seen[key] = seen.get(key, 0) + 1
        if seen[key] <= pending_rounds:
            return {"sink": payload["sink"], "sent_bytes": 0,
                    "results": [{"file": i["file"], "destination": i["destination"], "state": "pending",
                                 "method": "server_side", "bytes": i["bytes"]} for i in payload["items"]]}
        return delivery.copy_output(payload)

    return copy_output


def test_pending_copies_are_checked_again_on_durable_timers_until_done(env, durable):
    run = env.run_input()
    run_id = run["run"]["run_id"]
    env.put_output(run_id, "predictions.csv", payload_bytes(1000))
    durable.activities["copy_output"] = scripted_copy(pending_rounds=3)

    status = run_to_end(durable, run)

    assert status["output"]["outcome"] == "Succeeded", status["output"]
    assert durable.count(run_id, ET.TIMER_CREATED) == 3          # 5 s, 10 s, 20 s
    assert status["output"]["outputs"][0]["copied"] == 1


def test_a_copy_pending_past_the_route_timeout_fails_the_run_naming_sink_and_file(env, durable):
    env.configure(delivery={"copy_timeout_minutes": 2})
    run = env.run_input()
    run_id = run["run"]["run_id"]
    env.put_output(run_id, "predictions.csv", payload_bytes(1000))
    durable.activities["copy_output"] = scripted_copy(pending_rounds=10_000)

    status = run_to_end(durable, run)

    out = status["output"]
    assert out["outcome"] == "Failed"
    assert "sink 'curated': file 'predictions.csv': the server-side copy was still pending after 2 minutes" \
        in out["error"]
    assert 3 <= durable.count(run_id, ET.TIMER_CREATED) <= 8     # bounded by the timeout, not by attempts
