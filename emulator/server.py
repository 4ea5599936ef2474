"""Run the emulator in a background thread (for tests and other in-process users)."""
from __future__ import annotations

import asyncio
import os
import socket
import threading
from pathlib import Path
from typing import Any, Mapping

from aiohttp import web

from .app import create_app
from .config import EmulatorConfig, load_config
from .core import Emulator

HOST = "127.0.0.1"  # loopback only: the emulator has no real auth


class EmulatorServer:
    """`url = EmulatorServer(config).start()`; `.stop()` when done (also a context manager).

    `config` is an EmulatorConfig, a parsed JSON dict (paths relative to `base_dir`), or a file path.
    """

    def __init__(self, config: EmulatorConfig | Mapping[str, Any] | str | os.PathLike[str], port: int = 0,
                 base_dir: str | os.PathLike[str] | None = None) -> None:
        if isinstance(config, EmulatorConfig):
            self.config = config
        elif isinstance(config, Mapping):
            self.config = load_config(config, base_dir)
        else:
            self.config = load_config(Path(config))
        self._requested_port = port
        self.emulator: Emulator | None = None
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("EmulatorServer is not started")
        return f"http://{HOST}:{self.port}"

    @property
    def management_url(self) -> str:
        """Value for the app's AML_MANAGEMENT_URL setting."""
        return self.base_url + self.config.management_prefix

    def scoring_uri(self, endpoint: str) -> str:
        return f"{self.base_url}/endpoints/{endpoint}/jobs"

    def start(self, timeout: float = 10.0) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, self._requested_port))
        self.port = sock.getsockname()[1]
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                self.emulator = Emulator(self.config)
                self._runner = web.AppRunner(create_app(self.emulator), access_log=None)
                loop.run_until_complete(self._runner.setup())
                loop.run_until_complete(web.SockSite(self._runner, sock).start())
            except BaseException as exc:  # surfaced to start()'s caller
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="aml-emulator", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("emulator did not start in time")
        if errors:
            raise RuntimeError(f"emulator failed to start: {errors[0]!r}") from errors[0]
        return self.base_url

    def call(self, fn, *args):  # noqa: ANN001 - run a sync function on the emulator loop and wait
        """Run `fn(*args)` on the server loop (e.g. to mutate state safely from a test)."""
        assert self._loop is not None
        async def _wrapped():  # noqa: ANN202
            return fn(*args)
        return asyncio.run_coroutine_threadsafe(_wrapped(), self._loop).result(10)

    def stop(self, timeout: float = 30.0) -> None:
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self._loop = self._thread = None

    def __enter__(self) -> "EmulatorServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
