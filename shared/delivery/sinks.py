"""Where each output goes (pure): render a sink's URL template for one run and one file."""

from __future__ import annotations

from datetime import datetime

from ..config.models import SinkConfig
from ..storage.uris import BlobLocation, parse_blob_url


def sink_location(sink: SinkConfig, *, route: str, folder: str, run_id: str, now: datetime,
                  file_name: str) -> BlobLocation:
    """A URL ending in '/' is a folder: the output's file name is appended."""
    url = sink.url.format(route=route, folder=folder.strip("/"), run_id=run_id, date=now.strftime("%Y-%m-%d"),
                          file=file_name)
    url = url.replace("//", "/").replace(":/", "://", 1)  # an empty {folder} must not leave '//' behind
    if url.endswith("/"):
        url += file_name
    return parse_blob_url(url)
