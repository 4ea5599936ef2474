"""Pre-flight of an HTTP start: would the folder (or file) pass the route's landing rules right now? (pure)

``POST /api/runs`` used to submit whatever path it was given, and a folder that does not exist, is empty,
holds only sub-folders or is not complete failed minutes later on compute. One listing of the input
(:meth:`shared.landing.store.LandingStore.preflight_listing`) is read here through the same rules as a
landing: :func:`shared.landing.rules.assess_folder` for the folder's shape, :func:`shared.reconcile.scan.landings`
(which calls :func:`shared.landing.rules.decide`) for the completing blob, and the manifest check of
:mod:`shared.landing.rules`. The answers:

* 404 ``not_found``: nothing is stored at the path;
* 422 ``empty_folder`` / ``subfolders`` / ``empty_blob`` / ``bad_manifest``: the input can never run as it is;
* 409 ``not_complete``: the route's rule does not hold *yet* (no marker, files missing from the manifest,
  the quiet period not over): wait, or start anyway with ``"force": true``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Optional, Sequence

from ..config.models import Route
from ..storage.uris import BlobLocation
from . import rules

MAX_LISTED = 5000          # one listing page; a bigger folder is judged on its first 5,000 names
MAX_MANIFEST_BYTES = 1_000_000

NOT_FOUND = "not_found"
EMPTY_FOLDER = "empty_folder"
SUBFOLDERS = "subfolders"
EMPTY_BLOB = "empty_blob"
BAD_MANIFEST = "bad_manifest"
NOT_COMPLETE = "not_complete"
STATUS_OF = {NOT_FOUND: 404, NOT_COMPLETE: 409, EMPTY_FOLDER: 422, SUBFOLDERS: 422, EMPTY_BLOB: 422,
             BAD_MANIFEST: 422}


@dataclass(frozen=True)
class InputListing:
    """One flat listing under the input's prefix (names relative to the container), each blob's content MD5,
    and the manifest's bytes when the route's mode is ``manifest`` and the folder holds one (at most
    :data:`MAX_MANIFEST_BYTES` + 1 bytes read)."""

    items: Sequence[Any]  # shared.reconcile.scan.Listed
    md5s: Mapping[str, Optional[bytes]] = field(default_factory=dict)
    manifest: Optional[bytes] = None
    truncated: bool = False


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""
    detail: str = ""
    file_count: int = 0
    total_bytes: int = 0

    @property
    def status(self) -> int:
        return 200 if self.ok else STATUS_OF[self.reason]

    def as_dict(self) -> dict:
        out: dict[str, Any] = {"ok": self.ok, "status": self.status, "file_count": self.file_count,
                               "total_bytes": self.total_bytes}
        if not self.ok:
            out.update(reason=self.reason, detail=self.detail)
        return out


def input_prefix(route: Route, location: BlobLocation) -> str:
    """What is listed: the folder with its trailing '/', or the file's own name for a ``uri_file`` route."""
    if route.input.type == "uri_file" or not location.path or location.path.endswith("/"):
        return location.path
    return location.path + "/"


def check_input(route: Route, location: BlobLocation, listing: InputListing, now: datetime) -> Verdict:
    """The verdict on ``location`` for ``route`` (``now``: the quiet period's clock)."""
    prefix = input_prefix(route, location)
    if route.input.type == "uri_file":
        found = next((i for i in listing.items if i.name == prefix), None)
        if found is None:
            return Verdict(False, NOT_FOUND, f"no file {prefix!r} in container {location.container!r}")
        if not found.size:
            return Verdict(False, EMPTY_BLOB, f"file {prefix!r} is empty (0 bytes); a landing of it starts nothing",
                           1, 0)
        return Verdict(True, file_count=1, total_bytes=int(found.size))
    items = [i for i in listing.items if i.name.startswith(prefix) and not i.name.endswith("/")]
    if not items:
        return Verdict(False, NOT_FOUND, f"folder {prefix or '(container root)'!r} does not exist in container"
                                         f" {location.container!r}: nothing is stored under it")
    top = [i for i in items if "/" not in i.name[len(prefix):]]
    subfolders = sorted({i.name[len(prefix):].split("/", 1)[0] + "/" for i in items if i not in top})
    shape = rules.assess_folder(
        rules.FolderListing({i.name[len(prefix):]: (int(i.size or 0), listing.md5s.get(i.name)) for i in top},
                            tuple(subfolders)), route, prefix)
    if not shape.ok:
        detail = shape.detail
        if shape.reason == "empty_folder" and subfolders:
            detail = f"folder {prefix!r} holds only sub-folders ({', '.join(subfolders[:10])}); batch jobs read" \
                     " only the top level of a folder"
        return Verdict(False, SUBFOLDERS if shape.reason == "subfolders" else EMPTY_FOLDER, detail,
                       shape.file_count, shape.total_bytes)
    verdict = _completion(route, location, prefix, top, listing, now)
    return Verdict(verdict is None, *(verdict or ("", "")), shape.file_count, shape.total_bytes)


def _completion(route: Route, location: BlobLocation, prefix: str, top: list, listing: InputListing,
                now: datetime) -> Optional[tuple[str, str]]:
    """``None`` when the route's rule holds for the folder, else ``(reason, detail)``: the landings that the
    folder's blobs would cause, decided by the landing rules, as the reconcile sweep reads a listing."""
    from ..reconcile.scan import landings

    rule = route.landing
    found = [f for f in landings(route, location.account_url, location.container, top, source="preflight")
             if f.decision.folder is None or f.decision.folder.path == prefix]
    if rule.mode == "per_file":
        return None if found else (NOT_COMPLETE, f"folder {prefix!r} holds no non-empty data file")
    if rule.mode == "marker":
        if any(f.action == rules.START_FOLDER for f in found):
            return None
        return NOT_COMPLETE, f"folder {prefix!r} has no marker {rule.marker_name!r} yet (route {route.name!r}" \
                             " completes a folder when its marker lands)"
    if rule.mode == "manifest":
        if not any(f.action == rules.AWAIT_MANIFEST for f in found):
            return NOT_COMPLETE, f"folder {prefix!r} has no manifest {rule.manifest_name!r} yet"
        if listing.manifest is None or len(listing.manifest) > MAX_MANIFEST_BYTES:
            return BAD_MANIFEST, f"manifest {rule.manifest_name!r} could not be read (over 1 MB or gone)"
        try:
            entries = rules.parse_manifest(listing.manifest)
        except rules.ManifestError as exc:
            return BAD_MANIFEST, f"manifest {rule.manifest_name!r}: {exc}"
        present = {i.name[len(prefix):]: (int(i.size or 0), listing.md5s.get(i.name)) for i in top}
        check = rules.check_manifest(entries, present)
        return None if check.complete else (NOT_COMPLETE, f"manifest {rule.manifest_name!r}: {check.describe(20)}")
    if rule.mode == "quiet_period":
        data = [i for i in top if i.name.rsplit("/", 1)[-1] not in rules.control_names(route)]
        newest = max((i.last_modified for i in data if i.last_modified is not None), default=None)
        if newest is None:
            return None
        quiet = (now - newest).total_seconds()
        if quiet >= rule.quiet_seconds:
            return None
        return NOT_COMPLETE, f"folder {prefix!r} is still landing: its newest file is {max(quiet, 0):.0f} s old," \
                             f" route {route.name!r} waits {rule.quiet_seconds} s without a new file"
    return None
