"""Errors of the batch-endpoint client.

``TransientError`` means "try again later" (the client already retried); every ``PermanentError`` says what
the user has to change. Messages never contain a token.
"""

from __future__ import annotations

from typing import Optional


class BatchEndpointError(Exception):
    """Base of every error the batch-endpoint client raises."""

    def __init__(self, message: str, *, status_code: Optional[int] = None, code: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code


class TransientError(BatchEndpointError):
    """Throttling, a 5xx, or a timeout that outlasted the client's own retries."""

    def __init__(self, message: str, *, status_code: Optional[int] = None, retry_after: Optional[float] = None):
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class ThrottledError(TransientError):
    """429 with a ``Retry-After`` longer than the client is allowed to wait in one call."""


class PermanentError(BatchEndpointError):
    """Retrying the same request cannot succeed."""


class AuthenticationError(PermanentError):
    """401: no token, an expired token, or a token for the wrong audience."""


class AuthorizationError(PermanentError):
    """403: the identity is known but lacks a role on the workspace or endpoint."""


class NotFoundError(PermanentError):
    """404: the endpoint, deployment or job does not exist."""


class NoDeploymentError(NotFoundError):
    """The endpoint has no default deployment and the request named none."""


class JobNotFoundError(NotFoundError):
    """The job name is unknown to the endpoint or workspace."""


class ValidationError(PermanentError):
    """400: the service rejected the job request; ``details`` lists each field it complained about."""

    def __init__(self, message: str, *, status_code: int = 400, code: Optional[str] = None,
                 details: Optional[list[dict]] = None):
        super().__init__(message, status_code=status_code, code=code)
        self.details = details or []


class CancelNotSupportedError(PermanentError):
    """Cancelling needs the management plane, i.e. the route's ``endpoint.workspace`` coordinates."""


# -- submit: did the POST create a job? ----------------------------------------------------------------

class SubmitAmbiguousError(TransientError):
    """The POST may have created a job: the answer was lost after the request was sent (read timeout,
    dropped connection, 408 or 5xx). Never POST again blindly: look for the attempt's job first."""


class SubmitAnswerUnreadableError(SubmitAmbiguousError):
    """The POST succeeded (2xx) but its job resource could not be read: a job certainly exists. Look it up and
    adopt it; never POST again for it."""


class SubmitUncertainError(PermanentError):
    """The POST may have created a job, and nothing this app can search (no job list; no output path or
    properties of the attempt's own) can tell: posting again could make a second job. The run waits in
    ``SubmitUncertain`` until the sweep finds the job or an operator confirms one or asks for a resubmit."""


class JobNotCreatedError(TransientError):
    """The service certainly created no job (the connection was never made, or 429 throttling), so the
    same POST may be sent again."""


class JobNameInUseError(PermanentError):
    """The service refused the client-chosen job name because a job has it already: that job is the
    attempt's, to be adopted (the answer to a reused name is UNCONFIRMED: 409, or a 400 saying so)."""


class JobLookupError(TransientError):
    """Could not find out whether the attempt's job exists (the look-up itself failed); no POST is sent
    until a look-up succeeds."""
