"""Azure ML batch endpoints: pure request builders, job states, and the httpx client."""

from .exceptions import (AuthenticationError, AuthorizationError, BatchEndpointError, CancelNotSupportedError,
                         JobNotFoundError, NoDeploymentError, NotFoundError, PermanentError, ThrottledError,
                         TransientError, ValidationError)
from .requests import JobInfo, job_body
from .status import TERMINAL_STATUSES, JobStatus, is_terminal

__all__ = ["AuthenticationError", "AuthorizationError", "BatchEndpointError", "CancelNotSupportedError",
           "JobInfo", "JobNotFoundError", "JobStatus", "NoDeploymentError", "NotFoundError", "PermanentError",
           "TERMINAL_STATUSES", "ThrottledError", "TransientError", "ValidationError", "is_terminal", "job_body"]
