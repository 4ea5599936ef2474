"""Index ``function_app`` once per test process, as the worker does.

``app.get_functions()`` can be called only once per app object (a second call reports duplicate names),
so every test that needs a function object goes through :func:`functions`.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_functions: dict = {}


def functions() -> dict:
    """``{function name: azure.functions Function}`` for the real ``function_app``."""
    with _lock:
        if not _functions:
            import function_app
            from devhost.indexing import functions_of

            _functions.update({f.get_function_name(): f for f in functions_of(function_app.app)})
        return _functions


def user_function(name: str):
    """What the worker calls: the orchestrator handle, the durable-client middleware, or the plain function."""
    return functions()[name].get_user_function()
