"""The in-process Durable host lives in ``devhost/durable.py`` (one implementation for the tests, the
benchmarks and the local development host); this module keeps the tests' import path."""

import devhost.durable as _durable
from devhost.durable import *  # noqa: F401,F403

# the tests also use names that ``*`` does not export (private helpers and constants)
globals().update({name: getattr(_durable, name) for name in dir(_durable) if not name.startswith("__")})
