"""Shared fixtures. The logic lives in tests/support and tests/app_index.py; keep this file small."""

import pytest

from tests.app_index import functions


@pytest.fixture(scope="session")
def app_functions() -> dict:
    """The real function_app, indexed once for the whole session."""
    return functions()


@pytest.fixture(scope="session")
def azurite():
    """A private Azurite (blob, queue, table; accounts devstoreaccount1 and sinkaccount) for the session."""
    from tests.support.azurite import start_azurite

    running = start_azurite()
    try:
        yield running
    finally:
        running.stop()
