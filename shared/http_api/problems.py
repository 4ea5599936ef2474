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


def failure_problem(exc: BaseException) -> HttpProblem:
    """What an unexpected failure means to a caller, for every entry point (HTTP, timer, CLI): a dependency
    that did not answer or refused the app is a 503 naming which and why (its status and error code, never
    its message: that can carry a URL with a signature); anything else a 500 that says nothing of its cause."""
    try:
        from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
    except ImportError:  # pragma: no cover - azure-core comes with the storage SDKs
        HttpResponseError = ServiceRequestError = ServiceResponseError = ()  # type: ignore[assignment,misc]
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return HttpProblem(503, "storage did not answer; retry later")
    if isinstance(exc, HttpResponseError):
        code = getattr(exc, "error_code", None)
        status = getattr(exc, "status_code", None)
        shown = f"{status or 'an error'}{f' {code}' if isinstance(code, str) and code.isalnum() else ''}"
        if status in (401, 403):
            return HttpProblem(503, f"storage refused the app ({shown}): check the app identity's role on the"
                                    " route's storage (reading a landing folder needs list and read)")
        return HttpProblem(503, f"storage answered {shown}; retry later")
    if isinstance(exc, (OSError, TimeoutError)):  # aiohttp's connection errors are OSErrors
        return HttpProblem(503, "the orchestration service did not answer; retry later")
    return HttpProblem(500, "internal error; the function's log has the cause")

