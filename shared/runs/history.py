"""Route duration history, kept with the run ledger: ``durations/<route>.json`` in the state container.

Each finished (``Completed``) job adds one sample (seconds from submit to completion, input file count and
bytes when the landing knew them); the newest ``poll.history_runs`` are kept. The activity bodies here are
best effort: the schedule works without history (it falls back to adaptive polling).
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from ..storage.state import StateStore
from .durations import add_sample, deployment_prior, estimate

log = logging.getLogger(__name__)

PREFIX = "durations/"
DEPLOYMENT_PREFIX = "durations/@deployments/"


def deployment_key(run: dict) -> Optional[str]:
    """A file name for the deployment a run's job goes to (scoring URI + deployment), or ``None``."""
    import hashlib

    endpoint = run.get("endpoint") if isinstance(run.get("endpoint"), dict) else None
    if not endpoint or not endpoint.get("scoring_uri"):
        return None
    identity = f"{endpoint.get('scoring_uri')}\x1f{endpoint.get('deployment') or ''}"
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]


class DurationHistory(StateStore):
    """``durations/<route>.json``: the route's recent job durations."""

    def samples(self, route: str) -> list[dict]:
        return list((self.read(f"{PREFIX}{route}.json") or {}).get("samples", []))

    def record(self, route: str, sample: dict, keep: int) -> list[dict]:
        def add(document):
            samples = add_sample((document or {}).get("samples", []), sample, keep)
            return samples, {"route": route, "samples": samples}

        return self.update(f"{PREFIX}{route}.json", add)

    def deployment_samples(self, key: str) -> list[dict]:
        return list((self.read(f"{DEPLOYMENT_PREFIX}{key}.json") or {}).get("samples", []))

    def record_deployment(self, key: str, sample: dict, keep: int) -> None:
        def add(document):
            samples = add_sample((document or {}).get("samples", []), sample, keep)
            return None, {"samples": samples}

        self.update(f"{DEPLOYMENT_PREFIX}{key}.json", add)


def input_size(run: dict) -> tuple[Optional[int], Optional[int]]:
    """(file count, total bytes) of a run's input when the landing recorded them."""
    data = run.get("input") or {}
    files, size = data.get("file_count"), data.get("total_bytes")
    if data.get("type") == "uri_file" and files is None:
        files = 1
    return (files if isinstance(files, int) else None), (size if isinstance(size, int) else None)


def _history(settings: Any, history: Optional[DurationHistory]) -> DurationHistory:
    if history is not None:
        return history
    from ..config import load_settings

    return DurationHistory.from_settings(settings or load_settings())


def estimate_job_duration(payload: dict, history: Optional[DurationHistory] = None, settings: Any = None) -> dict:
    """Activity body: ``{"estimate": {...} | None}`` for the run in ``payload['run']``."""
    run = payload["run"]
    policy = run.get("poll") or {}
    try:
        samples = _history(settings, history).samples(run["route"])
    except Exception as exc:  # history is a hint; polling works without it
        log.warning("run %s: could not read the duration history: %s", run.get("run_id"), type(exc).__name__)
        return {"estimate": None}
    files, size = input_size(run)
    minimum = int(policy.get("min_history", 3))
    found = estimate(samples, files=files, total_bytes=size, min_samples=minimum)
    key = deployment_key(run)
    if found is None and key is not None:  # no history of its own yet: the deployment's other routes, wider
        try:
            siblings = _history(settings, history).deployment_samples(key)
        except Exception as exc:
            log.warning("run %s: could not read the deployment's durations: %s", run.get("run_id"), type(exc).__name__)
            siblings = []
        found = deployment_prior(siblings, route=run["route"], files=files, total_bytes=size, min_samples=minimum)
    return {"estimate": found}


def record_job_duration(payload: dict, history: Optional[DurationHistory] = None, settings: Any = None) -> dict:
    """Activity body: add one finished job's duration to its route's history."""
    run = payload["run"]
    files, size = input_size(run)
    sample = {"seconds": float(payload["seconds"]), "files": files, "bytes": size,
              "job_name": payload.get("job_name"), "at": payload.get("at")}
    try:
        store = _history(settings, history)
        keep = int((run.get("poll") or {}).get("history_runs", 20))
        kept = store.record(run["route"], sample, keep)
        key = deployment_key(run)
        if key is not None:  # the prior of the deployment's other routes (a few per route, newest kept)
            store.record_deployment(key, {**sample, "route": run["route"]}, 5 * keep)
    except Exception as exc:
        log.warning("run %s: could not record the job duration: %s", run.get("run_id"), type(exc).__name__)
        return {"recorded": False}
    return {"recorded": True, "samples": len(kept)}
