"""shared/delivery/copy.py on Azurite: budgeted calls, resume from staged blocks, crashes right after each write.

A "crash" is a fault at the HTTP boundary: the request reaches storage and is carried out, then its answer is
lost (the worker died, the connection dropped). The re-run is a fresh call, as Durable would make it."""

from __future__ import annotations

import base64
import hashlib
import threading
import uuid
from collections import Counter

import pytest
from azure.core.exceptions import ServiceResponseError
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import BlobServiceClient, ContentSettings

from shared.delivery import copy as engine
from tests.delivery.conftest import payload_bytes

CHUNK = 256 * 1024


class LoseAnswer(RequestsTransport):
    """The ``n``-th request that ``matches`` is carried out by storage, then its answer is lost."""

    def __init__(self, n: int, matches):
        super().__init__()
        self.n, self.matches, self.seen = n, matches, 0

    def send(self, request, **kwargs):
        if self.matches(request):
            self.seen += 1
            if self.seen == self.n:
                super().send(request, **kwargs)
                raise ServiceResponseError("connection reset by peer after the write (injected)")
        return super().send(request, **kwargs)


class Requests:
    """Counts requests by kind and bytes sent in request bodies (a raw_request_hook)."""

    def __init__(self):
        self.kinds: Counter = Counter()
        self.body_bytes = 0
        self.lock = threading.Lock()

    def hook(self, request):
        http = request.http_request
        url, method = http.url, http.method
        kind = ("put_block" if "comp=block&" in url + "&" and "blocklist" not in url else
                "put_block_list" if "comp=blocklist" in url else
                "list" if "comp=list" in url else
                "get" if method == "GET" else "head" if method == "HEAD" else f"{method.lower()}")
        with self.lock:
            self.kinds[kind] += 1
            if method == "PUT" and http.body is not None and not isinstance(http.body, (str, dict)):
                try:
                    self.body_bytes += len(http.body)
                except TypeError:
                    pass


def put_block(request) -> bool:
    return request.method == "PUT" and "comp=block" in request.url and "blocklist" not in request.url


def put_block_list(request) -> bool:
    return request.method == "PUT" and "comp=blocklist" in request.url


def put_blob(request) -> bool:
    return request.method == "PUT" and "comp=" not in request.url and "x-ms-copy-source" not in request.headers


class Pair:
    """A source blob in one account and its destination in the other."""

    def __init__(self, azurite, data: bytes, *, with_md5: bool = True):
        self.azurite = azurite
        self.data = data
        sfx = uuid.uuid4().hex[:10]
        self.src_service = BlobServiceClient.from_connection_string(azurite.default.connection_string)
        self.src_container = self.src_service.create_container(f"src{sfx}")
        self.source = self.src_container.get_blob_client("out/predictions.csv")
        self._upload(data, with_md5)
        self.dst_container_name = f"dst{sfx}"
        BlobServiceClient.from_connection_string(azurite.sink.connection_string).create_container(
            self.dst_container_name)

    def _upload(self, data: bytes, with_md5: bool) -> None:
        # staged in blocks, so storage computes no Content-MD5 unless we set one
        ids = []
        for i in range(0, max(len(data), 1), 1024 * 1024):
            ids.append(base64.b64encode(f"src{i:012d}".encode()).decode())
            self.source.stage_block(ids[-1], data[i:i + 1024 * 1024])
        md5 = bytearray(hashlib.md5(data).digest()) if with_md5 else None
        self.source.commit_block_list(ids, content_settings=ContentSettings(content_type="text/csv", content_md5=md5))
        self.facts = engine.facts(self.source)
        self.origin = engine.provenance(self.source.url, self.facts.etag, self.facts.size)

    def replace_source(self, data: bytes) -> None:
        self.data = data
        self._upload(data, True)

    def destination(self, **client_kwargs):
        service = BlobServiceClient.from_connection_string(self.azurite.sink.connection_string, **client_kwargs)
        return service.get_blob_client(self.dst_container_name, "scores/predictions.csv")

    def copy(self, destination=None, **kwargs) -> engine.Progress:
        kwargs = {"chunk_bytes": CHUNK, **kwargs}
        return engine.stream_copy(self.source, destination or self.destination(), size=self.facts.size,
                                  etag=self.facts.etag, origin=self.origin, content_type="text/csv",
                                  source_md5=self.facts.md5, **kwargs)

    def committed(self) -> bytes:
        return self.destination().download_blob().readall()

    def block_lists(self):
        return self.destination().get_block_list("all")


def test_a_large_copy_moves_one_budget_per_call_and_each_call_resumes_from_the_staged_blocks(azurite):
    pair = Pair(azurite, payload_bytes(9 * CHUNK + 5))          # 10 blocks
    calls = []
    while not calls or calls[-1].state == "partial":
        calls.append(pair.copy(budget_bytes=3 * CHUNK))
        assert len(calls) <= 4
    assert [c.state for c in calls] == ["partial", "partial", "partial", "committed"]
    assert [c.sent_bytes for c in calls] == [3 * CHUNK, 3 * CHUNK, 3 * CHUNK, 5]
    assert [c.reused_bytes for c in calls] == [0, 3 * CHUNK, 6 * CHUNK, 9 * CHUNK]
    assert [c.staged_bytes for c in calls] == [3 * CHUNK, 6 * CHUNK, 9 * CHUNK, 9 * CHUNK + 5]
    assert sum(c.sent_bytes for c in calls) == len(pair.data)     # nothing was sent twice
    assert pair.committed() == pair.data
    committed, uncommitted = pair.block_lists()
    assert [b.size for b in committed] == [CHUNK] * 9 + [5] and uncommitted == []
    props = pair.destination().get_blob_properties()
    # the source's MD5 is trusted and carried over, not recomputed by reading the staged blocks again
    assert props.content_settings.content_md5.hex() == hashlib.md5(pair.data).hexdigest() == calls[-1].md5
    assert props.metadata[engine.PROVENANCE_KEY] == pair.origin


def test_a_call_stops_starting_chunks_at_its_deadline_but_always_moves_one(azurite):
    pair = Pair(azurite, payload_bytes(4 * CHUNK))
    first = pair.copy(deadline=0.0, clock=lambda: 1.0)            # already past its deadline
    assert first.state == "partial" and first.sent_bytes == CHUNK
    rest = pair.copy()
    assert rest.state == "committed" and rest.sent_bytes == 3 * CHUNK and pair.committed() == pair.data


@pytest.mark.parametrize("lost_block", [1, 4, 7])
def test_crash_right_after_a_staged_block_resends_only_what_storage_does_not_hold(azurite, lost_block):
    pair = Pair(azurite, payload_bytes(7 * CHUNK + 1))            # 8 blocks
    faulty = pair.destination(transport=LoseAnswer(lost_block, put_block), retry_total=0)
    with pytest.raises(ServiceResponseError):
        pair.copy(faulty, window=1)
    staged = engine.uncommitted_blocks(pair.destination())
    assert len(staged) == lost_block                              # the lost answer's block is in storage

    again = pair.copy()

    assert again.state == "committed"
    assert again.reused_bytes == lost_block * CHUNK and again.sent_bytes == len(pair.data) - lost_block * CHUNK
    assert pair.committed() == pair.data
    committed, uncommitted = pair.block_lists()
    assert len(committed) == 8 and uncommitted == []


def test_crash_right_after_the_commit_is_recognised_as_delivered_without_reading(azurite):
    pair = Pair(azurite, payload_bytes(3 * CHUNK), with_md5=False)
    assert pair.facts.md5 is None
    assert pair.copy(budget_bytes=CHUNK).state == "partial"      # resumed: no call saw every byte
    faulty = pair.destination(transport=LoseAnswer(1, put_block_list), retry_total=0)
    with pytest.raises(ServiceResponseError):
        pair.copy(faulty)
    requests = Requests()
    dst = engine.facts(pair.destination(raw_request_hook=requests.hook))
    # no Content-MD5 anywhere (the source has none): the provenance metadata answers, from one HEAD
    assert dst.md5 is None
    assert engine.already_delivered(dst, size=pair.facts.size, md5=pair.facts.md5, origin=pair.origin)
    assert requests.kinds == Counter({"head": 1})
    assert pair.committed() == pair.data


def test_crash_right_after_a_small_put_blob_is_recognised_as_delivered(azurite):
    pair = Pair(azurite, payload_bytes(40_000))
    faulty = pair.destination(transport=LoseAnswer(1, put_blob), retry_total=0)
    with pytest.raises(ServiceResponseError):
        pair.copy(faulty)
    dst = engine.facts(pair.destination())
    assert engine.already_delivered(dst, size=len(pair.data), md5=pair.facts.md5, origin=pair.origin)
    assert dst.md5 == hashlib.md5(pair.data).hexdigest()


def test_blocks_of_another_source_version_or_a_wrong_size_are_not_reused(azurite):
    pair = Pair(azurite, payload_bytes(4 * CHUNK, seed=1))
    assert pair.copy(budget_bytes=2 * CHUNK).state == "partial"
    pair.replace_source(payload_bytes(4 * CHUNK, seed=2))         # a new version: new ETag, new block ids
    tag = engine.block_tag(pair.origin, CHUNK)
    pair.destination().stage_block(engine.block_id(tag, 2), b"short")   # right id, wrong size

    again = pair.copy()

    assert again.state == "committed" and again.reused_bytes == 0 and again.sent_bytes == 4 * CHUNK
    assert pair.committed() == pair.data
    assert pair.block_lists()[1] == []                            # the stale blocks went with the commit


def test_a_source_replaced_mid_copy_fails_the_copy_instead_of_mixing_versions(azurite):
    from azure.core.exceptions import ResourceModifiedError

    pair = Pair(azurite, payload_bytes(4 * CHUNK, seed=1))
    assert pair.copy(budget_bytes=CHUNK).state == "partial"
    old = pair.facts
    pair.replace_source(payload_bytes(4 * CHUNK, seed=3))
    with pytest.raises(ResourceModifiedError):
        engine.stream_copy(pair.source, pair.destination(), size=old.size, etag=old.etag,
                           origin=engine.provenance(pair.source.url, old.etag, old.size), chunk_bytes=CHUNK)
    assert engine.facts(pair.destination()) is None               # nothing committed


def test_twin_calls_of_the_same_copy_commit_the_same_blob(azurite):
    pair = Pair(azurite, payload_bytes(12 * CHUNK))
    results = [None, None]

    def run(i):
        results[i] = pair.copy(window=2)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r.state for r in results} == {"committed"}
    assert pair.committed() == pair.data
    assert [b.size for b in pair.block_lists()[0]] == [CHUNK] * 12


def test_block_ids_are_fixed_length_and_the_chunk_grows_past_the_block_limit():
    ids = {engine.block_id("abcdef0123456789", i) for i in (0, 7, 49_999)}
    assert len({len(i) for i in ids}) == 1 and len(ids) == 3
    assert engine.chunk_size_for(1024 ** 3) == engine.CHUNK_BYTES
    big = 10 * 1024 ** 4                                          # 10 TiB: 50,000 blocks at most
    assert -(-big // engine.chunk_size_for(big)) <= engine.MAX_BLOCKS
    assert engine.chunk_size_for(big) % engine.MIB == 0


def test_provenance_never_carries_a_query_string():
    a = engine.provenance("https://a.blob.core.windows.net/c/p.csv?sv=1&sig=secret", '"0x1"', 10)
    b = engine.provenance("https://a.blob.core.windows.net/c/p.csv", '"0x1"', 10)
    assert a == b and "secret" not in a
    assert b != engine.provenance("https://a.blob.core.windows.net/c/p.csv", '"0x2"', 10)
