"""Where each output goes (pure): sink URL templates, ADLS Gen2 → blob endpoint, receipt locations.

ADLS Gen2 sinks (``https://<acct>.dfs.core.windows.net/<fs>/<path>`` or ``abfss://<fs>@<acct>.dfs...``) are
written through the account's blob endpoint (``<acct>.blob.core.windows.net``): hierarchical-namespace
accounts accept the Blob API (multi-protocol access), parent directories appear implicitly, and the same
copy/verify code serves both kinds of sink.
"""

from __future__ import annotations

import posixpath
from typing import Iterable
from urllib.parse import unquote

from ..config.models import SinkConfig
from ..paths import InvalidName, check_relative_path, check_route_name, check_run_id, join_under, render_under
from ..blob_urls import abfss_to_blob_url, split_storage_url
from ..storage.uris import BlobLocation

RECEIPT_NAME = "_RESULT.json"


def blob_endpoint_url(url: str) -> str:
    """ADLS Gen2 URL forms → the blob endpoint form; blob URLs unchanged (only the account part is rewritten)."""
    if url.strip().lower().startswith(("abfs://", "abfss://")):
        return abfss_to_blob_url(url)
    return split_storage_url(url).url


def sink_location(sink: SinkConfig, *, route: str, folder: str, run_id: str, date: str,
                  file_name: str) -> BlobLocation:
    """Render a sink's template for one file. A URL ending in '/' is a folder: the file's name is appended.

    ``file_name`` may hold sub-folders (``summary_only`` outputs keep their layout under the output folder).
    The order is what keeps a landed name from escaping (docs/security.md): the template (config, a URL)
    is split into account, container and path and its path decoded once *before* any value goes in; the
    values (raw names: a folder called ``%2e%2e`` stays ``%2e%2e``) are checked, substituted under the
    template's static prefix and the result checked with :func:`shared.paths.join_under`. Nothing is
    decoded afterwards, and a '?' or '#' in a value is a name character (encoded in ``BlobLocation.url``).
    Raises :class:`~shared.paths.InvalidName` (a ``ValueError``) naming the sink field or value.
    """
    template = split_storage_url(sink.url, field="sink url")
    if "?" in template.rest or "#" in template.rest:
        raise InvalidName("sink url", "must not have a query or fragment (no SAS in a sink URL)")
    path_template = unquote(template.rest)
    values = {
        "route": check_route_name(route),
        "folder": check_relative_path(folder.strip("/"), field="folder", decode=False, allow_query_chars=True,
                                      allow_empty=True),
        "run_id": check_run_id(run_id),
        "date": _check_date(date),
        "file": check_relative_path(file_name, field="file", decode=False, allow_query_chars=True),
    }
    path = render_under(path_template, values, field="sink path")
    if not path or path.endswith("/"):
        path = join_under(path, values["file"], field="sink path")
    return BlobLocation(template.account_url, template.container, path)


def _check_date(value: str) -> str:
    """The run's date (``YYYY-MM-DD``, or empty): one safe path segment at most."""
    if not isinstance(value, str) or "/" in value:
        raise InvalidName("date", f"must be one path segment (YYYY-MM-DD), got {str(value)[:40]!r}")
    return check_relative_path(value, field="date", decode=False, allow_empty=True)


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
