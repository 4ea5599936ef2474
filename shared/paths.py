"""Names and paths: the one module that checks every name from outside and builds every path from them.

Every landed name, run id, job name, route name, Azure ML event field or template value passes through here
before it touches storage, a URL, a Durable client call or a log line. Pure: no Azure SDK imports, no I/O.

The rules, decided once:

* A **relative path** (a landed folder, a sink path after its template is rendered, a state document name)
  is checked *after* percent-decoding, so ``%2e%2e`` is ``..``. It may not be empty where a name is needed,
  may not start with ``/``, and no segment may be ``.`` or ``..``; it may not hold a backslash, a control
  character (C0, DEL, C1), ``?`` or ``#`` when it comes from a request (``RAW_EVENT`` names keep them: a blob
  may really be called ``a#b``), fullwidth or other look-alike dots as a whole segment, and it may not be
  longer than :data:`MAX_PATH_CHARS` characters (the Blob service's limit on a blob name is 1,024).
* An **id** (run id, job name, route name) matches a closed grammar: letters, digits, ``-`` and ``_``
  (a job name also ``.``), bounded in length, never ``.`` or ``..``.

Errors are :class:`InvalidName`, a ``ValueError`` naming the field, so an HTTP handler can answer 400 with it
and an event handler can count a skip with it.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

MAX_PATH_CHARS = 1024
MAX_SEGMENT_CHARS = 255
MAX_ID_CHARS = 128

_ROUTE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_QUERY_OR_FRAGMENT = re.compile(r"[?#]")


class InvalidName(ValueError):
    """A name or path from outside that does not match its grammar. ``field`` says which input it was."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _shown(value: str, limit: int = 60) -> str:
    """A value safe to echo in an error: control characters escaped, long values cut."""
    text = value if len(value) <= limit else value[:limit] + "…"
    return text.encode("unicode_escape").decode("ascii")


def _is_dot_segment(segment: str) -> bool:
    # NFKC folds fullwidth (U+FF0E) and other compatibility dots to '.', which some stores normalise to.
    folded = unicodedata.normalize("NFKC", segment)
    return folded in (".", "..") or segment in (".", "..")


def check_relative_path(value: str, *, field: str, allow_query_chars: bool = False,
                        decode: bool = True, allow_empty: bool = False) -> str:
    """The canonical form of a relative blob path (decoded), or :class:`InvalidName`.

    ``decode`` percent-decodes once first (a path from a request or a template value); pass ``False`` for a
    name that is already the blob's real name (from an event, after recovery, or from a listing). A trailing
    ``/`` (a folder) is kept.
    """
    if not isinstance(value, str):
        raise InvalidName(field, f"must be a string, got {type(value).__name__}")
    if len(value) > MAX_PATH_CHARS * 3:
        raise InvalidName(field, f"is {len(value)} characters; the limit is {MAX_PATH_CHARS}")
    text = unquote(value) if decode else value
    if not text:
        if allow_empty:
            return ""
        raise InvalidName(field, "must not be empty")
    if len(text) > MAX_PATH_CHARS:
        raise InvalidName(field, f"is {len(text)} characters; the limit is {MAX_PATH_CHARS}")
    if _CONTROL.search(text):
        raise InvalidName(field, f"must not contain control characters: {_shown(text)!r}")
    if "\\" in text:
        raise InvalidName(field, f"must not contain a backslash: {_shown(text)!r}")
    if not allow_query_chars and _QUERY_OR_FRAGMENT.search(text):
        raise InvalidName(field, f"must not contain '?' or '#': {_shown(text)!r}")
    if text.startswith("/"):
        raise InvalidName(field, f"must be relative (no leading '/'): {_shown(text)!r}")
    segments = text.split("/")
    body = segments[:-1] if text.endswith("/") else segments
    for segment in body:
        if segment == "":
            raise InvalidName(field, f"must not contain an empty segment ('//'): {_shown(text)!r}")
        if _is_dot_segment(segment):
            raise InvalidName(field, f"must not contain a '.' or '..' segment: {_shown(text)!r}")
        if len(segment) > MAX_SEGMENT_CHARS:
            raise InvalidName(field, f"has a segment of {len(segment)} characters; the limit is {MAX_SEGMENT_CHARS}")
    return text


def join_under(prefix: str, relative: str, *, field: str) -> str:
    """``prefix`` + ``relative``, checked so the result stays under ``prefix`` (both already canonical)."""
    rel = check_relative_path(relative, field=field, decode=False, allow_query_chars=True, allow_empty=True)
    base = prefix if not prefix or prefix.endswith("/") else prefix + "/"
    joined = base + rel
    if not joined.startswith(base):  # pragma: no cover - guaranteed by the checks above
        raise InvalidName(field, "escapes its prefix")
    return joined


def _check_id(value: object, *, field: str, grammar: re.Pattern, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidName(field, f"must be a string, got {type(value).__name__}")
    # fullmatch: with match, "$" also matches before a trailing newline ("heart-1\n" would pass)
    if not grammar.fullmatch(value) or value in (".", ".."):
        raise InvalidName(field, f"is not a valid {what}: {_shown(value)!r}")
    return value


def check_route_name(value: object, *, field: str = "route") -> str:
    """Route names: letters, digits, '-' and '_', at most 63 characters, starting with a letter or digit."""
    return _check_id(value, field=field, grammar=_ROUTE_NAME, what="route name")


def check_run_id(value: object, *, field: str = "run_id") -> str:
    """Run ids (also Durable instance ids): letters, digits, '-' and '_', at most 128 characters."""
    return _check_id(value, field=field, grammar=_RUN_ID, what="run id")


def check_job_name(value: object, *, field: str = "job_name") -> str:
    """Azure ML job names (and event ``runId``): letters, digits, '-', '_' and '.', at most 255 characters."""
    return _check_id(value, field=field, grammar=_JOB_NAME, what="job name")


def is_valid_run_id(value: object) -> bool:
    try:
        check_run_id(value)
        return True
    except InvalidName:
        return False


# --- storage accounts: the blob and dfs endpoints of one account are one account ------------------------

_DFS_HOST = re.compile(r"^(?P<account>[a-z0-9]{3,24})\.dfs\.(?P<suffix>core\.[a-z0-9.]+)$", re.IGNORECASE)
_ABFS = re.compile(r"^abfss?://(?P<fs>[^@/]+)@(?P<account>[a-z0-9]{3,24})\.dfs\.(?P<suffix>core\.[a-z0-9.]+)"
                   r"(?P<path>/.*)?$", re.IGNORECASE)


def canonical_account_url(url: str) -> str:
    """The account's blob endpoint for any endpoint of it: ``https://acct.dfs.core.windows.net`` →
    ``https://acct.blob.core.windows.net``; lower-cased host, no trailing slash. Path-style (Azurite) URLs
    keep their account segment."""
    from urllib.parse import urlsplit

    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    match = _DFS_HOST.match(host)
    if match:
        host = f"{match['account'].lower()}.blob.{match['suffix'].lower()}"
    netloc = host + (f":{parts.port}" if parts.port else "")
    path = parts.path.rstrip("/")
    return f"{parts.scheme.lower()}://{netloc}{path}"


def abfss_to_blob_url(uri: str) -> str:
    """``abfss://fs@acct.dfs.core.windows.net/p`` → ``https://acct.blob.core.windows.net/fs/p`` (path kept as is)."""
    match = _ABFS.match(uri.strip())
    if not match:
        raise InvalidName("url", f"not an abfs(s):// URI: {_shown(uri)!r}")
    return f"https://{match['account'].lower()}.blob.{match['suffix'].lower()}/{match['fs']}{match['path'] or ''}"
