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


# -- a POST that creates a job: ambiguous vs definitely-not-created answers (HTTP-boundary faults) ---------

SCORING = "https://heart.eastus.inference.ml.azure.com/jobs"


def counting(fault_for_call):
    """A MockTransport handler: ``fault_for_call(n, request)`` raises, returns a Response, or None (201 JOB)."""
    calls = []

    def handler(request):
        calls.append(request)
        answer = fault_for_call(len(calls), request)
        return answer if answer is not None else httpx.Response(201, json=JOB)
    return handler, calls


@pytest.mark.parametrize("fault", [httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError,
                                   httpx.WriteError, httpx.WriteTimeout])
def test_a_lost_answer_to_a_post_is_ambiguous_and_never_retried_blindly(clock, fault):
    def fail(n, request):
        raise fault("injected", request=request)
    handler, calls = counting(fail)
    client, _ = make_client(clock, transport=httpx.MockTransport(handler))
    with pytest.raises(errors.SubmitAmbiguousError, match="may have been created"):
        client.submit(EndpointConfig(SCORING), {"properties": {}}, "r")
    assert len(calls) == 1 and clock.slept == []


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
def test_a_5xx_or_408_to_a_post_is_ambiguous(clock, status):
    handler, calls = counting(lambda n, r: httpx.Response(status, json={"error": {"message": "busy"}}))
    client, _ = make_client(clock, transport=httpx.MockTransport(handler))
    with pytest.raises(errors.SubmitAmbiguousError) as caught:
        client.submit(EndpointConfig(SCORING), {"properties": {}}, "r")
    assert isinstance(caught.value, errors.TransientError) and caught.value.status_code == status
    assert len(calls) == 1


@pytest.mark.parametrize("fault", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
def test_a_post_that_never_left_is_sent_again(clock, fault):
    def fail(n, request):
        if n < 3:
            raise fault("injected", request=request)
    handler, calls = counting(fail)
    client, _ = make_client(clock, transport=httpx.MockTransport(handler))
    assert client.submit(EndpointConfig(SCORING), {"properties": {}}, "r").name == "job-1"
    assert len(calls) == 3


def test_a_post_that_never_connects_ends_as_not_created(clock):
    def fail(n, request):
        raise httpx.ConnectError("refused", request=request)
    handler, calls = counting(fail)
    client, _ = make_client(clock, transport=httpx.MockTransport(handler), max_attempts=2)
    with pytest.raises(errors.JobNotCreatedError):
        client.submit(EndpointConfig(SCORING), {"properties": {}}, "r")


def test_throttled_posts_end_as_not_created(clock):
    handler, calls = counting(lambda n, r: httpx.Response(429, json={"error": {"message": "slow"}},
                                                          headers={"Retry-After": "1"}))
    client, _ = make_client(clock, transport=httpx.MockTransport(handler), max_attempts=3)
    with pytest.raises(errors.JobNotCreatedError):
        client.submit(EndpointConfig(SCORING), {"properties": {}}, "r")
    assert len(calls) == 3 and clock.slept == [1.0, 1.0]


@pytest.mark.parametrize("status, message", [(409, "Conflict"), (400, "A job named 'n' already exists")])
def test_a_taken_client_name_is_its_own_error(clock, status, message):
    handler, _ = counting(lambda n, r: httpx.Response(status, json={"error": {"message": message}}))
    client, _ = make_client(clock, transport=httpx.MockTransport(handler))
    with pytest.raises(errors.JobNameInUseError, match="'n' is taken"):
        client.submit(EndpointConfig(SCORING), {"properties": {"name": "n"}}, "r")


def test_a_400_without_a_client_name_stays_a_validation_error(clock):
    handler, _ = counting(lambda n, r: httpx.Response(400, json=VALIDATION_BODY))
    client, _ = make_client(clock, transport=httpx.MockTransport(handler))
    with pytest.raises(errors.ValidationError):
        client.submit(EndpointConfig(SCORING), {"properties": {}}, "r")


def test_a_next_link_to_another_host_is_not_followed_with_our_token(clock):
    seen = []

    def handler(request):
        seen.append(str(request.url))
        return httpx.Response(200, json={"value": [JOB], "nextLink": "https://evil.example/steal?page=2"})

    client, _ = make_client(clock, transport=httpx.MockTransport(handler))
    jobs = client.list_jobs(EndpointConfig(SCORING), "https://management.azure.com", "2024-04-01", max_pages=5)
    assert [j.name for j in jobs] == ["job-1"] and len(seen) == 1


def test_pages_are_followed_on_the_same_host_up_to_the_limit(clock):
    def handler(request):
        page = int(request.url.params.get("$skip", "0"))
        return httpx.Response(200, json={"value": [{**JOB, "name": f"job-{page}"}],
                                         "nextLink": f"{SCORING}?$skip={page + 1}"})

    client, _ = make_client(clock, transport=httpx.MockTransport(handler))
    jobs = client.list_jobs(EndpointConfig(SCORING), "https://m", "v", max_pages=3)
    assert [j.name for j in jobs] == ["job-0", "job-1", "job-2"]


def test_a_data_plane_without_a_job_list_means_only_the_name_can_be_looked_up(clock):
    handler, calls = counting(lambda n, r: httpx.Response(404 if r.method == "GET" else 201,
                                                          json={"error": {"message": "nope"}}))
    client, _ = make_client(clock, transport=httpx.MockTransport(handler))
    assert client.list_jobs(EndpointConfig(SCORING), "https://m", "v") is None


def test_the_arm_list_asks_for_the_attempts_property(clock):
    seen = []

    def handler(request):
        seen.append(request)
        return httpx.Response(200, json={"value": []})

    client, credential = make_client(clock, transport=httpx.MockTransport(handler))
    ws = Workspace("sub", "rg", "ws")
    client.list_jobs(EndpointConfig(SCORING, None, ws), "https://management.azure.com", "2024-04-01",
                     properties_filter={"batchrun.attempt_id": "heart-abc-a1"})
    assert str(seen[0].url) == ("https://management.azure.com/subscriptions/sub/resourceGroups/rg/providers/"
                                "Microsoft.MachineLearningServices/workspaces/ws/jobs?api-version=2024-04-01"
                                "&properties=batchrun.attempt_id=heart-abc-a1")
    assert credential.scopes == [("https://management.azure.com/.default",)]


@pytest.mark.parametrize("answer", [httpx.Response(400, json={"error": {"message": "GET not supported"}}),
                                    httpx.Response(405, text="Method Not Allowed"),
                                    httpx.Response(403, json={"error": {"message": "no list permission"}}),
                                    httpx.Response(200, text="<html>hello</html>"),
                                    httpx.Response(200, json={"jobs": []})])
def test_a_list_the_service_does_not_offer_never_fails_a_look_up(clock, answer):
    client, _ = make_client(clock, transport=httpx.MockTransport(lambda request: answer))
    assert client.list_jobs(EndpointConfig(SCORING), "https://m", "v") is None


# --- issue 16 case 2: where nothing can be searched, a lost answer is never followed by another POST ------

def test_an_attempt_is_searchable_only_with_a_job_list_and_something_of_its_own_to_find():
    from shared.batch_endpoint.attempts import searchable

    ws = Workspace("0000", "rg", "ws")
    out = "azureml://datastores/out/paths/r/x.csv"
    assert searchable(EndpointConfig(SCORING, None, ws), out)
    assert not searchable(EndpointConfig(SCORING, None, None), out)          # no workspace: no job list
    assert not searchable(EndpointConfig(SCORING, None, ws), None)           # no output of its own
    assert searchable(EndpointConfig(SCORING, None, ws, "pipeline_component"), None)  # properties are kept
    assert not searchable(None, out)


def test_an_unsearchable_attempt_posts_once_and_says_the_submit_is_uncertain(clock):
    from shared.batch_endpoint.attempts import AttemptIdentity

    posts = []

    def handler(request):
        if request.method == "POST":
            posts.append(request)
            raise httpx.ReadTimeout("lost", request=request)
        return httpx.Response(404, json={"error": {"code": "UserError", "message": "not found"}})

    client, _ = make_client(clock, transport=httpx.MockTransport(handler))
    marks = []
    identity = AttemptIdentity.of("heart-r1", 1, "azureml://datastores/out/paths/r/x.csv")
    with pytest.raises(errors.SubmitUncertainError, match="not posted again") as caught:
        client.submit_attempt(EndpointConfig(SCORING), {"properties": {}}, identity, "r", "http://127.0.0.1:9/m",
                              "2024-04-01", searchable=False, before_post=lambda: marks.append(1))
    assert len(posts) == 1 and marks == [1]
    assert not isinstance(caught.value, errors.TransientError)  # the orchestration's retry must not post again
    # the same lost answer on a searchable attempt posts again after looking (max_posts), as before
    posts.clear()
    with pytest.raises(errors.SubmitAmbiguousError):
        client.submit_attempt(EndpointConfig(SCORING), {"properties": {}}, identity, "r", "http://127.0.0.1:9/m",
                              "2024-04-01")
    assert len(posts) == RetryPolicy().max_posts
