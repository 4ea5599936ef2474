"""Completion rules, route matching and folder checks (pure: no Azure SDK, no I/O).

Everything an event handler decides *before* touching storage lives here, so the hot path (an event that
does not complete a folder) is a few dictionary look-ups.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional

from ..config.models import AppSettings, Route
from ..redact import shown
from ..paths import InvalidName, check_relative_path, static_prefix
from ..blob_urls import canonical_account_url
from ..runs.ids import derived_run_id, landing_run_id
from ..storage.uris import BlobLocation, parse_blob_url
from .events import BENIGN_SKIPS, BlobCreated

# --- where a blob belongs ---------------------------------------------------------------------------


def template_location(template_url: str) -> Optional[tuple[str, str, str]]:
    """``(account_url, container, static path prefix)`` of a URL template such as a sink's, or ``None``
    when the account or container itself holds a placeholder (then nothing can be said statically).

    The prefix is cut back to the last '/' before the first placeholder, so it is a folder prefix.
    """
    try:
        location = parse_blob_url(template_url)
    except ValueError:
        return None
    if "{" in location.account_url or "{" in location.container:
        return None
    path = location.path
    if "{" in path:
        path = static_prefix(path)
    return canonical_account_url(location.account_url), location.container, path


def output_location(settings: AppSettings, route: Route) -> Optional[tuple[str, str, str]]:
    """Where a route's batch job writes: its output datastore's container and the path's static prefix."""
    found = output_locations(settings, route)
    return found[0] if found else None


def output_locations(settings: AppSettings, route: Route) -> list[tuple[str, str, str]]:
    """Where each of a route's configured outputs is written (none when the deployment's default is used)."""
    found = []
    for output in route.job_outputs:
        datastore = settings.datastores.get(output.datastore)
        if datastore is not None:
            found.append((canonical_account_url(datastore.account_url), datastore.container,
                          static_prefix(output.path)))
    return found


def prefixes_overlap(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


@dataclass(frozen=True)
class _Excluded:
    account: str
    container: str
    prefix: str
    why: str


@dataclass
class RouteIndex:
    """Routes by (account, container), longest prefix first; plus locations whose events never start runs."""

    routes: dict[tuple[str, str], list[Route]] = field(default_factory=dict)
    excluded: dict[tuple[str, str], list[_Excluded]] = field(default_factory=dict)

    def match(self, location: BlobLocation) -> Optional[Route]:
        return self._match(location.account_url, location.container, location.path)

    def _match(self, account_url: str, container: str, path: str) -> Optional[Route]:
        for route in self.routes.get((canonical_account_url(account_url), container), ()):
            if path.startswith(route.match.prefix):
                return route
        return None

    def excluded_because(self, location: BlobLocation) -> Optional[str]:
        for item in self.excluded.get((canonical_account_url(location.account_url), location.container), ()):
            if location.path.startswith(item.prefix):
                return item.why
        return None

    def control_route(self, where: Optional[tuple[str, str, str]]) -> Optional[Route]:
        """The route whose marker or manifest ``(account_url, container, name)`` is, or ``None``."""
        if where is None:
            return None
        account_url, container, name = where
        route = self._match(account_url, container, name)
        if route is not None and name.rsplit("/", 1)[-1] in control_names(route):
            return route
        return None

    def skip_level(self, reason: str, where: Optional[tuple[str, str, str]]) -> int:
        """How loud a skipped event should be: WARNING when it was a route's own marker or manifest (a landing
        that will not start anything), unless the skip is normal for one (``BENIGN_SKIPS``); else INFO."""
        import logging

        if reason not in BENIGN_SKIPS and self.control_route(where) is not None:
            return logging.WARNING
        return logging.INFO


def build_route_index(settings: AppSettings, account_urls: Mapping[str, str],
                      state_account_url: Optional[str] = None) -> RouteIndex:
    """``account_urls`` maps each route's connection name to its blob account URL (unresolvable ones are absent,
    and their routes match nothing)."""
    index = RouteIndex()
    for route in settings.routes:
        account = account_urls.get(route.match.connection)
        if account is None:
            continue
        index.routes.setdefault((canonical_account_url(account), route.match.container), []).append(route)
    for routes in index.routes.values():
        routes.sort(key=lambda r: len(r.match.prefix), reverse=True)

    def exclude(where: Optional[tuple[str, str, str]], why: str) -> None:
        if where is not None:
            index.excluded.setdefault(where[:2], []).append(_Excluded(*where, why))

    for route in settings.routes:
        for where in output_locations(settings, route):
            exclude(where, f"output location of route {route.name!r}")
        for n, sink in enumerate(route.sinks):
            exclude(template_location(sink.url), f"sinks[{n}] of route {route.name!r}")
    if state_account_url:
        exclude((canonical_account_url(state_account_url), settings.state_container, ""), "the app's state container")
    return index


# --- the completion rules ------------------------------------------------------------------------------

IGNORE = "ignore"
START_FOLDER = "start_folder"      # marker: inspect the folder, then start its run
START_FILE = "start_file"          # per_file: the blob is the run's input
AWAIT_MANIFEST = "await_manifest"  # manifest: a durable waiter checks the listed files
SIGNAL_FOLDER = "signal_folder"    # quiet_period: tell the folder's debouncer a file arrived


@dataclass(frozen=True)
class Decision:
    action: str
    reason: str = ""
    folder: Optional[BlobLocation] = None
    run_id: Optional[str] = None
    waiter_id: Optional[str] = None


def folder_of(created: BlobCreated) -> BlobLocation:
    return BlobLocation(created.location.account_url, created.location.container, created.folder)


def manifest_waiter_id(route: str, folder_url: str, manifest_etag: str) -> str:
    return "lw-" + derived_run_id(route, "manifest-waiter", folder_url, manifest_etag)


def quiet_waiter_id(route: str, folder_url: str) -> str:
    return "lq-" + derived_run_id(route, "quiet-folder", folder_url)


def quiet_run_id(route: str, folder_url: str) -> str:
    """A quiet-period folder has exactly one run: files after its submission are reported, not re-run."""
    return landing_run_id(route, folder_url, "quiet-period")


def control_names(route: Route) -> frozenset[str]:
    return frozenset({route.landing.marker_name, route.landing.manifest_name})


def decide(route: Route, created: BlobCreated) -> Decision:
    """What one committed blob means for its route. Pure and cheap: most events end here as IGNORE."""
    rule = route.landing
    name = created.name
    if rule.mode == "marker":
        if name != rule.marker_name:
            return Decision(IGNORE, "awaiting_marker")
        folder = folder_of(created)
        return Decision(START_FOLDER, folder=folder, run_id=landing_run_id(route.name, folder.url, created.etag))
    if rule.mode == "per_file":
        if name in control_names(route):
            return Decision(IGNORE, "control_blob")
        if created.content_length == 0:
            return Decision(IGNORE, "empty_blob")
        return Decision(START_FILE, run_id=landing_run_id(route.name, created.location.url, created.etag))
    if rule.mode == "manifest":
        if name != rule.manifest_name:
            return Decision(IGNORE, "awaiting_manifest")
        folder = folder_of(created)
        return Decision(AWAIT_MANIFEST, folder=folder,
                        run_id=landing_run_id(route.name, folder.url, created.etag),
                        waiter_id=manifest_waiter_id(route.name, folder.url, created.etag))
    if rule.mode == "quiet_period":
        if name in control_names(route):
            return Decision(IGNORE, "control_blob")
        folder = folder_of(created)
        return Decision(SIGNAL_FOLDER, folder=folder, run_id=quiet_run_id(route.name, folder.url),
                        waiter_id=quiet_waiter_id(route.name, folder.url))
    return Decision(IGNORE, "unknown_mode")


# --- folder inspection -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class FolderListing:
    """The top level of a folder: ``files`` maps name (relative) → (size, content MD5 or None)."""

    files: Mapping[str, tuple[int, Optional[bytes]]]
    subfolders: tuple[str, ...] = ()


@dataclass(frozen=True)
class FolderVerdict:
    ok: bool
    reason: str = ""
    detail: str = ""
    file_count: int = 0
    total_bytes: int = 0
    ignored_subfolders: tuple[str, ...] = ()

    def details(self) -> dict:
        out: dict[str, Any] = {"file_count": self.file_count, "total_bytes": self.total_bytes}
        if self.ignored_subfolders:
            out["ignored_subfolders"] = list(self.ignored_subfolders)
        return out


def assess_folder(listing: FolderListing, route: Route, folder_path: str) -> FolderVerdict:
    """Batch jobs read only a folder's top level: reject sub-folders (unless the route ignores them), skip
    empty folders, and count the data files. The job also receives the control blobs (marker, manifest) that
    sit in the folder, so scoring scripts must skip them (docs/landing.md)."""
    data = {name: meta for name, meta in listing.files.items() if name not in control_names(route)}
    count = len(data)
    total = sum(size for size, _ in data.values())
    subfolders = tuple(sorted(listing.subfolders))
    where = folder_path or "(container root)"
    if subfolders and not route.landing.ignore_subfolders:
        shown = ", ".join(subfolders[:10]) + (f" (+{len(subfolders) - 10} more)" if len(subfolders) > 10 else "")
        return FolderVerdict(False, "subfolders",
                             f"folder {where} has sub-folders ({shown}); batch jobs read only the top level of a"
                             f" folder, so flatten it or set landing.ignore_subfolders on route {route.name!r}",
                             count, total)
    if count == 0:
        return FolderVerdict(False, "empty_folder", f"folder {where} has no data files, only control blobs",
                             0, 0, subfolders)
    return FolderVerdict(True, "", "", count, total, subfolders if subfolders else ())


# --- manifests ----------------------------------------------------------------------------------------------

class ManifestError(ValueError):
    """The manifest blob cannot be used (not JSON, wrong shape, names outside the folder)."""


@dataclass(frozen=True)
class ManifestEntry:
    name: str
    size: Optional[int] = None
    md5: Optional[bytes] = None


def _md5_bytes(value: Any, name: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise ManifestError(f"file {shown(name, 120)!r}: md5 must be a hex or base64 string")
    text = value.strip()
    if len(text) == 32:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16:
        raise ManifestError(f"file {shown(name, 120)!r}: md5 {shown(value, 60)!r} is neither 32 hex digits nor base64"
                            f" of 16 bytes")
    return raw


def parse_manifest(raw: bytes) -> tuple[ManifestEntry, ...]:
    """``{"files": [...]}`` or a bare list; each item a name or ``{"name", "size"?, "md5"?}``."""
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"not valid JSON: {shown(str(exc), 200)}") from None
    except RecursionError:
        raise ManifestError("not valid JSON: nested too deeply") from None
    items = document.get("files") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise ManifestError('must be a JSON list of files or an object with a "files" list')
    entries: dict[str, ManifestEntry] = {}
    for n, item in enumerate(items):
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise ManifestError(f"files[{n}]: must be a name or an object with a non-empty \"name\"")
        name = item["name"]
        try:
            check_relative_path(name, field=f"files[{n}]", decode=False, allow_query_chars=True)
        except InvalidName as exc:
            raise ManifestError(f"{exc} (a plain file name in the folder)") from None
        if "/" in name:
            raise ManifestError(f"files[{n}]: {shown(name, 120)!r} is not a plain file name in the folder (no sub-folders)")
        size = item.get("size")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise ManifestError(f"files[{n}]: size must be a non-negative integer, got {size!r}")
        md5 = _md5_bytes(item["md5"], name) if item.get("md5") is not None else None
        entries[name] = ManifestEntry(name, size, md5)
    if not entries:
        raise ManifestError("lists no files")
    return tuple(entries.values())


@dataclass(frozen=True)
class ManifestCheck:
    missing: tuple[str, ...]
    mismatched: tuple[str, ...]  # "name: why"

    @property
    def complete(self) -> bool:
        return not self.missing and not self.mismatched

    def describe(self, limit: int = 50) -> str:
        parts = []
        if self.missing:
            parts.append(f"missing {len(self.missing)}: " + ", ".join(self.missing[:limit])
                         + (" ..." if len(self.missing) > limit else ""))
        if self.mismatched:
            parts.append(f"not matching {len(self.mismatched)}: " + "; ".join(self.mismatched[:limit])
                         + (" ..." if len(self.mismatched) > limit else ""))
        return "; ".join(parts) or "complete"


def check_manifest(entries: Iterable[ManifestEntry],
                   present: Mapping[str, tuple[int, Optional[bytes]]]) -> ManifestCheck:
    missing, mismatched = [], []
    for entry in entries:
        found = present.get(entry.name)
        if found is None:
            missing.append(entry.name)
            continue
        size, md5 = found
        if entry.size is not None and size != entry.size:
            mismatched.append(f"{entry.name}: size {size}, manifest says {entry.size}")
        elif entry.md5 is not None and md5 != entry.md5:
            mismatched.append(f"{entry.name}: MD5 " + ("absent on the blob" if md5 is None else "differs"))
    return ManifestCheck(tuple(missing), tuple(mismatched))
