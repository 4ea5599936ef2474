"""docs/openapi.json is generated from the models, is current, is served, and covers every HTTP function."""

from __future__ import annotations

import json

import azure.functions as func

from shared.http_api.openapi import DOCUMENT, document, main
from tests.app_index import functions, user_function


def test_the_committed_document_is_current():
    assert main(["--check"]) == 0, "run: python -m shared.http_api.openapi"


def test_every_http_function_is_documented_with_its_methods():
    documented = {(path, method.upper()) for path, ops in document()["paths"].items() for method in ops}
    routes = set()
    for function in functions().values():
        trigger = function.get_trigger()
        if trigger.type == "httpTrigger":
            for method in trigger.methods:
                routes.add((f"/api/{trigger.route}", str(getattr(method, "value", method)).upper()))
    assert routes == documented


def test_the_run_resource_is_versioned_and_has_no_monitor_state():
    schema = document()["components"]["schemas"]["RunResource"]
    assert schema["properties"]["api_version"]["const"] == "2026-12-01"
    assert schema["additionalProperties"] is False
    assert not {"phase", "hint", "hint_time", "recheck", "event_ids", "claim", "polls_here"} & set(schema["properties"])
    assert all(schema["properties"][t]["format"] == "date-time" for t in ("created_at", "finished_at"))


def test_the_document_is_served_and_equals_the_committed_one():
    response = user_function("openapi")(req=func.HttpRequest("GET", "http://localhost/api/openapi.json", body=b""))
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert json.loads(response.get_body()) == json.loads(DOCUMENT.read_text(encoding="utf-8"))
    refused = user_function("openapi")(req=func.HttpRequest("GET", "http://localhost/api/openapi.json", body=b"",
                                                            params={"x": "1"}))
    assert refused.status_code == 400
