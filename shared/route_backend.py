"""One interface for the services a route kind submits to; the activities and delivery call it, never
``route.kind``.

A backend is bound to one route (already pinned to the endpoint its run submitted to), the app's settings and
a client factory (``url → client``, injected by tests). Every method takes and returns plain JSON-able dicts
(they are stored in Durable history), never a token: permanent errors come back as ``{"error": ...}``,
transient ones raise so the orchestration's retry applies. Implementations:
``shared/batch_endpoint/backend.py`` (``batch_endpoint``) and ``shared/pipeline_v1/backend.py``
(``pipeline_endpoint_v1``).
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

ClientFactory = Callable[[str], Any]


class RouteBackend(Protocol):
    def submit(self, run: dict, attempt: int) -> dict:
        """The attempt's job, created or adopted: ``{"job_name", "status", "studio_url", "attempt", "adopted",
        "found_by"}``, or ``{"error"[, "uncertain"]...}``."""

    def status(self, payload: dict) -> dict:
        """``{"route", "run_id", "job_name"[, "attempt", "output_uri"]}`` → ``{"status", "studio_url",
        "job_error"[, "job_name", "replaces"]}`` or ``{"status": None, "error", "transient"}``."""

    def find_attempt(self, payload: dict, identity: Any) -> dict:
        """The attempt's job if there is one: ``{"job_name" (None: none), "attempt_job_name"...}``."""

    def cancel(self, payload: dict) -> dict:
        """``{"cancel_requested": True}`` or ``{"error"}``."""

    def job_outputs(self, job_name: str) -> Any:
        """Where a job without configured outputs wrote them (``FoundOutputs``; empty: nowhere known)."""


def default_client(url: str) -> Any:
    """The outbound client for a scoring, management or v1 API URL, with the managed identity's token."""
    from .batch_endpoint.client import BatchEndpointClient
    from .identity import credential_for

    return BatchEndpointClient(credential_for(url))


def _batch_endpoint() -> Any:
    from .batch_endpoint.backend import BatchEndpointBackend

    return BatchEndpointBackend


def _pipeline_v1() -> Any:
    from .pipeline_v1.backend import PipelineV1Backend

    return PipelineV1Backend


#: route kind (``config.models.RouteKind``) → its backend's class, imported on first use (each loads a client)
BACKENDS: dict[str, Callable[[], Any]] = {"batch_endpoint": _batch_endpoint, "pipeline_endpoint_v1": _pipeline_v1}


def backend_for(route: Any, settings: Any, client_factory: ClientFactory = default_client) -> RouteBackend:
    try:
        backend = BACKENDS[route.kind]()
    except KeyError:
        raise ValueError(f"route {route.name}: no backend for kind {route.kind!r}") from None
    return backend(route, settings, client_factory)  # type: ignore[no-any-return]
