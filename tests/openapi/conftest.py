"""The app on the local development host's real HTTP port, with Azurite and the emulator (the e2e stack): the
dashboard tests' host fixture, one definition for both."""

from tests.dashboard.conftest import devhost  # noqa: F401 - fixture reused
from tests.e2e.conftest import emulator, stack  # noqa: F401 - fixtures reused
