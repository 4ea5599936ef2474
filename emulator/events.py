"""Event Grid RunStatusChanged publisher, fed by the job store's state-change hook (contract §7).

Delivery is fire-and-forget like Event Grid's, with switches to drop or duplicate events so
consumers can be tested against loss and at-least-once delivery.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping

import aiohttp

from .config import EventsConfig, Workspace
from .jobs import Job, JobStatus

log = logging.getLogger(__name__)

EVENT_TYPE = "Microsoft.MachineLearningServices.RunStatusChanged"


@dataclass
class EventSwitches:
    url: str | None = None
    drop_next: int = 0
    drop_statuses: list[str] = field(default_factory=list)
    duplicate: bool = False
    blob_url: str | None = None   # BlobCreated events of the outputs jobs write (None: not sent)


def blob_created(url: str, etag: str, size: int, container: str, path: str) -> dict[str, Any]:
    """``Microsoft.Storage.BlobCreated`` for an output blob, as a datastore account's subscription sends it."""
    return {
        "id": str(uuid.uuid4()),
        "topic": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-local/providers"
                 "/Microsoft.Storage/storageAccounts/emulator",
        "subject": f"/blobServices/default/containers/{container}/blobs/{path}",
        "eventType": "Microsoft.Storage.BlobCreated",
        "eventTime": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        "data": {"api": "PutBlob", "clientRequestId": str(uuid.uuid4()), "requestId": str(uuid.uuid4()),
                 "eTag": etag, "contentType": "application/octet-stream", "contentLength": size,
                 "blobType": "BlockBlob", "url": url, "sequencer": f"{uuid.uuid4().int:032d}"[:32],
                 "storageDiagnostics": {"batchId": str(uuid.uuid4())}},
        "dataVersion": "",
        "metadataVersion": "1",
    }


def run_status_changed(job: Job, status: JobStatus, ws: Workspace) -> dict[str, Any]:
    experiment_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{ws.arm_id}/experiments/{job.experiment_name}"))
    return {
        "id": str(uuid.uuid4()),
        "topic": ws.arm_id,
        "subject": f"experiments/{experiment_id}/runs/{job.name}",
        "eventType": EVENT_TYPE,
        "eventTime": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        "data": {"experimentId": experiment_id, "experimentName": job.experiment_name, "runId": job.name,
                 "runType": "azureml.PipelineRun",
                 "runTags": {"azureml.batchrun": "true", "azureml.deploymentname": job.deployment.name,
                             **job.request.tags},
                 "runProperties": {"azureml.endpointname": job.endpoint,
                                   "azureml.deploymentname": job.deployment.name},
                 "runStatus": status.value},
        "dataVersion": "2",
        "metadataVersion": "1",
    }


class EventPublisher:
    def __init__(self, config: EventsConfig, ws: Workspace) -> None:
        self.switches = EventSwitches(config.url, config.drop_next, list(config.drop_statuses), config.duplicate,
                                      config.blob_url)
        self._ws = ws
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: aiohttp.ClientSession | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self.sent: list[dict[str, Any]] = []  # delivered (2xx) events, for tests
        self.dropped: list[dict[str, Any]] = []
        self.rewrite: Any = None  # (job, event) -> [events]: children.rewrite_event, set by the emulator

    def update(self, spec: Mapping[str, Any]) -> None:
        for key in ("url", "drop_next", "drop_statuses", "duplicate", "blob_url"):
            if key in spec:
                setattr(self.switches, key, spec[key])

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self.switches), "sent": len(self.sent), "dropped": len(self.dropped)}

    def on_status(self, job: Job, old: JobStatus | None, new: JobStatus) -> None:
        """JobStore listener; runs on the server loop."""
        self._loop = asyncio.get_running_loop()   # output blobs are written from worker threads (on_blob_created)
        if not self.switches.url:
            return
        event = run_status_changed(job, new, self._ws)
        if self.switches.drop_next > 0 or new.value in self.switches.drop_statuses:
            self.switches.drop_next = max(0, self.switches.drop_next - 1)
            self.dropped.append(event)
            return
        copies = 2 if self.switches.duplicate else 1
        for one in (self.rewrite(job, event) if self.rewrite else [event]):
            for _ in range(copies):
                task = asyncio.get_running_loop().create_task(self._post(self.switches.url, one))
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)

    def on_blob_created(self, url: str, etag: str, size: int, container: str, path: str) -> None:
        """Storage hook, called from the thread that wrote an output blob: post its BlobCreated event."""
        target, loop = self.switches.blob_url, self._loop
        if not target or loop is None:
            return
        event = blob_created(url, etag, size, container, path)

        def spawn() -> None:
            task = loop.create_task(self._post(target, event))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

        loop.call_soon_threadsafe(spawn)

    async def _post(self, url: str, event: dict[str, Any]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        try:
            async with self._session.post(url, json=[event], headers={"aeg-event-type": "Notification"}) as r:
                if r.status < 300:
                    self.sent.append(event)
                else:
                    log.warning("event POST to %s answered %s", url, r.status)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            log.warning("event POST to %s failed: %s", url, exc)

    async def close(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
