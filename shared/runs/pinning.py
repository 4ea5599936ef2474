"""A run keeps the batch endpoint it submitted to (pure): scoring URI, deployment and workspace.

The routes document may change while a run is going (a route moved to another workspace, a new scoring
URI); the run's status calls, its cancel (also at its deadline) and the read of its job's outputs must still
reach the job where it is. So the run input carries the endpoint as it was when the run started
(``run["endpoint"]``, :func:`pin`), and every batch-endpoint activity of the run reads it back through the
config's own validation (:func:`endpoint_of`), never trusting it more than the routes document.
Runs started before pinning (no ``endpoint`` in their input) use the route's current endpoint.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

from ..config.models import EndpointConfig


class PinnedEndpointError(ValueError):
    """The pinned endpoint in a run's input does not pass the config's checks."""


def _document(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _document(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
    return value


def pin(endpoint: Optional[EndpointConfig]) -> Optional[dict]:
    """The endpoint as the run input keeps it (the routes document's own shape)."""
    return None if endpoint is None else _document(endpoint)


def endpoint_of(route: Any, pinned: Any) -> Optional[EndpointConfig]:
    """The endpoint a run's call goes to: its pinned one when it has one, else the route's current one."""
    if pinned is None:
        return route.endpoint
    from ..config.loader import validated
    from ..config.problems import Problems, Where, check_fields

    problems = Problems()
    at = Where("the run's pinned endpoint")
    endpoint = validated(EndpointConfig, pinned, at, problems)
    check_fields(EndpointConfig, pinned, at, problems)
    if problems.items or endpoint is None:
        raise PinnedEndpointError("; ".join(problems.items) or "the run's pinned endpoint is unusable")
    return endpoint


def route_for(route: Any, pinned: Any) -> Any:
    """``route`` with the run's pinned endpoint in place of its current one (``route`` itself when unpinned)."""
    if pinned is None or getattr(route, "kind", None) == "pipeline_endpoint_v1":
        return route
    return dataclasses.replace(route, endpoint=endpoint_of(route, pinned))
