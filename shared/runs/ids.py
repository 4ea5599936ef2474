"""Run identities (pure). A run id is also the Durable instance id, so it must avoid / \\ # ? and stay short."""

from __future__ import annotations

import hashlib
import uuid

_SEPARATOR = "\x1f"


def _digest(*parts: str) -> str:
    return hashlib.sha256(_SEPARATOR.join(parts).encode("utf-8")).hexdigest()


def derived_run_id(route: str, *identity: str) -> str:
    """Same inputs, same id: how duplicate events and client retries collapse onto one run."""
    return f"{route}-{_digest(route, *identity)[:24]}"


def landing_run_id(route: str, folder_url: str, etag: str) -> str:
    """A landed folder (or file) identified by its location and the ETag of the blob that completed it."""
    return derived_run_id(route, "landing", folder_url, etag)


def idempotent_run_id(route: str, idempotency_key: str) -> str:
    return derived_run_id(route, "idempotency-key", idempotency_key)


def fresh_run_id(route: str) -> str:
    return f"{route}-{uuid.uuid4().hex[:24]}"


def submit_request_id(run_id: str, attempt: int) -> str:
    """Stable across retries of one submit, new for a deliberate resubmission (a new attempt)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"batch-run:{run_id}:{attempt}"))


def route_of(run_id: str) -> str:
    """The route a run id belongs to (ids are ``<route>-<24 hex>``; route names may contain '-')."""
    return run_id.rsplit("-", 1)[0]
