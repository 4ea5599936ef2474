"""httpx adapter for Azure ML batch endpoints: submit a job, read its status, cancel it.

The transport, the credential, the sleep function and the random source are injected, so tests can hand
it a loopback server, an ``httpx.MockTransport`` that injects faults, or a fake clock.
A token is fetched for every attempt (azure-identity caches and refreshes it), so a 24-hour run never
sends an expired one; tokens never reach a log line or an exception message.
"""

from __future__ import annotations

import email.utils
import logging
import random as _random
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol

import httpx

from ..config.models import EndpointConfig
from . import exceptions as errors
from .requests import ApiCall, JobInfo, cancel_call, parse_job, status_call, submit_call

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
RETRYABLE_EXCEPTIONS = (httpx.TimeoutException, httpx.ConnectError, httpx.RemoteProtocolError,
                        httpx.ReadError, httpx.WriteError)


class TokenCredential(Protocol):
    def get_token(self, *scopes: str, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter; long ``Retry-After`` waits are left to the orchestration."""

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 20.0
    max_retry_after: float = 60.0

    def backoff(self, attempt: int, random: Callable[[], float]) -> float:
        cap = min(self.max_delay, self.base_delay * (2 ** attempt))
        return cap * (0.5 + random() / 2)


def parse_retry_after(value: Optional[str], now: float) -> Optional[float]:
    """``Retry-After`` as seconds: either a number or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def _error_parts(response: httpx.Response) -> tuple[Optional[str], str, list[dict]]:
    """``(code, message, details)`` from an ARM-style error body, or the raw text."""
    try:
        body = response.json()
    except ValueError:
        return None, response.text.strip()[:500] or response.reason_phrase, []
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, str(body)[:500], []
    details = error.get("details") if isinstance(error.get("details"), list) else []
    return error.get("code"), str(error.get("message") or error.get("code") or response.reason_phrase), details


def _validation_summary(message: str, details: list[dict]) -> str:
    reasons = [d.get("ErrorMessage") or d.get("message") for d in details if isinstance(d, dict)]
    reasons = [r for r in reasons if r]
    return "; ".join(reasons) if reasons else message


def raise_for_response(response: httpx.Response, call: ApiCall, *, what: str) -> None:
    """Turn a non-2xx answer into the typed error a user can act on."""
    status = response.status_code
    if status < 400:
        return
    code, message, details = _error_parts(response)
    where = f"{what} ({call.method} {call.url})"
    if status == 401:
        raise errors.AuthenticationError(
            f"{where} was refused with 401: {message}. The token must be for {call.scope.removesuffix('/.default')};"
            " check the app's managed identity (or AZURE_CLIENT_ID) and that it can get such a token.",
            status_code=status, code=code)
    if status == 403:
        raise errors.AuthorizationError(
            f"{where} was refused with 403: {message}. Grant the app's identity a role such as"
            " 'AzureML Data Scientist' on the workspace.", status_code=status, code=code)
    if status == 404:
        if "no valid deployments" in message.lower():
            raise errors.NoDeploymentError(
                f"{where}: {message} Set the route's endpoint.deployment, or give the endpoint a default"
                " deployment.", status_code=status, code=code)
        if what.startswith(("job status", "cancel")):
            raise errors.JobNotFoundError(f"{where}: job not found: {message}", status_code=status, code=code)
        raise errors.NotFoundError(f"{where}: not found: {message}. Check the route's endpoint.scoring_uri.",
                                   status_code=status, code=code)
    if status in (400, 422):
        raise errors.ValidationError(f"{where} was rejected: {_validation_summary(message, details)}",
                                     status_code=status, code=code, details=details)
    if status in RETRYABLE_STATUS:
        raise errors.TransientError(f"{where} failed with {status}: {message}", status_code=status)
    raise errors.PermanentError(f"{where} failed with {status}: {message}", status_code=status, code=code)


class BatchEndpointClient:
    def __init__(self, credential: TokenCredential, *, transport: Optional[httpx.BaseTransport] = None,
                 timeout: float = 30.0, retry: RetryPolicy = RetryPolicy(),
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time,
                 random: Callable[[], float] = _random.random):
        self._credential = credential
        self._http = httpx.Client(transport=transport, timeout=timeout, follow_redirects=False)
        self._retry = retry
        self._sleep = sleep
        self._clock = clock
        self._random = random

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "BatchEndpointClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- operations ---------------------------------------------------------------------------------

    def submit(self, endpoint: EndpointConfig, body: dict, request_id: str) -> JobInfo:
        response = self.send(submit_call(endpoint, body, request_id), what="job submission")
        return self._job(response, "job submission")

    def get_job(self, endpoint: EndpointConfig, job_name: str, management_url: str, api_version: str) -> JobInfo:
        response = self.send(status_call(endpoint, job_name, management_url, api_version), what="job status")
        return self._job(response, "job status")

    def cancel(self, endpoint: EndpointConfig, job_name: str, management_url: str, api_version: str) -> None:
        call = cancel_call(endpoint, job_name, management_url, api_version)
        if call is None:
            raise errors.CancelNotSupportedError(
                "cannot cancel the job: cancelling uses the management plane, so the route needs"
                " endpoint.workspace (subscription_id, resource_group, name)")
        self.send(call, what="cancel")

    # -- transport ----------------------------------------------------------------------------------

    def send(self, call: ApiCall, *, what: str) -> httpx.Response:
        """Send with retries on throttling, 5xx and timeouts; raise typed errors otherwise."""
        last: Optional[errors.TransientError] = None
        for attempt in range(self._retry.max_attempts):
            if attempt:
                delay = self._retry.backoff(attempt - 1, self._random)
                if last is not None and last.retry_after is not None:
                    delay = last.retry_after
                log.info("retrying %s in %.1fs (attempt %d of %d): %s", what, delay, attempt + 1,
                         self._retry.max_attempts, last)
                self._sleep(delay)
            headers = dict(call.headers)
            headers["Authorization"] = f"Bearer {self._credential.get_token(call.scope).token}"
            try:
                response = self._http.request(call.method, call.url, headers=headers, json=call.body)
            except RETRYABLE_EXCEPTIONS as exc:
                last = errors.TransientError(f"{what} ({call.method} {call.url}) failed: {type(exc).__name__}")
                continue
            if response.status_code not in RETRYABLE_STATUS:
                raise_for_response(response, call, what=what)
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
            try:
                raise_for_response(response, call, what=what)
            except errors.TransientError as exc:
                last = exc
            if retry_after is not None and retry_after > self._retry.max_retry_after:
                raise errors.ThrottledError(f"{last} (Retry-After {retry_after:.0f}s)",
                                            status_code=response.status_code, retry_after=retry_after)
            last.retry_after = retry_after
        assert last is not None
        raise last

    @staticmethod
    def _job(response: httpx.Response, what: str) -> JobInfo:
        try:
            return parse_job(response.json())
        except ValueError as exc:
            raise errors.PermanentError(f"{what}: the service answered {response.status_code} with an"
                                        f" unreadable job resource: {exc}", status_code=response.status_code)
