"""``python -m tools.plan --route R --path P [--container C]``: what a landing of P on route R would do.

Reads the app's configuration as the function app does (BATCH_CONFIG_PATH / BATCH_CONFIG_JSON and the
connection app settings in the environment; ``--settings local.settings.json`` loads its ``Values`` first).
Prints the plan as JSON (shared/plan.py): the request with the token left out, the job name, each output's
sink paths and the completion rule, checked read-only when the landing connection needs no token.
Nothing is started or written and no token is requested. Exit status 0; 2 for a bad route, path or
configuration, with the same message as ``POST /api/runs``.
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
    if args.settings:  # a CLI process: the app's settings become its environment, as the Functions host does
        for key, value in json.loads(args.settings.read_text(encoding="utf-8")).get("Values", {}).items():
            os.environ.setdefault(key, str(value))

    from shared.config import ConfigError, load_settings
    from shared.http_api.problems import HttpProblem
    from shared.plan import plan_request

    data = {"route": args.route, "path": args.path, **({"container": args.container} if args.container else {})}
    try:
        plan = plan_request(data, load_settings(os.environ), os.environ)
    except ConfigError as exc:
        print(json.dumps({"status": 503, "error": "the app's configuration is invalid", "problems": exc.problems},
                         indent=2), file=out)
        return 2
    except HttpProblem as problem:
        print(json.dumps({"status": problem.status, "error": problem.message,
                          **({"field": problem.field} if problem.field else {})}, indent=2), file=out)
        return 2
    print(json.dumps(plan, indent=2, default=str), file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
