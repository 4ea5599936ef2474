"""Index a Functions app once per process, as the worker does.

``app.get_functions()`` can be called only once per app object (a second call reports duplicate names), so
the development host, the tests and the benchmarks all go through :func:`functions_of`.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_indexed: dict[int, list] = {}


def functions_of(app: Any) -> list:
    """``app.get_functions()``, computed once per app object."""
    with _lock:
        key = id(app)
        if key not in _indexed:
            _indexed[key] = list(app.get_functions())
        return _indexed[key]
