"""The Durable history builder lives in ``devhost/history.py`` (the local development host runs on it too);
this module keeps the tests' import path."""

import devhost.history as _history
from devhost.history import *  # noqa: F401,F403

globals().update({name: getattr(_history, name) for name in dir(_history) if not name.startswith("__")})
