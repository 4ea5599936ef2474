"""Redaction of secrets in text that may reach a log, Durable history, custom status, API answer or notification.

Pure. Every error text built from an exception or a remote answer passes through :func:`redact` before it
leaves the process. What is removed:

* SAS query parameters (``sig``, ``se``/``sp`` stay readable but ``sig`` never does) and whole
  ``SharedAccessSignature=`` values of connection strings;
* ``AccountKey=`` values and any ``*Key=`` / ``Secret=`` / ``Password=`` connection-string part;
* ``Authorization: Bearer ...`` / ``Basic ...`` values, and JWT-shaped tokens anywhere;
* ``user:password@`` in URLs;
* Functions keys passed as ``code=`` in a query string, and ``x-functions-key`` / ``api-key`` header values;
* JSON or Python-literal members named like a credential (``"password": "..."``, ``'sig': '...'``).
"""

from __future__ import annotations

import re

MASK = "***"

#: A separator before a query parameter, also JSON-escaped (``\u0026``) or percent-encoded inside another URL.
_SEP = r"(?:[?&;]|\\u0026|\\u003f|%3F|%26|^|(?<=[\s\"'(,]))"
#: ``=`` as written, percent-encoded or JSON-escaped; then an optional quote.
_EQ = r"(?:=|%3D|\\u003d)[\"']?"
#: Names whose value is a credential wherever they appear as ``name=value`` or ``name: value``.
_SECRET_NAMES = (r"sig|code|x-functions-key|token|access_token|refresh_token|id_token|client_secret|[a-z_]*secret"
                 r"|password|pwd|api[-_]?key|apikey|subscription[-_]key|account_?key|sas_?token")
#: Names no prose uses: ``sig: v`` is a credential whatever ``v`` looks like.
_CODE_NAMES = r"sig|client_secret|access_token|refresh_token|id_token|sas_token|account_key|connection_string"
#: The same, in ``name: value`` form (``code: 404`` is ordinary text there, so ``code`` is not among them).
_COLON_NAMES = (r"sig|token|access_token|refresh_token|id_token|client_secret|[a-z_]*secret|password|pwd"
                r"|account_?key|sas_?token|sas|connection_?string")

_PATTERNS: list[tuple[re.Pattern, str]] = [
    # query-string secrets: sig=..., code=..., also percent-encoded inside another URL, JSON-escaped
    # (``\u0026sig=``), quoted (``sig="..."``), at the start of a text or after a space or quote
    (re.compile(r"(?i)(" + _SEP + r"(?:" + _SECRET_NAMES + r")" + _EQ + r")"
                r"(?:(?!\\u0026)[^&\s\"'<>#;\\])+"), r"\1" + MASK),
    # key headers: x-functions-key: ..., api-key: ..., Ocp-Apim-Subscription-Key: ...
    (re.compile(r"(?i)\b((?:x-functions-key|api-key|apikey|ocp-apim-subscription-key|subscription-key)\s*:\s*"
                r"[\"']?)[^\s,;\"']+"), r"\1" + MASK),
    # JSON or Python-literal members holding a credential: "password": "...", 'sig': '...'
    (re.compile(r"(?i)([\"'](?:password|pwd|[a-z_]*secret|account_?key|sig|sas|sas_?token|access_?token|api_?key"
                r"|refresh_?token|id_?token|token|connection_?string)[\"']\s*[:=]\s*[\"'])[^\"']*"), r"\1" + MASK),
    # YAML- or header-like "sig: v", "client_secret: 'v'" (bare names; the quoted forms are above)
    # (unquoted, a lower-case word is prose, as in the problem "password: unknown field", and stays)
    (re.compile(r"(?i)((?<![A-Za-z0-9_-])[\"']?(?:" + _COLON_NAMES + r")[\"']?\s*:\s*[\"'])"
                r"(?!\*\*\*)[^\"'\n]+"), r"\1" + MASK),
    (re.compile(r"(?i)((?<![A-Za-z0-9_-])(?:" + _CODE_NAMES + r")\s*:\s*)(?!\*\*\*)[^\s,;\"'}\]]+"), r"\1" + MASK),
    (re.compile(r"(?i)((?<![A-Za-z0-9_-])[\"']?(?:" + _COLON_NAMES + r")[\"']?\s*:\s*)"
                r"(?!\*\*\*)(?-i:(?![a-z]+(?:[\s,;.)}\]]|$)))[^\s,;\"'}\]]+"), r"\1" + MASK),
    # connection-string parts holding a credential
    (re.compile(r"(?i)\b((?:SharedAccessSignature|AccountKey|SharedAccessKey|[A-Za-z]*Secret|Password|Pwd)\s*=\s*"
                r"[\"']?)[^;\s\"']+"), r"\1" + MASK),
    # Authorization header values
    (re.compile(r"(?i)\b((?:Bearer|Basic|SharedKey)\s+)[A-Za-z0-9._~+/:=-]{8,}"), r"\1" + MASK),
    # JWTs anywhere (header.payload.signature, base64url)
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), MASK),
    # secrets recognisable by their prefix: Standard Webhooks (whsec_), Slack tokens (xoxb-...), GitHub tokens
    (re.compile(r"\b(whsec_|xox[abposr]-|gh[pousr]_)[A-Za-z0-9+/=_-]+"), r"\1" + MASK),
    # user:password@ in a URL
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@"), r"\1" + MASK + "@"),
]

# --- URLs ---------------------------------------------------------------------------------------------
# An outbound URL (a webhook, an endpoint) may carry its credential under any query name (``?apikey=``,
# ``?api-key=``, ``?subscription-key=``) or in its path (Slack, Teams/Office, Discord, Zapier webhooks), so
# every URL found in a text loses its user info, its fragment, every query value and the secret part of a
# known webhook path, whatever the names. Only Azure protocol values of a fixed shape stay readable.

#: A URL in a text: up to a space, a quote or an angle bracket (a JSON-escaped ``\u0026`` stays inside it).
_URL = re.compile(r"(?i)\b(?:https?|wss?|ftps?)://[^\s\"'<>]+")
#: ``name=value`` pairs of a query: separators ``&``, ``;`` and JSON-escaped ``\u0026``.
_QUERY_PAIR = re.compile(r"(?i)((?:^|&|;|\\u0026)[^=&;#]*?(?:=|%3D|\\u003d))((?:(?!\\u0026)[^&;#])+)")
#: Query values shown as they are: Azure protocol parameters whose value has a fixed, non-secret shape (an
#: ``sp=`` holding anything but permission letters is masked like any other value).
_READABLE_QUERY = {
    "api-version": re.compile(r"^\d{4}-\d{2}-\d{2}(?:-preview)?$"),
    "comp": re.compile(r"^[a-z]{1,20}$"),
    "restype": re.compile(r"^[a-z]{1,20}$"),
    "pipelineversion": re.compile(r"^[A-Za-z0-9._-]{1,64}$"),
    # a SAS's readable parts (what it grants, until when); its signature ``sig`` never is
    "sv": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "se": re.compile(r"^\d{4}-\d{2}-\d{2}(?:T[\d:.]+Z?)?$|^\d{4}-\d{2}-\d{2}T\d{2}(?:%3A\d{2}){1,2}Z$"),
    "st": re.compile(r"^\d{4}-\d{2}-\d{2}(?:T[\d:.]+Z?)?$|^\d{4}-\d{2}-\d{2}T\d{2}(?:%3A\d{2}){1,2}Z$"),
    "sp": re.compile(r"^[racwdxyltmeopif]{1,16}$"),
    "sr": re.compile(r"^(?:b|c|d|bs|bv|f|s)$"),
    "ss": re.compile(r"^[bfqt]{1,4}$"),
    "srt": re.compile(r"^[sco]{1,3}$"),
    "spr": re.compile(r"^https(?:,http)?$"),
}
#: Path prefixes after which every segment is a credential (Slack ``/services/T<team>/B<bot>/<secret>``,
#: Office/Teams ``/webhook/…`` and ``/webhookb2/…``, Discord ``/api/webhooks/<id>/<token>``, Zapier
#: ``/hooks/catch/<id>/<secret>``, IFTTT ``/with/key/<key>``).
_SECRET_PATH = re.compile(r"(?i)(/(?:services(?=/T[A-Z0-9]+/B[A-Z0-9]+/)|webhook|webhookb2|api/webhooks|hooks/catch"
                          r"|with/key|workflows/[^/?#]+/triggers/[^/?#]+/paths/invoke/[^/?#]*)/)[^?#]+")

#: Azure Storage endpoints (every cloud): a path there names a container and blob (a container may be called
#: ``webhook``), never a webhook credential, which would otherwise be masked out of every blob URL shown.
_STORAGE_HOST = re.compile(r"(?i)\.(?:blob|dfs|queue|table|file)\.core\.[a-z0-9.-]+(?::\d+)?$")


def _query_value(match: re.Match) -> str:
    name = re.sub(r"(?i)(=|%3D|\\u003d)$", "", match.group(1).lstrip("&;").replace("\\u0026", "", 1))
    readable = _READABLE_QUERY.get(name.lower())
    if readable is not None and readable.match(match.group(2)):
        return match.group(0)
    return match.group(1) + MASK


def redact_url(url: str) -> str:
    """``url`` without user info, fragment, query values (but fixed-shape protocol ones) or webhook path secrets."""
    scheme, _, rest = url.partition("://")
    authority_end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    authority, tail = rest[:authority_end], rest[authority_end:]
    if "@" in authority:
        authority = MASK + "@" + authority.rpartition("@")[2]
    path, hash_mark, fragment = tail.partition("#")
    path, question, query = path.partition("?")
    if "\\u003f" in path.lower() and not question:  # a JSON-escaped '?'
        index = path.lower().index("\\u003f")
        path, question, query = path[:index], path[index:index + 6], path[index + 6:]
    if not _STORAGE_HOST.search(authority):   # a blob's path is a name (its credential is a SAS query)
        path = _SECRET_PATH.sub(r"\1" + MASK, path)
    query = _QUERY_PAIR.sub(_query_value, query)
    return f"{scheme}://{authority}{path}{question}{query}{hash_mark}{MASK if fragment else ''}"


def _redact_urls(text: str) -> str:
    return _URL.sub(lambda m: redact_url(m.group(0)), text) if "://" in text else text


def _redact_patterns(value: str) -> str:
    for pattern, replacement in _PATTERNS:
        value = pattern.sub(replacement, value)
    return value


def redact(text: object) -> str:
    """``text`` as a string with every credential replaced by ``***``, and every URL in it shown by
    :func:`redact_url` (no query values, user info, fragment or webhook path secrets)."""
    return _redact_patterns(_redact_urls(text if isinstance(text, str) else str(text)))


def has_secret(text: str) -> bool:
    """True when :func:`redact` would change ``text``: a credential, or a URL with a query value, user info, a
    fragment or a webhook path secret, is in it (what a log record or a span must not show as it is)."""
    return redact(text) != text


def has_credential(text: str) -> bool:
    """True when ``text`` holds something that *is* a credential: a value named like one (``sig=``,
    ``password: ``, ``"client_secret": ``), a bearer token or JWT, ``user:password@``, a ``whsec_`` secret, or a
    known webhook path secret. Unlike :func:`has_secret`, an ordinary query value or a fragment does not count
    (a landed blob's name may hold a '#'): what configuration and event checks refuse."""
    value = text if isinstance(text, str) else str(text)
    if _redact_patterns(value) != value:
        return True
    for match in _URL.finditer(value) if "://" in value else ():
        path = re.split(r"[?#]", match.group(0).partition("://")[2], maxsplit=1)[0]
        if _SECRET_PATH.sub(r"\1" + MASK, path) != path:
            return True
    return False


def redact_data(value: object) -> object:
    """``value`` (JSON-like: dicts, lists, strings, numbers) with :func:`redact` applied to every string in it,
    keys included. What an API answer or a notification body passes through before it leaves the process."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(k) if isinstance(k, str) else k: redact_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(v) for v in value]
    return value


# --- echoing a value in a message -------------------------------------------------------------------------
# The one way a value from outside (a name, a URL, a field, an exception's text) enters an error message, a
# problem answer, a skip detail or a log line: redacted first (a cut could hide a token's shape from the
# patterns above), then escaped (control characters and invisible overrides cannot rewrite the line), then cut.

def _described(value: object) -> str:
    """A non-string value as text; containers by kind only (a deeply nested one would exhaust ``repr``)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple, set, frozenset)):
        return "a list"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10 ** 30:
        return f"a {len(str(abs(value)))}-digit number"
    return repr(value)


def shown(value: object, limit: int = 60) -> str:
    """``value`` safe to echo: a string as its text, another value by :func:`repr` (containers by kind),
    redacted, escaped (``unicode_escape``: no control, bidirectional or other invisible character survives)
    and cut to ``limit`` characters with a trailing ``…``."""
    text = redact(value if isinstance(value, str) else _described(value)).encode("unicode_escape").decode("ascii")
    return text if len(text) <= limit else text[:limit] + "…"


def quoted(value: object, limit: int = 80) -> str:
    """:func:`shown` as configuration problems name a value: a string in single quotes, anything else bare
    (``'abc'``, ``5``, ``an object``)."""
    return f"'{shown(value, limit)}'" if isinstance(value, str) else shown(value, limit)
