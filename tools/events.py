"""Events exactly as Event Grid delivers them (Event Grid schema or CloudEvents 1.0), for local runs and tests.

``blob_created_event`` builds a ``Microsoft.Storage.BlobCreated`` event: through the blob endpoint (``PutBlob``)
or, with ``endpoint="dfs"``, the way an ADLS Gen2 write appears (``https://<acct>.dfs.core.windows.net/...``,
``FlushWithClose``; ``CreateFile`` with ``contentLength`` 0 first). The ``subject`` carries the blob's real
name; ``data.url`` carries it raw (``encode_url=False``, how a name with ``#`` or a space has been seen in
events) or percent-encoded. ``run_status_changed_event`` builds an Azure ML run event.
"""

from __future__ import annotations

import uuid
from typing import Any, Optional
from urllib.parse import quote

from shared.blob_urls import account_name, split_storage_url
from shared.timefmt import now_text

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


def _now() -> str:
    return now_text("milliseconds")


def subject_of(url: str, *, encoded: bool = False) -> str:
    """The subject Event Grid gives the blob at ``url`` (its raw name; ``encoded``: the url is percent-encoded)."""
    from urllib.parse import unquote

    parts = split_storage_url(url)
    name = unquote(parts.rest) if encoded else parts.rest
    return f"/blobServices/default/containers/{parts.container}/blobs/{name}"


def _account_of(url: str) -> str:
    return account_name(split_storage_url(url).account_url)


def to_cloud_event(event: dict) -> dict:
    """The same event in the CloudEvents 1.0 schema (what a ``CloudEventSchemaV1_0`` subscription delivers)."""
    return {"specversion": "1.0", "id": event["id"], "source": event["topic"], "subject": event["subject"],
            "type": event["eventType"], "time": event["eventTime"], "data": event["data"],
            "datacontenttype": "application/json"}


def blob_created_event(url: str, etag: str, *, content_length: int, api: Optional[str] = None,
                       account: Optional[str] = None, event_id: Optional[str] = None,
                       sequencer: Optional[str] = None, schema: str = "eventgrid", endpoint: str = "blob",
                       name: Optional[str] = None, encode_url: bool = False) -> dict:
    """One ``Microsoft.Storage.BlobCreated`` event for the blob at ``url`` (a blob-endpoint URL with the raw name).

    ``endpoint="dfs"`` rewrites the host to the account's dfs endpoint and defaults ``api`` to
    ``FlushWithClose``; ``schema="cloudevents"`` returns the CloudEvents 1.0 form; ``name`` overrides the
    blob name (the url's text after the container, raw, by default); ``encode_url`` percent-encodes it in
    ``data.url``."""
    parts = split_storage_url(url)
    blob = name if name is not None else parts.rest
    account = account or _account_of(url)
    base = parts.account_url
    if endpoint == "dfs":
        base = base.replace(".blob.", ".dfs.", 1)
    event_url = f"{base}/{parts.container}/{quote(blob, safe='/') if encode_url else blob}"
    event = {
        "id": event_id or str(uuid.uuid4()),
        "topic": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-local/providers"
                 f"/Microsoft.Storage/storageAccounts/{account}",
        "subject": f"/blobServices/default/containers/{parts.container}/blobs/{blob}",
        "eventType": "Microsoft.Storage.BlobCreated",
        "eventTime": _now(),
        "data": {
            "api": api or ("FlushWithClose" if endpoint == "dfs" else "PutBlob"),
            "clientRequestId": str(uuid.uuid4()),
            "requestId": str(uuid.uuid4()),
            "eTag": etag,
            "contentType": "text/csv" if blob.endswith(".csv") else "application/octet-stream",
            "contentLength": content_length,
            "blobType": "BlockBlob",
            "url": event_url,
            "sequencer": sequencer or f"{uuid.uuid4().int % 10**32:032d}",
            "storageDiagnostics": {"batchId": str(uuid.uuid4())},
        },
        "dataVersion": "",
        "metadataVersion": "1",
    }
    if endpoint == "dfs":
        event["data"]["contentOffset"] = 0
    return to_cloud_event(event) if schema == "cloudevents" else event


def sftp_commit_event(url: str, etag: str, **kwargs: Any) -> dict:
    """The ``SftpCommit`` BlobCreated event of a file uploaded over SFTP, as documented: ``dataVersion`` 3, no
    ``clientRequestId``, ``contentType`` application/octet-stream, ``contentOffset`` and ``identity`` (the
    SFTP local user) included, and ``contentLength`` 0 as in Microsoft's example (whatever the file's size)."""
    schema = kwargs.pop("schema", "eventgrid")
    event = blob_created_event(url, etag, content_length=0, api="SftpCommit", **kwargs)
    event["data"].pop("clientRequestId", None)
    event["data"].update({"contentType": "application/octet-stream", "contentOffset": 0, "identity": "localuser"})
    event["dataVersion"] = "3"
    return to_cloud_event(event) if schema == "cloudevents" else event


def renamed_event(source_url: str, destination_url: str, *, directory: bool = False,
                  event_id: Optional[str] = None, schema: str = "eventgrid") -> dict:
    """An ADLS Gen2 ``Microsoft.Storage.BlobRenamed`` (``RenameFile``) or, with ``directory``,
    ``Microsoft.Storage.DirectoryRenamed`` (``RenameDirectory``) event, as documented: the subject names the
    new path, ``data`` carries ``sourceUrl`` and ``destinationUrl`` on the dfs endpoint, and no ``url``,
    ``eTag`` or ``contentLength``. Both URLs are blob-endpoint URLs with raw names (a directory without
    its trailing ``/``); on a public-cloud host they are rewritten to the dfs endpoint, as Event Grid sends them."""
    source, destination = split_storage_url(source_url), split_storage_url(destination_url)

    def dfs(parts: Any) -> str:
        return f"{parts.account_url.replace('.blob.', '.dfs.', 1)}/{parts.container}/{parts.rest}"

    event = {
        "id": event_id or str(uuid.uuid4()),
        "topic": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-local/providers"
                 f"/Microsoft.Storage/storageAccounts/{_account_of(destination_url)}",
        "subject": f"/blobServices/default/containers/{destination.container}/blobs/{destination.rest}",
        "eventType": "Microsoft.Storage.DirectoryRenamed" if directory else "Microsoft.Storage.BlobRenamed",
        "eventTime": _now(),
        "data": {
            "api": "RenameDirectory" if directory else "RenameFile",
            "clientRequestId": str(uuid.uuid4()),
            "requestId": str(uuid.uuid4()),
            "destinationUrl": dfs(destination),
            "sourceUrl": dfs(source),
            "sequencer": f"{uuid.uuid4().int % 10**32:032d}",
            "identity": "$superuser",
            "storageDiagnostics": {"batchId": str(uuid.uuid4())},
        },
        "dataVersion": "1",
        "metadataVersion": "1",
    }
    return to_cloud_event(event) if schema == "cloudevents" else event


def run_status_changed_event(job_name: str, status: str, *, event_id: Optional[str] = None,
                             event_time: Optional[str] = None, schema: str = "eventgrid",
                             workspace: str = "ws-local", **data: Any) -> dict:
    """An Azure ML ``RunStatusChanged`` event for ``job_name`` (``status`` as Azure ML writes it)."""
    topic = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-local/providers"
             f"/Microsoft.MachineLearningServices/workspaces/{workspace}")
    event = {
        "id": event_id or str(uuid.uuid4()),
        "topic": topic,
        "subject": f"experiments/{uuid.uuid5(uuid.NAMESPACE_URL, topic)}/runs/{job_name}",
        "eventType": "Microsoft.MachineLearningServices.RunStatusChanged",
        "eventTime": event_time or _now(),
        "data": {"experimentId": str(uuid.uuid5(uuid.NAMESPACE_URL, topic)), "experimentName": "batch",
                 "runId": job_name, "runType": "azureml.PipelineRun", "runTags": {}, "runProperties": {},
                 "runStatus": status, **data},
        "dataVersion": "2",
        "metadataVersion": "1",
    }
    return to_cloud_event(event) if schema == "cloudevents" else event
