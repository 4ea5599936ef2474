"""``python -m devhost [--port 7071]``: serve function_app.py like ``func start``, without Core Tools."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .host import LocalFunctionsHost, load_local_settings, run_forever

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devhost", description=__doc__)
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--settings", type=Path, default=ROOT / "local.settings.json")
    parser.add_argument("--state", type=Path, default=ROOT / ".local" / "devhost",
                        help="folder where orchestration state is kept across restarts")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("azure.core.pipeline.policies.http_logging_policy", "azure.identity", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    load_local_settings(args.settings)
    sys.path.insert(0, str(ROOT))
    host = LocalFunctionsHost(port=args.port, root=ROOT, state_dir=args.state).start()
    print(f"devhost: serving function_app on {host.base_url} ({len(host.http)} HTTP functions, "
          f"{len(host.triggered)} other triggers); function keys are accepted and not checked, as with Core Tools",
          flush=True)
    for function in host.http:
        print(f"  {'/'.join(sorted(function.methods)):>12}  {host.base_url}/api/{function.route}", flush=True)
    run_forever(host)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
