"""The app on the local development host's real HTTP port, with Azurite and the emulator (the e2e stack)."""

from __future__ import annotations

from typing import Iterator

import pytest

from devhost.host import LocalFunctionsHost
from tests.e2e.conftest import emulator, stack  # noqa: F401 - fixtures reused


@pytest.fixture
def devhost(stack) -> Iterator[LocalFunctionsHost]:  # noqa: F811 - the e2e stack sets the app settings
    host = LocalFunctionsHost(port=0, speed=5.0, poll_queues=False, run_timers=False)
    host.start()
    try:
        yield host
    finally:
        host.stop()
