"""The HTTP API's OpenAPI 3.1 document, generated from the models (:mod:`.resource`, :mod:`.api_models`).

Bodies and the run resource are pydantic's JSON Schema; paths, parameters and answers are the table below,
one entry per HTTP function of ``function_app.py``. Served at ``GET /api/openapi.json`` (function key, like
every endpoint but health: the document names operator endpoints) and committed as ``docs/openapi.json``:

    python -m shared.http_api.openapi            # rewrite docs/openapi.json
    python -m shared.http_api.openapi --check    # exit 1 if docs/openapi.json is stale
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import azure.functions as func

from .. import __version__

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
JSON = "application/json"
KEYED = [{"functionKey": []}, {"functionKeyQuery": []}]

# A request reached the function but was refused: every error answer is a Problem.
ERRORS = {
    "400": "a field, query parameter or header is invalid (the answer names it)",
    "404": "no such run, route or operation",
    "409": "the resource is in a state that refuses this (ended, still running, already running again)",
    "413": "the body is larger than 64 KiB",
    "415": "the body is compressed or not JSON",
    "422": "the request is well-formed but cannot be done (pre-flight, Idempotency-Key reuse)",
    "503": "the configuration is invalid, or storage or the task hub did not answer",
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str, headers: Optional[dict] = None) -> dict:
    answer: dict[str, Any] = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer


def _errors(*codes: str) -> dict:
    return {code: _json(_ref("Problem"), ERRORS[code]) for code in codes}


ACCEPTED_HEADERS = {
    "Location": {"description": "where to poll (carries the caller's function key as `code`)",
                 "schema": {"type": "string"}},
    "Retry-After": {"description": "seconds to wait before polling", "schema": {"type": "integer"}},
}
# Path segments: anything a URL router routes (no '/', no whitespace); the function checks the id's grammar
# (letters, digits, '-', '_') and answers 400 naming the parameter, so the fuzzer reaches that check.
SEGMENT = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"^[^/\s]+$"}
RUN_ID = {"name": "run_id", "in": "path", "required": True, "description": "a run id (`<route>-<hex>`)",
          "schema": SEGMENT}
OPERATION_ID = {"name": "operation_id", "in": "path", "required": True, "description": "a backfill operation id",
                "schema": SEGMENT}
VIEW = {"name": "view", "in": "query", "required": False,
        "description": "`debug`: the internal run view with the monitor state (operators; undocumented shape)",
        "schema": {"type": "string", "enum": ["public", "debug"]}}


def _body(name: str, required: bool = True) -> dict:
    return {"required": required, "content": {JSON: {"schema": _ref(name)}}}


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def _operation(operation_id: str, summary: str, answers: dict, *, parameters: Optional[list] = None,
               body: Optional[dict] = None, keyed: bool = True) -> dict:
    operation: dict[str, Any] = {"operationId": operation_id, "summary": summary, "responses": answers}
    if parameters:
        operation["parameters"] = parameters
    if body:
        operation["requestBody"] = body
    if not keyed:
        operation["security"] = []
    return operation


def _run_answer(description: str) -> dict:
    return {"anyOf": [_ref("RunResource"), _ref("RunDebugView")], "description": description}


def paths() -> dict:
    run_accepted = _json(_ref("RunAccepted"), "accepted: poll Location", ACCEPTED_HEADERS)
    return {
        "/api/health": {"get": _operation(
            "health", "liveness and configuration verdict (anonymous)",
            {"200": _json(_ref("Answer"), "healthy"), "503": _json(_ref("Answer"), "the configuration is invalid")},
            keyed=False)},
        "/api/health/details": {"get": _operation(
            "health_details", "routes, connections and deprecations",
            {"200": _json(_ref("Answer"), "details"), "503": _json(_ref("Answer"), "the configuration is invalid")})},
        "/api/openapi.json": {"get": _operation(
            "openapi", "this document", {"200": _json({"type": "object"}, "the OpenAPI 3.1 document")})},
        "/api/runs": {
            "post": _operation(
                "start_run", "start a run for a landed input (async request-reply)",
                {"202": run_accepted, **_errors("400", "404", "409", "413", "415", "422", "503")},
                parameters=[{"name": "Idempotency-Key", "in": "header", "required": False,
                             "description": "the same key on the same route answers the same run",
                             "schema": {"type": "string", "minLength": 1, "maxLength": 200}}],
                body=_body("StartRequest")),
            "get": _operation(
                "list_runs", "the newest runs, public resources",
                {"200": _json({"anyOf": [_ref("RunList"), _ref("RunDebugList")]}, "the runs"),
                 **_errors("400", "503")},
                parameters=[
                    _query("route", {"type": "string", "maxLength": 63}, "only this route's runs"),
                    _query("status", {"type": "string",
                                      "enum": ["Running", "Succeeded", "Failed", "Canceled", "TimedOut"]},
                           "only runs in this status"),
                    _query("since", {"type": "string", "format": "date-time"},
                           "created since (RFC 3339; default 7 days ago)"),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "at most (default 50)"),
                    VIEW]),
        },
        "/api/runs/stats": {"get": _operation(
            "run_stats", "trend figures for the dashboard",
            {"200": _json(_ref("Answer"), "counts, durations and sweep figures"), **_errors("400", "503")},
            parameters=[_query("hours", {"type": "integer", "minimum": 1, "maximum": 720}, "window (default 24)")])},
        "/api/runs/{run_id}": {"get": _operation(
            "get_run", "a run (`async=true`: 202 while running, 200 with `X-Run-Status` once ended)",
            {"200": _json(_run_answer("the run"), "the run",
                          {"X-Run-Status": {"description": "the outcome, with async=true",
                                            "schema": {"type": "string"}}}),
             "202": _json(_run_answer("the run, still running"), "async=true and still running",
                          ACCEPTED_HEADERS),
             **_errors("400", "404", "503")},
            parameters=[RUN_ID, _query("async", {"type": "string", "enum": ["true", "false", "1", "0"]},
                                       "async request-reply"), VIEW])},
        "/api/runs/{run_id}/cancel": {"post": _operation(
            "cancel_run", "ask a running run to cancel its job", {"202": run_accepted,
                                                                 **_errors("400", "404", "409", "413", "415", "503")},
            parameters=[RUN_ID], body=_body("CancelRequest", required=False))},
        "/api/runs/{run_id}/confirm-job": {"post": _operation(
            "confirm_run_job", "settle a SubmitUncertain run with the job it did submit",
            {"202": run_accepted, **_errors("400", "404", "409", "413", "415", "503")},
            parameters=[RUN_ID], body=_body("ConfirmJobRequest"))},
        "/api/runs/{run_id}/resubmit": {"post": _operation(
            "resubmit_run", "settle a SubmitUncertain run by submitting a new attempt",
            {"202": run_accepted, **_errors("400", "404", "409", "413", "415", "503")},
            parameters=[RUN_ID], body=_body("EmptyBody", required=False))},
        "/api/runs/{run_id}/redeliver": {"post": _operation(
            "redeliver_run", "deliver an ended run's outputs again",
            {"202": run_accepted, **_errors("400", "404", "409", "413", "415", "503")},
            parameters=[RUN_ID], body=_body("EmptyBody", required=False))},
        "/api/plan": {"post": _operation(
            "plan", "what a start would do, without side effects or token",
            {"200": _json(_ref("Answer"), "the plan"), **_errors("400", "404", "413", "415", "503")},
            body=_body("StartRequest"))},
        "/api/dashboard": {"get": _operation(
            "dashboard", "the run dashboard (one HTML page over this API)",
            {"200": {"description": "the page", "content": {"text/html": {"schema": {"type": "string"}}}}})},
        "/api/backfill": {"post": _operation(
            "backfill", "start runs for what already landed (dry_run: list only)",
            {"200": _json(_ref("Answer"), "dry run: what would start"),
             "202": _json(_ref("OperationAccepted"), "the operation started", ACCEPTED_HEADERS),
             **_errors("400", "404", "409", "413", "415", "503")},
            body=_body("BackfillRequest"))},
        "/api/backfill/{operation_id}": {"get": _operation(
            "backfill_status", "a backfill operation (202 while running)",
            {"200": _json(_ref("Answer"), "ended"),
             "202": _json(_ref("OperationAccepted"), "running", ACCEPTED_HEADERS), **_errors("400", "404", "503")},
            parameters=[OPERATION_ID])},
        "/api/backfill/{operation_id}/cancel": {"post": _operation(
            "backfill_cancel", "cancel a backfill operation between steps",
            {"202": _json(_ref("OperationAccepted"), "cancel requested", ACCEPTED_HEADERS),
             **_errors("400", "404", "409", "413", "415", "503")},
            parameters=[OPERATION_ID], body=_body("EmptyBody", required=False))},
        "/api/landing/poison/redrive": {"post": _operation(
            "redrive_landing_poison", "move poison landing messages back to the landing queue",
            {"200": _json(_ref("Answer"), "counts by outcome"), **_errors("400", "413", "415", "503")},
            parameters=[_query("max_messages", {"type": "integer", "minimum": 1, "maximum": 256},
                               "at most (default 32)")],
            body=_body("EmptyBody", required=False))},
    }


def document() -> dict:
    from pydantic.json_schema import models_json_schema

    from . import api_models as m
    from .resource import RunList, RunResource

    models = [RunResource, RunList, m.StartRequest, m.CancelRequest, m.ConfirmJobRequest, m.EmptyBody,
              m.BackfillRequest, m.Problem, m.RunAccepted, m.OperationAccepted, m.Answer]
    _, top = models_json_schema([(model, "serialization" if model in (RunResource, RunList) else "validation")
                                 for model in models], ref_template="#/components/schemas/{model}")
    schemas = dict(sorted(top["$defs"].items()))
    schemas["RunDebugView"] = {"type": "object", "required": ["run_id", "status"],
                               "description": "`?view=debug`: the internal run view (monitor state included);"
                                              " for operators, free to change"}
    schemas["RunDebugList"] = {"type": "object", "required": ["runs", "count"],
                               "properties": {"runs": {"type": "array", "items": _ref("RunDebugView")},
                                              "count": {"type": "integer"}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Azure ML batch runs", "version": __version__,
                 "description": "Runs of Azure ML batch endpoints started by landings or by this API. Long work"
                                " answers 202 with Location and Retry-After (async request-reply). Every error"
                                " answer is a Problem. Every endpoint but health needs a function key."},
        "paths": paths(),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
                "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code"},
            },
        },
        "security": KEYED,
    }


def text() -> str:
    return json.dumps(document(), indent=2, sort_keys=False) + "\n"


def serve(req: func.HttpRequest) -> func.HttpResponse:
    """``GET /api/openapi.json``."""
    from .inputs import check_query
    from .problems import HttpProblem, problem_response

    try:
        check_query(req.params, ())
    except HttpProblem as problem:
        return problem_response(problem)
    return func.HttpResponse(text(), status_code=200, mimetype=JSON)


def main(argv: list[str]) -> int:
    wanted = text()
    if "--check" in argv:
        if not DOCUMENT.exists() or DOCUMENT.read_text(encoding="utf-8") != wanted:
            print(f"{DOCUMENT} is stale: run python -m shared.http_api.openapi", file=sys.stderr)
            return 1
        print(f"{DOCUMENT.name} is up to date")
        return 0
    DOCUMENT.write_text(wanted, encoding="utf-8")
    print(f"wrote {DOCUMENT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
