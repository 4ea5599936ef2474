"""Azure ML batch endpoints: pure request builders, job states, run-attempt identities, and the httpx client."""

from .attempts import AttemptIdentity, attempt_job_name
from .exceptions import (AuthenticationError, AuthorizationError, BatchEndpointError, CancelNotSupportedError,
                         JobLookupError, JobNameInUseError, JobNotCreatedError, JobNotFoundError, NoDeploymentError,
                         NotFoundError, PermanentError, SubmitAmbiguousError, ThrottledError, TransientError,
                         ValidationError)
from .requests import JobInfo, job_body
from .status import TERMINAL_STATUSES, JobStatus, is_terminal

__all__ = ["AttemptIdentity", "AuthenticationError", "AuthorizationError", "BatchEndpointError",
           "CancelNotSupportedError", "JobInfo", "JobLookupError", "JobNameInUseError", "JobNotCreatedError",
           "JobNotFoundError", "JobStatus", "NoDeploymentError", "NotFoundError", "PermanentError",
           "SubmitAmbiguousError", "TERMINAL_STATUSES", "ThrottledError", "TransientError", "ValidationError",
           "attempt_job_name", "is_terminal", "job_body"]
