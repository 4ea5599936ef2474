"""Reading ``Microsoft.Storage.BlobCreated`` events (pure): which blob, and is it committed?

The rules, decided once (docs/landing.md, "Event intake rules"):

* **Schemas.** Event Grid schema and CloudEvents 1.0 alike (:mod:`shared.event_envelope`). An event whose
  type was lost (an older worker decoding a CloudEvent) counts as BlobCreated when its ``data.api`` is a
  committing Blob/ADLS operation: no other Storage event carries one of those.
* **Committed only.** ``PutBlob``, ``PutBlockList``, ``CopyBlob``, ADLS Gen2's ``FlushWithClose`` and SFTP's
  ``SftpCommit`` (the file was closed after its upload). ADLS Gen2's ``CreateFile`` makes an empty file
  (``contentLength`` 0) whose content a later ``FlushWithClose`` commits, and SFTP's ``SftpCreate`` the
  empty blob an ``SftpCommit`` later fills, so both are skipped (``uncommitted_api``), as are
  ``FlushWithClose``-less appends, ``SftpWrite`` and every other operation. The documented ``SftpCommit``
  example carries ``contentLength: 0`` for a committed file, so its size is taken as unknown (the blob's own
  size is read where a rule needs it).
* **Renames** (ADLS Gen2: Spark, ADF copy and azcopy write to a temporary name, then rename into place).
  ``Microsoft.Storage.BlobRenamed`` (``RenameFile``) and ``Microsoft.Storage.DirectoryRenamed``
  (``RenameDirectory``) carry no ``url``, ``eTag`` or ``contentLength``: ``data.destinationUrl`` (checked
  against the subject, like ``url``) names the new path, ``data.sourceUrl`` the old one (only logged).
  :func:`parse_renamed` reads them; the handler reads the blob's ETag, or lists the renamed folder, and
  lands what it finds exactly as if it had been uploaded there.
* **Accounts.** ``data.url`` names the account: its blob endpoint, its dfs endpoint
  (``https://<acct>.dfs.core.windows.net/<fs>/<path>``) and ``abfss://<fs>@<acct>.dfs...`` are one account,
  keyed by its canonical blob endpoint (:func:`shared.blob_urls.canonical_account_url`).
* **Names.** The ``subject`` (``/blobServices/default/containers/<c>/blobs/<name>``) names the container and
  the blob, verbatim: it is never percent-encoded, and a raw ``#``, ``?``, ``%`` or space in it is part of
  the name. ``data.url`` is only cross-checked: its container must be the subject's, and its text after the
  container must equal the name either as is (raw) or percent-decoded once; otherwise the event is skipped
  (``name_mismatch``) rather than guessed. If the subject holds U+FFFD (Event Grid has been seen to mangle
  characters outside the BMP there), the name comes from the url when that matches the subject around the
  mangled characters. An event without a subject (only hand-made events: Event Grid always sets it) takes
  the name from the url, percent-decoded once, with ``#`` and ``?`` kept as name characters.
* **Safe names.** The recovered name must pass :func:`shared.paths.check_relative_path` (no ``.``/``..``
  segment, also when percent-decoded, no backslash, control character, empty segment or over-long name);
  otherwise the event is skipped (``unsafe_name``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any, Optional
from urllib.parse import unquote

from ..event_envelope import (EventEnvelope, SkipEvent, decode_queue_message, read_event,  # noqa: F401 - re-exported
                              safe_event_id)
from ..redact import has_credential, has_secret, shown
from ..paths import InvalidName, split_blob_subject
from ..blob_urls import split_storage_url
from ..storage.uris import BlobLocation

BLOB_CREATED = "Microsoft.Storage.BlobCreated"
BLOB_RENAMED = "Microsoft.Storage.BlobRenamed"
DIRECTORY_RENAMED = "Microsoft.Storage.DirectoryRenamed"
RENAMED_TYPES = frozenset({BLOB_RENAMED, DIRECTORY_RENAMED})
# Only these mean "the blob's content is committed" (a blob output binding alone emits three events).
COMMITTED_APIS = frozenset({"PutBlob", "PutBlockList", "CopyBlob", "FlushWithClose", "SftpCommit"})
# Commits whose event's contentLength is not the blob's size (the documented SftpCommit example says 0).
SIZE_UNKNOWN_APIS = frozenset({"SftpCommit"})
# The operation behind each rename event (what infra's data.api filter lets through).
RENAME_APIS = {BLOB_RENAMED: "RenameFile", DIRECTORY_RENAMED: "RenameDirectory"}
# Skips that are normal for a route's own marker (a CreateFile before its FlushWithClose, a BlobDeleted):
# not worth a WARNING.
BENIGN_SKIPS = frozenset({"wrong_event_type", "uncommitted_api"})

MAX_ETAG_CHARS = 256
_ETAG = re.compile(r"^[\x21-\x7e]{1,256}$")


@dataclass(frozen=True)
class BlobCreated:
    event_id: str
    location: BlobLocation
    etag: str
    api: str
    content_length: Optional[int]
    event_time: Optional[str] = None

    @property
    def name(self) -> str:
        return self.location.path.rsplit("/", 1)[-1]

    @property
    def folder(self) -> str:
        """The blob's parent folder with a trailing '/', or '' at the container's root."""
        path = self.location.path
        return path[: path.rfind("/") + 1] if "/" in path else ""


def _name_from_mangled_subject(subject_name: str, rest: str) -> Optional[str]:
    """The url's name (raw or decoded once) when it matches a subject whose U+FFFD stand for lost characters."""
    pattern = "".join(".+?" if part == "\ufffd" else re.escape(part)
                      for part in re.split("(\ufffd)", re.sub("\ufffd+", "\ufffd", subject_name)) if part)
    for candidate in (unquote(rest), rest):
        if "\ufffd" not in candidate and re.fullmatch(pattern, candidate, re.DOTALL):
            return candidate
    return None


def _may_hold_secret(url: str) -> bool:
    """Cheap pre-check for :func:`has_credential` (the hot path: most URLs hold none of these)."""
    return "@" in url or "=" in url or "%3" in url or "eyJ" in url or " " in url


def recover_name(url: Any, subject: Optional[str]) -> tuple[str, str, str]:
    """``(account_url, container, name)`` of the blob an event is about (the rule in the module docstring)."""
    if not isinstance(url, str):
        raise SkipEvent("malformed", "data.url is missing")
    if _may_hold_secret(url) and has_credential(url):  # Event Grid never puts a SAS or user:password in data.url
        raise SkipEvent("malformed", "data.url carries a credential (a SAS or user:password)")
    try:
        parts = split_storage_url(url, field="data.url")
    except InvalidName as exc:
        raise SkipEvent("malformed", shown(str(exc), 200)) from None
    if subject is None:
        return parts.account_url, parts.container, unquote(parts.rest)
    try:
        container, name = split_blob_subject(subject)
    except InvalidName as exc:
        raise SkipEvent("malformed", shown(str(exc), 200)) from None
    where = (parts.account_url, container, name)
    if container != parts.container:
        raise SkipEvent("name_mismatch", f"subject names container {container!r}, data.url {parts.container!r}",
                        where)
    if "\ufffd" in name and parts.rest != name and unquote(parts.rest) != name:
        recovered = _name_from_mangled_subject(name, parts.rest)
        if recovered is None:
            raise SkipEvent("name_mismatch", f"subject {shown(subject, 120)} has lost characters and data.url does"
                                             f" not match it", where)
        return parts.account_url, container, recovered
    if parts.rest != name and unquote(parts.rest) != name:
        raise SkipEvent("name_mismatch", f"subject names blob {shown(name, 120)}, data.url {shown(parts.rest, 120)}", where)
    return parts.account_url, container, name


def _committed(api: Any) -> bool:
    return isinstance(api, str) and api in COMMITTED_APIS


def _content_length(value: Any, where: tuple[str, str, str]) -> Optional[int]:
    if value is None or isinstance(value, bool) or not isinstance(value, int):
        return None
    if value < 0:
        raise SkipEvent("malformed", f"data.contentLength is negative: {value}", where)
    return value


def _event_id(event_id: Any, where: Optional[tuple[str, str, str]]) -> str:
    if event_id is not None and not isinstance(event_id, str):
        event_id = str(event_id) if isinstance(event_id, int) and not isinstance(event_id, bool) else None
    if event_id is not None and (len(event_id) > 256 or re.search(r"[\x00-\x1f\x7f-\x9f]", event_id)):
        raise SkipEvent("malformed", f"id is not a printable string of at most 256 characters: {shown(event_id, 120)}",
                        where)
    return event_id or ""


def parse_blob_created(event_id: Any, event_type: Any, data: Any, *, subject: Optional[str] = None,
                       event_time: Optional[str] = None) -> BlobCreated:
    """A committed blob from an event's parts, or :class:`SkipEvent` with the reason. Never raises anything else."""
    if event_type is None and isinstance(data, Mapping) and _committed(data.get("api")):
        event_type = BLOB_CREATED  # the type was lost on the way (an old worker decoding a CloudEvent)
    if not isinstance(event_type, str) or event_type != BLOB_CREATED:
        raise SkipEvent("wrong_event_type", shown(event_type, 120))
    if not isinstance(data, Mapping):
        raise SkipEvent("malformed", "data is not an object")
    if subject is not None and not isinstance(subject, str):
        raise SkipEvent("malformed", "subject is not a string")
    api = data.get("api")
    if not _committed(api):
        where = None
        try:
            where = recover_name(data.get("url"), subject)
        except SkipEvent:
            pass
        detail = shown(api, 120) + (" (ADLS Gen2 creates the file empty; its FlushWithClose commits it)"
                               if api == "CreateFile" else "")
        raise SkipEvent("uncommitted_api", detail, where)
    account_url, container, name = recover_name(data.get("url"), subject)
    where = (account_url, container, name)
    if not name or name.endswith("/"):
        raise SkipEvent("not_a_blob", shown(data.get("url"), 120), where)
    try:  # a BlobLocation checks its path (shared.paths.check_relative_path) when it is made
        location = BlobLocation(account_url, container, name)
    except InvalidName as exc:
        raise SkipEvent("unsafe_name", shown(str(exc), 200), where) from None
    etag = data.get("eTag") if data.get("eTag") is not None else data.get("etag")
    if not isinstance(etag, str) or not _ETAG.match(etag):
        raise SkipEvent("malformed", "data.eTag is missing or not a printable string of at most"
                                     f" {MAX_ETAG_CHARS} characters", where)
    event_id = _event_id(event_id, where)
    size = None if api in SIZE_UNKNOWN_APIS else _content_length(data.get("contentLength"), where)
    return BlobCreated(event_id, location, etag, api, size, event_time)


@dataclass(frozen=True)
class Renamed:
    """A file (``directory`` False) or folder renamed to ``location``; ``source`` is the old URL (logged only)."""
    event_id: str
    location: BlobLocation
    directory: bool
    api: str
    source: Optional[str]
    event_time: Optional[str] = None


def renamed_type(event_type: Any, data: Any) -> Optional[str]:
    """The rename event type of an event, also when the delivery lost the type (inferred from ``data.api``)."""
    if isinstance(event_type, str) and event_type in RENAMED_TYPES:
        return event_type
    if event_type is None and isinstance(data, Mapping) and "destinationUrl" in data:
        return next((kind for kind, api in RENAME_APIS.items() if data.get("api") == api), None)
    return None


def parse_renamed(event_id: Any, event_type: Any, data: Any, *, subject: Optional[str] = None,
                  event_time: Optional[str] = None) -> Renamed:
    """A ``BlobRenamed`` / ``DirectoryRenamed`` event's new location, or :class:`SkipEvent` with the reason."""
    kind = renamed_type(event_type, data)
    if kind is None:
        raise SkipEvent("wrong_event_type", shown(event_type, 120))
    if not isinstance(data, Mapping):
        raise SkipEvent("malformed", "data is not an object")
    if subject is not None and not isinstance(subject, str):
        raise SkipEvent("malformed", "subject is not a string")
    account_url, container, name = recover_name(data.get("destinationUrl"), subject)
    where = (account_url, container, name)
    name = name.rstrip("/") if kind == DIRECTORY_RENAMED else name
    if not name or name.endswith("/"):
        raise SkipEvent("not_a_blob", shown(data.get("destinationUrl"), 120), where)
    try:
        location = BlobLocation(account_url, container, name)
    except InvalidName as exc:
        raise SkipEvent("unsafe_name", shown(str(exc), 200), where) from None
    source = data.get("sourceUrl")
    source = shown(source, 300) if isinstance(source, str) and not has_secret(source) else None
    api = data.get("api") if isinstance(data.get("api"), str) else RENAME_APIS[kind]
    return Renamed(_event_id(event_id, where), location, kind == DIRECTORY_RENAMED, shown(api, 64), source,
                   event_time)


def parse_blob_event(envelope: EventEnvelope) -> BlobCreated:
    """:func:`parse_blob_created` for an :class:`EventEnvelope` (either schema)."""
    return parse_blob_created(envelope.id, envelope.type, envelope.data, subject=envelope.subject,
                              event_time=envelope.time)


def event_fields(event: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    """``(id, type, data)`` of an event dict in the Event Grid schema or the CloudEvents 1.0 schema."""
    envelope = read_event(event)
    return envelope.id, envelope.type, envelope.data
