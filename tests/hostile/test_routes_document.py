"""Hostile routes documents: each is rejected with the exact problem naming route and field, nothing else is
reported, no secret from the document appears in any message, and the anonymous ``GET /api/health`` answers
with status and counts only (the problems, redacted, only behind a function key).

The documents arrive as the app reads them: JSON text in ``BATCH_CONFIG_JSON`` (so ``NaN``, ``Infinity``,
over-long integers and deep nesting reach the parser), validated by the real loader, answered by the real
health functions of ``function_app``.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import azure.functions as func
import pytest

from shared.config import ConfigError, parse_settings
from shared.config.loader import CONFIG_JSON_SETTING, decode_document
from tests.app_index import user_function

SIG = "c2lnLXZhbHVlLWZyb20tdGhlLWRvY3VtZW50%3D"
PASSWORD = "pw-Hunter2-in-url"
CODE = "FunctionKeyValue0123456789=="
ACCOUNT_KEY = "QWNjb3VudEtleUluVGhlRG9jdW1lbnQ="

BASE: dict = {
    "datastores": {"ws": {"account_url": "http://127.0.0.1:10000/devstoreaccount1", "container": "azureml-blobstore"},
                   "lake": {"account_url": "https://lake.blob.core.windows.net", "container": "results",
                            "connection": "LAKE"}},
    "routes": [{
        "name": "heart",
        "match": {"container": "landing", "prefix": "heart/"},
        "endpoint": {"scoring_uri": "http://127.0.0.1:5100/endpoints/heart/jobs"},
        "input": {"type": "uri_folder", "name": "heart_dataset"},
        "output": {"datastore": "ws", "path": "batch/heart/{run_id}/predictions.csv"},
        "sinks": [{"url": "https://curated.blob.core.windows.net/scores/{folder}/", "connection": "CURATED"}],
    }, {
        "name": "lake",
        "match": {"container": "raw", "prefix": "in/", "connection": "LAKE"},
        "endpoint": {"scoring_uri": "https://lake.eastus.inference.ml.azure.com/jobs"},
        "output": {"datastore": "lake", "path": "lake/{run_id}/p.csv"},
    }],
}
ENV = {"AzureWebJobsStorage": "UseDevelopmentStorage=true",
       "CURATED__blobServiceUri": "https://curated.blob.core.windows.net",
       "LAKE__blobServiceUri": "https://lake.blob.core.windows.net",
       "LAKE_DFS__blobServiceUri": "https://LAKE.dfs.core.windows.net/"}

CREDS = "must not carry credentials (user:password@, a SAS, a key or a code in the query); "
SINK_CREDS = CREDS + "the sink's connection carries the credential"
URL_CREDS = CREDS + "use a connection (managed identity or an app setting) instead"
HOOK_CREDS = CREDS + ("put the URL in an app setting (a Key Vault reference) and name it in url_setting; sign the body"
                      " with secret_setting")
DOTS = "must not contain a '.' or '..' segment: "
LITERAL = ("the account and container (file system) must be literal: placeholders belong in the path, or writes"
           " could not be checked against landing locations")
BRACES = ("'{{' and '}}' render as literal braces, so '{{run_id}}' gives every run the same path; write single"
          " braces, e.g. {run_id} (allowed: ")
APP_SETTING = "must be an app-setting name (letters, digits, _), not a value; the value given is not shown"
OUTPUT_ALLOWED = "{attempt}, {date}, {route}, {run_id})"
SINK_ALLOWED = "{date}, {file}, {folder}, {route}, {run_id})"


def overlap(where: str, container: str, prefix: str, route: str, landing_prefix: str) -> str:
    return (f"{where}: writes to container {container!r} under {prefix!r}, which overlaps the landing location of"
            f" route {route!r} (prefix {landing_prefix!r}): its results would land as new data and start more runs;"
            " use a separate container or prefix")


@dataclass
class Case:
    name: str
    change: Optional[Callable[[dict], Any]] = None   # mutates a copy of BASE
    expected: list[str] = field(default_factory=list)
    secrets: tuple[str, ...] = ()
    text: Optional[str] = None                          # raw BATCH_CONFIG_JSON instead of a mutated BASE
    env: dict = field(default_factory=dict)

    def document_text(self) -> str:
        if self.text is not None:
            return self.text
        document = copy.deepcopy(BASE)
        self.change(document)
        return json.dumps(document)  # allow_nan: NaN and Infinity reach the parser as JSON extensions


def heart(document: dict) -> dict:
    return document["routes"][0]


def sets(path: str, value: Any) -> Callable[[dict], None]:
    """A change that sets ``routes.0.poll.x``-style paths (digits index lists)."""
    def change(document: dict) -> None:
        target: Any = document
        keys = path.split(".")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target.setdefault(key, {})
        target[keys[-1]] = value
    return change


def sink(url: str, **extra: Any) -> Callable[[dict], None]:
    return sets("routes.0.sinks", [{"url": url, "connection": "CURATED", **extra}])


def deep(n: int) -> str:
    return "[" * n + "]" * n


H = "route 'heart': "
L = "route 'lake': "
CASES = [
    # --- numbers: NaN, Infinity, bounds ------------------------------------------------------------------
    Case("nan-deadline", sets("routes.0.poll.deadline_hours", float("nan")),
         [H + "poll.deadline_hours: must be a finite number, got nan (NaN and Infinity are not allowed)"]),
    Case("infinity-initial-seconds", sets("routes.0.poll.initial_seconds", float("inf")),
         [H + "poll.initial_seconds: must be a finite number, got inf (NaN and Infinity are not allowed)"]),
    Case("minus-infinity-growth", sets("routes.0.poll.growth", float("-inf")),
         [H + "poll.growth: must be a finite number, got -inf (NaN and Infinity are not allowed)"]),
    Case("nan-integer-field", sets("routes.0.overrides.mini_batch_size", float("nan")),
         [H + "overrides.mini_batch_size: must be an integer, got nan"]),
    Case("nan-copy-timeout", sets("routes.0.delivery.copy_timeout_minutes", float("nan")),
         [H + "delivery.copy_timeout_minutes: must be a finite number, got nan (NaN and Infinity are not allowed)"]),
    Case("1e400-literal-is-infinity",
         text=json.dumps(BASE).replace('"input": {', '"poll": {"max_seconds": 1e400}, "input": {', 1),
         expected=[H + "poll.max_seconds: must be a finite number, got inf (NaN and Infinity are not allowed)"]),
    Case("deadline-overflows-dates", sets("routes.0.poll.deadline_hours", 1e12),
         [H + "poll.deadline_hours: must be at least 0.001 and at most 720, got 1000000000000.0 (30 days: Azure ML"
              " keeps a job's state about that long, and a longer deadline only keeps an orchestration alive; far"
              " larger values overflow date arithmetic)"]),
    Case("quiet-period-overflows-dates", sets("routes.0.landing", {"mode": "quiet_period",
                                                                   "quiet_seconds": 10 ** 12}),
         [H + "landing.quiet_seconds: must be at least 1 and at most 604800, got 1000000000000 (7 days: a folder"
              " quiet that long is complete or abandoned, and longer durable timers only pin the folder's waiter)"]),
    Case("manifest-wait-unbounded", sets("routes.0.landing.manifest_wait_minutes", 10 ** 9),
         [H + "landing.manifest_wait_minutes: must be at least 1 and at most 10080, got 1000000000 (7 days: longer"
              " waits only pin the manifest's waiter)"]),
    Case("polls-per-execution-unbounded", sets("routes.0.poll.polls_per_execution", 10 ** 9),
         [H + "poll.polls_per_execution: must be at least 5 and at most 10000, got 1000000000 (each execution's"
              " history is replayed on every poll; the run continues as new after this many polls)"]),
    Case("max-status-errors-unbounded", sets("routes.0.poll.max_status_errors", 10 ** 6),
         [H + "poll.max_status_errors: must be at least 1 and at most 1000, got 1000000"]),
    Case("instance-count-unbounded", sets("routes.0.overrides.instance_count", 10 ** 6),
         [H + "overrides.instance_count: must be at least 1 and at most 1000, got 1000000 (compute clusters are"
              " quota-bound far below that)"]),
    Case("huge-integer-in-a-float-field", sets("routes.0.poll.max_seconds", 10 ** 40),
         [H + "poll.max_seconds: must be at least 1 and at most 518400, got a 41-digit number"]),
    Case("integer-past-the-digit-limit",
         text=json.dumps(BASE).replace('"input": {', '"poll": {"max_seconds": ' + "9" * 5000 + '}, "input": {', 1),
         expected=["BATCH_CONFIG_JSON: not valid JSON: Exceeds the limit (4300 digits) for integer string"
                   " conversion: value has 5000 digits"]),
    Case("nesting-exhausts-the-parser", text=deep(200_000),
         expected=["BATCH_CONFIG_JSON: not valid JSON: nested too deeply"]),
    Case("nesting-inside-a-description", sets("description", json.loads(deep(500))),
         ["description: must be a string, got a list"]),
    Case("boolean-as-integer", sets("routes.0.overrides.mini_batch_size", True),
         [H + "overrides.mini_batch_size: must be an integer, got True"]),
    Case("negative-timeout", sets("routes.0.overrides.timeout_seconds", -5),
         [H + "overrides.timeout_seconds: must be at least 1 and at most 604800, got -5"]),
    Case("fractional-history-runs", sets("routes.0.poll.history_runs", 2.5),
         [H + "poll.history_runs: must be an integer, got 2.5"]),
    Case("number-as-string", sets("routes.0.overrides.max_retries", "3"),
         [H + "overrides.max_retries: must be an integer, got '3'"]),
    Case("enum-given-a-number", sets("routes.0.landing.mode", 1),
         [H + "landing.mode: must be one of marker, manifest, quiet_period, per_file, got 1"]),

    # --- templates -------------------------------------------------------------------------------------------
    Case("doubled-braces-in-output", sets("routes.0.output.path", "batch/{{run_id}}/p.csv"),
         [H + "output.path: " + BRACES + OUTPUT_ALLOWED]),
    Case("doubled-braces-in-sink", sink("https://curated.blob.core.windows.net/scores/{{run_id}}/"),
         [H + "sinks[0].url: " + BRACES + SINK_ALLOWED]),
    Case("attribute-access-placeholder", sets("routes.0.output.path", "b/{run_id.__class__}/p.csv"),
         [H + "output.path: placeholders take no conversion, format spec, attribute or index (found in"
              " {run_id...})"]),
    Case("conversion-placeholder", sets("routes.0.output.path", "b/{run_id!r}/p.csv"),
         [H + "output.path: placeholders take no conversion, format spec, attribute or index (found in"
              " {run_id...})"]),
    Case("format-spec-padding-bomb", sets("routes.0.output.path", "b/{run_id:>999999999}/p.csv"),
         [H + "output.path: placeholders take no conversion, format spec, attribute or index (found in"
              " {run_id...})"]),
    Case("index-placeholder-in-sink", sink("https://curated.blob.core.windows.net/scores/{folder[0]}/"),
         [H + "sinks[0].url: placeholders take no conversion, format spec, attribute or index (found in"
              " {folder...})"]),
    Case("positional-placeholder", sets("routes.0.output.path", "b/{}/{run_id}.csv"),
         [H + "output.path: unknown placeholder(s) {}; allowed: " + OUTPUT_ALLOWED[:-1]]),
    Case("unknown-placeholder", sets("routes.0.output.path", "b/{run_id}/{when}.csv"),
         [H + "output.path: unknown placeholder(s) {when}; allowed: " + OUTPUT_ALLOWED[:-1]]),
    Case("unbalanced-brace", sets("routes.0.output.path", "b/{run_id/p.csv"),
         [H + "output.path: is not a valid template (expected '}' before end of string); placeholders look like"
              " {run_id}"]),
    Case("output-without-run-id", sets("routes.0.output.path", "batch/heart/predictions.csv"),
         [H + "output.path: must contain {run_id}: a batch job fails when its output file already exists, so every"
              " run needs its own path"]),
    Case("output-dotdot", sets("routes.0.output.path", "../{run_id}/p.csv"),
         [H + "output.path: " + DOTS + "'../run/p.csv'"]),
    Case("output-encoded-dotdot", sets("routes.0.output.path", "a/%2e%2e/%2E%2E/{run_id}/p.csv"),
         [H + "output.path: " + DOTS + "'a/../../run/p.csv'"]),
    Case("output-backslash", sets("routes.0.output.path", "a\\..\\{run_id}/p.csv"),
         [H + r"output.path: must not contain a backslash: 'a\\\\..\\\\run/p.csv'"]),
    Case("output-query-character", sets("routes.0.output.path", "a/{run_id}/p.csv?x=1"),
         [H + "output.path: must not contain '?' or '#': 'a/run/p.csv?x=1'"]),
    Case("output-leading-slash", sets("routes.0.output.path", "/batch/{run_id}/p.csv"),
         [H + "output.path: must be the output file's path inside the datastore, without a leading or trailing"
              " '/'"]),
    Case("output-fullwidth-dots", sets("routes.0.output.path", "a/\uff0e\uff0e/{run_id}/p.csv"),
         [H + "output.path: " + DOTS + "'a/\\\\uff0e\\\\uff0e/run/p.csv'"]),
    Case("output-control-character", sets("routes.0.output.path", "a/\r\n/{run_id}/p.csv"),
         [H + "output.path: must not contain control characters: 'a/\\\\r\\\\n/run/p.csv'"]),
    Case("output-path-too-long", sets("routes.0.output.path", "a/" * 600 + "{run_id}"),
         [H + "output.path: must be at most 1024 characters, got 1208"]),

    # --- sink URLs: traversal, placeholders outside the path, shapes ---------------------------------------
    Case("sink-dotdot", sink("https://curated.blob.core.windows.net/scores/../other/{run_id}/"),
         [H + "sinks[0].url: " + DOTS + "'../other/run/'"]),
    Case("sink-encoded-dotdot", sink("https://curated.blob.core.windows.net/scores/x/%2e%2e/%2e%2e/v/{run_id}/"),
         [H + "sinks[0].url: " + DOTS + "'x/../../v/run/'"]),
    Case("sink-dot-segment", sink("https://curated.blob.core.windows.net/scores/./{run_id}/"),
         [H + "sinks[0].url: " + DOTS + "'./run/'"]),
    Case("sink-placeholder-in-container", sink("https://curated.blob.core.windows.net/{route}/x/"), [H + "sinks[0].url: " + LITERAL]),
    Case("sink-placeholder-in-account", sink("https://{route}.blob.core.windows.net/c/x/"), [H + "sinks[0].url: " + LITERAL]),
    Case("sink-placeholder-in-abfss-filesystem", sink("abfss://{route}@lake.dfs.core.windows.net/x/"),
         [H + "sinks[0].url: " + LITERAL]),
    Case("sink-without-container", sink("https://curated.blob.core.windows.net/"),
         [H + "sinks[0].url: must name a container after the account, like https://<account>.blob.core.windows.net/"
              "<container>/<path>, got 'https://curated.blob.core.windows.net/'"]),
    Case("sink-plain-http", sink("http://curated.blob.core.windows.net/scores/{run_id}/"),
         [H + "sinks[0].url: must be an https:// URL (http only on 127.0.0.1/localhost), got"
              " 'http://curated.blob.core.windows.net/scores/{run_id}/'"]),
    Case("sink-ftp", sink("ftp://curated.example.com/scores/"),
         [H + "sinks[0].url: must be an https:// URL (http only on 127.0.0.1/localhost), got"
              " 'ftp://curated.example.com/scores/'"]),
    Case("sink-abfs-not-secure", sink("abfs://raw@lake.dfs.core.windows.net/x/"),
         [H + "sinks[0].url: an abfss:// URL must look like abfss://<filesystem>@<account>.dfs.core.windows.net"
              "/<path>, got 'abfs://raw@lake.dfs.core.windows.net/x/'"]),
    Case("sink-query-string", sink("https://curated.blob.core.windows.net/scores/{run_id}/?x=1"),
         [H + "sinks[0].url: must not have a query string or fragment (a SAS belongs in the sink's connection, not"
              " its URL)"]),
    Case("sink-fragment", sink("https://curated.blob.core.windows.net/scores/{run_id}/#x"),
         [H + "sinks[0].url: must not have a query string or fragment (a SAS belongs in the sink's connection, not"
              " its URL)"]),
    Case("sink-space-in-url", sink("https://curated.blob.core.windows.net/sco res/{run_id}/"),
         [H + "sinks[0].url: must not contain spaces or control characters"]),
    Case("sink-container-uppercase", sink("https://curated.blob.core.windows.net/Scores/{run_id}/"),
         [H + "sinks[0].url: 'Scores' is not a valid blob container (file system) name"]),
    Case("sink-bad-port", sink("https://curated.blob.core.windows.net:99999/s/{run_id}/"),
         [H + "sinks[0].url: is not a URL: 'https://curated.blob.core.windows.net:99999/s/{run_id}/'"]),
    Case("duplicate-sink-names", sets("routes.0.sinks", [
        {"url": "https://curated.blob.core.windows.net/a/{run_id}/", "name": "x"},
        {"url": "https://curated.blob.core.windows.net/b/{run_id}/", "name": "x"}]),
         [H + "sinks[1].name: 'x' is used by more than one sink of the route"]),

    # --- credentials in URLs and app-setting names -------------------------------------------------------------
    Case("sink-with-sas", sink(f"https://curated.blob.core.windows.net/scores/{{run_id}}/?sv=2022-11-02&sp=w&sig={SIG}"),
         [H + "sinks[0].url: " + SINK_CREDS], secrets=(SIG,)),
    Case("sink-with-password", sink(f"https://admin:{PASSWORD}@curated.blob.core.windows.net/scores/{{run_id}}/"),
         [H + "sinks[0].url: " + SINK_CREDS], secrets=(PASSWORD,)),
    Case("sink-with-encoded-userinfo", sink(f"https://admin%3A{PASSWORD}@curated.blob.core.windows.net/s/{{run_id}}/"),
         [H + "sinks[0].url: " + SINK_CREDS], secrets=(PASSWORD,)),
    Case("abfss-with-password", sink(f"abfss://raw:{PASSWORD}@lake.dfs.core.windows.net/out/{{run_id}}/"),
         [H + "sinks[0].url: " + SINK_CREDS], secrets=(PASSWORD,)),
    Case("scoring-uri-with-password",
         sets("routes.0.endpoint.scoring_uri", f"https://u:{PASSWORD}@heart.eastus.inference.ml.azure.com/jobs"),
         [H + "endpoint.scoring_uri: " + URL_CREDS], secrets=(PASSWORD,)),
    Case("scoring-uri-with-code",
         sets("routes.0.endpoint.scoring_uri", f"https://heart.eastus.inference.ml.azure.com/jobs?code={CODE}"),
         [H + "endpoint.scoring_uri: " + URL_CREDS], secrets=(CODE,)),
    Case("scoring-uri-with-token-fragment",
         sets("routes.0.endpoint.scoring_uri", f"https://heart.eastus.inference.ml.azure.com/jobs#access_token={CODE}"),
         [H + "endpoint.scoring_uri: must not have a query string or fragment"], secrets=(CODE,)),
    Case("datastore-with-sas", sets("datastores.lake.account_url", f"https://lake.blob.core.windows.net/?sv=1&sig={SIG}"),
         ["datastore 'lake': account_url: " + URL_CREDS], secrets=(SIG,)),
    Case("webhook-with-password", sets("routes.0.notify", {"webhook": {"url": f"https://u:{PASSWORD}@hooks.example.com/x"}}),
         [H + "notify.webhook.url: " + HOOK_CREDS], secrets=(PASSWORD,)),
    Case("webhook-with-function-code", sets("routes.0.notify", {"webhook": {"url": f"https://f.azurewebsites.net/api/x?code={CODE}"}}),
         [H + "notify.webhook.url: " + HOOK_CREDS], secrets=(CODE,)),
    Case("webhook-with-logic-app-sig", sets("routes.0.notify", {"webhook": {
        "url": f"https://prod.logic.azure.com/workflows/1/triggers/manual/paths/invoke?api-version=2016-10-01&sp=%2F&sv=1.0&sig={SIG}"}}),
         [H + "notify.webhook.url: " + HOOK_CREDS], secrets=(SIG,)),
    Case("management-url-with-password", sets("management_url", f"https://u:{PASSWORD}@management.azure.com"),
         ["management_url (or AML_MANAGEMENT_URL): " + URL_CREDS], secrets=(PASSWORD,)),
    Case("management-url-setting-with-sas", sets("description", "env"),
         ["management_url (or AML_MANAGEMENT_URL): " + URL_CREDS], secrets=(SIG,),
         env={"AML_MANAGEMENT_URL": f"https://management.azure.com/?sig={SIG}"}),
    Case("connection-string-in-connection-field",
         sets("routes.0.match.connection", f"DefaultEndpointsProtocol=https;AccountName=a;AccountKey={ACCOUNT_KEY}"),
         [H + "match.connection: " + APP_SETTING], secrets=(ACCOUNT_KEY,)),
    Case("sas-in-sink-connection-field", sink("https://curated.blob.core.windows.net/s/{run_id}/",
                                              connection=f"sv=2022&sig={SIG}"),
         [H + "sinks[0].connection: " + APP_SETTING], secrets=(SIG,)),
    Case("key-in-secret-setting", sets("routes.0.notify", {"webhook": {"url": "https://hooks.example.com/x",
                                                                       "secret_setting": ACCOUNT_KEY}}),
         [H + "notify.webhook.secret_setting: " + APP_SETTING], secrets=(ACCOUNT_KEY,)),
    Case("key-in-queue-connection", sets("routes.0.notify", {"queue": {"name": "runs", "connection": ACCOUNT_KEY}}),
         [H + "notify.queue.connection: " + APP_SETTING], secrets=(ACCOUNT_KEY,)),
    Case("key-in-datastore-connection", sets("datastores.ws.connection", f"AccountKey={ACCOUNT_KEY}"),
         ["datastore 'ws': connection: " + APP_SETTING], secrets=(ACCOUNT_KEY,)),
    Case("password-in-unknown-field", sets("routes.0.password", PASSWORD),
         [H + "password: unknown field (known: delivery, description, endpoint, input, inputs, kind, landing, match,"
              " name, notify, output, outputs, overrides, pipeline_endpoint, poll, sinks)"], secrets=(PASSWORD,)),

    # --- names -----------------------------------------------------------------------------------------------
    Case("marker-with-slash", sets("routes.0.landing.marker_name", "sub/_SUCCESS"),
         [H + "landing.marker_name: must be a file name in the folder, without '/', got 'sub/_SUCCESS'"]),
    Case("marker-dotdot", sets("routes.0.landing.marker_name", ".."),
         [H + "landing.marker_name: must not contain a '.' or '..' segment: '..'"]),
    Case("manifest-with-slash", sets("routes.0.landing.manifest_name", "../_manifest.json"),
         [H + "landing.manifest_name: must be a file name in the folder, without '/', got '../_manifest.json'"]),
    Case("marker-control-character", sets("routes.0.landing.marker_name", "_SUCCESS\x00"),
         [H + "landing.marker_name: must not contain control characters: '_SUCCESS\\\\x00'"]),
    Case("output-file-name-traversal", sets("routes.0.overrides.output_file_name", "../x.csv"),
         [H + "overrides.output_file_name: must be a file name in the folder, without '/', got '../x.csv'"]),
    Case("route-name-with-slash", sets("routes.0.name", "heart/../x"),
         ["routes[0]: name: must be 1-63 letters, digits, '-' or '_'"]),
    Case("route-name-too-long", sets("routes.0.name", "h" * 64),
         ["routes[0]: name: must be 1-63 letters, digits, '-' or '_'"]),
    Case("route-name-missing", lambda d: heart(d).pop("name"), ["routes[0]: name: is required"]),
    Case("container-uppercase", sets("routes.0.match.container", "Landing_Zone"),
         [H + "match.container: 'Landing_Zone' is not a valid blob container name"]),
    Case("container-placeholder", sets("routes.0.match.container", "{route}"),
         [H + "match.container: '{route}' is not a valid blob container name"]),
    Case("container-traversal", sets("routes.0.match.container", "../landing"),
         [H + "match.container: '../landing' is not a valid blob container name"]),
    Case("prefix-leading-slash", sets("routes.0.match.prefix", "/heart/"),
         [H + "match.prefix: must be a blob name prefix without a leading '/'"]),
    Case("prefix-dotdot", sets("routes.0.match.prefix", "heart/../lungs/"),
         [H + "match.prefix: must be a blob name prefix: it must not contain a '.' or '..' segment: 'heart/../lungs/'"]),
    Case("prefix-encoded-dotdot", sets("routes.0.match.prefix", "heart/%2e%2e/"),
         [H + "match.prefix: must be a blob name prefix: it must not contain a '.' or '..' segment: 'heart/../'"]),
    Case("queue-name-invalid", sets("routes.0.notify", {"queue": {"name": "Runs_Q"}}),
         [H + "notify.queue.name: 'Runs_Q' is not a valid queue name (3-63 lowercase letters, digits and single '-')"]),
    Case("datastore-name-invalid", lambda d: d["datastores"].update({"bad name": {
        "account_url": "https://x.blob.core.windows.net", "container": "c1"}}),
         ["datastore 'bad name': is not a valid datastore name (letters, digits, _)"]),
    Case("datastore-container-traversal", sets("datastores.lake.container", "../x"),
         ["datastore 'lake': container: '../x' is not a valid blob container name"]),
    Case("subscription-traversal", sets("routes.0.endpoint.workspace", {"subscription_id": "../../providers",
                                                                        "resource_group": "rg", "name": "ws"}),
         [H + "endpoint.workspace.subscription_id: must be a subscription id (a GUID), got '../../providers'"]),
    Case("resource-group-with-slash", sets("routes.0.endpoint.workspace", {"subscription_id": "s",
                                                                           "resource_group": "rg/x", "name": "ws"}),
         [H + "endpoint.workspace.resource_group: must be a resource group name (letters, digits, _.()-), got"
              " 'rg/x'"]),
    Case("deployment-with-slash", sets("routes.0.endpoint.deployment", "blue/../green"),
         [H + "endpoint.deployment: must be a deployment name (letters, digits, '-', '_'), got 'blue/../green'"]),
    Case("experiment-name-with-space", sets("routes.0.overrides.experiment_name", "my experiment"),
         [H + "overrides.experiment_name: must be an experiment name (letters, digits, _.-), got 'my experiment'"]),
    Case("input-name-with-dash", sets("routes.0.input.name", "heart-data"),
         [H + "input.name: must be an input name (letters, digits, _), got 'heart-data'"]),
    Case("state-container-invalid", sets("state", {"container": "Batch_Runs"}),
         ["state.container: 'Batch_Runs' is not a valid blob container name"]),

    # --- cross-field rules ------------------------------------------------------------------------------------
    Case("duplicate-route-names", lambda d: d["routes"].append({**copy.deepcopy(heart(d)),
                                                                "match": {"container": "landing", "prefix": "x/"}}),
         [H + "name: is used by more than one route"]),
    Case("same-container-and-prefix", lambda d: d["routes"].append({**copy.deepcopy(heart(d)), "name": "heart2"}),
         ["route 'heart2': match: listens on the same container and prefix as route 'heart' (landing/heart/); give"
          " each route its own prefix"]),
    Case("same-prefix-through-the-dfs-endpoint", lambda d: d["routes"].append({
        **copy.deepcopy(d["routes"][1]), "name": "lake2",
        "match": {"container": "raw", "prefix": "in/", "connection": "LAKE_DFS"}}),
         ["route 'lake2': match: listens on the same container and prefix as route 'lake' (raw/in/); give each"
          " route its own prefix"]),
    Case("sink-overlaps-landing-through-dfs", sink("https://lake.dfs.core.windows.net/raw/in/scored/{run_id}/"),
         [overlap(H + "sinks[0].url", "raw", "in/scored/", "lake", "in/")]),
    Case("sink-overlaps-landing-through-abfss", sink("abfss://raw@lake.dfs.core.windows.net/in/{run_id}/"),
         [overlap(H + "sinks[0].url", "raw", "in/", "lake", "in/")]),
    Case("sink-overlaps-landing-through-host-case", sink("https://LAKE.Blob.Core.Windows.Net/raw/{run_id}/"),
         [overlap(H + "sinks[0].url", "raw", "(root)", "lake", "in/")]),
    Case("sink-overlaps-landing-through-encoding", sink("https://lake.blob.core.windows.net/raw/%69n/{run_id}/"),
         [overlap(H + "sinks[0].url", "raw", "in/", "lake", "in/")]),
    Case("output-overlaps-landing-through-dfs-datastore", lambda d: (
        sets("datastores.lake", {"account_url": "https://lake.dfs.core.windows.net", "container": "raw",
                                 "connection": "LAKE"})(d), sets("routes.1.output.path", "in/{run_id}/p.csv")(d)),
         [overlap(L + "output", "raw", "in/", "lake", "in/")]),
    Case("per-file-needs-uri-file", sets("routes.0.landing.mode", "per_file"),
         [H + "input.type: must be 'uri_file' when landing.mode is 'per_file'"]),
    Case("unknown-datastore", sets("routes.0.output.datastore", "nope"),
         [H + "output.datastore: datastore 'nope' is not in the datastores map (known: lake, ws)"]),
    Case("event-fallback-below-max", sets("routes.0.poll", {"events": True, "event_fallback_seconds": 60}),
         [H + "poll.event_fallback_seconds: must not be smaller than poll.max_seconds (120) when poll.events is true"
              " (the fallback widens polling), got 60"]),
    Case("notify-on-unknown-outcome", sets("routes.0.notify", {"on": ["Done"]}),
         [H + "notify.on: must be a non-empty list of outcomes from Succeeded, Failed, Canceled, TimedOut, got"
              " ['Done']"]),

    # --- document shape -----------------------------------------------------------------------------------------
    Case("document-is-a-list", text="[]", expected=["must be an object, got a list"]),
    Case("document-is-null", text="null", expected=["must be an object, got null"]),
    Case("document-is-empty", text="{}", expected=["routes: must be a non-empty list of routes"]),
    Case("routes-is-an-object", sets("routes", {"heart": {}}), ["routes: must be a list, got an object"]),
    Case("not-json", text="{'routes': []}",
         expected=["BATCH_CONFIG_JSON: not valid JSON: Expecting property name enclosed in double quotes at line 1"
                   " column 2"]),
    Case("unknown-top-level-field", sets("rotues", []),
         ["rotues: unknown field (known: $schema, datastores, description, management_url, routes, state)"]),
    Case("fullwidth-field-name", lambda d: heart(d).update({"ｍａｔｃｈ": {}}),
         [H + "ｍａｔｃｈ: unknown field (known: delivery, description, endpoint, input, inputs, kind, landing, match,"
              " name, notify, output, outputs, overrides, pipeline_endpoint, poll, sinks)"]),
    Case("description-too-long", sets("description", "x" * 5000),
         ["description: must be at most 4096 characters, got 5000"]),
    Case("section-is-a-string", sets("routes.0.poll", "fast"), [H + "poll: must be an object, got 'fast'"]),
]


def test_the_base_document_is_valid():
    assert [r.name for r in parse_settings(copy.deepcopy(BASE), ENV).routes] == ["heart", "lake"]


def problems_of(case: Case, environ: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(decode_document(environ[CONFIG_JSON_SETTING], CONFIG_JSON_SETTING), environ)
    return caught.value.problems


def health(name: str) -> tuple[int, str]:
    response = user_function(name)(req=func.HttpRequest("GET", f"http://localhost/api/{name}", body=b""))
    return response.status_code, response.get_body().decode()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_routes_document(case: Case, catalogue, monkeypatch):
    environ = {**ENV, **case.env, CONFIG_JSON_SETTING: case.document_text()}
    for key in ("BATCH_CONFIG_PATH", "AML_MANAGEMENT_URL", "STATE_CONTAINER", "STATE_CONNECTION"):
        monkeypatch.delenv(key, raising=False)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    with catalogue.case("routes_document", case.name, secrets=case.secrets) as c:
        problems = problems_of(case, environ)
        c.check(problems == case.expected, f"problems {problems!r}")
        c.no_secret_in(*problems)

        status, body = health("health")
        c.check(status == 503, f"anonymous health status {status}")
        answer = json.loads(body)
        c.check(set(answer) == {"status", "version", "problem_count", "details"}, f"anonymous health says {body}")
        c.check(answer["problem_count"] == len(case.expected), body)
        c.no_secret_in(body)

        status, body = health("health_details")
        c.check(status == 503 and json.loads(body)["problems"] == case.expected, f"details {body[:300]}")
        c.no_secret_in(body)


def test_the_catalogue_is_large_and_distinct():
    assert len(CASES) >= 60 and len({c.name for c in CASES}) == len(CASES)
