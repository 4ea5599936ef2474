"""The HTTP API's request bodies and answers as pydantic models: the source of ``docs/openapi.json``.

The strict reader (:mod:`.inputs`) still reads every body (size, encoding, depth, duplicate keys, and the
error in the project's words); these models state the same contract for callers and the fuzzer. The run
resource lives in :mod:`.resource`.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StartRequest(_Body):
    """``POST /api/runs`` and ``POST /api/plan``: which route scores which input (a blob path, never a URL)."""

    route: str = Field(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9-]*$",
                       description="the route's name", examples=["heart"])
    path: str = Field(min_length=1, max_length=4096, description="a blob path (file or folder/) in the route's"
                      " container, starting with the route's prefix", examples=["heart/2024-06-01/"])
    container: Optional[str] = Field(None, max_length=63, description="the route's container (the default)")
    force: bool = Field(False, description="start even if the pre-flight listing finds the input incomplete")


class CancelRequest(_Body):
    """``POST /api/runs/{run_id}/cancel`` (the body is optional)."""

    reason: Optional[str] = Field(None, max_length=500, description="why; shown in the run's error")


class ConfirmJobRequest(_Body):
    """``POST /api/runs/{run_id}/confirm-job``: the job a run in ``SubmitUncertain`` did submit."""

    job_name: str = Field(min_length=1, max_length=255, description="the batch job's name")


class EmptyBody(_Body):
    """No field: the body may be omitted or ``{}``."""


class BackfillRequest(_Body):
    """``POST /api/backfill``: start runs for what already sits in a route's landing location."""

    route: str = Field(min_length=1, max_length=63, description="the route's name")
    prefix: Optional[str] = Field(None, description="a folder under the route's prefix")
    since: Optional[str] = Field(None, description="only blobs modified since (RFC 3339)",
                                 json_schema_extra={"format": "date-time"})
    dry_run: bool = Field(False, description="only list what would start (answered at once, 200)")
    max_runs: Optional[int] = Field(None, ge=1, description="at most this many runs")


class Problem(BaseModel):
    """Every error answer: what is wrong and how to fix it, and the input at fault when one is."""

    model_config = ConfigDict(extra="allow", frozen=True)
    error: str = Field(description="what is wrong and how to fix it (redacted)")
    field: Optional[str] = Field(None, description="the field, query parameter or header at fault")


class Accepted(BaseModel):
    """A 202: the work goes on; poll ``status_url`` (``Location``) until it answers 200."""

    model_config = ConfigDict(extra="allow", frozen=True)
    status_url: str = Field(description="Location without the function key")


class RunAccepted(Accepted):
    """A run started, cancelled, resubmitted or redelivered: 202 with ``Location`` and ``Retry-After``."""

    run_id: str
    status: Literal["Running"]


class OperationAccepted(Accepted):
    """A backfill operation started or is running."""

    operation_id: str
    state: str


class Answer(BaseModel):
    """A JSON object whose fields the operation's description names (operator endpoints)."""

    model_config = ConfigDict(extra="allow", frozen=True)


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(ref_template="#/components/schemas/{model}")
