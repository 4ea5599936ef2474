"""Copy one blob to one destination, verified, idempotently (Storage SDK adapter).

* ``server_side_copy``: ``start_copy_from_url`` with a read-only SAS on the source (a user-delegation SAS
  under managed identity, a blob SAS signed with the account key for key-based connections). The SAS is
  made here, used once, and never returned, logged or stored.
* ``stream_copy``: ranged downloads staged as blocks and committed at the end with one Put Block List, so a
  reader never sees a partial blob; memory is bounded by ``chunk_bytes × window`` whatever the size.
* ``blob_md5`` / ``facts``: the verification inputs (length and MD5).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

CHUNK_BYTES = 8 * 1024 * 1024
WINDOW = 4  # chunks in flight while streaming: peak buffer ≈ CHUNK_BYTES × (WINDOW + 1)

_SECRET_QUERY = re.compile(r"(?i)\b(sig|se|st|sp|sv|sr|skoid|sktid|skt|ske|sks|skv|saoid|suoid|scid|sip|spr|ss|srt)"
                           r"=[^&\s\"'<>]*")
_ACCOUNT_KEY = re.compile(r"(?i)(AccountKey|SharedAccessSignature)=[^;\s]*")


def redact(text: str) -> str:
    """Remove SAS parameters and keys from a message before it can reach history, a log or a receipt."""
    text = _SECRET_QUERY.sub(lambda m: f"{m.group(1)}=REDACTED", text)
    return _ACCOUNT_KEY.sub(lambda m: f"{m.group(1)}=REDACTED", text)


class CopyVerificationError(Exception):
    """The destination does not match the source after a copy (length or MD5)."""


class SourceChanged(Exception):
    """The source blob changed while it was being copied."""


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


def _hex(md5: Any) -> Optional[str]:
    return bytes(md5).hex() if md5 else None


def facts(blob: Any) -> Optional[BlobFacts]:
    """Length, ETag, MD5 and copy state of a blob; ``None`` when it does not exist."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        props = blob.get_blob_properties()
    except ResourceNotFoundError:
        return None
    copy = props.copy
    source = (copy.source or "").split("?", 1)[0] or None if copy else None
    return BlobFacts(size=props.size, etag=props.etag, md5=_hex(props.content_settings.content_md5),
                     content_type=props.content_settings.content_type,
                     copy_status=copy.status if copy else None, copy_id=copy.id if copy else None,
                     copy_source=source)


def _ranges(size: int, chunk_bytes: int):
    for offset in range(0, size, chunk_bytes):
        yield offset, min(chunk_bytes, size - offset)


def _read_range(blob: Any, offset: int, length: int, etag: Optional[str]) -> bytes:
    from azure.core import MatchConditions

    kwargs = {"etag": etag, "match_condition": MatchConditions.IfNotModified} if etag else {}
    return blob.download_blob(offset=offset, length=length, max_concurrency=1, **kwargs).readall()


def blob_md5(blob: Any, size: int, etag: Optional[str] = None, chunk_bytes: int = CHUNK_BYTES) -> str:
    """MD5 of a blob's content, read range by range (bounded memory)."""
    digest = hashlib.md5()
    for offset, length in _ranges(size, chunk_bytes):
        digest.update(_read_range(blob, offset, length, etag))
    return digest.hexdigest()


def set_md5(blob: Any, md5_hex: str, content_type: Optional[str]) -> None:
    """Record a verified MD5 on a blob that had none, so later checks need no read."""
    from azure.storage.blob import ContentSettings

    props = blob.get_blob_properties()
    settings = props.content_settings
    blob.set_http_headers(ContentSettings(content_type=settings.content_type or content_type,
                                          content_encoding=settings.content_encoding,
                                          content_language=settings.content_language,
                                          content_disposition=settings.content_disposition,
                                          cache_control=settings.cache_control,
                                          content_md5=bytearray(bytes.fromhex(md5_hex))),
                          etag=props.etag, match_condition=_if_not_modified())


def _if_not_modified():
    from azure.core import MatchConditions

    return MatchConditions.IfNotModified


def block_id(index: int) -> str:
    """Deterministic block ids: a retry re-stages the same ids instead of piling up new ones."""
    return base64.b64encode(f"blk-{index:010d}".encode()).decode()


def stream_copy(source: Any, destination: Any, *, size: int, etag: Optional[str],
                content_type: Optional[str] = None, expected_md5: Optional[str] = None,
                chunk_bytes: int = CHUNK_BYTES, window: int = WINDOW) -> str:
    """Chunked download and block upload, committed at the end; returns the content's MD5 (hex).

    Each block carries a transactional MD5 (``validate_content``) that the service checks; the whole-blob MD5
    is computed on the way and stored as the destination's Content-MD5. If the source had an MD5 and the bytes
    read do not match it, nothing is committed. The source is read under ``If-Match: <etag>``, so a source
    replaced mid-copy fails the copy instead of mixing two versions.
    """
    from azure.storage.blob import ContentSettings

    digest = hashlib.md5()
    if size == 0:
        md5_hex = digest.hexdigest()
        destination.upload_blob(b"", overwrite=True, content_settings=ContentSettings(
            content_type=content_type, content_md5=bytearray(digest.digest())))
        return md5_hex

    def move(index: int, offset: int, length: int) -> bytes:
        data = _read_range(source, offset, length, etag)
        if len(data) != length:
            raise SourceChanged(f"read {len(data)} bytes at offset {offset}, expected {length}")
        destination.stage_block(block_id(index), data, length=length, validate_content=True)
        return data

    ids: list[str] = []
    with ThreadPoolExecutor(max_workers=max(1, window), thread_name_prefix="stream-copy") as pool:
        in_flight: deque = deque()
        try:
            for index, (offset, length) in enumerate(_ranges(size, chunk_bytes)):
                ids.append(block_id(index))
                in_flight.append(pool.submit(move, index, offset, length))
                if len(in_flight) >= window:
                    digest.update(in_flight.popleft().result())
            while in_flight:
                digest.update(in_flight.popleft().result())
        except BaseException:
            for future in in_flight:
                future.cancel()
            raise
    md5_hex = digest.hexdigest()
    if expected_md5 and md5_hex != expected_md5:
        raise SourceChanged(f"the bytes read have MD5 {md5_hex} but the source's Content-MD5 is {expected_md5}")
    destination.commit_block_list(ids, content_settings=ContentSettings(
        content_type=content_type, content_md5=bytearray(bytes.fromhex(md5_hex))))
    return md5_hex


def source_sas_url(source: Any, source_service: Any, key: Optional[tuple[str, str]], *,
                   valid_for: timedelta) -> str:
    """The source blob's URL with a read-only SAS, valid for ``valid_for`` (kept inside this activity)."""
    from azure.storage.blob import BlobSasPermissions, generate_blob_sas

    now = datetime.now(timezone.utc)
    start, expiry = now - timedelta(minutes=5), now + valid_for
    if key is not None:
        sas = generate_blob_sas(account_name=key[0], container_name=source.container_name,
                                blob_name=source.blob_name, account_key=key[1],
                                permission=BlobSasPermissions(read=True), start=start, expiry=expiry)
    else:
        try:
            delegation_key = source_service.get_user_delegation_key(start, expiry)
        except Exception as exc:  # no OAuth (e.g. Azurite), or no role to get one
            raise CannotSign(f"could not get a user delegation key for the source account:"
                             f" {type(exc).__name__}") from None
        sas = generate_blob_sas(account_name=source.account_name, container_name=source.container_name,
                                blob_name=source.blob_name, user_delegation_key=delegation_key,
                                permission=BlobSasPermissions(read=True), start=start, expiry=expiry)
    return f"{source.url}?{sas}"


def server_side_copy(source_url_with_sas: str, destination: Any, source_etag: Optional[str]) -> tuple[str, str]:
    """Start Copy Blob; returns ``(copy_status, copy_id)`` — ``success`` or ``pending``."""
    kwargs = {"source_etag": source_etag, "source_match_condition": _if_not_modified()} if source_etag else {}
    result = destination.start_copy_from_url(source_url_with_sas, **kwargs)
    return result["copy_status"], result["copy_id"]
