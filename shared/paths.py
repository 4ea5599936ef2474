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
  A segment that *becomes* ``.`` or ``..`` when percent-decoded (``%2e%2e``, ``%252e``) is refused too, even
  in a raw name: some consumer downstream may decode it.
* An **id** (run id, job name, route name) matches a closed grammar: letters, digits, ``-`` and ``_``
  (a job name also ``.``), bounded in length, never ``.`` or ``..``.
* A **container** (or ADLS file system) name: lower-case letters, digits and ``-`` (``$root``, ``$web``).
* **Storage URLs** are split and joined in :mod:`shared.blob_urls` (which applies the container grammar here).
* **Templates** (sink paths) are rendered from their static prefix, and the rendered rest is checked with
  :func:`join_under`; nothing is decoded after the check (:func:`render_under`).

Errors are :class:`InvalidName`, a ``ValueError`` naming the field, so an HTTP handler can answer 400 with it
and an event handler can count a skip with it.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

from .redact import shown

MAX_PATH_CHARS = 1024
MAX_SEGMENT_CHARS = 255
MAX_ID_CHARS = 128

_ROUTE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_QUERY_OR_FRAGMENT = re.compile(r"[?#]")
_SEPARATORS = re.compile(r"[/\\]")


class InvalidName(ValueError):
    """A name or path from outside that does not match its grammar. ``field`` says which input it was."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _is_dot_segment(segment: str) -> bool:
    """Whether ``segment`` is, or hides, a '.' or '..' for some reader.

    NFKC folds fullwidth (U+FF0E) and other compatibility dots to '.', which some stores normalise to.
    Percent-decoding (repeated: '%252e' is '%2e' is '.') makes '%2e%2e' a '..' for whoever decodes it, and
    '%2f' / '%5c' make one raw segment several ('%2e%2e%2f%2e%2e' is '../..'; '\\' is a separator on Windows).
    """
    if "." not in segment and "%" not in segment and segment.isascii():
        return False  # the common case: nothing that is or decodes to a dot
    for _ in range(4):
        for piece in _SEPARATORS.split(segment):
            if piece in (".", "..") or unicodedata.normalize("NFKC", piece) in (".", ".."):
                return True
        if "%" not in segment:
            return False
        decoded = unquote(segment)
        if decoded == segment:
            return False
        segment = decoded
    return True  # still encoded after four rounds: refuse rather than guess


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
        raise InvalidName(field, f"must not contain control characters: {shown(text)!r}")
    if "\\" in text:
        raise InvalidName(field, f"must not contain a backslash: {shown(text)!r}")
    if not allow_query_chars and _QUERY_OR_FRAGMENT.search(text):
        raise InvalidName(field, f"must not contain '?' or '#': {shown(text)!r}")
    if text.startswith("/"):
        raise InvalidName(field, f"must be relative (no leading '/'): {shown(text)!r}")
    segments = text.split("/")
    body = segments[:-1] if text.endswith("/") else segments
    for segment in body:
        if segment == "":
            raise InvalidName(field, f"must not contain an empty segment ('//'): {shown(text)!r}")
        if _is_dot_segment(segment):
            raise InvalidName(field, f"must not contain a '.' or '..' segment: {shown(text)!r}")
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
        raise InvalidName(field, f"is not a valid {what}: {shown(value)!r}")
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


# --- containers ---------------------------------------------------------------------------------------

_CONTAINER = re.compile(r"^(\$root|\$web|[a-z0-9][a-z0-9-]{0,62})$")


def check_container_name(value: object, *, field: str = "container") -> str:
    """A container (ADLS: file system) name: lower-case letters, digits and '-', at most 63 characters, or
    ``$root`` / ``$web``. (Azure also wants at least 3 characters and no '--'; that is storage's business:
    what matters here is that the name can never hold '/', '.', '%' or anything a URL would re-read.)"""
    if not isinstance(value, str):
        raise InvalidName(field, f"must be a string, got {type(value).__name__}")
    if not _CONTAINER.match(value):
        raise InvalidName(field, f"is not a valid container name: {shown(value)!r}")
    return value


#: The longest URL or Event Grid subject read (the Blob service's name limit is 1,024 characters).
MAX_URL_CHARS = 8192


# --- storage names ------------------------------------------------------------------------------------------

_CONTAINER_NAME = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
#: The Blob service's container grammar (also ADLS Gen2 file systems and queue names): 3-63 lowercase letters,
#: digits and single hyphens, starting and ending with a letter or digit.
CONTAINER_NAME_PATTERN = _CONTAINER_NAME.pattern


#: The grammar of route names (check_route_name), for schemas and editors.
ROUTE_NAME_PATTERN = _ROUTE_NAME.pattern


def is_container_name(value: object) -> bool:
    return isinstance(value, str) and bool(_CONTAINER_NAME.match(value))

# --- Event Grid blob subjects --------------------------------------------------------------------------------

_SUBJECT_PREFIX = "/blobservices/default/containers/"


def split_blob_subject(subject: object, *, field: str = "subject") -> tuple[str, str]:
    """``(container, name)`` of ``/blobServices/default/containers/<container>/blobs/<name>``. The name is
    returned verbatim: Event Grid writes the blob's real name in the subject, never percent-encoded."""
    if not isinstance(subject, str):
        raise InvalidName(field, f"must be a string, got {type(subject).__name__}")
    if len(subject) > MAX_URL_CHARS:
        raise InvalidName(field, f"is {len(subject)} characters; the limit is {MAX_URL_CHARS}")
    if not subject.lower().startswith(_SUBJECT_PREFIX):
        raise InvalidName(field, f"is not /blobServices/default/containers/<container>/blobs/<name>: {shown(subject)!r}")
    rest = subject[len(_SUBJECT_PREFIX):]
    container, sep, name = rest.partition("/")
    if not sep or not name.lower().startswith("blobs/"):
        raise InvalidName(field, f"is not /blobServices/default/containers/<container>/blobs/<name>: {shown(subject)!r}")
    return check_container_name(container, field=field), name[len("blobs/"):]


# --- templates ---------------------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def static_prefix(template: str) -> str:
    """The folder prefix of a path template that no placeholder can change: cut at the last '/' before the
    first '{' (the whole template when it has none and ends with '/')."""
    head = template[: template.index("{")] if "{" in template else template
    return head[: head.rfind("/") + 1]


def render_under(template: str, values: dict, *, field: str) -> str:
    """Render a path template (``scores/{folder}/{run_id}/``) with raw values, then prove the result stays
    under the template's static prefix: the rendered rest goes through :func:`join_under`. Values are never
    decoded, and only ``{name}`` placeholders listed in ``values`` are known (no ``str.format``: no
    attribute or index access). An empty value leaves no ``//`` behind."""
    prefix = static_prefix(template)
    check_relative_path(prefix, field=field, decode=False, allow_empty=True)

    def value_of(match: re.Match) -> str:
        name = match[1]
        if name not in values:
            raise InvalidName(field, f"unknown placeholder {{{name}}}; known: {', '.join(sorted(values))}")
        return str(values[name])

    tail = template[len(prefix):]
    if "{" in _PLACEHOLDER.sub("", tail) or "}" in _PLACEHOLDER.sub("", tail):
        raise InvalidName(field, f"has a stray '{{' or '}}': {shown(template)!r}")
    rest = _PLACEHOLDER.sub(value_of, tail)
    rest = re.sub(r"/{2,}", "/", rest).lstrip("/")
    return join_under(prefix, rest, field=field)


def render_text(template: str, values: dict, *, field: str) -> str:
    """A text template (a literal job input, a v1 pipeline parameter) with ``{name}`` placeholders from
    ``values`` substituted once (no ``str.format``: no attribute or index access, values are not re-scanned)."""
    def value_of(match: re.Match) -> str:
        name = match[1]
        if name not in values:
            raise InvalidName(field, f"unknown placeholder {{{name}}}; known: {', '.join(sorted(values))}")
        return str(values[name])

    return _PLACEHOLDER.sub(value_of, template)
