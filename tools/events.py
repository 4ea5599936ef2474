"""Event Grid events exactly as Event Grid delivers them to a webhook (Event Grid schema)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Optional


def blob_created_event(url: str, etag: str, *, content_length: int, api: str = "PutBlob",
                       account: str = "devstoreaccount1", event_id: Optional[str] = None,
                       sequencer: Optional[str] = None) -> dict:
    """One ``Microsoft.Storage.BlobCreated`` event for the blob at ``url``."""
    path = url.split(f"/{account}/", 1)[-1] if f"/{account}/" in url else url.split(".net/", 1)[-1]
    container, _, blob = path.partition("/")
    return {
        "id": event_id or str(uuid.uuid4()),
        "topic": f"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-local/providers"
                 f"/Microsoft.Storage/storageAccounts/{account}",
        "subject": f"/blobServices/default/containers/{container}/blobs/{blob}",
        "eventType": "Microsoft.Storage.BlobCreated",
        "eventTime": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        "data": {
            "api": api,
            "clientRequestId": str(uuid.uuid4()),
            "requestId": str(uuid.uuid4()),
            "eTag": etag,
            "contentType": "text/csv" if blob.endswith(".csv") else "application/octet-stream",
            "contentLength": content_length,
            "blobType": "BlockBlob",
            "url": url,
            "sequencer": sequencer or f"{uuid.uuid4().int % 10**32:032d}",
            "storageDiagnostics": {"batchId": str(uuid.uuid4())},
        },
        "dataVersion": "",
        "metadataVersion": "1",
    }
