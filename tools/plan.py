"""``python -m tools.plan --route R --path P [--container C]``: what a landing of P on route R would do.

Reads the app's configuration as the function app does (BATCH_CONFIG_PATH / BATCH_CONFIG_JSON and the
connection app settings in the environment; ``--settings local.settings.json`` loads its ``Values`` first).
Prints the plan as JSON (shared/plan.py): the request with the token left out, the job name, each output's
sink paths and the completion rule, checked read-only when the landing connection needs no token.
Nothing is started or written and no token is requested. Exit status 0; 2 for a bad route, path,
configuration or ``--settings`` file, with the same message as ``POST /api/runs`` (never a traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Optional


def main(argv: Optional[list[str]] = None, out=None) -> int:
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="python -m tools.plan", description=__doc__.split("\n\n")[0])
    parser.add_argument("--route", required=True)
    parser.add_argument("--path", required=True, help="blob path of the folder (or file) in the route's container")
    parser.add_argument("--container", help="default: the route's container")
    parser.add_argument("--settings", type=Path, help="a local.settings.json whose Values are loaded first")
    args = parser.parse_args(argv)

    from shared.config import ConfigError, load_settings
    from shared.http_api.problems import HttpProblem, failure_problem
    from shared.plan import plan_request
    from shared.redact import redact

    def refuse(problem: HttpProblem, **extra: object) -> int:
        print(json.dumps({"status": problem.status, "error": redact(problem.message),
                          **({"field": problem.field} if problem.field else {}), **extra}, indent=2), file=out)
        return 2

    try:
        if args.settings:  # a CLI process: the app's settings become its environment, as the Functions host does
            for key, value in read_settings_file(args.settings).items():
                os.environ.setdefault(key, str(value))
        data = {"route": args.route, "path": args.path, **({"container": args.container} if args.container else {})}
        plan = plan_request(data, load_settings(os.environ), os.environ)
    except ConfigError as exc:
        return refuse(HttpProblem(503, "the app's configuration is invalid"), problems=exc.problems)
    except HttpProblem as problem:
        return refuse(problem)
    except Exception as exc:  # the same guarded path as the HTTP functions: a message, never a traceback
        return refuse(failure_problem(exc), cause=redact(type(exc).__name__))
    print(json.dumps(plan, indent=2, default=str), file=out)
    return 0


def read_settings_file(path: Path) -> dict:
    """The ``Values`` of a local.settings.json; :class:`HttpProblem` (400, field ``--settings``) saying why
    it cannot be used."""
    from shared.http_api.inputs import parse_json_object
    from shared.http_api.problems import HttpProblem

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise HttpProblem(400, f"--settings {path}: cannot be read ({exc.strerror or type(exc).__name__})",
                          field="--settings") from None
    try:
        document = parse_json_object(raw)
    except HttpProblem as problem:
        raise HttpProblem(400, f"--settings {path}: {problem.message.replace('request body', 'the file')}",
                          field="--settings") from None
    values = document.get("Values", {})
    if not isinstance(values, dict):
        raise HttpProblem(400, f"--settings {path}: 'Values' must be a JSON object", field="--settings")
    return values


if __name__ == "__main__":
    sys.exit(main())
