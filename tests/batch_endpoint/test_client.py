import logging
from types import SimpleNamespace

import httpx
import pytest

from shared.batch_endpoint import exceptions as errors
from shared.batch_endpoint.client import BatchEndpointClient, RetryPolicy, parse_retry_after
from shared.config.models import EndpointConfig, Workspace

from .scripted_server import ScriptedServer

JOB = {"id": "/subscriptions/s/jobs/job-1", "name": "job-1",
       "properties": {"status": "Preparing",
                      "interactionEndpoints": {"Studio": {"endpoint": "https://ml.azure.com/runs/job-1"}}}}
VALIDATION_BODY = {"error": {"code": "UserError", "message": "The Job request provided has the following validation"
                             " errors. Please resolve them and try again.",
                             "details": [{"PropertyName": "OutputData.Values[0].JobOutputType",
                                          "ErrorMessage": "Job output type must be 'uri_file'.",
                                          "AttemptedValue": "uri_folder", "ErrorCode": "PredicateValidator"}]}}


class ExpiringCredential:
    """Issues a new token whenever the (fake) clock passes the previous one's expiry, like azure-identity."""

    def __init__(self, clock):
        self.clock = clock
        self.issued = []
        self.scopes = []

    def get_token(self, *scopes, **kwargs):
        self.scopes.append(scopes)
        if not self.issued or self.clock() >= self.issued[-1].expires_on:
            self.issued.append(SimpleNamespace(token=f"secret-token-{len(self.issued) + 1}",
                                               expires_on=self.clock() + 3600))
        return self.issued[-1]


class FakeClock:
    def __init__(self):
        self.now = 1_700_000_000.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def server():
    scripted = ScriptedServer()
    base = scripted.start()
    scripted.base = base
    yield scripted
    scripted.stop()


@pytest.fixture
def clock():
    return FakeClock()


def make_client(clock, transport=None, **retry):
    credential = ExpiringCredential(clock)
    client = BatchEndpointClient(credential, transport=transport, sleep=clock.sleep, clock=clock,
                                 random=lambda: 1.0, retry=RetryPolicy(**retry))
    return client, credential


def endpoint(server, deployment=None, workspace=None):
    return EndpointConfig(f"{server.base}/endpoints/heart/jobs", deployment, workspace)


def test_submit_sends_body_headers_and_a_data_plane_token(server, clock):
    server.answer(201, JOB)
    client, credential = make_client(clock)
    job = client.submit(endpoint(server, deployment="blue"), {"properties": {"InputData": {}}}, "req-1")
    assert (job.name, job.status, job.studio_url) == ("job-1", "Preparing", "https://ml.azure.com/runs/job-1")
    request = server.received[0]
    assert (request.method, request.path) == ("POST", "/endpoints/heart/jobs")
    assert request.headers["Authorization"] == "Bearer secret-token-1"
    assert request.headers["azureml-model-deployment"] == "blue"
    assert request.headers["repeatability_request-id"] == "req-1"
    assert request.body == {"properties": {"InputData": {}}}
    assert credential.scopes == [("https://ml.azure.com/.default",)]


def test_a_token_is_fetched_per_call_so_an_expired_one_is_never_reused(server, clock):
    server.answer(200, JOB).answer(200, JOB)
    client, credential = make_client(clock)
    client.get_job(endpoint(server), "job-1", "unused", "2024-04-01")
    clock.now += 2 * 3600  # a long job: the first token has expired by the next poll
    client.get_job(endpoint(server), "job-1", "unused", "2024-04-01")
    assert [r.headers["Authorization"] for r in server.received] == ["Bearer secret-token-1",
                                                                     "Bearer secret-token-2"]


def test_retry_after_is_honoured_on_429(server, clock):
    server.answer(429, {"error": {"code": "TooManyRequests", "message": "slow down"}}, {"Retry-After": "7"})
    server.answer(201, JOB)
    client, _ = make_client(clock)
    assert client.submit(endpoint(server), {}, "r").name == "job-1"
    assert clock.slept == [7.0] and len(server.received) == 2


def test_retry_after_as_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", 1445412480.0) == 30.0
    assert parse_retry_after("garbage", 0) is None and parse_retry_after("2.5", 0) == 2.5


def test_a_long_retry_after_is_left_to_the_orchestration(server, clock):
    server.answer(429, {"error": {"message": "throttled"}}, {"Retry-After": "600"})
    client, _ = make_client(clock)
    with pytest.raises(errors.ThrottledError) as caught:
        client.get_job(endpoint(server), "job-1", "unused", "2024-04-01")
    assert caught.value.retry_after == 600 and clock.slept == []


def test_5xx_backoff_is_exponential_jittered_and_capped(server, clock):
    for _ in range(5):
        server.answer(503, {"error": {"message": "busy"}})
    client, _ = make_client(clock, max_attempts=5, base_delay=1.0, max_delay=3.0)
    with pytest.raises(errors.TransientError, match="failed with 503: busy"):
        client.get_job(endpoint(server), "job-1", "unused", "2024-04-01")
    assert clock.slept == [1.0, 2.0, 3.0, 3.0]  # random()=1.0 gives the cap of each step
    assert len(server.received) == 5


def test_jitter_spreads_delays_below_the_cap():
    policy = RetryPolicy(base_delay=2.0, max_delay=100.0)
    assert policy.backoff(2, lambda: 0.0) == 4.0 and policy.backoff(2, lambda: 1.0) == 8.0


@pytest.mark.parametrize("status, body, error_type, message", [
    (400, VALIDATION_BODY, errors.ValidationError, "Job output type must be 'uri_file'."),
    (401, {"error": {"message": "Audience or service not allowed"}}, errors.AuthenticationError,
     "The token must be for https://ml.azure.com"),
    (403, {"error": {"message": "denied"}}, errors.AuthorizationError, "AzureML Data Scientist"),
    (404, {"error": {"message": "No valid deployments to route to. Please check that the endpoint has at least one"
                                " deployment with positive weight values or use a deployment specific header to"
                                " route."}}, errors.NoDeploymentError, "Set the route's endpoint.deployment"),
    (404, {"error": {"message": "endpoint missing"}}, errors.NotFoundError, "Check the route's endpoint.scoring_uri"),
])
def test_permanent_errors_are_typed_actionable_and_not_retried(server, clock, status, body, error_type, message):
    server.answer(status, body)
    client, _ = make_client(clock)
    with pytest.raises(error_type, match=None) as caught:
        client.submit(endpoint(server), {}, "r")
    assert message in str(caught.value)
    assert isinstance(caught.value, errors.PermanentError) and caught.value.status_code == status
    assert len(server.received) == 1 and clock.slept == []
    if error_type is errors.ValidationError:
        assert caught.value.details[0]["PropertyName"] == "OutputData.Values[0].JobOutputType"


def test_unknown_job_on_status_is_job_not_found(server, clock):
    server.answer(404, {"error": {"message": "job nope not found"}})
    client, _ = make_client(clock)
    with pytest.raises(errors.JobNotFoundError):
        client.get_job(endpoint(server), "nope", "unused", "2024-04-01")


def test_cancel_goes_to_the_management_plane_with_a_management_token(server, clock):
    server.answer(202, None, {"Location": "x"})
    client, credential = make_client(clock)
    ws = Workspace("sub", "rg", "ws")
    client.cancel(endpoint(server, workspace=ws), "job-1", f"{server.base}/management", "2024-04-01")
    request = server.received[0]
    assert request.method == "POST"
    assert request.path == ("/management/subscriptions/sub/resourceGroups/rg/providers/"
                            "Microsoft.MachineLearningServices/workspaces/ws/jobs/job-1/cancel?api-version=2024-04-01")
    assert credential.scopes == [("https://management.azure.com/.default",)]


def test_cancel_without_workspace_explains_what_to_configure(clock):
    client, _ = make_client(clock)
    with pytest.raises(errors.CancelNotSupportedError, match="endpoint.workspace"):
        client.cancel(EndpointConfig("https://x.inference.ml.azure.com/jobs"), "job-1", "https://m", "v")


@pytest.mark.parametrize("fault", [httpx.ConnectError, httpx.ReadTimeout, httpx.ConnectTimeout])
def test_connect_and_read_timeouts_are_retried(clock, fault):
    calls = []

    def handler(request):
        calls.append(request)
        if len(calls) < 3:
            raise fault("injected", request=request)
        return httpx.Response(200, json=JOB)

    client, _ = make_client(clock, transport=httpx.MockTransport(handler))
    job = client.get_job(EndpointConfig("https://heart.eastus.inference.ml.azure.com/jobs"), "job-1", "m", "v")
    assert job.status == "Preparing" and len(calls) == 3 and len(clock.slept) == 2


def test_timeouts_that_persist_raise_transient_error(clock):
    def handler(request):
        raise httpx.ReadTimeout("injected", request=request)

    client, _ = make_client(clock, transport=httpx.MockTransport(handler), max_attempts=3)
    with pytest.raises(errors.TransientError, match="ReadTimeout"):
        client.get_job(EndpointConfig("https://heart.eastus.inference.ml.azure.com/jobs"), "job-1", "m", "v")


def test_tokens_never_reach_logs_or_errors(server, clock, caplog):
    server.answer(503, {"error": {"message": "busy"}}).answer(401, {"error": {"message": "expired"}})
    client, credential = make_client(clock)
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(errors.AuthenticationError) as caught:
            client.get_job(endpoint(server), "job-1", "unused", "2024-04-01")
    token = credential.issued[0].token
    assert token not in caplog.text and token not in str(caught.value)
    assert "retrying job status" in caplog.text
