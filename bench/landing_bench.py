"""Landing benchmark: 10,000 BlobCreated events (95% data files, 5% markers, 20% duplicates) through the
landing handler against a private Azurite, compared with a naive handler measured in the same run.

    python -m bench.landing_bench [--events 10000] [--files-per-folder 19] [--concurrency 32] [--seed 1]

Storage calls are counted at the HTTP pipeline level (azure-core ``raw_request_hook`` on every blob client
the handlers use) and classified by operation; Durable-client calls (start_new / raise_event) are counted
at the client. The baseline is the common "one storage lookup per event" approach: every event checks
whether its folder's marker exists (HEAD), and an event that finds it goes on to inspect and start the run
through the same claim-then-start path. Both see the same shuffled deliveries, each with its own state
container and Durable host, so "runs started" must agree.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BLOB_CREATED = "Microsoft.Storage.BlobCreated"


class CallCounter:
    """Counts HTTP requests by kind; thread-safe (storage calls run in worker threads)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, kind: str) -> None:
        with self._lock:
            self.counts[kind] += 1

    def hook(self, request: Any) -> None:
        http = request.http_request
        url, method, headers = http.url, http.method, http.headers
        if "comp=list" in url:
            kind = "list_blobs"
        elif "restype=container" in url:
            kind = f"container_{method.lower()}"
        elif method == "PUT" and headers.get("If-None-Match") == "*":
            kind = "claim (conditional create)"
        elif method == "PUT" and headers.get("If-Match"):
            kind = "ledger_update (conditional put)"
        elif method == "HEAD":
            kind = "blob_head"
        elif method == "GET":
            kind = "blob_get"
        else:
            kind = f"blob_{method.lower()}"
        self.add(kind)


class CountingClient:
    """Wraps the real DurableOrchestrationClient and counts its calls."""

    def __init__(self, inner: Any, counter: CallCounter):
        self._inner = inner
        self._counter = counter

    async def start_new(self, *args: Any, **kwargs: Any) -> Any:
        self._counter.add("durable start_new")
        return await self._inner.start_new(*args, **kwargs)

    async def raise_event(self, *args: Any, **kwargs: Any) -> Any:
        self._counter.add("durable raise_event")
        return await self._inner.raise_event(*args, **kwargs)

    async def get_status(self, *args: Any, **kwargs: Any) -> Any:
        self._counter.add("durable get_status")
        return await self._inner.get_status(*args, **kwargs)


def make_events(total: int, files_per_folder: int, seed: int) -> tuple[list[tuple[str, bool]], int]:
    """``(blob path, is_marker)`` deliveries: 80% distinct blobs, 20% re-deliveries; 5% of deliveries are
    markers. Returns the deliveries (shuffled) and the folder count."""
    distinct = int(total * 0.8)
    folders = max(1, round(distinct / (files_per_folder + 1)))
    blobs = [(f"bench/folder-{f:05d}/part-{i:03d}.csv", False) for f in range(folders)
             for i in range(files_per_folder)]
    markers = [(f"bench/folder-{f:05d}/_SUCCESS", True) for f in range(folders)]
    rng = random.Random(seed)
    marker_deliveries = round(total * 0.05)
    data_deliveries = total - marker_deliveries
    deliveries = markers + rng.choices(markers, k=max(0, marker_deliveries - len(markers)))
    deliveries += blobs + rng.choices(blobs, k=max(0, data_deliveries - len(blobs)))
    rng.shuffle(deliveries)
    return deliveries, folders


def settings_document(account_url: str) -> dict:
    return {"datastores": {"out": {"account_url": account_url, "container": "outputs"}},
            "routes": [{"name": "bench", "match": {"container": "landing", "prefix": "bench/"},
                        "landing": {"mode": "marker"},
                        "endpoint": {"scoring_uri": "http://127.0.0.1:9/endpoints/bench/jobs"},
                        "output": {"datastore": "out", "path": "scores/{run_id}/predictions.csv"}}]}


async def feed(handle: Callable[[dict], Any], events: list[dict], concurrency: int) -> tuple[float, Counter]:
    gate = asyncio.Semaphore(concurrency)
    outcomes: Counter[str] = Counter()

    async def one(event: dict) -> None:
        async with gate:
            outcome = await handle(event)
            outcomes[outcome] += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(e) for e in events))
    return time.perf_counter() - started, outcomes


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--files-per-folder", type=int, default=19)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--smoke", action="store_true", help="seconds, not minutes: 400 events, 8 at a time")
    args = parser.parse_args(argv)
    if args.smoke:
        args.events, args.concurrency = 400, 8

    from azure.durable_functions import DurableOrchestrationClient
    from azure.durable_functions.models.utils import http_utils
    from azure.storage.blob import BlobServiceClient

    from shared.config import parse_settings
    from shared.landing.events import SkipEvent, parse_blob_created
    from shared.landing.handler import LandingContext, handle_blob_created, inspect_and_start
    from shared.landing.store import LandingStore
    from shared.runs.ids import landing_run_id
    from shared.storage.connections import account_url_of
    from shared.storage.uris import BlobLocation
    from tests.support.azurite import start_azurite
    from tests.support.durable_host import DurableTestHost

    deliveries, folders = make_events(args.events, args.files_per_folder, args.seed)
    azurite = start_azurite()
    hosts = []
    try:
        conn = azurite.default.connection_string
        account_url = azurite.default.blob_url
        setup = BlobServiceClient.from_connection_string(conn)
        landing = setup.get_container_client("landing")
        landing.create_container()
        distinct = sorted(set(deliveries))
        print(f"landing bench: {len(deliveries)} events ({sum(1 for _, m in deliveries if not m)} data files,"
              f" {sum(1 for _, m in deliveries if m)} markers, {len(deliveries) - len(distinct)} duplicates),"
              f" {folders} folders x {args.files_per_folder} files, concurrency {args.concurrency}")
        t0 = time.perf_counter()
        etags = {}

        def upload(item: tuple[str, bool]) -> None:
            path, is_marker = item
            etags[path] = landing.get_blob_client(path).upload_blob(b"" if is_marker else b"1,2\n",
                                                                    overwrite=True)["etag"]

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(upload, distinct))
        print(f"setup: uploaded {len(distinct)} blobs to Azurite in {time.perf_counter() - t0:.1f} s")
        events = [{"id": f"ev-{n}", "eventType": BLOB_CREATED,
                   "data": {"api": "PutBlob", "url": f"{account_url}/landing/{path}", "eTag": etags[path],
                            "contentLength": 0 if is_marker else 4}} for n, (path, is_marker) in
                  enumerate(deliveries)]

        env = {"AzureWebJobsStorage": conn}
        results = {}
        for name in ("baseline", "landing"):
            counter = CallCounter()
            host = DurableTestHost({}, {})
            hosts.append(host)
            host.start_server()
            env_state = {**env, "STATE_CONTAINER": f"state-{name}"}
            settings = parse_settings(settings_document(account_url), env_state)
            service = BlobServiceClient.from_connection_string(conn, raw_request_hook=counter.hook)
            store = LandingStore(settings, lambda _c, s=service: s)
            context = LandingContext(settings, store, account_url_of=lambda c: account_url_of(c, env_state))

            async def run(name=name, counter=counter, host=host, settings=settings, store=store,
                          context=context) -> tuple[float, Counter]:
                client = CountingClient(DurableOrchestrationClient(host.client_binding()), counter)
                try:
                    if name == "landing":
                        async def handle(e: dict) -> str:
                            return (await handle_blob_created(e["id"], e["eventType"], e["data"], client, settings,
                                                              context=context)).action
                    else:
                        route = settings.routes[0]
                        marker = route.landing.marker_name
                        containers = store._container(route, "landing")

                        async def handle(e: dict) -> str:
                            try:
                                created = parse_blob_created(e["id"], e["eventType"], e["data"])
                            except SkipEvent:
                                return "skipped"
                            # naive: a per-event storage lookup decides whether the folder is complete
                            blob = containers.get_blob_client(created.folder + marker)
                            try:
                                props = await asyncio.to_thread(blob.get_blob_properties)
                            except Exception:
                                return "waiting"
                            folder = BlobLocation(created.location.account_url, created.location.container,
                                                  created.folder)
                            run_id = landing_run_id(route.name, folder.url, props.etag)
                            return (await inspect_and_start(context, client, route, folder, run_id,
                                                            {"event_id": created.event_id})).action
                    return await feed(handle, events, args.concurrency)
                finally:
                    await http_utils._close_session()

            elapsed, outcomes = asyncio.run(run())
            results[name] = (elapsed, outcomes, counter.counts, len(host.instance_ids()))

        for name, (elapsed, outcomes, counts, runs) in results.items():
            total = sum(counts.values())
            print(f"\n[{name}] {len(events) / elapsed:,.0f} events/s ({elapsed:.2f} s); runs started: {runs};"
                  f" outcomes: {dict(sorted(outcomes.items()))}")
            print(f"  storage+durable calls per event: {total / len(events):.4f} ({total} calls)")
            for kind, n in sorted(counts.items()):
                print(f"    {kind:34s} {n / len(events):.4f}/event  ({n})")
        (b_elapsed, _, b_counts, b_runs), (l_elapsed, _, l_counts, l_runs) = results["baseline"], results["landing"]
        b_calls, l_calls = sum(b_counts.values()), sum(l_counts.values())
        print(f"\nlanding vs baseline: throughput x{b_elapsed / l_elapsed:.1f}; calls per event"
              f" {l_calls / len(events):.4f} vs {b_calls / len(events):.4f} (x{b_calls / max(1, l_calls):.1f} fewer);"
              f" runs started {l_runs} vs {b_runs} (expected {folders})")
        ok = l_runs == b_runs == folders
        print("OK" if ok else "MISMATCH: runs started differ from the number of folders")
        return 0 if ok else 1
    finally:
        for host in hosts:
            host.close()
        azurite.stop()


if __name__ == "__main__":
    sys.exit(main())
