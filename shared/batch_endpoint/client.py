"""httpx adapter for Azure ML batch endpoints: submit a job, read its status, cancel it.

The transport, the credential, the sleep function and the random source are injected, so tests can hand
it a loopback server, an ``httpx.MockTransport`` that injects faults, or a fake clock.
A token is fetched for every attempt (azure-identity caches and refreshes it), so a 24-hour run never
sends an expired one; tokens never reach a log line or an exception message.

GETs are retried freely. A POST that creates a job is not: an answer lost after the request was sent
(``SubmitAmbiguousError``) may mean the job exists, so ``submit_attempt`` looks for the run attempt's
job (by name, by its labels, by its output path) and adopts it before it ever posts again.
"""

from __future__ import annotations

import email.utils
import logging
import random as _random
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol

import httpx

from ..addresses import ForbiddenAddress

from ..config.models import EndpointConfig
from . import exceptions as errors
from .attempts import BY_NAME, TAG_ATTEMPT_ID, AttemptIdentity, choose
from .requests import (ApiCall, JobInfo, cancel_call, data_container_call, find_call, list_call, next_page_call,
                       parse_job, status_call, submit_call)

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
RETRYABLE_EXCEPTIONS = (httpx.TimeoutException, httpx.ConnectError, httpx.RemoteProtocolError,
                        httpx.ReadError, httpx.WriteError)
# Raised before a byte of the request left this machine: a POST that fails so created nothing.
NOT_SENT_EXCEPTIONS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Throttling is decided before the request is processed (an assumption the SDK shares: it retries 429).
NOT_CREATED_STATUS = frozenset({429})


class TokenCredential(Protocol):
    def get_token(self, *scopes: str, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class SubmitOutcome:
    """The attempt's job, and whether it was created now or adopted (found, and how)."""

    job: JobInfo
    adopted: bool = False
    found_by: Optional[str] = None  # attempts.BY_NAME / BY_TAG / BY_OUTPUT
    posts: int = 0


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter; long ``Retry-After`` waits are left to the orchestration."""

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 20.0
    max_retry_after: float = 60.0
    looks_after_ambiguous: int = 2  # look-ups (with backoff) for the job before a POST is sent again
    max_posts: int = 3              # POSTs per submit_attempt; then the orchestration's retry takes over
    list_pages: int = 5             # pages of the newest jobs scanned for an attempt's labels or output

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
            f"{where} was refused with 403: {message}. Grant the app's identity the 'Batch runs invoker'"
            " role on the workspace (infra/ assigns it; docs/deploy.md, \"Roles\").", status_code=status, code=code)
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
                 random: Callable[[], float] = _random.random, cloud: Optional[Any] = None):
        from ..config.clouds import current_cloud

        self._credential = credential
        self._cloud = cloud or current_cloud()   # AZURE_CLOUD: the audience of every token
        from ..outbound import client_transport

        self._http = httpx.Client(transport=client_transport(transport), timeout=timeout, follow_redirects=False)
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
        """One POST. Retried only while no job can have been created (no connection, 429); any other
        lost answer raises ``SubmitAmbiguousError``, and a reused client name ``JobNameInUseError``."""
        try:
            response = self.send(submit_call(endpoint, body, request_id), what="job submission", creates=True)
        except errors.PermanentError as exc:
            name = (body.get("properties") or {}).get("name")
            if name and (exc.status_code == 409 or (exc.status_code == 400 and "already exists" in exc.message)):
                raise errors.JobNameInUseError(f"job submission: the job name {name!r} is taken: {exc.message}",
                                               status_code=exc.status_code, code=exc.code) from None
            raise
        try:
            return self._job(response, "job submission")
        except errors.PermanentError as exc:  # a 2xx: the job exists, only its description was lost
            raise errors.SubmitAnswerUnreadableError(f"{exc.message}; the job exists and is looked up",
                                                     status_code=exc.status_code) from None

    def submit_attempt(self, endpoint: EndpointConfig, body: dict, identity: AttemptIdentity, request_id: str,
                       management_url: str, api_version: str, *, searchable: bool = True,
                       before_post: Optional[Callable[[], None]] = None) -> SubmitOutcome:
        """Exactly one job per run attempt, however often this runs and whatever answers get lost.

        1. Look for the attempt's job first: this call may be a repeat of one whose POST went through.
        2. POST (``before_post`` first: it may refuse, raising). A taken name means the job exists: adopt it.
        3. After an ambiguous answer, look again (with backoff) and adopt what is found; POST again only
           when the look-ups found nothing, at most ``max_posts`` times in all. When the attempt is not
           ``searchable`` (``attempts.searchable``: not finding it proves nothing), never POST again:
           ``SubmitUncertainError``.
        A look-up that fails raises ``JobLookupError``: no POST is sent without a successful look first.
        """
        def find() -> Optional[tuple[JobInfo, str]]:
            return self.find_attempt_job(endpoint, identity, management_url, api_version)

        found = find()
        if found is not None:
            return SubmitOutcome(found[0], adopted=True, found_by=found[1])
        posts = 0
        while True:
            posts += 1
            if before_post is not None:
                before_post()
            try:
                return SubmitOutcome(self.submit(endpoint, body, request_id), posts=posts)
            except errors.JobNameInUseError as exc:
                job = self.find_job(endpoint, identity.job_name, management_url, api_version)
                if job is None:
                    raise errors.JobLookupError(f"{exc.message}; yet no job of that name can be read") from None
                return SubmitOutcome(job, adopted=True, found_by=BY_NAME, posts=posts)
            except errors.SubmitAmbiguousError as exc:
                for look in range(self._retry.looks_after_ambiguous):
                    self._sleep(self._retry.backoff(look, self._random))
                    found = find()
                    if found is not None:
                        log.info("adopted job %s of attempt %s after an ambiguous answer (%s)", found[0].name,
                                 identity.job_name, exc)
                        return SubmitOutcome(found[0], adopted=True, found_by=found[1], posts=posts)
                if not searchable:
                    raise errors.SubmitUncertainError(
                        f"{exc.message}; the attempt's job cannot be searched for here (no job list, or nothing"
                        f" of the attempt's own to find), so it is not posted again", status_code=exc.status_code
                    ) from None
                if posts >= self._retry.max_posts or isinstance(exc, errors.SubmitAnswerUnreadableError):
                    raise  # transient: the activity's retry looks first again, and adopts the job once found
                log.warning("no job of attempt %s found after an ambiguous answer (%s); posting again",
                            identity.job_name, exc)

    def find_job(self, endpoint: EndpointConfig, job_name: str, management_url: str,
                 api_version: str) -> Optional[JobInfo]:
        """The job of that name, or None when the service has none."""
        try:
            response = self.send(find_call(endpoint, job_name, management_url, api_version), what="job status")
        except errors.JobNotFoundError:
            return None
        return self._job(response, "job status")

    def list_jobs(self, endpoint: EndpointConfig, management_url: str, api_version: str, *,
                  properties_filter: Optional[dict[str, str]] = None,
                  max_pages: int = 1) -> Optional[list[JobInfo]]:
        """Up to ``max_pages`` pages of jobs, newest first; None when no list can be had here.

        A list is a search aid, never a reason to fail a submit: a permanent refusal or an unreadable first
        page (e.g. a data plane that serves no list) means "no list"; a bad later page ends the scan.
        Transient errors raise, so the caller can wait and look again.
        """
        call: Optional[ApiCall] = list_call(endpoint, management_url, api_version,
                                            properties_filter=properties_filter)
        jobs: list[JobInfo] = []
        for page in range(max_pages):
            if call is None:
                break
            try:
                response = self.send(call, what="job list")
                body = response.json()
            except (errors.PermanentError, ValueError) as exc:
                log.warning("job list (%s %s) unusable: %s", call.method, call.url, type(exc).__name__)
                return None if page == 0 else jobs
            if not isinstance(body, dict) or not isinstance(body.get("value"), list):
                log.warning("job list (%s %s) answered without a 'value' list", call.method, call.url)
                return None if page == 0 else jobs
            for resource in body["value"]:
                try:
                    jobs.append(parse_job(resource))
                except ValueError:
                    continue
            call = next_page_call(call, body.get("nextLink"))
        return jobs

    def find_attempt_job(self, endpoint: EndpointConfig, identity: AttemptIdentity, management_url: str,
                         api_version: str, *, owners_only: bool = False,
                         exclude: str = "") -> Optional[tuple[JobInfo, str]]:
        """``(job, how)`` for the job carrying ``identity``: by name (one GET), then the job list filtered
        on the attempt's property, then the newest ``list_pages`` pages matched on labels and output path.
        ``owners_only`` skips failed and cancelled jobs; ``exclude`` names a job to ignore."""
        try:
            if identity.job_name != exclude:
                job = self.find_job(endpoint, identity.job_name, management_url, api_version)
                if job is not None:
                    picked = choose(identity, [job], owners_only=owners_only)
                    if picked is not None:
                        return picked
            for pages, wanted in ((1, {TAG_ATTEMPT_ID: identity.job_name}), (self._retry.list_pages, None)):
                jobs = self.list_jobs(endpoint, management_url, api_version, properties_filter=wanted,
                                      max_pages=pages)
                if jobs is None:
                    return None  # no list here: only the name look-up was possible
                picked = choose(identity, jobs, exclude=exclude, owners_only=owners_only)
                if picked is not None:
                    return picked
        except errors.TransientError as exc:
            raise errors.JobLookupError(f"could not look for the job of attempt {identity.job_name}: {exc}",
                                        status_code=exc.status_code) from None
        return None

    def get_job(self, endpoint: EndpointConfig, job_name: str, management_url: str, api_version: str) -> JobInfo:
        response = self.send(status_call(endpoint, job_name, management_url, api_version), what="job status")
        return self._job(response, "job status")

    def latest_asset_version(self, endpoint: EndpointConfig, asset: str, management_url: str,
                             api_version: str) -> str:
        """The latest version of a data asset (``azureml:<name>@latest``), as the SDK resolves it."""
        response = self.send(data_container_call(endpoint, asset, management_url, api_version),
                             what=f"data asset {asset!r}")
        try:
            version = (response.json().get("properties") or {}).get("latestVersion")
        except (ValueError, AttributeError):
            version = None
        if not isinstance(version, str) or not version:
            raise errors.PermanentError(f"data asset {asset!r}: the workspace answered without a latestVersion",
                                        status_code=response.status_code)
        return version

    def cancel(self, endpoint: EndpointConfig, job_name: str, management_url: str, api_version: str) -> None:
        call = cancel_call(endpoint, job_name, management_url, api_version)
        if call is None:
            raise errors.CancelNotSupportedError(
                "cannot cancel the job: cancelling uses the management plane, so the route needs"
                " endpoint.workspace (subscription_id, resource_group, name)")
        self.send(call, what="cancel")

    # -- transport ----------------------------------------------------------------------------------

    def send(self, call: ApiCall, *, what: str, creates: bool = False) -> httpx.Response:
        """Send with retries on throttling, 5xx and timeouts; raise typed errors otherwise.

        ``creates`` (a POST that creates a job): retry only what cannot have created anything; a lost
        answer after the request went out raises ``SubmitAmbiguousError`` at once.
        """
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
            headers["Authorization"] = f"Bearer {self._credential.get_token(self._cloud.scope(call.scope)).token}"
            try:
                response = self._http.request(call.method, call.url, headers=headers, json=call.body)
            except ForbiddenAddress as exc:  # never sent: no job can exist, and asking again cannot help
                raise errors.PermanentError(f"{what}: {exc}") from None
            except RETRYABLE_EXCEPTIONS as exc:
                text = f"{what} ({call.method} {call.url}) failed: {type(exc).__name__}"
                if creates and not isinstance(exc, NOT_SENT_EXCEPTIONS):
                    raise errors.SubmitAmbiguousError(f"{text}; the job may have been created") from None
                last = (errors.JobNotCreatedError if creates else errors.TransientError)(text)
                continue
            if response.status_code not in RETRYABLE_STATUS:
                raise_for_response(response, call, what=what)
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
            try:
                raise_for_response(response, call, what=what)
            except errors.TransientError as exc:
                last = exc
            if creates and response.status_code not in NOT_CREATED_STATUS:
                raise errors.SubmitAmbiguousError(f"{last}; the job may have been created",
                                                  status_code=response.status_code, retry_after=retry_after)
            if retry_after is not None and retry_after > self._retry.max_retry_after:
                raise errors.ThrottledError(f"{last} (Retry-After {retry_after:.0f}s)",
                                            status_code=response.status_code, retry_after=retry_after)
            if creates:
                last = errors.JobNotCreatedError(str(last), status_code=response.status_code)
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
