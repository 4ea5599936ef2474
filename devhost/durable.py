"""The Durable host the local development host runs orchestrations on (the same one the tests use)."""

from tests.support.durable_host import DurableTestHost, run_async, split_functions  # noqa: F401
