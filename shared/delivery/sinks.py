"""Where each output goes (pure): sink URL templates, ADLS Gen2 → blob endpoint, receipt locations.

ADLS Gen2 sinks (``https://<acct>.dfs.core.windows.net/<fs>/<path>`` or ``abfss://<fs>@<acct>.dfs...``) are
written through the account's blob endpoint (``<acct>.blob.core.windows.net``): hierarchical-namespace
accounts accept the Blob API (multi-protocol access), parent directories appear implicitly, and the same
copy/verify code serves both kinds of sink.
"""

from __future__ import annotations

import posixpath
from typing import Iterable
from urllib.parse import urlsplit

from ..config.models import SinkConfig
from ..storage.uris import BlobLocation, parse_blob_url

RECEIPT_NAME = "_RESULT.json"


def blob_endpoint_url(url: str) -> str:
    """ADLS Gen2 URL forms → the blob endpoint form; blob URLs unchanged."""
    parts = urlsplit(url)
    if parts.scheme == "abfss":
        filesystem, _, host = parts.netloc.partition("@")
        host = host.replace(".dfs.", ".blob.", 1)
        return f"https://{host}/{filesystem}{parts.path if parts.path.startswith('/') else '/' + parts.path}"
    if ".dfs." in (parts.hostname or ""):
        return url.replace(parts.netloc, parts.netloc.replace(".dfs.", ".blob.", 1), 1)
    return url


def sink_location(sink: SinkConfig, *, route: str, folder: str, run_id: str, date: str,
                  file_name: str) -> BlobLocation:
    """Render a sink's template for one file. A URL ending in '/' is a folder: the file's name is appended.

    ``file_name`` may hold sub-folders (``summary_only`` outputs keep their layout under the output folder).
    """
    url = blob_endpoint_url(sink.url).format(route=route, folder=folder.strip("/"), run_id=run_id, date=date,
                                             file=file_name)
    scheme, _, rest = url.partition("://")
    while "//" in rest:  # an empty {folder} must not leave '//' behind
        rest = rest.replace("//", "/")
    url = f"{scheme}://{rest}"
    if url.endswith("/"):
        url += file_name
    return parse_blob_url(url)


def receipt_location(destinations: Iterable[BlobLocation]) -> BlobLocation:
    """``_RESULT.json`` in the deepest folder that holds every destination of one sink."""
    destinations = list(destinations)
    if not destinations:
        raise ValueError("a receipt needs at least one destination")
    first = destinations[0]
    folders = [posixpath.dirname(d.path) for d in destinations]
    common = posixpath.commonpath(folders) if all(folders) else ""
    # commonpath works on whole segments; a shared container is guaranteed by one template per sink
    return BlobLocation(first.account_url, first.container, f"{common}/{RECEIPT_NAME}" if common else RECEIPT_NAME)


def relative_name(output_folder: str, blob_path: str) -> str:
    """A listed output's name relative to the job's output folder."""
    prefix = output_folder.rstrip("/") + "/" if output_folder else ""
    return blob_path[len(prefix):] if prefix and blob_path.startswith(prefix) else blob_path
