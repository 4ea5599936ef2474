"""``POST /api/plan`` ``{route, path[, container]}``: what a landing would do, with no side effect (shared/plan.py).

Function key; the body is read by the one strict reader (:mod:`.inputs`); bad routes and paths answer exactly
as ``POST /api/runs`` does (:func:`.runs.parse_start`). Nothing is started, claimed or written, and no token
is requested: the answer shows the request a run would send with the token left out.
"""

from __future__ import annotations

import logging
import os

import azure.functions as func

from ..redact import redact
from .inputs import check_query
from .problems import HttpProblem, json_response, problem_response

log = logging.getLogger(__name__)


def plan(req: func.HttpRequest) -> func.HttpResponse:
    from ..plan import plan_request
    from .runs import START_FIELDS, _settings, read_json_body

    try:
        check_query(req.params, ())
        settings = _settings()
        return json_response(200, plan_request(read_json_body(req, allowed=START_FIELDS | {"force"}), settings, os.environ))
    except HttpProblem as problem:
        return problem_response(problem)
    except Exception as exc:
        log.error("plan failed: %s", redact(f"{type(exc).__name__}: {exc}"))
        return problem_response(HttpProblem(500, "internal error; the function's log has the cause"))
