"""Error answers of the HTTP API: one exception, one JSON shape, and redaction on the way out.

Every error answer is ``{"error": "<what is wrong and how to fix it>", "field": "<the input at fault>"}``
(``field`` when one input is at fault), plus optional details. Every text in it passes through
:func:`shared.redact.redact_data` first, whatever raised it: an error built from a connection string can never
put a SAS or a key into an answer.
"""

from __future__ import annotations

import json
from typing import Any, Optional

import azure.functions as func

from ..redact import redact_data


class HttpProblem(Exception):
    """An error answer: status code, a message a caller can act on, and the input at fault (if one is)."""

    def __init__(self, status: int, message: str, *, field: Optional[str] = None, **extra: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.extra = extra


def json_response(status: int, body: Any, headers: Optional[dict] = None) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body, default=str), status_code=status, mimetype="application/json",
                             headers=headers or {})


def problem_response(problem: HttpProblem) -> func.HttpResponse:
    body: dict[str, Any] = {"error": problem.message}
    if problem.field is not None:
        body["field"] = problem.field
    body.update(problem.extra)
    return json_response(problem.status, redact_data(body))
