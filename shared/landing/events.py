"""Reading ``Microsoft.Storage.BlobCreated`` events and matching them to routes (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

from ..config.models import AppSettings, Route
from ..storage.uris import BlobLocation, parse_blob_url, same_account

BLOB_CREATED = "Microsoft.Storage.BlobCreated"
# Only these mean "the blob's content is committed" (a blob output binding alone emits three events).
COMMITTED_APIS = frozenset({"PutBlob", "PutBlockList", "CopyBlob", "FlushWithClose"})


class SkipEvent(Exception):
    """The event does not concern this app; ``reason`` is a short counter key."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class BlobCreated:
    event_id: str
    location: BlobLocation
    etag: str
    api: str
    content_length: Optional[int]

    @property
    def name(self) -> str:
        return self.location.path.rsplit("/", 1)[-1]

    @property
    def folder(self) -> str:
        """The blob's parent folder with a trailing '/', or '' at the container's root."""
        path = self.location.path
        return path[: path.rfind("/") + 1] if "/" in path else ""


def parse_blob_created(event_id: Any, event_type: Any, data: Any) -> BlobCreated:
    if event_type != BLOB_CREATED:
        raise SkipEvent("wrong_event_type", str(event_type))
    if not isinstance(data, Mapping):
        raise SkipEvent("malformed", "data is not an object")
    api = data.get("api")
    if api not in COMMITTED_APIS:
        raise SkipEvent("uncommitted_api", str(api))
    url = data.get("url")
    if not isinstance(url, str):
        raise SkipEvent("malformed", "data.url is missing")
    try:
        location = parse_blob_url(url)
    except ValueError as exc:
        raise SkipEvent("malformed", str(exc)) from None
    if not location.path or location.path.endswith("/"):
        raise SkipEvent("not_a_blob", url)
    etag = data.get("eTag") or data.get("etag")
    if not isinstance(etag, str) or not etag:
        raise SkipEvent("malformed", "data.eTag is missing")
    length = data.get("contentLength")
    return BlobCreated(str(event_id or ""), location, etag, api,
                       length if isinstance(length, int) and not isinstance(length, bool) else None)


def match_route(settings: AppSettings, location: BlobLocation,
                account_urls: Mapping[str, str]) -> Optional[Route]:
    """The route whose account, container and prefix hold the blob; the longest prefix wins."""
    best: Optional[Route] = None
    for route in settings.routes:
        account_url = account_urls.get(route.match.connection)
        if account_url is None or not same_account(account_url, location.account_url):
            continue
        if route.match.container != location.container or not location.path.startswith(route.match.prefix):
            continue
        if best is None or len(route.match.prefix) > len(best.match.prefix):
            best = route
    return best
