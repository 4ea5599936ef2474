"""Hostile catalogue, surfaces ``outbound.*``: a credential planted in an outbound URL, in every form it can
take (a query parameter of any name, a webhook path segment, user info, a fragment), reaches no log record and
no span; addresses the app must never call are refused at load and at call time; redaction catches the
escaped, quoted and prefixed forms.

Notifications are real: :func:`shared.delivery.notify.send_notification` posts to an HTTP server on
127.0.0.1, through the httpx client instrumentation (as ``azure-monitor-opentelemetry`` switches it on) into
the OpenTelemetry SDK's in-memory exporter, behind the app's :mod:`shared.span_redaction` processor. Every log
record (any logger) and every span (name, attributes, events, status) of the case is scanned.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared import span_redaction, telemetry
from shared.addresses import ForbiddenAddress
from shared.config import ConfigError, parse_settings
from shared.delivery.notify import send_notification, send_to_webhook
from shared.outbound import GuardedTransport

SECRET = "Pl4ntedS3cretValue0123456789xyz"   # looks like a key: refused in a literal URL
PLAIN = "plantedplainvaluewithoutdigits"      # looks like nothing: allowed in a literal URL, still never logged
ENV = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}


# --- the world: a loopback receiver, the SDK with an in-memory exporter, the httpx instrumentation ---------

class Receiver:
    """A real HTTP server on 127.0.0.1 that records each POST's raw path and headers."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture(scope="module")
def exporter():
    """The global SDK provider (one per process: reuse one another test set), with the app's redacting processor
    first and an in-memory exporter; httpx instrumented as the Azure Monitor distro does it."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    assert span_redaction.install(provider)
    instrumentor = HTTPXClientInstrumentor()
    instrumentor.instrument()
    yield memory
    instrumentor.uninstrument()


def span_texts(spans) -> list[str]:
    texts = []
    for span in spans:
        texts.append(span.name)
        texts.extend(f"{k}={v}" for k, v in (span.attributes or {}).items())
        for event in span.events:
            texts.extend(f"{k}={v}" for k, v in (event.attributes or {}).items())
        texts.append(span.status.description or "")
    return texts


def record_texts(caplog) -> list[str]:
    texts = []
    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_info:
            texts.append(logging.Formatter().formatException(record.exc_info))
        texts.append(record.exc_text or "")
    return texts


def document(webhook: dict) -> dict:
    route = {"name": "hook", "match": {"container": "landing", "prefix": "hook/"},
             "endpoint": {"scoring_uri": "http://127.0.0.1:9/endpoints/hook/jobs"},
             "output": {"datastore": "ws", "path": "o/{run_id}/p.csv"},
             "notify": {"webhook": webhook}}
    return {"datastores": {"ws": {"account_url": "http://127.0.0.1:10000/devstoreaccount1", "container": "out"}},
            "routes": [route]}


def payload() -> dict:
    return {"summary": {"run_id": "hook-1", "route": "hook", "outcome": "Succeeded",
                        "finished_at": "2024-06-01T12:00:00Z", "notification_id": "hook-1:Succeeded:x"}}


# --- 1. a credential in an outbound URL, every form, through a real notification -------------------------

#: (case, how the route names the URL, the URL after http://127.0.0.1:<port>, the secret planted)
QUERY_NAMES = ("apikey", "key", "api-key", "subscription-key", "code", "sig", "token", "Signature", "x", "auth_hash",
               "client-id", "api-version")
URL_FORMS = [(f"setting-query-{name}", "setting", f"/hooks/in?{name}={SECRET}&api-version=2024-04-01", SECRET)
             for name in QUERY_NAMES] + [
    ("setting-query-second-of-three", "setting", f"/hooks/in?a=1&zz-custom={SECRET}&b=2", SECRET),
    ("setting-slack-path", "setting", f"/services/T0001/B0002/{SECRET}", SECRET),
    ("setting-teams-path", "setting", f"/webhookb2/g@t/IncomingWebhook/{SECRET}/0000-1111", SECRET),
    ("setting-discord-path", "setting", f"/api/webhooks/1234/{SECRET}", SECRET),
    ("setting-zapier-path", "setting", f"/hooks/catch/12/{SECRET}/", SECRET),
    ("setting-logic-apps-sig", "setting", "/workflows/w1/triggers/manual/paths/invoke?api-version=2016-10-01"
                                          f"&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SECRET}", SECRET),
    ("setting-fragment", "setting", f"/hooks/in#{SECRET}", SECRET),
    ("literal-plain-query-value", "literal", f"/hooks/in?tenant={PLAIN}", PLAIN),
    ("literal-plain-query-odd-name", "literal", f"/hooks/in?q.9_-x={PLAIN}&region=west", PLAIN),
]


@pytest.mark.parametrize("trace_context", [True, False], ids=["traceparent-on", "traceparent-off"])
@pytest.mark.parametrize("case, source, tail, secret", URL_FORMS, ids=[f[0] for f in URL_FORMS])
def test_a_credential_in_a_webhook_url_reaches_no_log_record_and_no_span(
        catalogue, caplog, receiver, exporter, case, source, tail, secret, trace_context):
    url = f"http://127.0.0.1:{receiver.port}{tail}"
    hook = {"url_setting": "WEBHOOK_URL"} if source == "setting" else {"url": url}
    environ = {**ENV, "WEBHOOK_URL": url}
    with catalogue.case("outbound.webhook_url", f"{case}-{'trace' if trace_context else 'notrace'}",
                        secrets=[secret]) as c:
        settings = parse_settings(document({**hook, "send_trace_context": trace_context}), environ)
        exporter.clear()
        before = len(receiver.requests)
        with telemetry.span("notify", route="hook", run_id="hook-1"):
            result = send_notification(payload(), settings, environ)
        c.check(result == {"sent": ["webhook"], "failed": {}}, f"result {result}")
        [(path, headers)] = receiver.requests[before:]
        c.check(secret in path or "#" in tail, f"the receiver did not get the planted URL: {path}")
        spans = exporter.get_finished_spans()
        client_spans = [s for s in spans if s.kind == trace.SpanKind.CLIENT]
        if trace_context:  # the instrumentation ran: its span holds the URL (masked), the receiver its traceparent
            c.check("traceparent" in headers, "send_trace_context: true sent no traceparent")
            c.check(len(client_spans) == 1, f"client spans {[s.name for s in client_spans]}")
            full = dict(client_spans[0].attributes).get("url.full") or dict(client_spans[0].attributes).get("http.url")
            c.check(full is not None and "***" in full, f"client span URL {full!r}")
        else:
            c.check("traceparent" not in headers, "a third party got the app's traceparent")
            c.check(not client_spans, "the webhook call was traced although send_trace_context is off")
        c.check(any(r.name == "httpx" and "HTTP Request: POST" in r.getMessage() for r in caplog.records),
                "httpx logged no request line: the log scan would prove nothing")
        c.no_secret_in(*span_texts(spans), *record_texts(caplog), json.dumps(result))


def test_a_credential_in_a_literal_url_is_refused_pointing_to_url_setting(catalogue, caplog):
    literal = [("literal-apikey", f"https://hooks.example.com/in?apikey={SECRET}"),
               ("literal-keyish-value", f"https://hooks.example.com/in?id={SECRET}"),
               ("literal-slack-path", f"https://hooks.slack.com/services/T0/B0/{SECRET}"),
               ("literal-teams-path", f"https://x.webhook.office.com/webhookb2/a@b/IncomingWebhook/{SECRET}/c"),
               ("literal-userinfo", f"https://user:{SECRET}@hooks.example.com/in"),
               ("literal-userinfo-no-password", f"https://{SECRET}@hooks.example.com/in"),
               ("literal-fragment", f"https://hooks.example.com/in#{SECRET}")]
    for name, url in literal:
        with catalogue.case("outbound.webhook_literal", name, secrets=[SECRET]) as c:
            with pytest.raises(ConfigError) as caught:
                parse_settings(document({"url": url}), ENV)
            problems = caught.value.problems
            c.check(any(p.startswith("route 'hook': notify.webhook.url: must not carry credentials")
                        and "url_setting" in p for p in problems), f"problems {problems}")
            c.no_secret_in(*problems, str(caught.value))


@pytest.mark.parametrize("webhook, expected", [
    ({}, "give exactly one of url"),
    ({"url": "https://h.example.com/x", "url_setting": "HOOK"}, "give exactly one of url"),
    ({"url_setting": "not a setting name"}, "notify.webhook.url_setting: must be an app-setting name"),
])
def test_url_and_url_setting_are_exclusive_and_the_setting_name_is_checked(catalogue, webhook, expected):
    with catalogue.case("outbound.webhook_setting_name", json.dumps(webhook, sort_keys=True)) as c:
        with pytest.raises(ConfigError) as caught:
            parse_settings(document(webhook), ENV)
        c.check(any(expected in p for p in caught.value.problems), f"problems {caught.value.problems}")


@pytest.mark.parametrize("value, expected", [
    ("", "is not set"),
    (f"ftp://hooks.example.com/{SECRET}", "must be an https:// URL"),
    (f"http://hooks.example.com/in?key={SECRET}", "must be an https:// URL"),
    (f"https://user:{SECRET}@hooks.example.com/in", "must not carry user:password@"),
    (f"https://169.254.169.254/metadata?key={SECRET}", "link-local"),
    (f"https://[::ffff:169.254.169.254]/x?key={SECRET}", "link-local"),
    (f"https://168.63.129.16/x?key={SECRET}", "platform address"),
    (f"https://2852039166/x?key={SECRET}", "dotted decimal"),
], ids=["unset", "ftp", "http-remote", "userinfo", "metadata", "mapped-metadata", "wire-server", "integer-host"])
def test_a_bad_url_in_the_setting_fails_the_webhook_by_setting_name_never_by_value(
        catalogue, caplog, receiver, exporter, value, expected):
    environ = {**ENV, "WEBHOOK_URL": value}
    with catalogue.case("outbound.webhook_setting_value", expected + value[:12], secrets=[SECRET]) as c:
        settings = parse_settings(document({"url_setting": "WEBHOOK_URL"}), environ)
        exporter.clear()
        result = send_notification(payload(), settings, environ)
        c.check(result["sent"] == [] and "app setting 'WEBHOOK_URL'" in result["failed"]["webhook"]
                and expected in result["failed"]["webhook"], f"result {result}")
        c.no_secret_in(json.dumps(result), *record_texts(caplog), *span_texts(exporter.get_finished_spans()))


# --- 2. addresses that must never be called ---------------------------------------------------------------

FORBIDDEN_HOSTS = {
    "metadata": "169.254.169.254", "link-local": "169.254.1.1", "wire-server": "168.63.129.16",
    "unspecified": "0.0.0.0", "zero-net": "0.1.2.3", "aws-v6-metadata": "[fd00:ec2::254]",
    "mapped": "[::ffff:169.254.169.254]", "mapped-hex": "[::ffff:a9fe:a9fe]", "compat": "[::169.254.169.254]",
    "nat64": "[64:ff9b::a9fe:a9fe]", "6to4": "[2002:a9fe:a9fe::]", "v6-link-local": "[fe80::1]",
    "v6-zone": "[fe80::1%25eth0]", "v6-unspecified": "[::]", "integer": "2852039166", "octal": "0251.0376.0251.0376",
    "hex": "0xa9fe.0xa9fe", "hex-whole": "0xa9fea9fe", "short": "169.254.43518", "trailing-dot": "169.254.169.254.",
    "fullwidth": "１６９.２５４.１６９.２５４", "alibaba": "100.100.100.200", "broadcast": "255.255.255.255",
    "multicast": "224.0.0.1",
}


def _with(doc: dict, path: str, value: Any) -> dict:
    doc = copy.deepcopy(doc)
    keys = path.split(".")
    node = doc
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[keys[-1]] = value
    return doc


WS = {"subscription_id": "00000000-0000-0000-0000-000000000000", "resource_group": "rg", "name": "ws"}
V1_ROUTE = {"name": "v1", "kind": "pipeline_endpoint_v1", "match": {"container": "land1", "prefix": "v1/"},
            "pipeline_endpoint": {"api_url": "https://eastus2.api.azureml.ms", "id": "a275bc5d-0000",
                                  "experiment_name": "exp", "workspace": WS}}
PIPELINE_ROUTE = {"name": "pc", "match": {"container": "land2", "prefix": "pc/"},
                  "endpoint": {"scoring_uri": "https://pc.eastus.inference.ml.azure.com/jobs",
                               "deployment_kind": "pipeline_component", "workspace": WS},
                  "inputs": [{"name": "ref", "type": "uri_file", "path": "https://pub.blob.core.windows.net/c/f.csv"}],
                  "outputs": [{"name": "scores", "type": "uri_folder", "datastore": "ws", "path": "o/{run_id}/s"}]}
#: (field, where in the document, URL template with {host}, what the problem is named by)
ADDRESS_FIELDS = [
    ("webhook", "routes.0.notify.webhook.url", "https://{host}/hook", "route 'hook': notify.webhook.url"),
    ("scoring-uri", "routes.0.endpoint.scoring_uri", "https://{host}/jobs", "route 'hook': endpoint.scoring_uri"),
    ("sink", "routes.0.sinks", [{"url": "https://{host}/c/{{folder}}/", "connection": "SINK"}],
     "route 'hook': sinks[0].url"),
    ("datastore", "datastores.ws.account_url", "https://{host}", "datastore 'ws': account_url"),
    ("management-url", "management_url", "https://{host}", "management_url"),
    ("v1-api-url", "routes.1.pipeline_endpoint.api_url", "https://{host}", "route 'v1': pipeline_endpoint.api_url"),
    ("job-input-url", "routes.2.inputs.0.path", "https://{host}/c/f.csv", "route 'pc': inputs[0].path"),
]


def _fill(template: Any, host: str) -> Any:
    if isinstance(template, str):
        return template.format(host=host)
    return json.loads(json.dumps(template).replace("{host}", host).replace("{{folder}}", "{folder}"))


@pytest.mark.parametrize("field, path, template, named", ADDRESS_FIELDS, ids=[f[0] for f in ADDRESS_FIELDS])
def test_every_configured_url_refuses_metadata_and_platform_addresses_however_spelled(
        catalogue, field, path, template, named):
    base = document({"url": "https://hooks.example.com/in"})
    base["routes"] += [copy.deepcopy(V1_ROUTE), copy.deepcopy(PIPELINE_ROUTE)]
    parse_settings(base, ENV)  # the document without the address is valid
    for spelling, host in FORBIDDEN_HOSTS.items():
        with catalogue.case("outbound.address_at_load", f"{field}-{spelling}") as c:
            with pytest.raises(ConfigError) as caught:
                parse_settings(_with(base, path, _fill(template, host)), ENV)
            found = [p for p in caught.value.problems if p.startswith(named)]
            c.check(any("must not point at a metadata, link-local or platform address" in p for p in found),
                    f"{host}: {caught.value.problems}")


def test_loopback_and_private_addresses_stay_as_allowed_as_today(catalogue):
    for name, url in [("loopback-http", "http://127.0.0.1:7071/hook"), ("localhost", "http://localhost:7071/hook"),
                      ("v6-loopback", "http://[::1]:7071/hook"), ("private-10", "https://10.0.0.4/hook"),
                      ("private-192", "https://192.168.1.10/hook"), ("name", "https://hooks.example.com/hook")]:
        with catalogue.case("outbound.address_allowed", name) as c:
            route = parse_settings(document({"url": url}), ENV).routes[0]
            c.check(route.notify.webhook.url == url, route.notify.webhook.url)


class Recording(httpx.BaseTransport):
    """Stands for the network: records what reached it (nothing must, for a refused host): the address
    connected to, the Host header and the TLS name."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.names: list[tuple[str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(str(request.url))
        self.names.append((request.headers.get("host"), request.extensions.get("sni_hostname")))
        return httpx.Response(204)


def resolver(answers: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError(f"no such host {host}")
        return answers[host]
    return resolve


DNS = {"metadata.attacker.example": ["169.254.169.254"], "wire.attacker.example": ["168.63.129.16"],
       "mixed.attacker.example": ["93.184.216.34", "fd00:ec2::254"], "mapped.attacker.example": ["::ffff:a9fe:a9fe"],
       "loop.attacker.example": ["127.0.0.1"], "zero.attacker.example": ["0.0.0.0"],
       "fine.example": ["93.184.216.34"], "private.example": ["10.1.2.3"]}


@pytest.mark.parametrize("host", sorted(h for h in DNS if "attacker" in h))
def test_a_name_resolving_to_a_forbidden_address_is_never_called_by_the_webhook_sender(catalogue, caplog, host):
    network = Recording()
    environ = {**ENV, "WEBHOOK_URL": f"https://{host}/in?apikey={SECRET}"}

    def sender(target, body, env):
        send_to_webhook(target, body, env, transport=GuardedTransport(network, resolve=resolver(DNS)))

    with catalogue.case("outbound.address_at_call", f"webhook-{host}", secrets=[SECRET]) as c:
        settings = parse_settings(document({"url_setting": "WEBHOOK_URL"}), environ)
        result = send_notification(payload(), settings, environ, senders={"webhook": sender})
        c.check(network.seen == [], f"reached the network: {network.seen}")
        c.check(result["sent"] == [] and "ForbiddenAddress" in result["failed"]["webhook"]
                and host in result["failed"]["webhook"], f"result {result}")
        c.no_secret_in(json.dumps(result), *record_texts(caplog))


@pytest.mark.parametrize("host", ["fine.example", "private.example"])
def test_a_name_resolving_to_an_ordinary_address_is_called_at_the_checked_address(catalogue, host):
    network = Recording()
    with catalogue.case("outbound.address_at_call", f"allowed-{host}") as c:
        with httpx.Client(transport=GuardedTransport(network, resolve=resolver(DNS))) as client:
            response = client.post(f"https://{host}/in")
        c.check(response.status_code == 204 and str(response.request.url) == f"https://{host}/in", "not answered")
        c.check(network.seen == [f"https://{DNS[host][0]}/in"] and network.names == [(host, host)],
                f"{network.seen} {network.names}")


def test_a_name_that_rebinds_after_the_check_is_not_followed(catalogue):
    answers = [["93.184.216.34"], ["169.254.169.254"]]
    network = Recording()

    def rebinding(host: str, port: int) -> list[str]:
        return answers.pop(0)

    with catalogue.case("outbound.address_at_call", "dns-rebinding") as c:
        with httpx.Client(transport=GuardedTransport(network, resolve=rebinding)) as client:
            client.post("https://rebind.attacker.example/in")
        c.check(network.seen == ["https://93.184.216.34/in"] and answers == [["169.254.169.254"]],
                f"{network.seen} {answers}")


@pytest.mark.parametrize("host", ["metadata.attacker.example", "mixed.attacker.example", "loop.attacker.example"])
def test_the_batch_endpoint_client_refuses_them_too_as_a_permanent_error_without_sending(catalogue, caplog, host):
    from shared.batch_endpoint import exceptions as errors
    from shared.batch_endpoint.client import BatchEndpointClient
    from shared.batch_endpoint.requests import ApiCall
    from shared.identity import LoopbackCredential

    network = Recording()
    with catalogue.case("outbound.address_at_call", f"batch-client-{host}") as c:
        client = BatchEndpointClient(LoopbackCredential(),
                                     transport=GuardedTransport(network, resolve=resolver(DNS)), sleep=lambda _: None)
        with pytest.raises(errors.PermanentError) as caught:
            client.send(ApiCall("GET", f"https://{host}/jobs/j1", "https://ml.azure.com/.default"), what="job status")
        c.check(network.seen == [] and "refused to call" in str(caught.value), f"{network.seen} {caught.value}")


def test_the_outbound_clients_are_guarded_by_default(catalogue):
    from shared.batch_endpoint.client import BatchEndpointClient
    from shared.identity import LoopbackCredential
    from shared.outbound import client_transport

    with catalogue.case("outbound.address_at_call", "default-transports") as c:
        client = BatchEndpointClient(LoopbackCredential())
        c.check(isinstance(client._http._transport, GuardedTransport), type(client._http._transport).__name__)
        c.check(isinstance(client_transport(None), GuardedTransport), "the webhook sender's default")
        with pytest.raises(ForbiddenAddress):
            with httpx.Client(transport=client_transport(None)) as plain:
                plain.get("http://169.254.169.254/metadata/instance")


# --- 4. redaction misses: escaped, quoted, 'name: value', prefixed --------------------------------------

REDACTION_FORMS = {
    "json-escaped-ampersand": '{"url": "https://h.example.com/x?a=1\\u0026sig=' + SECRET + '"}',
    "json-escaped-apikey": '{"url": "https://h.example.com/x?a=1\\u0026apikey=' + SECRET + '"}',
    "sig-colon": f"sig: {SECRET}",
    "sig-colon-word": "sig: plantedwordsecret",
    "client-secret-colon": f"client_secret: {SECRET}",
    "client-secret-colon-quoted": f"client_secret: '{SECRET}'",
    "sig-equals-double-quoted": f'sig="{SECRET}"',
    "sig-equals-single-quoted": f"sig='{SECRET}'",
    "password-equals-quoted": f'Password="{SECRET}"',
    "json-token": '{"token": "' + SECRET + '"}',
    "whsec": f"secret_setting holds whsec_{SECRET}",
    "whsec-quoted": f"'whsec_{SECRET}'",
    "subscription-key-header": f"Ocp-Apim-Subscription-Key: {SECRET}",
    "apikey-header": f"apikey: {SECRET}",
    "percent-encoded-inner-url": f"next=https%3A%2F%2Fh%2Fx%3Fapikey%3D{SECRET}",
}


def test_redaction_catches_escaped_quoted_and_prefixed_secrets_in_logs_and_spans(catalogue, caplog, exporter):
    log = logging.getLogger("shared.hostile")
    for name, text in REDACTION_FORMS.items():
        secret = "plantedwordsecret" if name == "sig-colon-word" else SECRET
        with catalogue.case("outbound.redaction", name, secrets=[secret]) as c:
            exporter.clear()
            caplog.clear()
            log.warning("failed: %s", text)
            with pytest.raises(RuntimeError):
                with telemetry.span("notify", route="hook", detail=text):
                    raise RuntimeError(text)
            spans = exporter.get_finished_spans()
            c.check(caplog.records and spans, "nothing was logged or traced: the scan would prove nothing")
            c.no_secret_in(*record_texts(caplog), *span_texts(spans))


# --- case 4: a v1 datastore on another container ---------------------------------------------------------

def test_a_v1_datastore_on_another_container_is_refused_at_load(catalogue):
    doc = document({"url": "https://hooks.example.com/in"})
    doc["datastores"]["curated"] = {"account_url": "http://127.0.0.1:10000/devstoreaccount1", "container": "curated"}
    doc["datastores"]["landing1"] = {"account_url": "http://127.0.0.1:10000/devstoreaccount1", "container": "land1"}
    doc["routes"].append(_with(V1_ROUTE, "pipeline_endpoint.datastore", "curated"))
    with catalogue.case("outbound.v1_datastore", "other-container") as c:
        with pytest.raises(ConfigError) as caught:
            parse_settings(doc, ENV)
        c.check(any(p.startswith("route 'v1': pipeline_endpoint.datastore: datastore 'curated' is on container"
                                 " 'curated', but the route lands on container 'land1'") for p in caught.value.problems),
                f"{caught.value.problems}")
    with catalogue.case("outbound.v1_datastore", "landing-container") as c:
        doc["routes"][-1]["pipeline_endpoint"]["datastore"] = "landing1"
        route = parse_settings(doc, ENV).route("v1")
        c.check(route.pipeline_endpoint.datastore == "landing1", "the landing container's datastore is refused")


