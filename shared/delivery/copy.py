"""Copy blobs between containers and accounts with the Storage SDK."""

from __future__ import annotations

from typing import Any

CHUNK_BYTES = 4 * 1024 * 1024


def stream_copy(source_blob: Any, destination_blob: Any) -> int:
    """Chunked download and upload: memory stays bounded whatever the blob's size. Returns bytes copied."""
    downloader = source_blob.download_blob(max_concurrency=1)
    size = downloader.size
    destination_blob.upload_blob(downloader.chunks(), length=size, overwrite=True, max_concurrency=1)
    return size
