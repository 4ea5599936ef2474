"""tests/worker: the app under the real Python worker library, held against the local host (devhost/).

Fixtures: ``worker`` (session): the host stand-in around ``azure_functions_runtime`` (standin.py);
``local``: the local host (devhost/host.py) serving the same app on a private port over the e2e stack
(Azurite, the batch-endpoint emulator), with recorders on its Durable host's orchestrator and activity calls.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.e2e.conftest import _reset_faults, emulator, stack  # noqa: F401 - the e2e stack's fixtures

from .standin import WorkerStandIn, compile_protos

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def worker(tmp_path_factory) -> Iterator[WorkerStandIn]:
    standin = WorkerStandIn(compile_protos(tmp_path_factory.mktemp("protos"))).start()
    yield standin
    standin.stop()


class Recorded:
    """Every orchestrator episode (context JSON → answer) and activity call (input → result) of the local host."""

    def __init__(self) -> None:
        self.episodes: list[tuple[str, str, str]] = []
        self.activities: list[tuple[str, object, object]] = []


@pytest.fixture
def local(stack, worker) -> Iterator[tuple[object, Recorded]]:
    from devhost.host import LocalFunctionsHost

    recorded = Recorded()
    host = LocalFunctionsHost(port=0, root=REPO, speed=5.0, run_timers=False)
    host.start()
    try:
        durable = host.durable
        for name, handle in list(durable.orchestrators.items()):
            def episode(body, _name=name, _handle=handle):
                answer = _handle(body)
                recorded.episodes.append((_name, body, answer))
                return answer
            durable.orchestrators[name] = episode
        from devhost.durable import DURABLE_CLIENT_ARG

        for name, call in list(durable.activities.items()):
            def activity(value, *client, _name=name, _call=call):
                result = _call(value, *client)
                recorded.activities.append((_name, value, result))
                return result
            # the host passes its client binding to an activity that declares one (landing_start_run)
            setattr(activity, DURABLE_CLIENT_ARG, getattr(call, DURABLE_CLIENT_ARG, None))
            durable.activities[name] = activity
        worker.loop_of_host = host.loop   # the Durable SDK's one HTTP session lives on the worker's loop
        yield host, recorded
    finally:
        worker.loop_of_host = None
        host.stop()
