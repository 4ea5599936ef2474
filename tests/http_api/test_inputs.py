"""The strict request readers, as pure functions: bodies, query parameters, path parameters."""

import json
from datetime import datetime

import pytest

from shared.http_api.inputs import (MAX_BODY_BYTES, MAX_JSON_DEPTH, MAX_REASON_CHARS, check_query, int_param,
                                    parse_json_object, parse_time, reason_field, route_param, run_id_param)
from shared.http_api.problems import HttpProblem, problem_response


def refusal(fn, *args, **kwargs) -> HttpProblem:
    with pytest.raises(HttpProblem) as err:
        fn(*args, **kwargs)
    return err.value


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 50_000, b"[" * 2000 + b"]" * 2000,
                                  b'{"a": ' + b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1) + b"}"])
def test_deep_nesting_is_a_400_not_a_recursion_error(body):
    problem = refusal(parse_json_object, body[:MAX_BODY_BYTES])
    assert problem.status == 400 and "nested too deeply" in problem.message


def test_nesting_within_the_limit_is_read():
    body = b'{"a": ' + b"[" * (MAX_JSON_DEPTH - 2) + b"]" * (MAX_JSON_DEPTH - 2) + b"}"
    assert parse_json_object(body)["a"] is not None


@pytest.mark.parametrize("body, words", [
    (b'{"a": NaN}', "NaN is not a JSON number"),
    (b'{"a": -Infinity}', "Infinity is not a JSON number"),
    (b'{"route": "a", "route": "b"}', "gives field 'route' twice"),
    (b"\xff\xfe{}", "not UTF-8"),
    ('{"a": 1}'.encode("utf-16"), "not UTF-8"),
    (b'"just a string"', "must be a JSON object, not a JSON str"),
    (b"null", "must be a JSON object"),
    (b"   \n ", "request body is empty"),
])
def test_bodies_that_are_not_one_clean_json_object(body, words):
    problem = refusal(parse_json_object, body)
    assert problem.status == 400 and words in problem.message


def test_a_byte_order_mark_is_ignored_and_an_optional_body_may_be_empty():
    assert parse_json_object(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}
    assert parse_json_object(b"", required=False) == {}


def test_unknown_fields_are_named():
    problem = refusal(parse_json_object, b'{"reson": "x", "reason": "y"}', allowed={"reason"})
    assert problem.field == "reson" and "unknown field(s): 'reson'; expected: reason" in problem.message


def test_the_size_limit_is_413():
    assert refusal(parse_json_object, b" " * (MAX_BODY_BYTES + 1)).status == 413


def test_reasons_are_bounded_cleaned_and_redacted():
    assert reason_field({"reason": "wrong\r\ninput\x00 \u202e!"}) == "wrong input !"
    assert reason_field({"reason": " \t "}) is None and reason_field({}) is None
    assert reason_field({"reason": "see https://a.blob.core.windows.net/c?sv=1&sig=SECRETSIG"}).endswith("sig=***")
    assert refusal(reason_field, {"reason": "x" * (MAX_REASON_CHARS + 1)}).field == "reason"
    assert "not a JSON number" in refusal(reason_field, {"reason": 5}).message


@pytest.mark.parametrize("text", ["²", "٣", "1.0", "-1", "0", "1001", " 5", "5 ", "1e3", "0x10", "١٠", "9" * 40])
def test_limit_takes_ascii_digits_within_bounds_only(text):
    problem = refusal(int_param, {"limit": text}, "limit", default=50, low=1, high=1000)
    assert problem.status == 400 and problem.field == "limit"


def test_limit_default_and_bounds():
    assert int_param({}, "limit", default=50, low=1, high=1000) == 50
    assert int_param({"limit": "1000"}, "limit", default=50, low=1, high=1000) == 1000


@pytest.mark.parametrize("text, utc", [
    ("2024-06-01T10:00:00+02:00", datetime(2024, 6, 1, 8, 0)),
    ("2024-06-01T10:00:00 02:00", datetime(2024, 6, 1, 8, 0)),   # an unencoded '+' arrives as a space
    ("2024-06-01T10:00:00-05:30", datetime(2024, 6, 1, 15, 30)),
    ("2024-06-01T10:00:00Z", datetime(2024, 6, 1, 10, 0)),
    ("2024-06-01T10:00:00.123456Z", datetime(2024, 6, 1, 10, 0, 0, 123456)),
    ("2024-06-01T10:00", datetime(2024, 6, 1, 10, 0)),
    ("2024-06-01", datetime(2024, 6, 1)),
    ("0999-01-01T00:00:00Z", datetime(1970, 1, 1)),               # before any run: from the beginning
    ("0001-01-01T00:00:00+01:00", datetime(1970, 1, 1)),          # would underflow the calendar
    ("9999-12-31T23:59:59-01:00", datetime(9999, 12, 31)),        # would overflow it
])
def test_since_is_converted_to_utc_and_clamped(text, utc):
    assert parse_time(text, field="since") == utc


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01", "2024-02-30", "２０２４-01-01", "2024-06-01T25:00",
                                  "20240601", "2024-W01", "2024-06-01T10:00:00+2", "999-01-01", "1e9",
                                  "2024-06-01T10:00:00+25:00"])
def test_since_must_be_an_iso_time(text):
    problem = refusal(parse_time, text, field="since")
    assert problem.status == 400 and problem.field == "since"


@pytest.mark.parametrize("value", ["", ".", "..", "../instances", "heart-1?x=", "heart-1/", "heart-1#x", "a b",
                                   "héart-1", "x" * 129, "heart-1%2F..", "-heart"])
def test_run_ids_outside_the_grammar_are_400_naming_run_id(value):
    problem = refusal(run_id_param, {"run_id": value})
    assert (problem.status, problem.field) == (400, "run_id")


def test_query_names_and_routes():
    check_query({"code": "k", "limit": "5"}, {"limit"})
    assert refusal(check_query, {"limt": "5"}, {"limit"}).field == "limt"
    assert route_param({"route": "heart-v2"}) == "heart-v2"
    assert refusal(route_param, {"route": "../x"}).field == "route"


def test_error_answers_are_redacted_and_name_the_field():
    problem = HttpProblem(503, "cannot read DefaultEndpointsProtocol=https;AccountName=a;AccountKey=S3CRETKEY==",
                          field="route", problems=["https://a.blob.core.windows.net/c?sv=1&sig=S3CRETSIG"])
    body = json.loads(problem_response(problem).get_body())
    assert body["field"] == "route" and "S3CRET" not in json.dumps(body) and "AccountKey=***" in body["error"]
