"""The landing fixtures (a routes document on the session Azurite) serve the reconcile tests as well."""

from tests.landing.conftest import landing_env  # noqa: F401
