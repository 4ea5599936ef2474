"""python -m emulator --config <file> [--port N]"""
from __future__ import annotations

import argparse
import logging
import socket
import sys
from dataclasses import replace

from aiohttp import web

from .app import create_app
from .config import ConfigError, load_config
from .core import Emulator
from .server import HOST


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m emulator", description="Local Azure ML batch-endpoint emulator")
    p.add_argument("--config", required=True, help="emulator JSON config (see emulator/README.md)")
    p.add_argument("--port", type=int, default=5100, help="port on 127.0.0.1 (0 = any free port)")
    p.add_argument("--profile", choices=("strict", "kind"), default=None,
                   help="strict (default) or kind: see emulator/README.md, Profiles (overrides the config's)")
    p.add_argument("--log-level", default="INFO")
    args = p.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)  # the SDK logs every blob request at INFO
    try:
        config = load_config(args.config)
        if args.profile:
            config = replace(config, behaviour=config.behaviour.updated({"profile": args.profile}))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def make_app() -> web.Application:
        return create_app(Emulator(config))  # built inside the loop the server runs on

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, args.port))
    base = f"http://{HOST}:{sock.getsockname()[1]}"
    print(f"AML batch-endpoint emulator on {base}  (scoring URI: {base}/endpoints/<endpoint>/jobs, "
          f"management: {base}{config.management_prefix}; profile: {config.behaviour.profile})", flush=True)
    web.run_app(make_app(), sock=sock, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
