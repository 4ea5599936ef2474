"""The timer's switch and schedule, and the timer function end to end (the real function_app wrapper)."""

from __future__ import annotations

import json

from azure.durable_functions import DurableOrchestrationClient

from shared.reconcile.api import enabled, reconcile_timer
from tests.runs.test_starter import FakeTime
from tests.support.durable_host import DurableTestHost, run_async


def test_the_switch_comes_from_app_settings():
    assert enabled({}) and enabled({"RECONCILE_ENABLED": "true"})
    assert not enabled({"RECONCILE_ENABLED": "false"}) and not enabled({"RECONCILE_ENABLED": "0"})


def test_the_timer_function_is_on_the_default_schedule(app_functions):
    (trigger,) = [json.loads(b) for b in app_functions["reconcile_sweep"].get_raw_bindings()
                  if json.loads(b)["type"] == "timerTrigger"]
    assert trigger["schedule"] == "0 */15 * * * *" and trigger["runOnStartup"] is False


def test_a_disabled_sweep_does_nothing(landing_env):
    env = landing_env({"a": {"mode": "marker"}})
    env.upload("a/f/x.csv")
    env.upload("a/f/_SUCCESS", b"")
    with DurableTestHost({}, {}) as host:
        host.start_server()
        client = DurableOrchestrationClient(host.client_binding())
        off = run_async(reconcile_timer(None, client, environ={"RECONCILE_ENABLED": "false"}, context=env.context()))
        assert off == {"disabled": True} and host.instance_ids() == []
        ctx = env.context()
        ctx.claim_policy = FakeTime().policy()
        on = run_async(reconcile_timer(None, client, environ={"AzureWebJobsStorage": env.env["AzureWebJobsStorage"]},
                                       context=ctx))
        assert on["started"] == 1 and len(host.instance_ids()) == 1
