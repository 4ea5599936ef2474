"""The JSON shapes a run carries through Durable history (pure).

Everything here is stored in orchestration history, so it holds locations and names only: never a token,
a key or a SAS.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from ..config.models import AppSettings, Route
from ..timefmt import format_time, parse_time
from ..storage.uris import BlobLocation, input_uri_for
from .pinning import pin

CANCEL_EVENT = "cancel"
JOB_STATUS_EVENT = "job_status"
RESOLVE_EVENT = "submit_resolution"   # {"action": "confirm", "job_name"} or {"action": "resubmit"}, with "attempt"
SUBMIT_UNCERTAIN = "SubmitUncertain"  # the phase of a run waiting for it

OUTCOMES = ("Succeeded", "Failed", "Canceled", "TimedOut")


# The run's times, in the one format (shared.timefmt); the orchestrator imports them under these names.
iso = format_time
parse_iso = parse_time


def render_output_path(route: Route, run_id: str, attempt: int, now: datetime) -> str:
    """The route's single output path for a run attempt (rendered through shared.paths, never str.format)."""
    from ..paths import render_under

    assert route.output is not None
    return render_under(route.output.path, {"run_id": run_id, "route": route.name, "date": now.strftime("%Y-%m-%d"),
                                            "attempt": str(attempt)}, field="output.path")


def folder_of(path: str) -> str:
    """The folder part of a blob path, without a trailing '/': used for the ``{folder}`` placeholder."""
    return path.rstrip("/").rsplit("/", 1)[0] if "/" in path.rstrip("/") else ""


def new_run_input(settings: AppSettings, route: Route, run_id: str, location: BlobLocation, *,
                  source: str, now: datetime, attempt: int = 1,
                  details: Optional[dict[str, Any]] = None) -> dict:
    """The orchestration input: what to score, where results go, and how to poll (a snapshot of the route)."""
    is_file = route.input.type == "uri_file"
    if not is_file and location.path and not location.path.endswith("/"):
        location = BlobLocation(location.account_url, location.container, location.path + "/")
    folder = folder_of(location.path) if is_file else location.path.rstrip("/")
    from ..batch_endpoint.job_spec import render_outputs

    outputs = render_outputs(route, run_id, attempt, now)
    return {
        "run_id": run_id,
        "route": route.name,
        "attempt": attempt,
        "source": source,
        "requested_at": iso(now),
        "input": {
            "type": route.input.type,
            "uri": input_uri_for(location, settings.datastores),
            "url": location.url,
            "container": location.container,
            "path": location.path,
            "folder": folder,
            **(details or {}),
        },
        # every configured output, rendered once (empty: the deployment's default location, read from the job)
        "outputs": outputs,
        "output_uri": next(iter(outputs.values()), None),
        "poll": route.poll.to_dict(),
        # the endpoint this run submits to, kept until it ends (status, cancel and outputs reach the job
        # there even if the routes document moves the route meanwhile: shared/runs/pinning.py)
        **({"endpoint": pin(route.endpoint)} if route.endpoint is not None and route.kind != "pipeline_endpoint_v1"
           else {}),
    }


def run_summary(run: dict, monitor: dict, outcome: str, *, error: Optional[str] = None,
                outputs: Optional[list] = None, finished_at: Optional[str] = None) -> dict:
    """The orchestration's output and the body of ``GET /api/runs/{id}`` once the run has ended."""
    return {
        "run_id": run["run_id"],
        "route": run["route"],
        "outcome": outcome,
        "error": error,
        "job_name": monitor.get("job_name"),
        "job_status": monitor.get("job_status"),
        "studio_url": monitor.get("studio_url"),
        "input_uri": run["input"]["uri"],
        "output_uri": run["output_uri"],
        "outputs": outputs or [],
        "polls": monitor.get("polls", 0),
        "started_at": monitor.get("started_at"),
        "submitted_at": monitor.get("submitted_at"),
        "finished_at": finished_at,
    }
