"""Copy benchmark: one 1 GiB output and 1,000 small outputs, across two storage accounts on a private Azurite.

    python bench/copy_bench.py [--size-mib 1024] [--small 1000] [--small-kib 16] [--workers 16]

Paths measured, each in its own child process (peak memory = that child's peak RSS from ``os.wait4``,
``ru_maxrss``; it includes the interpreter and the Azure SDK, see the ``idle`` row):

* ``server_side``: the ``copy_output`` activity body with ``delivery.strategy = server_side`` (Copy Blob with
  a SAS source, then length + MD5 verification);
* ``streaming``: the same activity with ``strategy = streaming`` (ranged reads → staged blocks, commit last);
* ``baseline``: naive download-everything-then-upload (``download_blob().readall()`` → ``upload_blob``).

Small files run through a thread pool of ``--workers`` (like a Durable fan-out of activities), for all paths.
Azurite runs from a temporary folder on disk (``--location``), not in memory, and is stopped at the end.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
SINK_KEY = "c2lua2FjY291bnQtYmVuY2gta2V5LWZvci1henVyaXRlLW9ubHktMDEyMzQ1Njc4OWFiY2RlZg=="
MIB = 1024 * 1024


def conn(port: int, account: str, key: str) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};"
            f"BlobEndpoint=http://127.0.0.1:{port}/{account};")


def find_azurite() -> str:
    for candidate in (REPO / "node_modules/.bin/azurite-blob", Path(os.environ.get("AZURITE_BIN", "/nonexistent"))):
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("azurite-blob")
    if not found:
        sys.exit("azurite not found: run `npm ci` in the repository (package.json pins azurite) or set AZURITE_BIN")
    return found


def start_azurite(workdir: str) -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, AZURITE_ACCOUNTS=f"devstoreaccount1:{DEV_KEY};sinkaccount:{SINK_KEY}")
    proc = subprocess.Popen([find_azurite(), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location",
                             workdir, "--skipApiVersionCheck", "--silent", "--disableTelemetry", "--loose"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    sys.exit("azurite did not start")


def settings_for(port: int, strategy: str):
    from shared.config import parse_settings

    doc = {"datastores": {"ws": {"account_url": f"http://127.0.0.1:{port}/devstoreaccount1", "container": "outputs",
                                 "connection": "SRC"}},
           "routes": [{"name": "bench", "match": {"container": "landing"},
                       "endpoint": {"scoring_uri": "http://127.0.0.1:9/endpoints/b/jobs"},
                       "output": {"datastore": "ws", "path": "run/{run_id}/out.csv"},
                       "delivery": {"strategy": strategy},
                       "sinks": [{"name": "sink", "url": f"http://127.0.0.1:{port}/sinkaccount/{{run_id}}/",
                                  "connection": "DST"}]}]}
    return parse_settings(doc, {})


# --- child: one measured copy -----------------------------------------------------------------------------

def child(mode: str, what: str, port: int, names: list[str], workers: int, tag: str) -> None:
    from azure.storage.blob import BlobServiceClient

    from shared.delivery.activities import StorageClients, copy_output

    environ = {"SRC": conn(port, "devstoreaccount1", DEV_KEY), "DST": conn(port, "sinkaccount", SINK_KEY)}
    result = {"bytes": 0}
    started = time.perf_counter()
    if mode == "idle":
        pass
    elif mode == "baseline":
        kwargs = {"api_version": "2025-11-05"}
        src = BlobServiceClient.from_connection_string(environ["SRC"], **kwargs).get_container_client("outputs")
        dst = BlobServiceClient.from_connection_string(environ["DST"], **kwargs).get_container_client(tag)
        dst.create_container()

        def one(name: str) -> int:
            data = src.download_blob(name).readall()
            dst.upload_blob(name, data, overwrite=True)
            return len(data)

        with ThreadPoolExecutor(workers) as pool:
            result["bytes"] = sum(pool.map(one, names))
    else:
        settings = settings_for(port, mode)
        clients = StorageClients(environ)

        def one(name: str) -> int:
            done = copy_output({"run_id": tag, "route": "bench", "sink": "sink", "file": name, "datastore": "ws",
                                "source_path": name,
                                "destination": f"http://127.0.0.1:{port}/sinkaccount/{tag}/{name}"},
                               settings=settings, clients=clients)
            if done.get("error") or done["state"] != "copied":
                print(json.dumps({"failed": str(done)}))
                raise SystemExit(1)
            return done["bytes"]

        try:
            with ThreadPoolExecutor(workers) as pool:
                result["bytes"] = sum(pool.map(one, names))
        except Exception as exc:
            print(json.dumps({"failed": str(exc)[:300]}))
            raise SystemExit(1)
    result["seconds"] = time.perf_counter() - started
    print(json.dumps(result))


def measure(args, mode: str, what: str, names: list[str], tag: str, workers: int) -> dict:
    listing = Path(tempfile.mkstemp(prefix="bench-names-")[1])
    listing.write_text("\n".join(names))
    proc = subprocess.Popen([sys.executable, __file__, "--child", mode, "--what", what, "--port", str(args.port),
                             "--names", str(listing), "--tag", tag, "--workers", str(workers)],
                            stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    listing.unlink()
    if proc.returncode != 0:
        return {"failed": (out.strip().splitlines() or ["exit code %d" % proc.returncode])[-1][:300],
                "peak_rss_mib": usage.ru_maxrss / 1024}
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mib"] = usage.ru_maxrss / 1024  # Linux: KiB
    return result


# --- parent: data, runs, table ----------------------------------------------------------------------------

def make_data(port: int, size_mib: int, small: int, small_kib: int) -> tuple[str, list[str]]:
    from azure.storage.blob import BlobServiceClient, ContentSettings

    from shared.delivery.copy import block_id

    service = BlobServiceClient.from_connection_string(conn(port, "devstoreaccount1", DEV_KEY),
                                                       api_version="2025-11-05")
    container = service.get_container_client("outputs")
    container.create_container()
    big = container.get_blob_client("big/predictions.csv")
    digest, ids = hashlib.md5(), []
    chunk = os.urandom(8 * MIB)
    for i in range(size_mib // 8):  # streamed in 8 MiB blocks: the 1 GiB never sits in memory
        piece = chunk[:-8] + i.to_bytes(8, "big")
        digest.update(piece)
        big.stage_block(block_id(i), piece)
        ids.append(block_id(i))
    big.commit_block_list(ids, content_settings=ContentSettings(content_md5=bytearray(digest.digest())))

    def put(i: int) -> str:
        name = f"small/part-{i:05d}.csv"
        container.upload_blob(name, os.urandom(small_kib * 1024), overwrite=True)  # Put Blob sets Content-MD5
        return name

    with ThreadPoolExecutor(32) as pool:
        names = list(pool.map(put, range(small)))
    return big.blob_name, names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--small-kib", type=int, default=16)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--child")
    parser.add_argument("--what")
    parser.add_argument("--port", type=int)
    parser.add_argument("--names")
    parser.add_argument("--tag")
    args = parser.parse_args()
    if args.child:
        names = [n for n in Path(args.names).read_text().splitlines() if n]
        child(args.child, args.what, args.port, names, args.workers, args.tag)
        return

    workdir = tempfile.mkdtemp(prefix="copy-bench-azurite-")
    proc, args.port = start_azurite(workdir)
    try:
        t0 = time.perf_counter()
        big, smalls = make_data(args.port, args.size_mib, args.small, args.small_kib)
        print(f"azurite on 127.0.0.1:{args.port} (data in {workdir}); generated {args.size_mib} MiB + {args.small}"
              f" x {args.small_kib} KiB in {time.perf_counter() - t0:.1f} s")
        idle = measure(args, "idle", "none", [], "idle", 1)
        rows = []
        for what, names, workers in (("1 file", [big], 1), (f"{args.small} files", smalls, args.workers)):
            for mode in ("baseline", "server_side", "streaming"):
                tag = f"{mode.replace('_', '')}{'big' if len(names) == 1 else 'small'}"
                rows.append((what, mode, measure(args, mode, what, names, tag, workers)))
        print(f"\nidle child (python + SDK imports): peak RSS {idle['peak_rss_mib']:.0f} MiB")
        print(f"{'outputs':<12} {'path':<12} {'MiB':>8} {'seconds':>8} {'MiB/s':>8} {'files/s':>8} "
              f"{'peak RSS MiB':>13} {'time vs baseline':>17} {'RSS vs baseline':>16}")
        base = {what: r for what, mode, r in rows if mode == "baseline"}
        for what, mode, r in rows:
            if "failed" in r:
                print(f"{what:<12} {mode:<12} FAILED after peak RSS {r['peak_rss_mib']:.0f} MiB: {r['failed']}")
                continue
            mib = r["bytes"] / MIB
            count = 1 if what == "1 file" else args.small
            b = base[what]
            print(f"{what:<12} {mode:<12} {mib:>8.0f} {r['seconds']:>8.2f} {mib / r['seconds']:>8.1f} "
                  f"{count / r['seconds']:>8.1f} {r['peak_rss_mib']:>13.0f} "
                  f"{r['seconds'] / b['seconds']:>16.2f}x {r['peak_rss_mib'] / b['peak_rss_mib']:>15.2f}x")
        stream_big = next(r for what, mode, r in rows if what == "1 file" and mode == "streaming")
        verdict = "OK" if stream_big["peak_rss_mib"] < 200 else "OVER"
        print(f"\nstreaming peak RSS for the {args.size_mib} MiB file: {stream_big['peak_rss_mib']:.0f} MiB"
              f" (limit 200 MiB: {verdict})")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
