"""Fixtures: the app served by the local development host (devhost) on a real HTTP port, with Azurite and the
batch-endpoint emulator (the e2e fixtures), and headless Chromium driven by Playwright."""

from __future__ import annotations

import shutil
from typing import Iterator

import pytest

from devhost.host import LocalFunctionsHost
from tests.e2e.conftest import emulator, stack  # noqa: F401 - fixtures reused

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def devhost(stack) -> Iterator[LocalFunctionsHost]:  # noqa: F811 - the e2e stack sets the app settings
    host = LocalFunctionsHost(port=0, speed=5.0, poll_queues=False, run_timers=False)
    host.start()
    try:
        yield host
    finally:
        host.stop()
    assert not host.durable.pump_errors


@pytest.fixture(scope="module")
def browser():
    # Module scope: Playwright's sync API keeps an event loop running in this thread until it exits, and
    # later tests call asyncio.run() on the same thread.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()
