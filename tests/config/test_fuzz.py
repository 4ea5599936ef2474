"""Property-based: any JSON value, and any single-field mutation of a valid document, is either accepted or
rejected with a ConfigError whose problems are strings — never another exception."""

import copy
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.config import AppSettings, ConfigError, parse_settings
from shared.config.loader import decode_document

BASE = json.load(open("config/routes.local.json", encoding="utf-8"))
ENV = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text()
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=20)


def outcome(document):
    try:
        return parse_settings(document, ENV)
    except ConfigError as exc:
        assert exc.problems and all(isinstance(p, str) for p in exc.problems)
        return exc


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_value_is_a_document_or_a_config_error(value):
    assert isinstance(outcome(value), (AppSettings, ConfigError))


def paths_of(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths_of(item, prefix + (key,))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from paths_of(item, prefix + (n,))


PATHS = [p for p in paths_of(BASE) if p]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(PATHS), json_values)
def test_any_field_replaced_by_any_value_is_handled(path, value):
    document = copy.deepcopy(BASE)
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert isinstance(outcome(document), (AppSettings, ConfigError))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_json_or_a_config_error(text):
    try:
        decode_document(text, "BATCH_CONFIG_JSON")
    except ConfigError as exc:
        assert exc.problems[0].startswith("BATCH_CONFIG_JSON: ")
