"""Copy benchmark: small-file delivery against a naive copy, and a 1 GiB streaming copy that is killed twice.

    python -m bench.copy_bench [--small 1000] [--small-kib 16] [--size-mib 1024] [--repeat 3]

Starts its own Azurite (blob only, data in a temporary folder on disk, two accounts `devstoreaccount1` →
`sinkaccount`), generates the data (the 1 GiB blob in streamed 8 MiB blocks), and measures, each run in its
own child process (peak RSS from ``os.wait4``):

**Small files** (``--small`` × ``--small-kib``), repeated ``--repeat`` times in alternating order:

* ``baseline``: naive ``download_blob().readall()`` → ``upload_blob`` per file, ``--workers`` threads, no checks;
* ``delivery``: the real delivery path minus Durable: ``plan_delivery`` (one listing of the outputs), then
  ``pack_batches`` → one ``copy_output`` activity body per batch (500 files), each copying 8 files at a
  time; two calls run at once (the Durable fan-out), so both paths keep ``--workers`` (16) requests in
  flight (``baseline-x2``: the naive copy with twice as many, for reference);
  strategies ``auto`` (server-side: one synchronous Copy Blob From URL per file; on Azurite the emulator
  reads the source itself) and ``streaming`` (one ranged GET and one MD5-checked Put Blob per file);
* ``re-delivery``: the same calls once everything is there (what a retry after a lost answer costs).

Requests per file are counted at the HTTP pipeline (azure-core ``raw_request_hook``).

**Large file**: one ``copy_output`` call per child, strategy ``streaming``; the parent watches the
destination's uncommitted block list and SIGKILLs the child once a third, then two thirds of the file are
staged; the third child finishes. Bytes sent are the Put Block bodies each child started (counted in the
child's request hook and appended to a file, so a killed child's count survives). "Re-sent" = total sent −
file size: the blocks in flight when a child was killed.

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
SINK_KEY = "c2lua2FjY291bnQtYmVuY2gta2V5LWZvci1henVyaXRlLW9ubHktMDEyMzQ1Njc4OWFiY2RlZg=="
MIB = 1024 * 1024
API_VERSION = "2025-11-05"


def conn(port: int, account: str, key: str) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};"
            f"BlobEndpoint=http://127.0.0.1:{port}/{account};")


def find_azurite() -> str:
    candidates = [REPO / "node_modules/.bin/azurite-blob"]
    if os.environ.get("AZURITE_BIN"):
        given = Path(os.environ["AZURITE_BIN"])
        candidates += [given.with_name("azurite-blob"), given]
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("azurite-blob")
    if not found:
        sys.exit("azurite not found: run `npm ci` in the repository (package.json pins azurite) or set AZURITE_BIN")
    return found


def start_azurite(workdir: str, in_memory: bool = False) -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, AZURITE_ACCOUNTS=f"devstoreaccount1:{DEV_KEY};sinkaccount:{SINK_KEY}")
    storage = ["--inMemoryPersistence"] if in_memory else ["--location", workdir]
    proc = subprocess.Popen([find_azurite(), "--blobHost", "127.0.0.1", "--blobPort", str(port), *storage,
                             "--skipApiVersionCheck", "--silent", "--disableTelemetry", "--loose"],
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


def environ_for(port: int) -> dict:
    return {"SRC": conn(port, "devstoreaccount1", DEV_KEY), "DST": conn(port, "sinkaccount", SINK_KEY)}


def settings_for(port: int, strategy: str, container: str):
    """Routes whose sink is the container ``container`` of the sink account: each run of the bench copies into
    a container of its own (the config wants the sink's container literal, so it is named here, not templated)."""
    from shared.config import parse_settings

    route = {"endpoint": {"scoring_uri": "http://127.0.0.1:9/endpoints/b/jobs"},
             "delivery": {"strategy": strategy},
             "sinks": [{"name": "sink", "url": f"http://127.0.0.1:{port}/sinkaccount/{container}/",
                        "connection": "DST"}]}
    doc = {"datastores": {"ws": {"account_url": f"http://127.0.0.1:{port}/devstoreaccount1", "container": "outputs",
                                 "connection": "SRC"}},
           "routes": [{**route, "name": "small", "match": {"container": "landing", "prefix": "small/"},
                       "output": {"datastore": "ws", "path": "small/{run_id}/out.csv", "action": "summary_only"}},
                      {**route, "name": "big", "match": {"container": "landing", "prefix": "big/"},
                       "output": {"datastore": "ws", "path": "big/{run_id}/predictions.csv"}}]}
    return parse_settings(doc, {})


def run_of(route: str, tag: str) -> dict:
    path = "small/out.csv" if route == "small" else "big/predictions.csv"
    return {"run_id": tag, "route": route, "output_uri": f"azureml://datastores/ws/paths/{path}",
            "input": {"folder": ""}, "requested_at": "2026-01-01T00:00:00Z"}


class Requests:
    """Requests by kind, and the body bytes of every Put Block (appended to ``progress`` as they start)."""

    def __init__(self, progress: str = ""):
        self.kinds: Counter = Counter()
        self.progress = open(progress, "a") if progress else None

    def hook(self, request) -> None:
        http = request.http_request
        url = http.url
        kind = ("put_block" if "comp=block&" in url + "&" else "put_block_list" if "comp=blocklist" in url
                else "list" if "comp=list" in url else "copy" if "x-ms-copy-source" in http.headers
                else http.method.lower())
        self.kinds[kind] += 1
        if kind == "put_block" and self.progress is not None:
            self.progress.write(f"{len(http.body)}\n")
            self.progress.flush()


# --- children ---------------------------------------------------------------------------------------------

def child_small(mode: str, port: int, tag: str, workers: int) -> dict:
    from azure.storage.blob import BlobServiceClient

    from shared.delivery.activities import ITEM_WORKERS, StorageClients, copy_output, plan_delivery
    from shared.delivery.orchestration import pack_batches

    requests = Requests()
    environ = environ_for(port)
    if mode.startswith("baseline"):
        workers *= 2 if mode == "baseline-x2" else 1
        src = BlobServiceClient.from_connection_string(environ["SRC"], api_version=API_VERSION,
                                                       raw_request_hook=requests.hook).get_container_client("outputs")
        dst = BlobServiceClient.from_connection_string(environ["DST"], api_version=API_VERSION,
                                                       raw_request_hook=requests.hook).get_container_client(tag)
        started = time.perf_counter()
        names = [b.name for b in src.list_blobs(name_starts_with="small/")]
        dst.create_container()

        def one(name: str) -> int:
            data = src.download_blob(name).readall()
            dst.upload_blob(name, data, overwrite=True)
            return len(data)

        with ThreadPoolExecutor(workers) as pool:
            moved = sum(pool.map(one, names))
        return {"seconds": time.perf_counter() - started, "bytes": moved, "files": len(names),
                "requests": dict(requests.kinds)}

    strategy = mode.split(":")[1]
    settings = settings_for(port, strategy, tag)
    clients = StorageClients(environ, raw_request_hook=requests.hook)
    started = time.perf_counter()
    plan = plan_delivery({"run": run_of("small", tag)}, settings=settings, clients=clients)
    planned = time.perf_counter() - started
    batches = pack_batches(plan["copies"], plan["budget"])
    base = {"run_id": tag, "route": "small", "datastore": plan["datastore"], "budget": plan["budget"]}

    def call(batch: list) -> list:
        out = copy_output({**base, "sink": "sink", "items": batch}, settings=settings, clients=clients)
        return out["results"]

    # the baseline's number of requests in flight: each call copies ITEM_WORKERS files at a time, and
    # workers // ITEM_WORKERS calls run at once, as the Durable fan-out would run them
    with ThreadPoolExecutor(max(1, workers // ITEM_WORKERS)) as pool:
        results = [r for rs in pool.map(call, batches) for r in rs]
    states = Counter(r.get("state", "error") for r in results)
    return {"seconds": time.perf_counter() - started, "plan_seconds": planned,
            "bytes": sum(r.get("bytes", 0) for r in results),
            "files": len(results), "calls": len(batches), "states": dict(states), "requests": dict(requests.kinds)}


def child_big(port: int, payload_file: str, progress: str) -> dict:
    from shared.delivery.activities import StorageClients, copy_output

    requests = Requests(progress)
    payload = json.loads(Path(payload_file).read_text())
    settings = settings_for(port, "streaming", payload["run_id"])
    clients = StorageClients(environ_for(port), raw_request_hook=requests.hook)
    started = time.perf_counter()
    out = copy_output(payload, settings=settings, clients=clients)
    return {"seconds": time.perf_counter() - started, "result": out["results"][0]}


def spawn(args, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bench.copy_bench", "--port", str(args.port), *extra],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> dict:
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    lines = out.strip().splitlines()
    result = json.loads(lines[-1]) if code == 0 and lines else {"failed": code, "output": lines[-3:]}
    result["peak_rss_mib"] = usage.ru_maxrss / 1024
    return result


# --- parent -----------------------------------------------------------------------------------------------

def make_data(port: int, size_mib: int, small: int, small_kib: int) -> None:
    import hashlib

    from azure.storage.blob import BlobServiceClient, ContentSettings

    service = BlobServiceClient.from_connection_string(conn(port, "devstoreaccount1", DEV_KEY),
                                                       api_version=API_VERSION)
    container = service.get_container_client("outputs")
    container.create_container()
    big = container.get_blob_client("big/predictions.csv")
    digest, ids = hashlib.md5(), []
    chunk = os.urandom(8 * MIB)
    for i in range(size_mib // 8):  # streamed in 8 MiB blocks: the 1 GiB never sits in memory
        piece = chunk[:-8] + i.to_bytes(8, "big")
        digest.update(piece)
        ids.append(f"{i:032d}")
        big.stage_block(ids[-1], piece)
    big.commit_block_list(ids, content_settings=ContentSettings(content_md5=bytearray(digest.digest())))

    def put(i: int) -> None:  # Put Blob: storage records each small file's Content-MD5
        container.upload_blob(f"small/part-{i:05d}.csv", os.urandom(small_kib * 1024), overwrite=True)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(small)))


def small_files(args) -> list[str]:
    """Runs and prints the small-file comparison; returns what went wrong (a failed path, a file not copied)."""
    problems: list[str] = []
    modes = ["baseline", "delivery:auto", "delivery:streaming", "baseline-x2"]
    runs: dict[str, list] = {m: [] for m in modes}
    redelivery: dict[str, list] = {m: [] for m in modes if m.startswith("delivery")}
    for r in range(args.repeat):
        order = modes if r % 2 == 0 else list(reversed(modes))
        for mode in order:
            tag = f"r{r}{mode.replace(':', '').replace('_', '')}"
            runs[mode].append(finish(spawn(args, "--child", mode, "--tag", tag, "--workers", str(args.workers))))
            if mode.startswith("delivery") and r == 0:
                redelivery[mode].append(finish(spawn(args, "--child", mode, "--tag", tag,
                                                     "--workers", str(args.workers))))
            drop_container(args.port, tag)   # every run meets the same emulator state (Azurite slows as it fills)
    base = statistics.median(x["seconds"] for x in runs["baseline"])
    print(f"\nsmall files: {args.small} x {args.small_kib} KiB, same Azurite, {args.repeat} runs per path in"
          f" alternating order (median seconds; ratio = path / baseline)")
    print(f"{'path':<22} {'seconds':>8} {'files/s':>8} {'ratio':>7} {'calls':>6} {'peak RSS MiB':>13}  requests")
    for mode in modes:
        failed = [x for x in runs[mode] if "failed" in x]
        if failed:
            print(f"{mode:<22} FAILED: {failed[0]}")
            problems.append(f"{mode} failed")
            continue
        for x in runs[mode]:
            if "states" in x and x["states"] != {"copied": args.small}:
                problems.append(f"{mode}: {x['states']} (expected {args.small} copied)")
        secs = statistics.median(x["seconds"] for x in runs[mode])
        last = runs[mode][-1]
        per_file = {k: round(v / args.small, 3) for k, v in sorted(last["requests"].items())}
        every = " ".join(f"{x['seconds']:.2f}" for x in runs[mode])
        plans = " ".join(f"{x['plan_seconds']:.2f}" for x in runs[mode] if "plan_seconds" in x)
        print(f"{'':<22} runs: {every}" + (f" (of which planning: {plans})" if plans else ""))
        print(f"{mode:<22} {secs:>8.2f} {args.small / secs:>8.0f} {secs / base:>6.2f}x {last.get('calls', '-'):>6} "
              f"{max(x['peak_rss_mib'] for x in runs[mode]):>13.0f}  per file {per_file}"
              + (f" states {last['states']}" if "states" in last else ""))
    for mode, again in redelivery.items():
        x = again[0]
        if "failed" in x:
            print(f"re-{mode:<19} FAILED: {x}")
            problems.append(f"re-{mode} failed")
            continue
        if x["states"] != {"skipped": args.small}:
            problems.append(f"re-{mode}: {x['states']} (expected {args.small} skipped)")
        print(f"{'re-' + mode:<22} {x['seconds']:>8.2f} {args.small / x['seconds']:>8.0f} {x['seconds'] / base:>6.2f}x"
              f" {x['calls']:>6} {x['peak_rss_mib']:>13.0f}  requests {x['requests']} states {x['states']}")
    delivered = [m for m in modes if m.startswith("delivery") and not any("failed" in x for x in runs[m])]
    ratios = [statistics.median(x["seconds"] for x in runs[m]) / base for m in delivered]
    shown = ", ".join(f"{m.split(':')[1]} {r:.2f}x" for m, r in zip(delivered, ratios))
    default = dict(zip(delivered, ratios)).get("delivery:auto")
    verdict = "no slower" if default is not None and default <= 1.0 else "SLOWER"
    print(f"small-file delivery vs naive baseline: {shown}; the default strategy (auto) is {verdict}")
    return problems


def drop_container(port: int, tag: str) -> None:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(conn(port, "sinkaccount", SINK_KEY), api_version=API_VERSION)
    service.delete_container(tag)
    while any(c.name == tag for c in service.list_containers(name_starts_with=tag)):
        time.sleep(0.2)


def staged_bytes(port: int, tag: str) -> int:
    from azure.core.exceptions import ResourceNotFoundError
    from azure.storage.blob import BlobServiceClient

    blob = BlobServiceClient.from_connection_string(conn(port, "sinkaccount", SINK_KEY), api_version=API_VERSION) \
        .get_blob_client(tag, "predictions.csv")
    try:
        return sum(b.size for b in blob.get_block_list("uncommitted")[1])
    except ResourceNotFoundError:
        return 0


def big_file(args) -> list[str]:
    """Runs and prints the killed-twice large copy; returns what went wrong."""
    from shared.delivery.activities import StorageClients, plan_delivery

    size = args.size_mib * MIB
    tag = "bigresume"
    # the naive baseline, for time and memory
    baseline = finish(spawn(args, "--child", "big-baseline", "--tag", "bigbaseline"))
    plan = plan_delivery({"run": run_of("big", tag)}, settings=settings_for(args.port, "streaming", tag),
                         clients=StorageClients(environ_for(args.port)))
    payload = {"run_id": tag, "route": "big", "datastore": plan["datastore"], "sink": "sink",
               "budget": plan["budget"], "items": [{k: c[k] for k in ("file", "source_path", "destination", "bytes",
                                                                       "etag", "md5", "content_type")}
                                                   for c in plan["copies"]]}
    workdir = Path(tempfile.mkdtemp(prefix="copy-bench-big-"))
    (workdir / "payload.json").write_text(json.dumps(payload))
    rows = []
    started = time.perf_counter()
    for call, kill_at in enumerate((size // 3, 2 * size // 3, None), 1):
        progress = workdir / f"progress-{call}"
        progress.touch()
        t0 = time.perf_counter()
        proc = spawn(args, "--child", "big", "--payload", str(workdir / "payload.json"), "--progress", str(progress))
        killed_at = None
        if kill_at is not None:
            while proc.poll() is None:
                staged = staged_bytes(args.port, tag)
                if staged >= kill_at:
                    os.kill(proc.pid, signal.SIGKILL)
                    killed_at = staged
                    break
                time.sleep(0.05)
        result = finish(proc)
        sent = sum(int(x) for x in progress.read_text().split())
        rows.append({"call": call, "killed_at_staged": killed_at, "sent": sent, "seconds": time.perf_counter() - t0,
                     "staged_after": staged_bytes(args.port, tag), "peak_rss_mib": result["peak_rss_mib"],
                     "result": result.get("result")})
    total = time.perf_counter() - started
    shutil.rmtree(workdir, ignore_errors=True)

    print(f"\nlarge file: {args.size_mib} MiB, strategy streaming, block {8} MiB, window 4; SIGKILL at 1/3 and 2/3")
    print(f"{'call':<6} {'outcome':<34} {'sent MiB':>9} {'staged MiB after':>17} {'seconds':>8} {'peak RSS MiB':>13}")
    for r in rows:
        if r["killed_at_staged"] is not None:
            outcome = f"killed with {r['killed_at_staged'] / MIB:.0f} MiB staged"
        elif r["result"]:
            res = r["result"]
            outcome = f"{res['state']}, reused {res.get('reused_bytes', 0) / MIB:.0f} MiB"
        else:
            outcome = "FAILED"
        staged_after = r["staged_after"] / MIB if r["killed_at_staged"] is not None else 0
        print(f"{r['call']:<6} {outcome:<34} {r['sent'] / MIB:>9.0f} {staged_after:>17.0f} {r['seconds']:>8.2f}"
              f" {r['peak_rss_mib']:>13.0f}")
    sent = sum(r["sent"] for r in rows)
    final = rows[-1]["result"] or {}
    ok = final.get("state") == "copied" and check_big(args.port, tag, plan["copies"][0]["md5"])
    print(f"total sent {sent / MIB:.0f} MiB for a {args.size_mib} MiB file: re-sent {(sent - size) / MIB:.0f} MiB"
          f" ({(sent - size) / size:.1%}; the blocks in flight at each kill); {total:.1f} s in all;"
          f" destination {'complete, Content-MD5 = source' if ok else 'WRONG'}")
    problems = [] if ok else ["large file: the destination is not the complete source"]
    if "failed" in baseline:
        print(f"naive baseline FAILED: {baseline}")
        problems.append("large-file baseline failed")
    else:
        print(f"naive baseline (download all, upload all, uninterrupted): {baseline['seconds']:.2f} s,"
              f" peak RSS {baseline['peak_rss_mib']:.0f} MiB; resumable streaming peak RSS"
              f" {max(r['peak_rss_mib'] for r in rows):.0f} MiB")
    return problems


def check_big(port: int, tag: str, md5: str) -> bool:
    from azure.storage.blob import BlobServiceClient

    blob = BlobServiceClient.from_connection_string(conn(port, "sinkaccount", SINK_KEY), api_version=API_VERSION) \
        .get_blob_client(tag, "predictions.csv")
    props = blob.get_blob_properties()
    committed, uncommitted = blob.get_block_list("all")
    return (props.content_settings.content_md5 or b"").hex() == md5 and not uncommitted \
        and sum(b.size for b in committed) == props.size


def child_big_baseline(port: int, tag: str) -> dict:
    from azure.storage.blob import BlobServiceClient

    environ = environ_for(port)
    src = BlobServiceClient.from_connection_string(environ["SRC"], api_version=API_VERSION)
    dst = BlobServiceClient.from_connection_string(environ["DST"], api_version=API_VERSION)
    started = time.perf_counter()
    data = src.get_blob_client("outputs", "big/predictions.csv").download_blob().readall()
    dst.create_container(tag)
    dst.get_blob_client(tag, "predictions.csv").upload_blob(data, overwrite=True)
    return {"seconds": time.perf_counter() - started, "bytes": len(data)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--small-kib", type=int, default=16)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--in-memory", action="store_true", help="Azurite keeps its data in memory (small files only)")
    parser.add_argument("--smoke", action="store_true",
                        help="seconds, not minutes: 50 small files once per path, a 48 MiB file killed twice")
    parser.add_argument("--child")
    parser.add_argument("--port", type=int)
    parser.add_argument("--tag")
    parser.add_argument("--payload")
    parser.add_argument("--progress")
    args = parser.parse_args()
    if args.child:
        if args.child == "big":
            out = child_big(args.port, args.payload, args.progress)
        elif args.child == "big-baseline":
            out = child_big_baseline(args.port, args.tag)
        else:
            out = child_small(args.child, args.port, args.tag, args.workers)
        print(json.dumps(out))
        return

    if args.smoke:
        args.small, args.repeat, args.size_mib = 50, 1, 48
    workdir = tempfile.mkdtemp(prefix="copy-bench-azurite-")
    if args.in_memory:
        args.skip_big = True
    proc, args.port = start_azurite(workdir, args.in_memory)
    problems: list[str] = []
    try:
        t0 = time.perf_counter()
        make_data(args.port, 0 if args.skip_big else args.size_mib, args.small, args.small_kib)
        print(f"azurite on 127.0.0.1:{args.port} (data on disk in {workdir}); generated"
              f" {0 if args.skip_big else args.size_mib} MiB + {args.small} x {args.small_kib} KiB"
              f" in {time.perf_counter() - t0:.1f} s; {os.cpu_count()} CPUs")
        print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        problems = small_files(args)
        if not args.skip_big:
            problems += big_file(args)
        print(f"\nbenchmark wall time {time.perf_counter() - t0:.0f} s; load average after:"
              f" {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        if problems:
            print("FAILED: " + "; ".join(problems))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
