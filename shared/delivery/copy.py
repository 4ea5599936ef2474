"""Copy one blob to one destination, resumably and verified by the service's own checksums (Storage SDK adapter).

* ``stream_copy``: ranged reads staged as blocks with deterministic ids, committed with one Put Block List, so
  a reader never sees a partial blob. One call moves at most a byte budget (and stops starting new chunks
  after a deadline); the next call asks storage for the uncommitted blocks, keeps those whose id and size
  match, and stages only what is missing. Every block carries a transactional MD5 that the service checks on
  arrival, and the source is read under ``If-Match: <etag>``: a staged block is therefore the source's
  bytes, and is never read again. Small blobs (``SINGLE_PUT_MAX``) go in one Put Blob, also MD5-checked.
* ``server_side_copy``: Copy Blob (synchronous up to 256 MiB) with a read-only SAS on the source; storage
  moves and checks the bytes.
* ``provenance`` / ``already_delivered``: a destination written by this module carries the source's
  identity (URL, ETag, size) in its metadata, so "is it already there?" is answered from one listing, for
  sources without a Content-MD5 too, without reading any content.

Nothing here returns, logs or stores a SAS: it is made in ``source_sas_url`` and used once by the caller.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping, Optional

MIB = 1024 * 1024
CHUNK_BYTES = 8 * MIB        # block size (grows for blobs past MAX_BLOCKS × CHUNK_BYTES)
WINDOW = 4                   # chunks in flight while streaming: peak buffer ≈ chunk × (WINDOW + 1)
SINGLE_PUT_MAX = 4 * MIB     # at or below: one ranged GET and one Put Blob
MAX_BLOCKS = 50_000          # Azure's limit of committed blocks per blob
SYNC_COPY_MAX = 256 * MIB    # Copy Blob From URL (synchronous: done or failed in its answer) takes up to this
PROVENANCE_KEY = "deliveredfrom"   # metadata on every destination this module writes


class CopyVerificationError(Exception):
    """The destination does not match the source after a copy."""


class SourceChanged(Exception):
    """The source blob changed while it was being copied (ETag, length or MD5 differ)."""


class CannotSign(Exception):
    """No way to make a SAS for the source (no key, and no user delegation key)."""


@dataclass(frozen=True)
class BlobFacts:
    size: int
    etag: str
    md5: Optional[str]            # hex of Content-MD5, when the blob has one
    content_type: Optional[str]
    copy_status: Optional[str]    # None, "pending", "success", "aborted", "failed"
    copy_id: Optional[str]
    copy_source: Optional[str]    # without its query (no SAS)
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Progress:
    """What one ``stream_copy`` call achieved.

    ``state``: ``committed`` (the destination is complete) or ``partial`` (call again: the staged blocks stay).
    ``staged_bytes`` counts every verified block in storage after this call; ``sent_bytes`` only this call's.
    """

    state: str
    size: int
    staged_bytes: int
    sent_bytes: int
    reused_bytes: int
    md5: Optional[str]


def _hex(md5: Any) -> Optional[str]:
    return bytes(md5).hex() if md5 else None


def facts_of(props: Any) -> BlobFacts:
    """``BlobFacts`` from ``BlobProperties`` (a HEAD answer or one entry of a listing)."""
    copy = props.copy
    source = ((copy.source or "").split("?", 1)[0] or None) if copy else None
    return BlobFacts(size=props.size, etag=props.etag, md5=_hex(props.content_settings.content_md5),
                     content_type=props.content_settings.content_type,
                     copy_status=copy.status if copy else None, copy_id=copy.id if copy else None,
                     copy_source=source, metadata=dict(props.metadata or {}))


def facts(blob: Any) -> Optional[BlobFacts]:
    """Length, ETag, MD5, copy state and metadata of a blob; ``None`` when it does not exist."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return facts_of(blob.get_blob_properties())
    except ResourceNotFoundError:
        return None


def provenance(source_url: str, etag: str, size: int) -> str:
    """A stable identity of one version of a source blob (no query string, so never a SAS)."""
    text = f"{source_url.split('?', 1)[0]}|{etag}|{size}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def already_delivered(dst: Optional[BlobFacts], *, size: int, md5: Optional[str], origin: str) -> bool:
    """The destination holds this source version: same length, and either written by this module from this
    exact version (metadata), or the same Content-MD5 as the source. No content is read."""
    if dst is None or dst.size != size or dst.copy_status not in (None, "success"):
        return False
    if dst.metadata.get(PROVENANCE_KEY) == origin:
        return True
    return md5 is not None and dst.md5 == md5


def chunk_size_for(size: int) -> int:
    """``CHUNK_BYTES``, or larger (whole MiB) when the blob would need more than ``MAX_BLOCKS`` blocks."""
    needed = -(-size // MAX_BLOCKS)
    return CHUNK_BYTES if needed <= CHUNK_BYTES else -(-needed // MIB) * MIB


def fits_one_put(size: int, chunk_bytes: Optional[int] = None) -> bool:
    """Small enough for one ranged GET and one Put Blob (no blocks, nothing to resume)."""
    return size <= min(SINGLE_PUT_MAX, chunk_bytes or chunk_size_for(size))


def block_id(tag: str, index: int) -> str:
    """Deterministic, fixed-length block ids: a re-run finds and keeps what an earlier run staged.

    ``tag`` names the source version and the chunk size, so blocks of another version are never reused."""
    return base64.b64encode(f"{tag[:16]:>16}{index:08d}".encode()).decode()


def block_tag(origin: str, chunk_bytes: int) -> str:
    return hashlib.sha256(f"{origin}|{chunk_bytes}".encode()).hexdigest()[:16]


def _ranges(size: int, chunk_bytes: int) -> list[tuple[int, int]]:
    return [(offset, min(chunk_bytes, size - offset)) for offset in range(0, size, chunk_bytes)]


def _read_range(blob: Any, offset: int, length: int, etag: Optional[str]) -> bytes:
    from azure.core import MatchConditions

    kwargs = {"etag": etag, "match_condition": MatchConditions.IfNotModified} if etag else {}
    data = blob.download_blob(offset=offset, length=length, max_concurrency=1, **kwargs).readall()
    if len(data) != length:
        raise SourceChanged(f"read {len(data)} bytes at offset {offset}, expected {length}")
    return data


def uncommitted_blocks(destination: Any) -> dict[str, int]:
    """Block id → size of the destination's staged, uncommitted blocks (none when the blob is unknown)."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        _, uncommitted = destination.get_block_list("uncommitted")
    except ResourceNotFoundError:
        return {}
    return {block.id: block.size for block in uncommitted}


def _settings(content_type: Optional[str], md5_hex: Optional[str]) -> Any:
    from azure.storage.blob import ContentSettings

    return ContentSettings(content_type=content_type,
                           content_md5=bytearray(bytes.fromhex(md5_hex)) if md5_hex else None)


def stream_copy(source: Any, destination: Any, *, size: int, etag: Optional[str], origin: str,
                content_type: Optional[str] = None, source_md5: Optional[str] = None,
                budget_bytes: Optional[int] = None, deadline: Optional[float] = None,
                chunk_bytes: Optional[int] = None, window: int = WINDOW,
                clock: Callable[[], float] = time.monotonic) -> Progress:
    """Copy (or continue copying) ``source`` to ``destination``; see the module notes.

    At least one chunk is moved per call (so every call makes progress); after that, no new chunk starts
    once ``budget_bytes`` were sent or ``clock()`` passed ``deadline``. The destination's Content-MD5 is the
    source's when it has one; otherwise the MD5 of the bytes when this call read all of them (a resumed copy
    of a source without an MD5 has none, and is recognised later by its provenance metadata).
    """
    metadata = {PROVENANCE_KEY: origin}
    if fits_one_put(size, chunk_bytes):
        data = _read_range(source, 0, size, etag) if size else b""
        md5_hex = hashlib.md5(data).hexdigest()
        if source_md5 and md5_hex != source_md5:
            raise SourceChanged(f"the bytes read have MD5 {md5_hex} but the source's Content-MD5 is {source_md5}")
        destination.upload_blob(data, overwrite=True, validate_content=bool(size), metadata=metadata,
                                content_settings=_settings(content_type, md5_hex))
        return Progress("committed", size, size, size, 0, md5_hex)

    chunk = chunk_bytes or chunk_size_for(size)
    ranges = _ranges(size, chunk)
    tag = block_tag(origin, chunk)
    ids = [block_id(tag, i) for i in range(len(ranges))]
    staged = uncommitted_blocks(destination)
    missing = [i for i, (_, length) in enumerate(ranges) if staged.get(ids[i]) != length]
    reused = size - sum(ranges[i][1] for i in missing)
    whole = hashlib.md5() if not reused else None   # the whole MD5 only when every byte passes through here

    def move(index: int) -> bytes:
        offset, length = ranges[index]
        data = _read_range(source, offset, length, etag)
        destination.stage_block(ids[index], data, length=length, validate_content=True)
        return data

    sent = 0
    done: set[int] = set()
    with ThreadPoolExecutor(max_workers=max(1, window), thread_name_prefix="stream-copy") as pool:
        in_flight: deque = deque()
        try:
            for index in missing:
                if done or in_flight:   # the first chunk always goes
                    if (budget_bytes is not None and sent >= budget_bytes) or (deadline is not None
                                                                                and clock() >= deadline):
                        break
                in_flight.append((index, pool.submit(move, index)))
                sent += ranges[index][1]
                if len(in_flight) >= window:
                    first, future = in_flight.popleft()
                    data = future.result()
                    done.add(first)
                    if whole is not None:
                        whole.update(data)
            while in_flight:
                first, future = in_flight.popleft()
                data = future.result()
                done.add(first)
                if whole is not None:
                    whole.update(data)
        except BaseException:
            for _, future in in_flight:
                future.cancel()
            raise
    staged_bytes = reused + sum(ranges[i][1] for i in done)
    if len(done) < len(missing):
        return Progress("partial", size, staged_bytes, sent, reused, None)
    md5_hex = whole.hexdigest() if whole is not None else None
    if md5_hex and source_md5 and md5_hex != source_md5:
        raise SourceChanged(f"the bytes read have MD5 {md5_hex} but the source's Content-MD5 is {source_md5}")
    # Put Block List resolves each id among uncommitted blocks first, then committed ones ("latest"), so a
    # twin call that committed first does not break this commit; the result is the same blob either way.
    destination.commit_block_list(ids, metadata=metadata, content_settings=_settings(content_type,
                                                                                      source_md5 or md5_hex))
    return Progress("committed", size, size, sent, reused, source_md5 or md5_hex)


def user_delegation_key(source_service: Any, *, valid_for: timedelta) -> Any:
    """A user delegation key for signing source SAS under managed identity (one per activity call)."""
    now = datetime.now(timezone.utc)
    try:
        return source_service.get_user_delegation_key(now - timedelta(minutes=5), now + valid_for)
    except Exception as exc:  # no OAuth (e.g. Azurite), or no role to get one
        raise CannotSign(f"could not get a user delegation key for the source account: {type(exc).__name__}") \
            from None


def source_sas_url(source: Any, *, valid_for: timedelta, account_key: Optional[tuple[str, str]] = None,
                   delegation_key: Optional[Callable[[], Any]] = None) -> str:
    """The source blob's URL with a read-only SAS, valid for ``valid_for`` (kept inside the activity).

    A client built from a SAS connection string already carries its SAS: that one is used as it is.
    Otherwise the SAS is signed with the account key, else with ``delegation_key()`` (may raise CannotSign)."""
    from azure.storage.blob import BlobSasPermissions, generate_blob_sas

    query = source.url.split("?", 1)[1] if "?" in source.url else ""
    if "sig=" in query:
        return source.url
    now = datetime.now(timezone.utc)
    common = dict(container_name=source.container_name, blob_name=source.blob_name,
                  permission=BlobSasPermissions(read=True), start=now - timedelta(minutes=5), expiry=now + valid_for)
    if account_key is not None:
        sas = generate_blob_sas(account_name=account_key[0], account_key=account_key[1], **common)
    elif delegation_key is not None:
        sas = generate_blob_sas(account_name=source.account_name, user_delegation_key=delegation_key(), **common)
    else:
        raise CannotSign("no account key and no managed identity to sign a source SAS with")
    return f"{source.url}?{sas}"


def server_side_copy(source_url_with_sas: str, destination: Any, source_etag: Optional[str],
                     origin: str, *, size: int) -> tuple[str, str]:
    """Copy exactly this source version inside storage; returns ``(copy_status, copy_id)``.

    Up to ``SYNC_COPY_MAX`` the copy is synchronous (Copy Blob From URL: one request, ``success`` or an error,
    never ``pending``); larger blobs start an asynchronous Copy Blob that may answer ``pending``. Storage moves
    and checks the bytes and carries the source's Content-MD5 over; the destination gets the provenance
    metadata, so a later look finds it delivered without reading it."""
    from azure.core import MatchConditions

    kwargs = {"source_etag": source_etag, "source_match_condition": MatchConditions.IfNotModified} \
        if source_etag else {}
    if size <= SYNC_COPY_MAX:
        kwargs["requires_sync"] = True
    result = destination.start_copy_from_url(source_url_with_sas, metadata={PROVENANCE_KEY: origin}, **kwargs)
    return result["copy_status"], result["copy_id"]
