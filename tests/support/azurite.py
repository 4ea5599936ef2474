"""Start and stop a private Azurite (blob + queue + table) on free loopback ports.

Two storage accounts are configured through ``AZURITE_ACCOUNTS`` so tests can copy across
accounts: ``devstoreaccount1`` (the well-known emulator key) and ``sinkaccount``.

The binary is looked up in this order: ``<repo>/node_modules/.bin/azurite`` (``npm ci`` installs
the pinned version from package.json), ``$AZURITE_BIN``, ``/tmp/az/node_modules/.bin/azurite``,
then ``azurite`` on PATH. If none is found, ``AzuriteNotFound`` says how to install it; tests
fail with that message rather than skip.

Flags: ``--inMemoryPersistence --skipApiVersionCheck --silent --disableTelemetry --loose``.
``--skipApiVersionCheck`` is required: azure-storage-blob 12.31 sends x-ms-version 2026-10-06,
which Azurite 3.35 rejects otherwise.
"""
from __future__ import annotations

import atexit
import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

__all__ = [
    "DEVSTORE_ACCOUNT",
    "DEVSTORE_KEY",
    "SINK_ACCOUNT",
    "SINK_KEY",
    "AzuriteAccount",
    "Azurite",
    "AzuriteNotFound",
    "AzuriteStartError",
    "find_azurite",
    "start_azurite",
    "azurite_running",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"

DEVSTORE_ACCOUNT = "devstoreaccount1"
# The publicly documented Azurite / storage-emulator key (not a secret).
DEVSTORE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
SINK_ACCOUNT = "sinkaccount"
# A fixed test-only key for the second emulated account (64 bytes, base64), not a secret.
SINK_KEY = base64.b64encode(b"sinkaccount-local-test-key-for-azurite-only-0123456789abcdefghij"[:64]).decode()

INSTALL_HINT = (
    "Azurite was not found. Install the pinned version with `npm ci` in {repo} "
    "(package.json pins azurite 3.35.0; needs Node.js >= 18), or point AZURITE_BIN at an "
    "azurite executable (e.g. `npm install azurite@3.35.0` somewhere and "
    "AZURITE_BIN=<that dir>/node_modules/.bin/azurite)."
)


class AzuriteNotFound(RuntimeError):
    pass


class AzuriteStartError(RuntimeError):
    pass


FALLBACK_BINS = [Path("/tmp/az/node_modules/.bin/azurite")]
SEARCH_PATH = True   # finally look for `azurite` on PATH


def find_azurite() -> str:
    """Return the path of the azurite executable or raise AzuriteNotFound with install steps."""
    candidates = [REPO_ROOT / "node_modules" / ".bin" / "azurite"]
    if os.environ.get("AZURITE_BIN"):
        candidates.append(Path(os.environ["AZURITE_BIN"]))
    candidates.extend(FALLBACK_BINS)
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    on_path = shutil.which("azurite") if SEARCH_PATH else None
    if on_path:
        return on_path
    tried = ", ".join(str(c) for c in candidates) + ", PATH"
    raise AzuriteNotFound(INSTALL_HINT.format(repo=REPO_ROOT) + f" Looked in: {tried}.")


@dataclass(frozen=True)
class AzuriteAccount:
    name: str
    key: str
    blob_url: str      # http://127.0.0.1:<port>/<account>
    queue_url: str
    table_url: str

    @property
    def connection_string(self) -> str:
        """Full connection string (blob + queue + table endpoints, path-style)."""
        return (f"DefaultEndpointsProtocol=http;AccountName={self.name};AccountKey={self.key};"
                f"BlobEndpoint={self.blob_url};QueueEndpoint={self.queue_url};"
                f"TableEndpoint={self.table_url};")

    @property
    def blob_connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={self.name};AccountKey={self.key};"
                f"BlobEndpoint={self.blob_url};")

    @property
    def credential(self) -> dict:
        """``credential=`` argument for azure-storage clients built from ``blob_url``."""
        return {"account_name": self.name, "account_key": self.key}


@dataclass
class Azurite:
    """A running Azurite process. ``accounts`` maps account name → AzuriteAccount."""

    process: subprocess.Popen
    blob_port: int
    queue_port: int
    table_port: int
    accounts: dict[str, AzuriteAccount]
    log_path: Path
    workdir: Path
    host: str = HOST
    _stopped: bool = field(default=False, repr=False)

    # convenience -----------------------------------------------------------------------
    @property
    def default(self) -> AzuriteAccount:
        return self.accounts[DEVSTORE_ACCOUNT]

    @property
    def sink(self) -> AzuriteAccount:
        return self.accounts[SINK_ACCOUNT]

    def connection_string(self, account: str = DEVSTORE_ACCOUNT) -> str:
        return self.accounts[account].connection_string

    def account_url(self, account: str = DEVSTORE_ACCOUNT, service: str = "blob") -> str:
        acc = self.accounts[account]
        return {"blob": acc.blob_url, "queue": acc.queue_url, "table": acc.table_url}[service]

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def is_running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group we started; SIGKILL it if it does not exit in time."""
        if self._stopped:
            return
        self._stopped = True
        _terminate_group(self.process, timeout)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _terminate_group(proc: subprocess.Popen, timeout: float) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)   # start_new_session=True → pgid == pid
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


def _accounts_env(accounts: dict[str, str]) -> str:
    return ";".join(f"{name}:{key}" for name, key in accounts.items())


def start_azurite(*, accounts: Optional[dict[str, str]] = None, startup_timeout: float = 30.0,
                  attempts: int = 3, extra_args: tuple[str, ...] = ()) -> Azurite:
    """Start Azurite on free 127.0.0.1 ports and wait until all three services accept TCP."""
    binary = find_azurite()
    accounts = accounts or {DEVSTORE_ACCOUNT: DEVSTORE_KEY, SINK_ACCOUNT: SINK_KEY}
    last_error = ""
    for _ in range(attempts):
        blob_port, queue_port, table_port = _free_ports(3)
        workdir = Path(tempfile.mkdtemp(prefix="azurite-"))   # cwd + log only (in-memory data)
        log_path = workdir / "azurite.log"
        env = dict(os.environ, AZURITE_ACCOUNTS=_accounts_env(accounts))
        cmd = [binary,
               "--blobHost", HOST, "--blobPort", str(blob_port),
               "--queueHost", HOST, "--queuePort", str(queue_port),
               "--tableHost", HOST, "--tablePort", str(table_port),
               "--inMemoryPersistence", "--skipApiVersionCheck", "--silent",
               "--disableTelemetry", "--loose", *extra_args]
        log = open(log_path, "wb")
        try:
            proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:   # e.g. `node` missing: the bin is a `#!/usr/bin/env node` script
            log.close()
            shutil.rmtree(workdir, ignore_errors=True)
            raise AzuriteNotFound(f"Could not execute {binary}: {exc}. "
                                  + INSTALL_HINT.format(repo=REPO_ROOT)) from exc
        finally:
            if not log.closed:
                log.close()
        az = Azurite(process=proc, blob_port=blob_port, queue_port=queue_port,
                     table_port=table_port, log_path=log_path, workdir=workdir,
                     accounts={name: AzuriteAccount(
                         name=name, key=key,
                         blob_url=f"http://{HOST}:{blob_port}/{name}",
                         queue_url=f"http://{HOST}:{queue_port}/{name}",
                         table_url=f"http://{HOST}:{table_port}/{name}")
                         for name, key in accounts.items()})
        deadline = time.monotonic() + startup_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if all(_accepts(p) for p in (blob_port, queue_port, table_port)):
                atexit.register(az.stop)   # no orphan if the test process exits without teardown
                return az
            time.sleep(0.05)
        last_error = (f"azurite exited with {proc.poll()}" if proc.poll() is not None
                      else f"azurite did not accept connections within {startup_timeout}s")
        last_error += f"; command: {' '.join(cmd)}; log:\n{az.log_tail()}"
        az.stop()
    raise AzuriteStartError(last_error)


@contextlib.contextmanager
def azurite_running(**kwargs) -> Iterator[Azurite]:
    az = start_azurite(**kwargs)
    try:
        yield az
    finally:
        az.stop()
