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

_PATTERNS: list[tuple[re.Pattern, str]] = [
    # query-string secrets: sig=..., code=..., and the same percent-encoded inside another URL
    # (also at the start of a text or after a space or quote: a bare SAS token "sv=...&sig=...")
    (re.compile(r"(?i)((?:[?&;]|%3F|%26|^|(?<=[\s\"'(,]))"
                r"(?:sig|code|x-functions-key|token|access_token|client_secret)(?:=|%3D))"
                r"[^&\s\"'<>#;]+"), r"\1" + MASK),
    # key headers: x-functions-key: ..., api-key: ..., Ocp-Apim-Subscription-Key: ...
    (re.compile(r"(?i)\b((?:x-functions-key|api-key|ocp-apim-subscription-key)\s*:\s*)[^\s,;\"']+"), r"\1" + MASK),
    # JSON or Python-literal members holding a credential: "password": "...", 'sig': '...'
    (re.compile(r"(?i)([\"'](?:password|pwd|[a-z_]*secret|account_?key|sig|sas|sas_?token|access_?token|api_?key"
                r"|connection_?string)[\"']\s*:\s*[\"'])[^\"']*"), r"\1" + MASK),
    # connection-string parts holding a credential
    (re.compile(r"(?i)\b((?:SharedAccessSignature|AccountKey|SharedAccessKey|[A-Za-z]*Secret|Password|Pwd)\s*=\s*)"
                r"[^;\s\"']+"), r"\1" + MASK),
    # Authorization header values
    (re.compile(r"(?i)\b((?:Bearer|Basic|SharedKey)\s+)[A-Za-z0-9._~+/:=-]{8,}"), r"\1" + MASK),
    # JWTs anywhere (header.payload.signature, base64url)
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), MASK),
    # user:password@ in a URL
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@"), r"\1" + MASK + "@"),
]


def redact(text: object) -> str:
    """``text`` as a string with every credential replaced by ``***``."""
    value = text if isinstance(text, str) else str(text)
    for pattern, replacement in _PATTERNS:
        value = pattern.sub(replacement, value)
    return value


def has_secret(text: str) -> bool:
    """True when :func:`redact` would change ``text``: a credential is in it."""
    return redact(text) != text


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
