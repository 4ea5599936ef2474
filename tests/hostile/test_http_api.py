"""Catalogue: the HTTP API (start, get, list, cancel, redeliver) against bad and unusual requests.

Each case calls the real function object with a real ``HttpRequest`` and the real Durable client talking to the
in-process Durable host, with the run ledger on Azurite. Each asserts the exact status (and the field the error
names), that nothing was created or changed (no new instance, no ledger record, no event raised on the run that
exists), and that no secret of the case appears in the answer, its headers or any log record.
"""

from __future__ import annotations

import json

import pytest

from tests.http_api.test_runs import CONFIG, ScriptedJob, body_of, call, land, run_until_monitoring
from tests.support.durable_host import DurableTestHost, split_functions
from tests.support.history import ET

SIG = "c2VjcmV0LXNhcy1zaWduYXR1cmUtdmFsdWU"           # a SAS signature: must never come back
KEY = "QUNDT1VOVEtFWS1TRUNSRVQtVkFMVUU="            # an account key: must never come back
SAS_URL = f"https://acct.blob.core.windows.net/landing/heart/x/?sv=2024-05-04&sp=rl&sig={SIG}"
KEY_CS = f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={KEY}"
SECRETS = [SIG, KEY]
OK = {"route": "heart", "path": "heart/2024-06-01/"}


def deep(levels: int) -> bytes:
    return b'{"route": "heart", "path": ' + b"[" * levels + b"]" * levels + b"}"


@pytest.fixture
def job():
    return ScriptedJob()


@pytest.fixture
def host(app_functions, job):
    orchestrators, activities = split_functions(app_functions.values())
    with DurableTestHost(orchestrators, {**activities, **job.activities()}) as durable_host:
        durable_host.start_server()
        yield durable_host


@pytest.fixture
def ledger(azurite, monkeypatch, request):
    from azure.storage.blob import BlobServiceClient

    container = f"hostile{abs(hash(request.node.name)) % 10**10}"
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string())
    monkeypatch.setenv("BATCH_CONFIG_JSON", json.dumps(CONFIG))
    monkeypatch.setenv("STATE_CONTAINER", container)
    monkeypatch.delenv("BATCH_CONFIG_PATH", raising=False)
    service = BlobServiceClient.from_connection_string(azurite.connection_string())
    # complete folders, so the pre-flight of POST /api/runs lets the legal starts through (odd names included)
    for folder in (OK["path"], "heart/\u202ex/", "heart/\u65e5\u672c/\u00e9t\u00e9 2024/", "heart/100%/",
                   "heart/a b  c/"):
        land(service, folder)
    return service.get_container_client(container)


def ledger_names(ledger) -> list[str]:
    if not ledger.exists():
        return []
    return sorted(b.name for b in ledger.list_blobs())


def answer_text(response) -> str:
    return response.get_body().decode("utf-8", "replace") + json.dumps(dict(response.headers))


def check_refused(c, response, status: int, field, texts=()):
    body = body_of(response)
    c.check(response.status_code == status, f"status {response.status_code} (wanted {status}): {body}")
    c.check(isinstance(body.get("error"), str) and body["error"], "an error message")
    if field is not None:
        c.check(body.get("field") == field, f"field {body.get('field')!r} (wanted {field!r})")
    c.no_secret_in(answer_text(response), *texts)


# --- POST /api/runs ---------------------------------------------------------------------------------------
# name: (body, headers, params, status, field)

START_CASES = {
    # bodies
    "empty_body": (b"", {}, {}, 400, None),
    "whitespace_body": (b" \r\n\t ", {}, {}, 400, None),
    "not_json": (b"{route: heart}", {}, {}, 400, None),
    "truncated_json": (b'{"route": "heart", "path": ', {}, {}, 400, None),
    "json_array": (b'[{"route": "heart"}]', {}, {}, 400, None),
    "json_string": (b'"heart/2024-06-01/"', {}, {}, 400, None),
    "json_number": (b"42", {}, {}, 400, None),
    "json_null": (b"null", {}, {}, 400, None),
    "json_true": (b"true", {}, {}, 400, None),
    "nested_5000": (deep(5000), {}, {}, 400, None),
    "nested_100000_arrays": (b"[" * 65_000, {}, {}, 400, None),
    "nested_objects": (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, {}, {}, 400, None),
    "nested_just_past_limit": (deep(40), {}, {}, 400, None),
    "nan_value": (b'{"route": "heart", "path": NaN}', {}, {}, 400, None),
    "infinity_value": (b'{"route": "heart", "path": "heart/x/", "container": Infinity}', {}, {}, 400, None),
    "duplicate_route_key": (b'{"route": "heart", "route": "lungs", "path": "heart/x/"}', {}, {}, 400, "route"),
    "duplicate_secret_key": (b'{"sig=' + SIG.encode() + b'": 1, "sig=' + SIG.encode() + b'": 2}', {}, {}, 400, None),
    "duplicate_path_key": (b'{"route": "heart", "path": "heart/a/", "path": "heart/../b/"}', {}, {}, 400, "path"),
    "utf16_body": (json.dumps(OK).encode("utf-16"), {}, {}, 400, None),
    "latin1_body": ('{"route": "heart", "path": "heart/caf\u00e9/"}'.encode("latin-1"), {}, {}, 400, None),
    "invalid_utf8": (b'{"route": "heart", "path": "heart/\xc3\x28/"}', {}, {}, 400, None),
    "overlong_utf8_slash": (b'{"route": "heart", "path": "heart/\xc0\xaf/"}', {}, {}, 400, None),
    "body_over_64k": (b'{"route": "heart", "path": "' + b"a" * 70_000 + b'"}', {}, {}, 413, None),
    "huge_whitespace_body": (b" " * (64 * 1024 + 1), {}, {}, 413, None),
    "trailing_garbage": (json.dumps(OK).encode() + b" x", {}, {}, 400, None),
    "two_objects": (json.dumps(OK).encode() * 2, {}, {}, 400, None),
    "huge_integer": (b'{"route": "heart", "path": "heart/x/", "container": ' + b"9" * 5000 + b"}", {}, {}, 400, None),
    # fields
    "missing_route": ({"path": "heart/x/"}, {}, {}, 400, "route"),
    "missing_path": ({"route": "heart"}, {}, {}, 400, "path"),
    "null_route": ({"route": None, "path": "heart/x/"}, {}, {}, 400, "route"),
    "route_number": ({"route": 7, "path": "heart/x/"}, {}, {}, 400, "route"),
    "route_bool": ({"route": True, "path": "heart/x/"}, {}, {}, 400, "route"),
    "route_list": ({"route": ["heart"], "path": "heart/x/"}, {}, {}, 400, "route"),
    "route_object": ({"route": {"name": "heart"}, "path": "heart/x/"}, {}, {}, 400, "route"),
    "route_blank": ({"route": "  ", "path": "heart/x/"}, {}, {}, 400, "route"),
    "route_traversal": ({"route": "../heart", "path": "heart/x/"}, {}, {}, 400, "route"),
    "route_with_space": ({"route": "he art", "path": "heart/x/"}, {}, {}, 400, "route"),
    "route_with_nul": ({"route": "heart\x00", "path": "heart/x/"}, {}, {}, 400, "route"),
    "route_newline": ({"route": "heart\n", "path": "heart/x/"}, {}, {}, 400, "route"),
    "route_too_long": ({"route": "h" * 64, "path": "heart/x/"}, {}, {}, 400, "route"),
    "route_unicode_lookalike": ({"route": "h\u0435art", "path": "heart/x/"}, {}, {}, 400, "route"),
    "route_fullwidth": ({"route": "\uff48\uff45\uff41\uff52\uff54", "path": "heart/x/"}, {}, {}, 400, "route"),
    "route_uppercase_unknown": ({"route": "HEART", "path": "heart/x/"}, {}, {}, 404, "route"),
    "route_unknown": ({"route": "lungs", "path": "lungs/x/"}, {}, {}, 404, "route"),
    "route_with_sas": ({"route": f"heart?sig={SIG}", "path": "heart/x/"}, {}, {}, 400, "route"),
    "path_number": ({"route": "heart", "path": 20240601}, {}, {}, 400, "path"),
    "path_list": ({"route": "heart", "path": ["heart/x/"]}, {}, {}, 400, "path"),
    "path_null": ({"route": "heart", "path": None}, {}, {}, 400, "path"),
    "path_blank": ({"route": "heart", "path": "   "}, {}, {}, 400, "path"),
    "path_dotdot": ({"route": "heart", "path": "heart/../other/"}, {}, {}, 400, "path"),
    "path_encoded_dotdot": ({"route": "heart", "path": "heart/%2e%2e/%2e%2e/victim/"}, {}, {}, 400, "path"),
    "path_encoded_dotdot_upper": ({"route": "heart", "path": "heart/%2E%2E/victim/"}, {}, {}, 400, "path"),
    "path_mixed_dotdot": ({"route": "heart", "path": "heart/.%2e/victim/"}, {}, {}, 400, "path"),
    "path_dot": ({"route": "heart", "path": "heart/./x/"}, {}, {}, 400, "path"),
    "path_backslash": ({"route": "heart", "path": "heart\\..\\victim\\"}, {}, {}, 400, "path"),
    "path_encoded_backslash": ({"route": "heart", "path": "heart/%5c..%5cvictim/"}, {}, {}, 400, "path"),
    "path_nul": ({"route": "heart", "path": "heart/a\x00b/"}, {}, {}, 400, "path"),
    "path_encoded_nul": ({"route": "heart", "path": "heart/a%00b/"}, {}, {}, 400, "path"),
    "path_crlf": ({"route": "heart", "path": "heart/a\r\nSet-Cookie: x/"}, {}, {}, 400, "path"),
    "path_encoded_crlf": ({"route": "heart", "path": "heart/a%0d%0ab/"}, {}, {}, 400, "path"),
    "path_tab": ({"route": "heart", "path": "heart/a\tb/"}, {}, {}, 400, "path"),
    "path_del": ({"route": "heart", "path": "heart/a\x7fb/"}, {}, {}, 400, "path"),
    "path_c1_control": ({"route": "heart", "path": "heart/a\x85b/"}, {}, {}, 400, "path"),
    "path_query": ({"route": "heart", "path": "heart/a?comp=list/"}, {}, {}, 400, "path"),
    "path_encoded_query": ({"route": "heart", "path": "heart/a%3Fx/"}, {}, {}, 400, "path"),
    "path_fragment": ({"route": "heart", "path": "heart/a#b/"}, {}, {}, 400, "path"),
    "path_encoded_fragment": ({"route": "heart", "path": "heart/a%23b/"}, {}, {}, 400, "path"),
    "path_fullwidth_dots": ({"route": "heart", "path": "heart/\uff0e\uff0e/victim/"}, {}, {}, 400, "path"),
    "path_two_dot_leader": ({"route": "heart", "path": "heart/\u2025/victim/"}, {}, {}, 400, "path"),
    "path_60kb": ({"route": "heart", "path": "heart/" + "a" * 60_000 + "/"}, {}, {}, 400, "path"),
    "path_1025_chars": ({"route": "heart", "path": "heart/" + "a/" * 510}, {}, {}, 400, "path"),
    "path_long_segment": ({"route": "heart", "path": "heart/" + "a" * 256 + "/"}, {}, {}, 400, "path"),
    "path_leading_slash": ({"route": "heart", "path": "/heart/x/"}, {}, {}, 400, "path"),
    "path_double_slash": ({"route": "heart", "path": "heart//x/"}, {}, {}, 400, "path"),
    "path_https_url": ({"route": "heart", "path": "https://evil.example/heart/"}, {}, {}, 400, "path"),
    "path_sas_url": ({"route": "heart", "path": SAS_URL}, {}, {}, 400, "path"),
    "path_abfss": ({"route": "heart", "path": "abfss://landing@acct.dfs.core.windows.net/heart/x/"}, {}, {}, 400,
                   "path"),
    "path_other_prefix": ({"route": "heart", "path": "lungs/x/"}, {}, {}, 400, "path"),
    "path_prefix_lookalike": ({"route": "heart", "path": "heartx/"}, {}, {}, 400, "path"),
    "path_just_prefix_dotdot": ({"route": "heart", "path": "heart/.."}, {}, {}, 400, "path"),
    "path_bidi_override": ({"route": "heart", "path": "heart/\u202ex/"}, {}, {}, 202, None),
    "container_other": ({"route": "heart", "path": "heart/x/", "container": "secrets"}, {}, {}, 400, "container"),
    "container_number": ({"route": "heart", "path": "heart/x/", "container": 1}, {}, {}, 400, "container"),
    "container_traversal": ({"route": "heart", "path": "heart/x/", "container": "../landing"}, {}, {}, 400,
                            "container"),
    "container_sas": ({"route": "heart", "path": "heart/x/", "container": f"landing?sig={SIG}"}, {}, {}, 400,
                      "container"),
    "unknown_field_url": ({"route": "heart", "url": SAS_URL}, {}, {}, 400, "url"),
    "unknown_field_typo": ({"route": "heart", "path": "heart/x/", "contianer": "landing"}, {}, {}, 400, "contianer"),
    "unknown_field_reason": ({**OK, "reason": "why"}, {}, {}, 400, "reason"),
    "unknown_field_case": ({**OK, "Path": "heart/y/"}, {}, {}, 400, "Path"),
    "unknown_field_proto": ({**OK, "__proto__": {"admin": True}}, {}, {}, 400, "__proto__"),
    "unknown_field_run_id": ({**OK, "run_id": "heart-000000000000000000000000"}, {}, {}, 400, "run_id"),
    "unknown_field_with_secret_name": ({**OK, f"sig={SIG}": 1}, {}, {}, 400, None),
    "unknown_field_empty_name": ({**OK, "": 1}, {}, {}, 400, None),
    "unknown_field_control_name": ({**OK, "a\r\nb": 1}, {}, {}, 400, None),
    # headers
    "content_encoding_gzip": (OK, {"Content-Encoding": "gzip"}, {}, 415, "Content-Encoding"),
    "content_encoding_br": (OK, {"Content-Encoding": "br"}, {}, 415, "Content-Encoding"),
    "idempotency_key_too_long": (OK, {"Idempotency-Key": "k" * 201}, {}, 400, None),
    "idempotency_key_empty": (OK, {"Idempotency-Key": ""}, {}, 400, None),
    "functions_key_header_with_bad_body": (b"", {"x-functions-key": SIG}, {}, 400, None),
    "form_encoded_body": (b"route=heart&path=heart%2Fx%2F", {"Content-Type": "application/x-www-form-urlencoded"}, {},
                          400, None),
    "utf16_with_charset": (json.dumps(OK).encode("utf-16-le"), {"Content-Type": "application/json; charset=utf-16"},
                           {}, 400, None),
    # query parameters
    "query_unknown": (OK, {}, {"route": "lungs"}, 400, "route"),
    "query_async_on_start": (OK, {}, {"async": "true"}, 400, "async"),
    # unusual but valid: accepted, exactly one run
    "bom_body": (b"\xef\xbb\xbf" + json.dumps(OK).encode(), {}, {}, 202, None),
    "text_plain_content_type": (OK, {"Content-Type": "text/plain"}, {}, 202, None),
    "container_given_and_equal": ({**OK, "container": "landing"}, {}, {}, 202, None),
    "container_null": ({**OK, "container": None}, {}, {}, 202, None),
    "path_unicode_name": ({"route": "heart", "path": "heart/\u65e5\u672c/\u00e9t\u00e9 2024/"}, {}, {}, 202, None),
    "path_literal_percent": ({"route": "heart", "path": "heart/100%/"}, {}, {}, 202, None),
    "path_spaces": ({"route": "heart", "path": "heart/a b  c/"}, {}, {}, 202, None),
    # pre-flight: a folder that is not there is refused before any claim; "force" is a boolean or refused
    "preflight_no_such_folder": ({"route": "heart", "path": "heart/never-landed/"}, {}, {}, 404, "path"),
    "preflight_force_not_boolean": ({**OK, "force": "true"}, {}, {}, 400, "force"),
    "preflight_force_null": ({**OK, "force": None}, {}, {}, 400, "force"),
    "preflight_force_with_sas": ({**OK, "force": "sig=Zm9vYmFy"}, {}, {}, 400, "force"),
    "path_without_slash": ({"route": "heart", "path": "heart/2024-06-01"}, {}, {}, 202, None),
    "code_in_query": (OK, {}, {"code": f"fn-key-{SIG}"}, 202, None),
    "content_encoding_identity": (OK, {"Content-Encoding": "identity"}, {}, 202, None),
    "idempotency_key_with_sas": (OK, {"Idempotency-Key": f"sig={SIG}"}, {}, 202, None),
    "idempotency_key_unicode": (OK, {"Idempotency-Key": "\u65e5\u672c-42"}, {}, 202, None),
    "prefer_respond_async": (OK, {"Prefer": "respond-async"}, {}, 202, None),
    "code_with_crlf": (OK, {}, {"code": "k\r\nSet-Cookie: a=b"}, 202, None),
}


@pytest.mark.parametrize("name", sorted(START_CASES))
def test_start(catalogue, host, ledger, name):
    body, headers, params, status, field = START_CASES[name]
    with catalogue.case("http.start", name, secrets=SECRETS) as c:
        response = call("start_run", host, "POST", body=body, headers=headers, params=params)
        if status == 202:
            c.check(response.status_code == 202, f"status {response.status_code}: {response.get_body()[:300]!r}")
            run_id = body_of(response)["run_id"]
            c.check(host.instance_ids() == [run_id], f"exactly one run: {host.instance_ids()}")
            c.check(len(ledger_names(ledger)) == 1, f"exactly one ledger record: {ledger_names(ledger)}")
            location = response.headers["Location"]
            c.check("\n" not in location and "\r" not in location, "a clean Location header")
            c.no_secret_in(body_of(response)["input"], json.dumps(host.status(run_id)))
            return
        check_refused(c, response, status, field)
        c.check(host.instance_ids() == [], f"nothing started: {host.instance_ids()}")
        c.check(ledger_names(ledger) == [], f"nothing claimed: {ledger_names(ledger)}")


def test_start_with_a_broken_sas_connection_answers_503_without_the_sas(catalogue, host, ledger, monkeypatch):
    config = json.loads(json.dumps(CONFIG))
    config["routes"][0]["match"]["connection"] = "LANDING"
    monkeypatch.setenv("BATCH_CONFIG_JSON", json.dumps(config))
    monkeypatch.setenv("LANDING", f"SharedAccessSignature=sv=2024-05-04&sig={SIG};AccountKey={KEY}")
    with catalogue.case("http.start", "landing_connection_with_sas_is_broken", secrets=SECRETS) as c:
        response = call("start_run", host, "POST", body=OK)
        check_refused(c, response, 503, None)
        c.check(host.instance_ids() == [] and ledger_names(ledger) == [], "nothing started or claimed")


def test_start_while_the_task_hub_is_unreachable_answers_503_and_keeps_no_claim(catalogue, host, ledger):
    binding = json.loads(host.client_binding())
    binding["rpcBaseUrl"] = "http://127.0.0.1:9/durabletask/"
    binding["creationUrls"] = {k: v.replace(f":{host.port}", ":9") for k, v in binding.get("creationUrls", {}).items()}
    binding["managementUrls"] = {k: v.replace(f":{host.port}", ":9") if isinstance(v, str) else v
                                 for k, v in binding.get("managementUrls", {}).items()}
    import azure.functions as func

    from tests.app_index import user_function
    from tests.support.durable_host import run_async

    with catalogue.case("http.start", "durable_task_hub_unreachable", secrets=SECRETS) as c:
        req = func.HttpRequest("POST", "http://localhost:7071/api/runs", headers={}, params={}, route_params={},
                               body=json.dumps(OK).encode())
        response = run_async(user_function("start_run")(req=req, client=json.dumps(binding)))
        check_refused(c, response, 503, None)
        c.check(host.instance_ids() == [], "nothing started")
        c.check(all(json.loads(ledger.download_blob(n).readall()).get("state") != "started"
                    for n in ledger_names(ledger)), "no claim left in the started state")


# --- the run endpoints: one run exists and must stay untouched ----------------------------------------

@pytest.fixture
def existing(host, ledger):
    run_id = body_of(call("start_run", host, "POST", body=OK))["run_id"]
    run_until_monitoring(host, run_id)
    return run_id


def assert_untouched(c, host, ledger, run_id):
    c.check(host.instance_ids() == [run_id], f"no other instance: {host.instance_ids()}")
    c.check(host.count(run_id, ET.EVENT_RAISED) == 0, "no event raised on the run")
    c.check(host.status(run_id)["runtimeStatus"] in ("Running", "Pending"), "the run still runs")
    c.check(len(ledger_names(ledger)) == 1, f"no other ledger record: {ledger_names(ledger)}")


BAD_RUN_IDS = {
    "query_suffix": ("{id}?x=", 400), "query_instances": ("{id}?showHistory=true", 400), "slash_suffix": ("{id}/", 400),
    "fragment_suffix": ("{id}#x", 400), "dot": (".", 400), "dotdot": ("..", 400),
    "dotdot_instances": ("../instances", 400), "dotdot_after_id": ("{id}/../{id}", 400),
    "encoded_slash": ("{id}%2F..%2Finstances", 400), "encoded_query": ("{id}%3Fx%3D", 400),
    "empty": ("", 400), "space_inside": ("heart 1", 400), "leading_space": (" {id}", 400),
    "trailing_newline": ("{id}\n", 400), "crlf_inside": ("{id}\r\nX-Injected: 1", 400), "nul": ("{id}\x00", 400),
    "unicode_letter": ("h\u00e9art-1", 400), "fullwidth_digit": ("heart-\uff11", 400),
    "too_long": ("h" * 129, 400), "leading_dash": ("-{id}", 400), "backslash": ("{id}\\..", 400),
    "sas_in_id": (f"{{id}}?sig={SIG}", 400), "percent": ("{id}%", 400), "dot_inside": ("heart.1", 400),
    "unknown_but_valid": ("heart-000000000000000000000000", 404), "quiet_waiter_id": ("lq-{id}", 404),
    "manifest_waiter_id": ("lw-{id}", 404), "valid_128_chars": ("h" * 128, 404),
}


@pytest.mark.parametrize("name", sorted(BAD_RUN_IDS))
@pytest.mark.parametrize("endpoint", ["get_run", "cancel_run", "redeliver_run"])
def test_run_ids_in_paths(catalogue, host, ledger, existing, endpoint, name):
    template, status = BAD_RUN_IDS[name]
    with catalogue.case(f"http.{endpoint}.run_id", name, secrets=SECRETS) as c:
        response = call(endpoint, host, "GET" if endpoint == "get_run" else "POST",
                        route_params={"run_id": template.format(id=existing)})
        check_refused(c, response, status, "run_id")
        assert_untouched(c, host, ledger, existing)


def test_waiters_are_neither_listed_read_cancelled_nor_redelivered(catalogue, host, ledger, existing):
    from shared.landing.rules import manifest_waiter_id, quiet_waiter_id

    waiters = {"quiet": quiet_waiter_id("heart", "http://x/landing/heart/a/"),
               "manifest": manifest_waiter_id("heart", "http://x/landing/heart/b/", '"0x1"')}
    host.start("landing_quiet_orchestrator", {"not": "a run"}, instance_id=waiters["quiet"])
    host.start("landing_manifest_orchestrator", {"not": "a run"}, instance_id=waiters["manifest"])
    for kind, waiter in waiters.items():
        for endpoint in ("get_run", "cancel_run", "redeliver_run"):
            with catalogue.case(f"http.{endpoint}.waiter", kind, secrets=SECRETS) as c:
                response = call(endpoint, host, "GET" if endpoint == "get_run" else "POST",
                                route_params={"run_id": waiter})
                check_refused(c, response, 404, "run_id")
                c.check(host.count(waiter, ET.EVENT_RAISED) == 0, "no event raised on the waiter")
    with catalogue.case("http.list", "waiters_not_listed", secrets=SECRETS) as c:
        listing = body_of(call("list_runs", host, params={"since": "2000-01-01"}))
        c.check([r["run_id"] for r in listing["runs"]] == [existing] and listing["count"] == 1, str(listing))


# name: (body, params, status, field)
CANCEL_CASES = {
    "unknown_field_reson": ({"reson": "typo"}, {}, 400, "reson"),
    "unknown_field_force": ({"reason": "x", "force": True}, {}, 400, "force"),
    "reason_501_chars": ({"reason": "x" * 501}, {}, 400, "reason"),
    "reason_60kb": ({"reason": "x" * 60_000}, {}, 400, "reason"),
    "reason_number": ({"reason": 5}, {}, 400, "reason"),
    "reason_list": ({"reason": ["a"]}, {}, 400, "reason"),
    "reason_object": ({"reason": {"text": "a"}}, {}, 400, "reason"),
    "reason_bool": ({"reason": False}, {}, 400, "reason"),
    "body_array": (b'["reason"]', {}, 400, None),
    "body_string": (b'"stop"', {}, 400, None),
    "body_not_json": (b"reason=stop", {}, 400, None),
    "body_nested": (b'{"reason": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", {}, 400, None),
    "body_nan": (b'{"reason": NaN}', {}, 400, None),
    "body_duplicate_reason": (b'{"reason": "a", "reason": "b"}', {}, 400, "reason"),
    "body_invalid_utf8": (b'{"reason": "\xff"}', {}, 400, None),
    "body_over_64k": (b'{"reason": "' + b"x" * 70_000 + b'"}', {}, 413, None),
    "query_unknown": ({"reason": "x"}, {"force": "true"}, 400, "force"),
}


@pytest.mark.parametrize("name", sorted(CANCEL_CASES))
def test_cancel(catalogue, host, ledger, existing, name):
    body, params, status, field = CANCEL_CASES[name]
    with catalogue.case("http.cancel", name, secrets=SECRETS) as c:
        response = call("cancel_run", host, "POST", body=body, params=params, route_params={"run_id": existing})
        check_refused(c, response, status, field)
        assert_untouched(c, host, ledger, existing)


CANCEL_ACCEPTED = {
    "reason_with_controls": ("stop\r\n\x1b[2J\x00now\u202e", "stop [2J now"),
    "reason_with_sas": (f"input was {SAS_URL}", None),
    "reason_with_account_key": (f"bad connection {KEY_CS}", None),
    "reason_blank_uses_default": ("   ", "cancelled via the HTTP API"),
    "reason_null_uses_default": (None, "cancelled via the HTTP API"),
    "reason_500_chars": ("r" * 500, "r" * 500),
    "empty_object_body": (..., "cancelled via the HTTP API"),
}


@pytest.mark.parametrize("name", sorted(CANCEL_ACCEPTED))
def test_cancel_accepts_and_cleans_reasons(catalogue, host, ledger, existing, name):
    reason, expected = CANCEL_ACCEPTED[name]
    body = {} if reason is ... else {"reason": reason}
    with catalogue.case("http.cancel.accepted", name, secrets=SECRETS) as c:
        response = call("cancel_run", host, "POST", body=body, route_params={"run_id": existing})
        c.check(response.status_code == 202, f"status {response.status_code}: {response.get_body()!r}")
        answered = body_of(response)["reason"]
        if expected is not None:
            c.check(answered == expected, f"reason {answered!r}")
        c.check(not any(ch in answered for ch in "\r\n\x00\x1b\u202e"), "no control characters")
        final = host.run_until_complete(existing)
        c.check(final["output"]["outcome"] == "Canceled", "the run was cancelled")
        c.no_secret_in(answer_text(response), json.dumps(host.executions(existing)), json.dumps(final))
        c.check(host.instance_ids() == [existing], "no other instance")


# name: (params, status, field)
LIST_CASES = {
    "limit_superscript_two": ({"limit": "\u00b2"}, 400, "limit"),
    "limit_arabic_indic": ({"limit": "\u0663"}, 400, "limit"),
    "limit_fullwidth": ({"limit": "\uff15"}, 400, "limit"),
    "limit_zero": ({"limit": "0"}, 400, "limit"),
    "limit_negative": ({"limit": "-1"}, 400, "limit"),
    "limit_over_max": ({"limit": "1001"}, 400, "limit"),
    "limit_float": ({"limit": "1.5"}, 400, "limit"),
    "limit_exponent": ({"limit": "1e2"}, 400, "limit"),
    "limit_hex": ({"limit": "0x10"}, 400, "limit"),
    "limit_spaces": ({"limit": " 5 "}, 400, "limit"),
    "limit_huge": ({"limit": "9" * 5000}, 400, "limit"),
    "limit_plus": ({"limit": "+5"}, 400, "limit"),
    "limit_underscore": ({"limit": "1_0"}, 400, "limit"),
    "since_words": ({"since": "yesterday"}, 400, "since"),
    "since_month_13": ({"since": "2024-13-01"}, 400, "since"),
    "since_feb_30": ({"since": "2024-02-30"}, 400, "since"),
    "since_fullwidth_digits": ({"since": "\uff12\uff10\uff12\uff14-01-01"}, 400, "since"),
    "since_three_digit_year": ({"since": "999-01-01"}, 400, "since"),
    "since_unix_seconds": ({"since": "1717228800"}, 400, "since"),
    "since_week_date": ({"since": "2024-W01"}, 400, "since"),
    "since_basic_format": ({"since": "20240601T000000Z"}, 400, "since"),
    "since_bad_offset": ({"since": "2024-06-01T00:00:00+2"}, 400, "since"),
    "since_offset_25h": ({"since": "2024-06-01T00:00:00+25:00"}, 400, "since"),
    "since_hour_25": ({"since": "2024-06-01T25:00:00Z"}, 400, "since"),
    "since_with_sas": ({"since": f"2024-06-01?sig={SIG}"}, 400, "since"),
    "status_lowercase": ({"status": "running"}, 400, "status"),
    "status_list": ({"status": "Running,Failed"}, 400, "status"),
    "status_unknown": ({"status": "Done"}, 400, "status"),
    "status_runtime_name": ({"status": "Completed"}, 400, "status"),
    "route_traversal": ({"route": "../heart"}, 400, "route"),
    "route_slash": ({"route": "heart/x"}, 400, "route"),
    "route_space": ({"route": "heart x"}, 400, "route"),
    "route_too_long": ({"route": "h" * 64}, 400, "route"),
    "route_prefix_wildcard": ({"route": "*"}, 400, "route"),
    "unknown_param": ({"limt": "5"}, 400, "limt"),
    "unknown_param_top": ({"top": "5"}, 400, "top"),
    "unknown_param_continuation": ({"continuationToken": "x"}, 400, "continuationToken"),
}


@pytest.mark.parametrize("name", sorted(LIST_CASES))
def test_list(catalogue, host, ledger, existing, name):
    params, status, field = LIST_CASES[name]
    with catalogue.case("http.list", name, secrets=SECRETS) as c:
        response = call("list_runs", host, params=params)
        check_refused(c, response, status, field)
        assert_untouched(c, host, ledger, existing)


# name: (params, listed?)
LIST_ACCEPTED = {
    "since_offset_before_run": ({"since": "2024-01-01T00:30:00+01:00"}, True),
    "since_offset_after_run": ({"since": "2023-12-31T23:30:00-01:00"}, False),
    "since_plus_as_space": ({"since": "2024-01-01T00:30:00 01:00"}, True),
    "since_year_0500": ({"since": "0500-01-01T00:00:00Z"}, True),
    "since_year_0001_offset": ({"since": "0001-01-01T00:00:00+14:00"}, True),
    "since_year_9999": ({"since": "9999-12-31T23:59:59-14:00"}, False),
    "since_date_only": ({"since": "2023-12-31"}, True),
    "since_lowercase_z": ({"since": "2023-12-31t23:00:00z".replace("t", "T")}, True),
    "since_fraction": ({"since": "2023-12-31T23:59:59.999999Z"}, True),
    "limit_one": ({"limit": "1", "since": "2000-01-01"}, True),
    "limit_max": ({"limit": "1000", "since": "2000-01-01"}, True),
    "empty_values_are_defaults": ({"limit": "", "status": "", "route": "", "since": "2000-01-01"}, True),
    "route_other": ({"route": "lungs", "since": "2000-01-01"}, False),
    "route_prefix_of_other": ({"route": "hear", "since": "2000-01-01"}, False),
    "code_param": ({"code": f"key-{SIG}", "since": "2000-01-01"}, True),
}


@pytest.mark.parametrize("name", sorted(LIST_ACCEPTED))
def test_list_accepted(catalogue, host, ledger, existing, name):
    params, listed = LIST_ACCEPTED[name]
    with catalogue.case("http.list.accepted", name, secrets=SECRETS) as c:
        response = call("list_runs", host, params=params)
        c.check(response.status_code == 200, f"status {response.status_code}: {response.get_body()!r}")
        runs = [r["run_id"] for r in body_of(response)["runs"]]
        c.check(runs == ([existing] if listed else []), f"listed {runs}")
        c.no_secret_in(answer_text(response))
        assert_untouched(c, host, ledger, existing)


# name: (params, headers, status, field)
GET_CASES = {
    "unknown_param": ({"showHistory": "true"}, {}, 400, "showHistory"),
    "unknown_param_input": ({"showInput": "true"}, {}, 400, "showInput"),
    "unknown_param_with_secret_name": ({f"sig={SIG}": "1"}, {}, 400, None),
}


GET_ACCEPTED = {
    "async_with_crlf_code": ({"async": "true", "code": "k\r\nSet-Cookie: a=b"}, {}, 202),
    "async_with_sas_code": ({"async": "1", "code": f"key&sig={SIG}"}, {}, 202),
    "prefer_header": ({}, {"Prefer": "respond-async, wait=10"}, 202),
    "plain": ({}, {}, 200),
}


@pytest.mark.parametrize("name", sorted(GET_ACCEPTED))
def test_get_accepted(catalogue, host, ledger, existing, name):
    params, headers, status = GET_ACCEPTED[name]
    with catalogue.case("http.get.accepted", name, secrets=SECRETS) as c:
        response = call("get_run", host, params=params, headers=headers, route_params={"run_id": existing})
        c.check(response.status_code == status, f"status {response.status_code}: {response.get_body()!r}")
        c.check(body_of(response)["run_id"] == existing and body_of(response)["status"] == "Running", "the run")
        location = response.headers.get("Location", "")
        c.check("\r" not in location and "\n" not in location, f"a clean Location header: {location!r}")
        c.no_secret_in(response.get_body().decode())
        assert_untouched(c, host, ledger, existing)


@pytest.mark.parametrize("name", sorted(GET_CASES))
def test_get(catalogue, host, ledger, existing, name):
    params, headers, status, field = GET_CASES[name]
    with catalogue.case("http.get", name, secrets=SECRETS) as c:
        response = call("get_run", host, params=params, headers=headers, route_params={"run_id": existing})
        check_refused(c, response, status, field)
        assert_untouched(c, host, ledger, existing)


# name: (body, params, status, field)
REDELIVER_CASES = {
    "running_run": (b"", {}, 409, None),
    "any_field": ({"force": True}, {}, 400, "force"),
    "body_array": (b"[]", {}, 400, None),
    "body_nested": (b"[" * 30_000, {}, 400, None),
    "body_over_64k": (b" " * 70_000, {}, 413, None),
    "query_unknown": (b"", {"force": "1"}, 400, "force"),
}


@pytest.mark.parametrize("name", sorted(REDELIVER_CASES))
def test_redeliver(catalogue, host, ledger, existing, name):
    body, params, status, field = REDELIVER_CASES[name]
    with catalogue.case("http.redeliver", name, secrets=SECRETS) as c:
        response = call("redeliver_run", host, "POST", body=body, params=params, route_params={"run_id": existing})
        check_refused(c, response, status, field)
        assert_untouched(c, host, ledger, existing)


def test_run_answers_carry_no_secret_from_a_failure(catalogue, host, ledger, caplog):
    def submit_job(payload):
        raise RuntimeError(f"cannot reach the endpoint: {KEY_CS}; input {SAS_URL}")

    host.activities["submit_job"] = submit_job
    run_id = body_of(call("start_run", host, "POST", body=OK))["run_id"]
    host.run_until_complete(run_id)
    # These cases are about the API's answers and its own log lines: the orchestrator's log lines while the run
    # failed are the orchestrator's catalogue's concern.
    caplog.clear()
    with catalogue.case("http.get", "failed_run_error_with_secrets", secrets=SECRETS) as c:
        response = call("get_run", host, route_params={"run_id": run_id})
        c.check(response.status_code == 200 and body_of(response)["status"] == "Failed", str(body_of(response)))
        c.no_secret_in(answer_text(response))
    with catalogue.case("http.list", "failed_run_error_with_secrets", secrets=SECRETS) as c:
        response = call("list_runs", host, params={"since": "2000-01-01"})
        c.check(response.status_code == 200 and body_of(response)["count"] == 1, str(body_of(response)))
        c.no_secret_in(answer_text(response))
    with catalogue.case("http.redeliver", "failed_run_nothing_to_deliver", secrets=SECRETS) as c:
        response = call("redeliver_run", host, "POST", route_params={"run_id": run_id})
        check_refused(c, response, 409, None)
        c.check(host.instance_ids() == [run_id], "no other instance")
    with catalogue.case("http.cancel", "ended_run_is_409", secrets=SECRETS) as c:
        response = call("cancel_run", host, "POST", route_params={"run_id": run_id})
        check_refused(c, response, 409, "run_id")
        c.check(host.count(run_id, ET.EVENT_RAISED) == 0, "no event raised")
