"""Async handle on one scoring worker subprocess (emulator/worker.py)."""
from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

WORKER_FILE = Path(__file__).with_name("worker.py")


class WorkerError(Exception):
    """The worker died or init() failed; the message is for the job log."""


class BatchTimeout(Exception):
    pass


@dataclass(frozen=True)
class BatchResult:
    ok: bool
    lines: list[str]
    error: str | None = None


class WorkerProcess:
    def __init__(self, code_dir: Path, scoring_script: str, env: Mapping[str, str], cwd: Path,
                 logging_level: str = "info") -> None:
        self._argv = [sys.executable, "-u", str(WORKER_FILE), str(code_dir), scoring_script,
                      "--logging_level", logging_level.upper()]
        self._env = dict(env)
        self._cwd = cwd
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def start(self, init_timeout: float) -> None:
        """Spawn and wait for init() to finish."""
        self._proc = await asyncio.create_subprocess_exec(
            *self._argv, cwd=self._cwd, env=self._env, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, start_new_session=True,
            limit=256 * 1024 * 1024)  # one reply line carries a whole mini-batch's rows
        try:
            msg = await asyncio.wait_for(self._read(), init_timeout)
        except asyncio.TimeoutError:
            await self.kill()
            raise WorkerError(f"init() did not finish within {init_timeout:g} seconds") from None
        if not msg.get("ready"):
            await self.kill()
            raise WorkerError(f"init() failed: {msg.get('error', '').strip()}")

    async def run_batch(self, batch_id: int, files: list[str], timeout: float) -> BatchResult:
        assert self._proc and self._proc.stdin
        self._proc.stdin.write((json.dumps({"batch": batch_id, "files": files}) + "\n").encode())
        await self._proc.stdin.drain()
        try:
            msg = await asyncio.wait_for(self._read(), timeout)
        except asyncio.TimeoutError:
            await self.kill()  # the real service aborts the process and retries the mini-batch
            raise BatchTimeout(f"No progress update in {timeout:g} seconds") from None
        if msg.get("ok"):
            return BatchResult(True, [str(x) for x in msg.get("lines", [])])
        return BatchResult(False, [], msg.get("error") or "run() failed")

    async def _read(self) -> dict:
        assert self._proc and self._proc.stdout
        line = await self._proc.stdout.readline()
        if not line:
            code = await self._proc.wait()
            raise WorkerError(f"scoring process exited unexpectedly (exit code {code})")
        return json.loads(line)

    async def close(self) -> None:
        if not self.running:
            return
        assert self._proc and self._proc.stdin
        self._proc.stdin.close()
        try:
            await asyncio.wait_for(self._proc.wait(), 5)
        except asyncio.TimeoutError:
            await self.kill()

    async def kill(self) -> None:
        if self.running:
            assert self._proc
            try:
                os.killpg(self._proc.pid, 9)  # the script may have spawned children
            except ProcessLookupError:
                pass
            await self._proc.wait()
