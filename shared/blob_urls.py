"""Storage URLs: the one module that splits and joins blob, dfs and ``abfs[s]://`` URLs (pure, no Azure SDK).

The rules, decided once:

* **Two address styles.** A service host (``https://<account>.blob.<suffix>``, ``.dfs.`` too) names the account
  in its host: ``/<container>/<name>``. An emulator host (Azurite) names it in the path:
  ``http://<host>:<port>/<account>/<container>/<name>``. A host is path-style when it is an IP literal (v4 or
  v6, loopback or not: ``http://10.0.0.5:10000/acct/cont/p`` is account ``acct``, container ``cont``) or
  ``localhost``, as the storage SDKs' URI builders decide it (.NET ``BlobUriBuilder``, Java ``BlobUrlParts``;
  the Python SDK only recognises ``localhost`` and ``127.0.0.1``, a subset). Parsing such a URL never
  contacts it; which addresses may be called is :mod:`shared.addresses`' decision.
* **One account, whichever endpoint.** The blob and dfs endpoints, and ``abfss://<fs>@<account>.dfs...``, are
  one account: :func:`canonical_account_url` is its blob endpoint, lower-case, without a default port.
* **By hand, not with ``urlsplit``.** A blob name in an event may hold a raw ``#`` or ``?``, which ``urlsplit``
  would cut off as a fragment or query; :func:`split_storage_url` returns the text after the container as is.
* Credentials in the authority (``user:pass@``) are refused; the container is checked against its grammar
  (:func:`shared.paths.check_container_name`) unless a configuration template is being read
  (:func:`try_split_storage_url`, where ``{placeholders}`` are reported by the caller).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import NamedTuple, Optional

from .paths import MAX_URL_CHARS, InvalidName, check_container_name
from .redact import shown

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_DFS_HOST = re.compile(r"^(?P<account>[a-z0-9]{1,24})\.dfs\.(?P<suffix>core\.[a-z0-9.]+)$", re.IGNORECASE)
_ABFS = re.compile(r"^abfss?://(?P<fs>[^@/]+)@(?P<account>[a-z0-9]{1,24})\.dfs\.(?P<suffix>core\.[a-z0-9.]+)"
                   r"(?P<path>/.*)?$", re.IGNORECASE | re.DOTALL)
_AUTHORITY = re.compile(r"^(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{1,5}))?$")
#: A configuration template's authority: ``{placeholders}`` kept, so the caller can say they belong in the path.
_TEMPLATE_AUTHORITY = re.compile(r"^(?P<host>[A-Za-z0-9.{}_-]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{1,5}))?$")
_DEFAULT_PORTS = {"https": 443, "http": 80}
_ACCOUNT_NAME = re.compile(r"^[a-z0-9]{1,24}$")


def is_path_style_host(host: str) -> bool:
    """Whether a host (``10.0.0.5``, ``[::1]``, ``localhost``; a ``:port`` is ignored) puts the account name in
    the path: an IP literal or ``localhost``, as the storage SDKs' URI builders decide it."""
    text = host.strip().lower()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    if text == "localhost":
        return True
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _host_of(url: str) -> str:
    authority = url.partition("://")[2]
    authority = re.split(r"[/?#]", authority, maxsplit=1)[0]
    return authority.rpartition("@")[2]


@functools.lru_cache(maxsize=4096)
def canonical_account_url(url: str) -> str:
    """The account's blob endpoint for any endpoint of it: ``https://acct.dfs.core.windows.net`` →
    ``https://acct.blob.core.windows.net``; lower-cased scheme and host, no default port, no trailing slash.
    Path-style (emulator) URLs keep their account segment."""
    from urllib.parse import urlsplit

    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    match = _DFS_HOST.match(host)
    if match:
        host = f"{match['account'].lower()}.blob.{match['suffix'].lower()}"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # out of range: keep the text, so it can never equal a real account
        port = parts.netloc.rsplit(":", 1)[-1]
    port = port if port and port != _DEFAULT_PORTS.get(scheme) else None
    netloc = host + (f":{port}" if port else "")
    path = parts.path.rstrip("/")
    return f"{scheme}://{netloc}{path}"


def same_account(a: str, b: str) -> bool:
    """One account, whichever endpoint (blob or dfs), case or trailing slash names it."""
    return canonical_account_url(a) == canonical_account_url(b)


def account_name(account_url: str) -> str:
    """The account's name: the path's first segment on an emulator host, else the host's first label."""
    host = _host_of(account_url.strip())
    if is_path_style_host(host):
        return account_url.strip().partition("://")[2][len(host):].lstrip("/").split("/")[0]
    return host.split(".")[0].lower()


def abfss_to_blob_url(uri: str) -> str:
    """``abfss://fs@acct.dfs.core.windows.net/p`` → ``https://acct.blob.core.windows.net/fs/p`` (path kept as is)."""
    match = _ABFS.match(uri.strip())
    if not match:
        raise InvalidName("url", f"not an abfs(s):// URI: {shown(uri)!r}")
    return f"https://{match['account'].lower()}.blob.{match['suffix'].lower()}/{match['fs']}{match['path'] or ''}"


class StorageUrl(NamedTuple):
    """A blob or dfs URL in parts. ``account_url`` is canonical (the blob endpoint); ``rest`` is the text after
    ``<container>/`` exactly as it was in the URL: *not* decoded, and with any ``?`` or ``#`` still in it (the
    caller decides what they mean)."""

    account_url: str
    container: str
    rest: str

    @property
    def url(self) -> str:
        return join_storage_url(self.account_url, self.container, self.rest)


def join_storage_url(account_url: str, container: str, rest: str = "") -> str:
    """``<account_url>/<container>/<rest>``: the inverse of :func:`split_storage_url` (``rest`` as given: encode
    it first when it is a raw name)."""
    return f"{account_url.rstrip('/')}/{container}/{rest}"


def split_storage_url(url: object, *, field: str = "url", check_names: bool = True) -> StorageUrl:
    """Split ``https://acct.blob|dfs.<suffix>/<container>/<rest>``, an emulator's path style
    ``http://<ip or localhost>:<port>/<account>/<container>/<rest>`` or ``abfs[s]://<fs>@acct.dfs.<suffix>/<rest>``.

    The container (and a path-style account) is checked against its grammar unless ``check_names`` is false;
    ``rest`` is returned as is. :class:`shared.paths.InvalidName` names ``field`` when the URL is not one."""
    if not isinstance(url, str):
        raise InvalidName(field, f"must be a string, got {type(url).__name__}")
    if len(url) > MAX_URL_CHARS:
        raise InvalidName(field, f"is {len(url)} characters; the limit is {MAX_URL_CHARS}")
    text = url.strip()
    if _CONTROL.search(text):
        raise InvalidName(field, f"must not contain control characters: {shown(text)!r}")
    scheme, sep, remainder = text.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise InvalidName(field, f"is not a URL: {shown(text)!r}")

    def container_of(name: str) -> str:
        return check_container_name(name, field=field) if check_names else name

    if scheme in ("abfs", "abfss"):
        match = _ABFS.match(text)
        if not match:
            raise InvalidName(field, f"is not an abfs(s)://<filesystem>@<account>.dfs.<suffix>/ URI: {shown(text)!r}")
        account = f"https://{match['account'].lower()}.blob.{match['suffix'].lower()}"
        return StorageUrl(account, container_of(match["fs"]), (match["path"] or "/")[1:])
    if scheme not in ("http", "https"):
        raise InvalidName(field, f"must be an http(s) or abfs(s) URL: {shown(text)!r}")
    authority, slash, path = remainder.partition("/")
    # The authority ends at the first '/', or at a '?'/'#' when there is no path at all.
    authority = re.split(r"[?#]", authority, maxsplit=1)[0]
    auth = (_AUTHORITY if check_names else _TEMPLATE_AUTHORITY).match(authority)
    if not auth:
        raise InvalidName(field, f"has no valid host (credentials in a URL are refused): {shown(text)!r}")
    host = auth["host"].lower()
    if auth["port"] and not 0 < int(auth["port"]) < 65536:
        raise InvalidName(field, f"has an invalid port: {shown(text)!r}")
    if is_path_style_host(host):
        segments = path.split("/", 2) if slash else []
        if len(segments) < 2 or not segments[0] or not segments[1]:
            raise InvalidName(field, f"has no account and container: {shown(text)!r}")
        if check_names and not _ACCOUNT_NAME.match(segments[0]):
            raise InvalidName(field, f"has no valid account name (lower-case letters and digits): {shown(text)!r}")
        account = canonical_account_url(f"{scheme}://{authority}/{segments[0]}")
        container, rest = segments[1], (segments[2] if len(segments) > 2 else "")
    else:
        segments = path.split("/", 1) if slash else []
        if not segments or not segments[0]:
            raise InvalidName(field, f"has no container: {shown(text)!r}")
        account = canonical_account_url(f"{scheme}://{authority}")
        container, rest = segments[0], (segments[1] if len(segments) > 1 else "")
    return StorageUrl(account, container_of(container), rest)


def try_split_storage_url(url: str) -> Optional[StorageUrl]:
    """:func:`split_storage_url` for a configuration value that may be a template: names unchecked (the caller
    reports placeholders and grammar in its own words), ``None`` when it is no storage URL at all."""
    try:
        return split_storage_url(url, check_names=False)
    except InvalidName:
        return None
