"""The local stack: Azurite + the batch-endpoint emulator + the app, and a demo that follows a run.

    python -m tools.dev          # up: start everything, Ctrl-C stops what it started
    python -m tools.dev demo     # land the sample folder, notify the app, follow the run to the sink

The app runs on ``func start`` when Azure Functions Core Tools is on the PATH, and otherwise on the local
development host that ships with the project (``python -m devhost``: same port, same paths). Set
``DEV_HOST=devhost`` to use the local host even where Core Tools is installed.

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
CORE_TOOLS_NOTE = ("== Core Tools (`func`) is not installed: running the app on the local development host"
                   " (python -m devhost), same port and paths")


def _announce_outputs_to_the_app() -> None:
    """The emulator posts a BlobCreated for every output a job writes to the app's Event Grid webhook (the same
    path as landing events), as an Event Grid subscription on the datastore account would: routes with
    ``poll.output_events`` learn their job's end from it (emulator/README.md, "Output events")."""
    import httpx

    webhook = f"http://127.0.0.1:{FUNC_PORT}/runtime/webhooks/eventgrid?functionName=on_blob_created"
    try:
        httpx.post(f"http://127.0.0.1:{EMULATOR_PORT}/_emulator/faults", json={"events": {"blob_url": webhook}},
                   timeout=10).raise_for_status()
        print(f"== the emulator posts output BlobCreated events to {webhook}")
    except httpx.HTTPError as exc:
        print(f"== output events not set up ({type(exc).__name__}): routes with poll.output_events only poll")


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


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the stack like Ctrl-C: the `finally` below stops what it started


def up(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _interrupt)
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
        _announce_outputs_to_the_app()

        func = shutil.which("func")
        env = dict(os.environ, VIRTUAL_ENV=str(Path(sys.executable).parents[1]),
                   PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        if func is None or os.environ.get("DEV_HOST") == "devhost":
            if func is None:
                print(CORE_TOOLS_NOTE)
            print(f"== the app on http://localhost:{FUNC_PORT}; in another terminal: scripts/dev.sh demo")
            return subprocess.call([sys.executable, "-m", "devhost", "--port", str(FUNC_PORT)], cwd=ROOT, env=env)
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
        props = landing.get_blob_client(name).upload_blob(data, overwrite=True)
        events.append(blob_created_event(f"{landing.url}/{name}", props["etag"], content_length=len(data)))
    print(f"== landed {len(files)} files and _SUCCESS in landing/{folder}")

    webhook = f"{base}/runtime/webhooks/eventgrid?functionName=on_blob_created"
    with httpx.Client(timeout=30) as http:
        for event in events:
            answer = http.post(webhook, json=[event], headers={"aeg-event-type": "Notification"})
            if answer.status_code >= 300:
                raise SystemExit(f"the Event Grid webhook answered {answer.status_code}: {answer.text[:300]}")
        print(f"== posted {len(events)} BlobCreated events to {webhook}")

        run = follow(http, base, folder, args.timeout)
    if not run or run.get("status") != "Succeeded":
        print(f"== the run did not succeed: {json.dumps(run, indent=2) if run else 'no run appeared'}")
        return 1
    return show_predictions(service, run, files)


def follow(http, base: str, folder: str, timeout: float) -> dict | None:
    """Follow the folder's run to its end on one progress line (one line per change when not a terminal)."""
    started, run, last = time.monotonic(), None, None
    tty = sys.stdout.isatty()
    while time.monotonic() - started < timeout:
        listing = http.get(f"{base}/api/runs", params={"route": "heart"}).json()
        run = next((r for r in listing.get("runs", []) if folder.rstrip("/") in str(r.get("input_uri", r))), None)
        if run:
            line = (f"run {run['run_id']} · {run.get('status')} · {run.get('stage') or '-'} · job "
                    f"{run.get('job_status') or '-'} · polls {run.get('polls', 0)}")
            if line != last:
                elapsed = f"[{time.monotonic() - started:5.1f}s]"
                print(f"\r   {elapsed} {line:<110}" if tty else f"   {elapsed} {line}", end="" if tty else "\n",
                      flush=True)
                last = line
            if run.get("status") != "Running":
                break
        time.sleep(0.5)
    if tty:
        print()
    return run


def show_predictions(service, run: dict, files: list[Path]) -> int:
    """Where the predictions went, their first rows, and whether they equal the model applied to the sample."""
    from samples.heart.model import expected_lines, load_model

    model = load_model()
    expected = sorted(line for path in files for line in expected_lines(path.name, path.read_text(), model))
    compared = 0
    for output in run.get("outputs", []):
        receipt = output.get("receipt") or ""
        if "://" in receipt:
            from shared.storage.uris import parse_blob_url

            location = parse_blob_url(receipt)
            container, name = location.container, location.path
        else:
            container, _, name = receipt.partition("/")
        details = json.loads(service.get_blob_client(container, name).download_blob().readall())
        for delivered in details.get("files", []):
            c, _, p = delivered["path"].partition("/")
            text = service.get_blob_client(c, p).download_blob().readall().decode("utf-8")
            lines = [line for line in text.splitlines() if line.strip()]
            print(f"== predictions delivered to {delivered['path']} ({len(lines)} rows); the first rows:")
            for line in lines[:5]:
                print(f"   {line}")
            same = sorted(lines) == expected
            print(f"== {'the predictions equal' if same else 'the predictions DIFFER from'} the model applied to"
                  f" the sample ({len(expected)} rows)")
            if not same:
                return 1
            compared += 1
    if compared == 0:
        print("== the run succeeded but delivered no predictions file to compare: check the route's sinks")
        return 1
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
