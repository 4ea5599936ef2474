"""The one public run resource: what ``GET /api/runs/{id}`` and the items of ``GET /api/runs`` answer.

A documented, versioned model (``api_version``) built from the internal run view (:func:`.runs.describe`):
every time in one format (RFC 3339, UTC, ``Z``), and none of the orchestrator's monitor state (hints, event
ids, claims, per-execution counters). Operators who need that state ask ``?view=debug``, which answers the
internal view as it is (redacted, undocumented, free to change). pydantic is imported with this module only,
never at ``function_app`` import.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

API_VERSION = "2026-12-01"
RunStatus = Literal["Running", "Succeeded", "Failed", "Canceled", "TimedOut"]
Timestamp = Optional[str]
TIME_FORMAT = "RFC 3339 UTC with a trailing Z, e.g. 2026-12-05T02:43:31Z"


def rfc3339(value: Any) -> Optional[str]:
    """A datetime or an ISO-8601 text (``Z``, an offset, a space separator, or naive = UTC) as RFC 3339 UTC
    with ``Z`` and whole seconds; anything unreadable as None (never passed through in another format)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    moment = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _time_field(description: str) -> Any:
    return Field(None, description=f"{description} ({TIME_FORMAT}); null when not (yet) known",
                 json_schema_extra={"format": "date-time"})


class Notifications(BaseModel):
    """How many end-of-run notifications were sent and how many failed."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sent: int = 0
    failed: int = 0


class RunResource(BaseModel):
    """A run: one batch scoring of one landed input through one route, from its claim to its delivery."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="RunResource")

    api_version: Literal["2026-12-01"] = Field(API_VERSION, description="the version of this resource's shape")
    run_id: str = Field(description="the run's id (also its Durable instance id)")
    route: Optional[str] = Field(None, description="the route the run belongs to")
    status: RunStatus = Field(description="Running until the run has ended, then its outcome")
    stage: Optional[str] = Field(None, description="while Running, what the run is doing (submitting, polling,"
                                                   " SubmitUncertain, ...); null once it has ended")
    attempt: Optional[int] = Field(None, ge=1, description="the submit attempt (a resubmit increments it)")
    error: Optional[str] = Field(None, description="why the run failed, was canceled or timed out")
    job_name: Optional[str] = Field(None, description="the batch job's name, once submitted")
    job_status: Optional[str] = Field(None, description="the batch job's newest status")
    studio_url: Optional[str] = Field(None, description="the job in Azure ML studio")
    input_uri: Optional[str] = Field(None, description="the input as the job reads it (azureml:// or a blob URL)")
    output_uri: Optional[str] = Field(None, description="where the job writes its output")
    outputs: list[dict[str, Any]] = Field(default_factory=list, description="the outputs delivered to sinks")
    notifications: Optional[Notifications] = None
    polls: int = Field(0, ge=0, description="status calls made for the job")
    created_at: Timestamp = _time_field("when the run was created")
    updated_at: Timestamp = _time_field("when the run last changed")
    started_at: Timestamp = _time_field("when the run's orchestration started")
    submitted_at: Timestamp = _time_field("when the job was submitted")
    last_polled_at: Timestamp = _time_field("when the job's status was last read")
    next_poll_at: Timestamp = _time_field("when the job's status will next be read")
    finished_at: Timestamp = _time_field("when the run ended")


class RunList(BaseModel):
    """``GET /api/runs``: the newest runs first, at most ``limit``; ``count`` is how many matched."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="RunList")
    runs: list[RunResource]
    count: int = Field(ge=0)


TIME_FIELDS = ("created_at", "updated_at", "started_at", "submitted_at", "last_polled_at", "next_poll_at",
               "finished_at")
_PLAIN_FIELDS = ("run_id", "route", "status", "error", "job_name", "job_status", "studio_url", "input_uri",
                 "output_uri")


def _text(value: Any) -> Optional[str]:
    return None if value is None else str(value)


def public_run(view: dict) -> dict:
    """The internal run view (:func:`.runs.describe`, already redacted) as the public resource's JSON."""
    values: dict[str, Any] = {name: _text(view.get(name)) for name in _PLAIN_FIELDS}
    values.update({name: rfc3339(view.get(name)) for name in TIME_FIELDS})
    if view.get("status") == "Running" and view.get("phase"):
        values["stage"] = str(view["phase"])
    attempt = view.get("attempt")
    values["attempt"] = attempt if isinstance(attempt, int) and not isinstance(attempt, bool) and attempt >= 1 \
        else None
    polls = view.get("polls")
    values["polls"] = polls if isinstance(polls, int) and not isinstance(polls, bool) and polls >= 0 else 0
    outputs = view.get("outputs")
    values["outputs"] = [o for o in outputs if isinstance(o, dict)] if isinstance(outputs, list) else []
    notes = view.get("notifications")
    if isinstance(notes, dict):
        values["notifications"] = {"sent": int(notes.get("sent") or 0), "failed": int(notes.get("failed") or 0)}
    return RunResource(**values).model_dump(mode="json")


def public_list(views: list[dict], count: int) -> dict:
    return {"runs": [public_run(v) for v in views], "count": count}
