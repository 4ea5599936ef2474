"""Shared fixtures. The logic lives in tests/support and tests/app_index.py; keep this file small."""

import pytest

from tests.app_index import functions


@pytest.fixture(scope="session")
def app_functions() -> dict:
    """The real function_app, indexed once for the whole session."""
    return functions()
