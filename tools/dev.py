"""The local stack: Azurite + the batch-endpoint emulator + ``func start``, and a demo that follows a run.

    python -m tools.dev          # up: start everything, Ctrl-C stops what it started
    python -m tools.dev demo     # land the sample folder, notify the app, follow the run to the sink

``scripts/dev.sh`` sets up the environment first and then runs this.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AZURITE_PORTS = {"blob": 10000, "queue": 10001, "table": 10002}
EMULATOR_PORT = 5100
FUNC_PORT = 7071
CONTAINERS = ("landing", "azureml-blobstore", "scores", "batchruns")
SAMPLE = ROOT / "samples" / "heart"
CORE_TOOLS_HELP = """\
Azure Functions Core Tools (the `func` command) is not installed. Install version 4, then run this again:
  npm install -g azure-functions-core-tools@4 --unsafe-perm true
or follow https://learn.microsoft.com/azure/azure-functions/functions-run-local#install-the-azure-functions-core-tools
(Azurite and the emulator were started and have been stopped again.)"""


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_for(port: int, what: str, process: subprocess.Popen | None, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not _listening(port):
        if process is not None and process.poll() is not None:
            raise SystemExit(f"{what} exited with code {process.returncode} before listening on {port}")
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not listen on 127.0.0.1:{port} within {seconds:.0f}s")
        time.sleep(0.2)


def _settings_values() -> dict:
    path = ROOT / "local.settings.json"
    if not path.exists():
        shutil.copy(ROOT / "local.settings.sample.json", path)
        print("== created local.settings.json from local.settings.sample.json")
    return json.loads(path.read_text())["Values"]


def _blob_service(values: dict):
    from shared.storage.connections import blob_service_client

    return blob_service_client("AzureWebJobsStorage", values)


class Stack:
    def __init__(self) -> None:
        self.processes: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, command: list[str], **kwargs) -> subprocess.Popen:
        process = subprocess.Popen(command, cwd=ROOT, start_new_session=True, **kwargs)
        self.processes.append((name, process))
        return process

    def stop(self) -> None:
        for name, process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                print(f"== stopped {name}")


def up(args: argparse.Namespace) -> int:
    values = _settings_values()
    stack = Stack()
    try:
        if _listening(AZURITE_PORTS["blob"]):
            print("== Azurite already listens on 10000; using it")
        else:
            azurite = ROOT / "node_modules" / ".bin" / "azurite"
            if not azurite.exists():
                raise SystemExit("Azurite is not installed: run scripts/dev.sh (it runs `npm ci`)")
            data = ROOT / ".local" / "azurite"
            data.mkdir(parents=True, exist_ok=True)
            log = open(ROOT / ".local" / "azurite.log", "ab")
            process = stack.start("Azurite", [str(azurite), "--location", str(data), "--skipApiVersionCheck",
                                              "--loose", "--disableTelemetry", "--blobHost", "127.0.0.1",
                                              "--queueHost", "127.0.0.1", "--tableHost", "127.0.0.1"],
                                  stdout=log, stderr=subprocess.STDOUT)
            _wait_for(AZURITE_PORTS["blob"], "Azurite", process)
            print(f"== Azurite on 127.0.0.1:10000-10002 (data in {data})")
        service = _blob_service(values)
        for container in CONTAINERS:
            if not service.get_container_client(container).exists():
                service.create_container(container)
        print(f"== containers ready: {', '.join(CONTAINERS)}")

        if _listening(EMULATOR_PORT):
            print(f"== something already listens on {EMULATOR_PORT}; assuming it is the emulator")
        else:
            log = open(ROOT / ".local" / "emulator.log", "ab")
            process = stack.start("emulator", [sys.executable, "-m", "emulator", "--config",
                                               str(SAMPLE / "emulator.sample.json"), "--port", str(EMULATOR_PORT)],
                                  stdout=log, stderr=subprocess.STDOUT)
            _wait_for(EMULATOR_PORT, "the emulator", process)
            print(f"== batch-endpoint emulator on http://127.0.0.1:{EMULATOR_PORT}"
                  f" (endpoint 'heart', log in .local/emulator.log)")

        func = shutil.which("func")
        if func is None:
            print(CORE_TOOLS_HELP, file=sys.stderr)
            return 1
        env = dict(os.environ, VIRTUAL_ENV=str(Path(sys.executable).parents[1]),
                   PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        print(f"== func start (the app on http://localhost:{FUNC_PORT}); in another terminal: scripts/dev.sh demo")
        return subprocess.call([func, "start", "--port", str(FUNC_PORT)], cwd=ROOT, env=env)
    except KeyboardInterrupt:
        return 130
    finally:
        stack.stop()


def demo(args: argparse.Namespace) -> int:
    """Land the sample folder, post its events to the local host's Event Grid webhook, follow the run."""
    import httpx

    from tools.events import blob_created_event

    values = _settings_values()
    base = f"http://localhost:{FUNC_PORT}"
    if not _listening(FUNC_PORT):
        raise SystemExit(f"nothing listens on {base}: start the app first with scripts/dev.sh")
    service = _blob_service(values)
    folder = f"heart/{datetime.now(timezone.utc):%Y%m%dT%H%M%S}/"
    landing = service.get_container_client("landing")
    events = []
    files = sorted((SAMPLE / "data").glob("*.csv"))
    for path in [*files, None]:
        name = folder + (path.name if path else "_SUCCESS")
        data = path.read_bytes() if path else b""
        props = landing.upload_blob(name, data, overwrite=True)
        events.append(blob_created_event(f"{landing.url}/{name}", props["etag"], content_length=len(data)))
    print(f"== landed {len(files)} files and _SUCCESS in landing/{folder}")

    webhook = f"{base}/runtime/webhooks/eventgrid?functionName=on_blob_created"
    with httpx.Client(timeout=30) as http:
        for event in events:
            answer = http.post(webhook, json=[event], headers={"aeg-event-type": "Notification"})
            if answer.status_code >= 300:
                raise SystemExit(f"the Event Grid webhook answered {answer.status_code}: {answer.text[:300]}")
        print(f"== posted {len(events)} BlobCreated events to {webhook}")

        started = time.monotonic()
        run = None
        last = None
        while time.monotonic() - started < args.timeout:
            listing = http.get(f"{base}/api/runs", params={"route": "heart"}).json()
            run = next((r for r in listing.get("runs", []) if folder.rstrip("/") in str(r)), None)
            if run:
                line = f"{run.get('status')} · {run.get('phase')} · job {run.get('job_name')}" \
                       f" {run.get('job_status') or ''} · polls {run.get('polls', 0)}"
                if line != last:
                    print(f"   [{time.monotonic() - started:5.1f}s] {line}", flush=True)
                    last = line
                if run.get("status") != "Running":
                    break
            time.sleep(1)
    if not run or run.get("status") != "Succeeded":
        print(f"== the run did not succeed: {json.dumps(run, indent=2) if run else 'no run appeared'}")
        return 1
    for output in run.get("outputs", []):
        print(f"== predictions delivered: {output.get('destination')}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/dev.sh")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("up", help="start Azurite, the emulator and the app (default)")
    demo_parser = commands.add_parser("demo", help="land the sample folder and follow its run")
    demo_parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args(argv)
    return demo(args) if args.command == "demo" else up(args)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
