"""Fault injection at the storage and Durable-client boundaries: a crash or a lost answer after one write.

Wrap the real clients (Azurite's container client, the SDK's ``DurableOrchestrationClient``) and pass the
wrappers where the code takes its clients by injection. Every *write* (blob upload or delete, container
create, ``start_new``, ``raise_event``, ``terminate``) goes through to the real server first; then, at the
write chosen by the plan, the wrapper raises:

* :class:`Crash` (a ``BaseException``): the process died right after the write. No ``except Exception``
  handler of the code under test runs, as after a real crash.
* :class:`LostAnswer` (a ``ConnectionError``): the write went through but its answer never arrived.

``FaultPlan.points`` lists what each write was (``"blob:upload runs/x.json"``, ``"durable:start_new x"``),
so a test first runs the path without faults to enumerate its points, then once per point and kind.

Points can be chosen by position (``at``: the n-th write) or by label (``target``): ``FaultPlan.labels``
names each write with its occurrence (``"durable:start_new run_orchestrator #1"``), which stays stable when
concurrent work (parallel copies, polls) changes the order of writes between runs. ``bench/crash_bench.py``
installs process-wide wrappers (the Azure SDK transport, the Durable client, httpx) that report to a plan.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Optional


class Crash(BaseException):
    """The process died right after a write."""


class LostAnswer(ConnectionError):
    """The write went through; its answer was lost."""


KINDS = {"crash": Crash, "lost": LostAnswer}


@dataclass
class FaultPlan:
    """Fail the ``at``-th write (0-based), or the write labelled ``target``, with ``kind``; with neither it
    only records the writes. It fires once."""

    at: Optional[int] = None
    kind: str = "crash"
    points: list = field(default_factory=list)
    fired: Optional[str] = None
    target: Optional[str] = None
    labels: list = field(default_factory=list)
    _seen: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def wrote(self, what: str, lost: Optional[Callable[[str], BaseException]] = None, *,
              faults: Optional[dict] = None) -> None:
        """Record one write that went through; raise if it is the chosen one. ``lost`` builds the exception a
        lost answer looks like at this boundary (default :class:`LostAnswer`); ``faults`` maps further kinds
        a boundary knows (e.g. ``"retried"``: the SDK re-sends the request) to their exception. A write whose
        boundary does not know the plan's kind is recorded, never failed."""
        known = {**KINDS, **({"lost": lost} if lost is not None else {}), **(faults or {})}
        with self._lock:
            n = len(self.points)
            self.points.append(what)
            self._seen[what] = occurrence = self._seen.get(what, 0) + 1
            label = f"{what} #{occurrence}"
            self.labels.append(label)
            fire = self.fired is None and self.kind in known and (
                (self.at is not None and n == self.at) or (self.target is not None and label == self.target))
            if fire:
                self.fired = what if self.target is None else label
        if fire:
            raise known[self.kind](f"injected {self.kind} after write #{n}: {label}")

    def disarm(self) -> None:
        self.at = None
        self.target = None


class FaultyBlobClient:
    def __init__(self, blob: Any, plan: FaultPlan):
        self._blob, self._plan = blob, plan

    def __getattr__(self, name: str) -> Any:
        return getattr(self._blob, name)

    def upload_blob(self, *args: Any, **kwargs: Any) -> Any:
        result = self._blob.upload_blob(*args, **kwargs)
        self._plan.wrote(f"blob:upload {self._blob.blob_name}")
        return result

    def delete_blob(self, *args: Any, **kwargs: Any) -> Any:
        result = self._blob.delete_blob(*args, **kwargs)
        self._plan.wrote(f"blob:delete {self._blob.blob_name}")
        return result


class FaultyContainer:
    """A ``ContainerClient`` whose writes go through :class:`FaultPlan`."""

    def __init__(self, container: Any, plan: FaultPlan):
        self._container, self._plan = container, plan

    def __getattr__(self, name: str) -> Any:
        return getattr(self._container, name)

    def get_blob_client(self, blob: str, *args: Any, **kwargs: Any) -> FaultyBlobClient:
        return FaultyBlobClient(self._container.get_blob_client(blob, *args, **kwargs), self._plan)

    def upload_blob(self, name: str, *args: Any, **kwargs: Any) -> Any:
        result = self._container.upload_blob(name, *args, **kwargs)
        self._plan.wrote(f"blob:upload {name}")
        return result

    def delete_blob(self, name: str, *args: Any, **kwargs: Any) -> Any:
        result = self._container.delete_blob(name, *args, **kwargs)
        self._plan.wrote(f"blob:delete {name}")
        return result

    def create_container(self, *args: Any, **kwargs: Any) -> Any:
        result = self._container.create_container(*args, **kwargs)  # raises when it exists: no write
        self._plan.wrote("blob:create_container")
        return result


class FaultyService:
    """A ``BlobServiceClient`` whose container clients are :class:`FaultyContainer`."""

    def __init__(self, service: Any, plan: FaultPlan):
        self._service, self._plan = service, plan

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)

    def get_container_client(self, container: str) -> FaultyContainer:
        return FaultyContainer(self._service.get_container_client(container), self._plan)


class FaultyDurableClient:
    """The SDK's Durable client with its writes (start, raise event, terminate) going through the plan.
    ``starts`` counts the starts the host accepted, whatever the caller was told."""

    def __init__(self, client: Any, plan: FaultPlan):
        self._client, self._plan = client, plan
        self.starts: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def start_new(self, orchestration_function_name: str, instance_id: Optional[str] = None,
                        client_input: Any = None) -> str:
        result = await self._client.start_new(orchestration_function_name, instance_id=instance_id,
                                              client_input=client_input)
        self.starts.append(result)
        self._plan.wrote(f"durable:start_new {result}")
        return result

    async def raise_event(self, instance_id: str, event_name: str, event_data: Any = None, **kwargs: Any) -> None:
        result = await self._client.raise_event(instance_id, event_name, event_data, **kwargs)
        self._plan.wrote(f"durable:raise_event {instance_id} {event_name}")
        return result

    async def terminate(self, instance_id: str, reason: str) -> None:
        result = await self._client.terminate(instance_id, reason)
        self._plan.wrote(f"durable:terminate {instance_id}")
        return result
