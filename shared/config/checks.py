"""Semantic checks of configuration values that a JSON Schema pattern cannot express (pure).

URLs (scheme, credentials, queries), path templates (placeholders, ``{{``, traversal after rendering) and
names of files and prefixes. Each check returns a list of problem messages, empty when the value is fine.
No message echoes a credential: values are shown through :func:`shown`, which redacts and shortens.
Grammars of names and relative paths come from :mod:`shared.paths`; this module only applies them.
"""

from __future__ import annotations

import re
import string
from typing import Any, Iterable, Optional
from urllib.parse import SplitResult, urlsplit

from .. import addresses, blob_urls, job_inputs, paths
from ..redact import has_credential
from ..redact import quoted as shown  # noqa: F401 - configuration problems quote the values they name

#: Containers the app writes to or reads from (sinks, datastores): one literal segment of lowercase letters,
#: digits and '-' (or ``$web``/``$root``), so a URL built from it stays in that container. Landing containers
#: follow the full Blob grammar (paths.CONTAINER_NAME_PATTERN).
LOOSE_CONTAINER_PATTERN = r"^(?:[a-z0-9][a-z0-9-]{0,62}|\$web|\$root)$"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

OUTPUT_PLACEHOLDERS = frozenset({"run_id", "route", "date", "attempt"})
SINK_PLACEHOLDERS = frozenset({"route", "folder", "run_id", "date", "file"})
#: Values a template is rendered with before its path is checked for '..' and friends.
_SAMPLE = {"run_id": "run", "route": "route", "date": "2024-01-01", "attempt": "1", "folder": "folder",
           "file": "file.csv"}


def is_loopback_url(url: str) -> bool:
    """True for http(s) URLs on 127.0.0.1, localhost or ::1 (Azurite, the emulator)."""
    try:
        return (urlsplit(url).hostname or "") in LOOPBACK_HOSTS
    except ValueError:
        return False


def _split(url: str) -> Optional[SplitResult]:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
        return parts
    except ValueError:
        return None


def _credential_problems(parts: SplitResult, url: str, *, remedy: str) -> list[str]:
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    filesystem = parts.scheme in ("abfss", "abfs")  # abfss://<filesystem>@<account>...: not user info
    if (userinfo and not filesystem) or (filesystem and ":" in userinfo) or has_credential(url):
        return [f"must not carry credentials (user:password@, a SAS, a key or a code in the query); {remedy}"]
    return []


def address_problems(parts: SplitResult) -> list[str]:
    """A host that is a metadata, link-local or platform address, however spelled (:mod:`shared.addresses`)."""
    problem = addresses.host_problem(parts.hostname or "") if parts.hostname else None
    return [f"must not point at a metadata, link-local or platform address: {problem}"] if problem else []


def _bad_characters(url: str) -> list[str]:
    if any(ch.isspace() or ord(ch) < 32 or 0x7f <= ord(ch) <= 0x9f for ch in url):
        return ["must not contain spaces or control characters"]
    return []


def service_url(url: str, *, allow_query: bool = False,
                remedy: str = "use a connection (managed identity or an app setting) instead") -> list[str]:
    """An https:// URL of a remote service (http only on loopback), with no credentials in it."""
    problems = _bad_characters(url)
    parts = _split(url)
    if parts is None:
        return problems + [f"is not a URL: {shown(url)}"]
    if not (parts.scheme == "https" and parts.hostname) and not (parts.scheme == "http" and is_loopback_url(url)):
        problems.append(f"must be an https:// URL (http only on 127.0.0.1/localhost), got {shown(url)}")
    problems += address_problems(parts)
    problems += _credential_problems(parts, url, remedy=remedy)
    if not problems and not allow_query and (parts.query or parts.fragment):
        problems.append("must not have a query string or fragment")
    return problems


def endpoint_url(url: str) -> list[str]:
    return service_url(url)


WEBHOOK_REMEDY = ("put the URL in an app setting (a Key Vault reference) and name it in url_setting; sign the body"
                  " with secret_setting")
#: Query names that say their value is a credential, and values that look like one (long, letters and digits).
_SECRET_QUERY_NAME = re.compile(r"(?i)key|token|sig|secret|code|pass|pwd|auth|credential|session|hash")
_SECRET_QUERY_VALUE = re.compile(r"^(?=.*[0-9])(?=.*[A-Za-z])[A-Za-z0-9+/=_%.~-]{16,}$")


def secret_looking_query(query: str) -> bool:
    """True when a query parameter is named like a credential or its value looks like one."""
    for pair in re.split(r"[&;]", query):
        name, _, value = pair.partition("=")
        if _SECRET_QUERY_NAME.search(name) or _SECRET_QUERY_VALUE.match(value):
            return True
    return False


def webhook_url(url: str) -> list[str]:
    """A receiver URL written in the routes document: no credential in its user info, path (Slack, Teams and
    similar secret paths), fragment or query (a parameter named or looking like a credential). Other query
    parameters are allowed; logs and spans show none of their values (:func:`shared.redact.redact_url`).
    A URL that carries its own credential comes from an app setting instead (``url_setting``)."""
    problems = service_url(url, allow_query=True, remedy=WEBHOOK_REMEDY)
    parts = _split(url)
    if problems or parts is None:
        return problems
    path_only = f"{parts.scheme}://{parts.netloc}{parts.path}"
    if has_credential(path_only) or parts.fragment or secret_looking_query(parts.query):
        return [f"must not carry credentials (user:password@, a SAS, a key or a code in the query); {WEBHOOK_REMEDY}"]
    return []


def webhook_url_from_setting(url: str) -> list[str]:
    """A receiver URL read from an app setting at call time: any query (it is a secret there), but the same
    scheme, address and user-info rules as a URL in the routes document."""
    problems = _bad_characters(url)
    parts = _split(url)
    if parts is None:
        return problems + ["is not a URL"]
    if not (parts.scheme == "https" and parts.hostname) and not (parts.scheme == "http" and is_loopback_url(url)):
        problems.append("must be an https:// URL (http only on 127.0.0.1/localhost)")
    if "@" in parts.netloc:
        problems.append("must not carry user:password@ (the receiver's key goes in the query or path)")
    return problems + address_problems(parts)


# --- templates ------------------------------------------------------------------------------------------

def template_problems(template: str, allowed: Iterable[str]) -> list[str]:
    """Placeholders are ``{name}`` from ``allowed`` only: no ``{{``, conversions, format specs or attributes."""
    allowed = frozenset(allowed)
    listed = ", ".join("{" + a + "}" for a in sorted(allowed))
    if "{{" in template or "}}" in template:
        return ["'{{' and '}}' render as literal braces, so '{{run_id}}' gives every run the same path;"
                f" write single braces, e.g. {{run_id}} (allowed: {listed})"]
    try:
        pieces = list(string.Formatter().parse(template))
    except ValueError as exc:
        return [f"is not a valid template ({exc}); placeholders look like {{run_id}}"]
    unknown, decorated = [], []
    for _, name, spec, conversion in pieces:
        if name is None:
            continue
        if spec or conversion or any(ch in name for ch in ".[]"):
            decorated.append(name.split(".")[0].split("[")[0])
        elif name not in allowed:
            unknown.append(name)
    problems = []
    if unknown:
        problems.append(f"unknown placeholder(s) {', '.join('{' + u + '}' for u in sorted(set(unknown)))};"
                        f" allowed: {listed}")
    if decorated:
        problems.append("placeholders take no conversion, format spec, attribute or index"
                        f" (found in {', '.join('{' + d + '...}' for d in sorted(set(decorated)))})")
    return problems


def placeholders_in(template: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError:
        return set()


def render_sample(template: str) -> str:
    """The template with every placeholder replaced by a harmless sample value (for path checks)."""
    out = []
    for literal, name, _, _ in string.Formatter().parse(template):
        out.append(literal)
        if name is not None:
            out.append(_SAMPLE.get(name, "x"))
    return "".join(out)


def rendered_path_problems(template: str, *, what: str) -> list[str]:
    """The template, rendered with sample values and percent-decoded, must stay a relative path: no '.' or
    '..' segments (also as ``%2e%2e``), no backslash, control character, '?' or '#'."""
    try:
        paths.check_relative_path(render_sample(template), field=what, decode=True, allow_empty=True)
    except paths.InvalidName as exc:
        return [exc.reason]
    return []


def output_path(template: str) -> list[str]:
    problems = template_problems(template, OUTPUT_PLACEHOLDERS)
    if problems:
        return problems
    if "run_id" not in placeholders_in(template):
        problems.append("must contain {run_id}: a batch job fails when its output file already exists, so every"
                        " run needs its own path")
    if template.startswith("/") or template.endswith("/"):
        problems.append("must be the output file's path inside the datastore, without a leading or trailing '/'")
    else:
        problems += rendered_path_problems(template, what="output.path")
    return problems


# --- storage URLs ----------------------------------------------------------------------------------------

def sink_url(url: str) -> list[str]:
    """A sink URL template: blob, dfs or abfss; placeholders only in the path; nothing that escapes it."""
    problems = _bad_characters(url)
    parts = _split(url)
    if parts is None:
        return problems + [f"is not a URL: {shown(url)}"]
    remedy = "the sink's connection carries the credential"
    problems += address_problems(parts)
    if parts.scheme in ("abfss", "abfs"):
        problems += _credential_problems(parts, url, remedy=remedy)
        if not problems and (parts.scheme == "abfs" or blob_urls.try_split_storage_url(url) is None):
            problems.append("an abfss:// URL must look like abfss://<filesystem>@<account>.dfs.core.windows.net"
                            f"/<path>, got {shown(url)}")
        if problems:
            return problems
    else:
        if not (parts.scheme == "https" and parts.hostname) and not (parts.scheme == "http"
                                                                      and is_loopback_url(url)):
            problems.append(f"must be an https:// URL (http only on 127.0.0.1/localhost), got {shown(url)}")
    problems += _credential_problems(parts, url, remedy=remedy)
    if problems:
        return problems
    if parts.query or parts.fragment or "?" in url or "#" in url:
        return ["must not have a query string or fragment (a SAS belongs in the sink's connection, not its URL)"]
    split = blob_urls.try_split_storage_url(url)
    if split is None or not split[1]:
        return ["must name a container after the account, like https://<account>.blob.core.windows.net/"
                f"<container>/<path>, got {shown(url)}"]
    account, container, path = split
    if "{" in account or "}" in account or "{" in container or "}" in container:
        return ["the account and container (file system) must be literal: placeholders belong in the path, or"
                " writes could not be checked against landing locations"]
    if not re.match(LOOSE_CONTAINER_PATTERN, container):
        return [f"{shown(container)} is not a valid blob container (file system) name"]
    problems = template_problems(path, SINK_PLACEHOLDERS)
    if not problems:
        problems += rendered_path_problems(path, what="sink path")
    return problems


# --- names ---------------------------------------------------------------------------------------------

def blob_prefix(prefix: str) -> list[str]:
    if prefix.startswith("/"):
        return ["must be a blob name prefix without a leading '/'"]
    try:
        paths.check_relative_path(prefix, field="prefix", decode=True, allow_empty=True, allow_query_chars=True)
    except paths.InvalidName as exc:
        return [f"must be a blob name prefix: it {exc.reason}"]
    return []


def file_name(name: str) -> list[str]:
    """A plain file name inside the landed folder (markers, manifests, output files)."""
    if "/" in name:
        return [f"must be a file name in the folder, without '/', got {shown(name)}"]
    try:
        paths.check_relative_path(name, field="name", decode=False, allow_query_chars=True)
    except paths.InvalidName as exc:
        return [exc.reason]
    return []


def route_name(name: str) -> list[str]:
    try:
        paths.check_route_name(name)
    except paths.InvalidName:
        return ["must be 1-63 letters, digits, '-' or '_'"]
    return []


# --- job inputs ------------------------------------------------------------------------------------------

#: Placeholders of a literal input's string value (and of v1 ParameterAssignments strings).
LITERAL_PLACEHOLDERS = frozenset({"date", "folder", "run_id", "route"})


def job_input_path(value: str) -> list[str]:
    """A fixed input's location: a data asset, a datastore URI or a storage URL without credentials."""
    if has_credential(value):
        return ["must not carry credentials (a SAS, a key or a code): the job cannot be given one; grant the"
                " compute's identity read access instead"]
    try:
        job_inputs.parse_job_input_uri(value, field="path")
    except paths.InvalidName as exc:
        return [exc.reason]
    parts = _split(value) if "://" in value and not value.lower().startswith("azureml:") else None
    if parts is not None and parts.hostname:
        return address_problems(parts)
    return []


def literal_value(value: str) -> list[str]:
    """A literal's string: placeholders only from :data:`LITERAL_PLACEHOLDERS`, no credentials."""
    if has_credential(value):
        return ["must not carry a credential: literal values are sent in the job body and kept in run history"]
    if "{" not in value and "}" not in value:
        return []
    return template_problems(value, LITERAL_PLACEHOLDERS)


def kind_of(value: Any) -> str:
    """What a wrong value is, in a problem message: containers and null by kind, scalars :func:`shown`."""
    if value is None:
        return "null"
    return "an object" if isinstance(value, dict) else "a list" if isinstance(value, list) else shown(value)
