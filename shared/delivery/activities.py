"""Delivery activity bodies: plan, copy a batch of files to one sink, write a sink's receipt.

Inputs and outputs are plain JSON (they are stored in Durable history): locations, names, sizes, ETags and
checksums, never a SAS, key or token. Configuration (sinks, connections, notification targets) is read here
from the app's settings, not taken from the payload, so history cannot redirect a copy.

Every activity is at-least-once: a re-run after a lost answer finds what the first run wrote (one listing of
the sink per batch; staged blocks of a large file) and only does what is missing.

Error convention (as in ``shared/activities.py``): a permanent problem is *returned* as ``{"error": ...}``
naming the sink and the file, so the run fails at once with that message; a transient one raises (with the
same naming), so the orchestration's retry policy applies. Every error text goes through
``shared.redact.redact``: a SAS connection string's signature never reaches history or a log.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Mapping, Optional

from .. import telemetry
from ..config import AppSettings, load_settings
from ..config.models import Route
from ..redact import redact
from ..storage.uris import BlobLocation, parse_blob_url, resolve_azureml_uri
from . import copy as engine
from .sinks import receipt_location, relative_name, sink_location

log = logging.getLogger(__name__)

RECEIPT_SCHEMA = "batch-delivery-receipt/1"
ITEM_WORKERS = 8           # files of one batch copied at once in one call (within the SDK's 10-connection pool)
LIST_LIMIT = 5_000         # sink entries read per listing before falling back to one HEAD per file
MAX_ERRORS_IN_MESSAGE = 5


class DeliveryConfigError(Exception):
    """A sink or datastore cannot be reached as configured (permanent)."""


@dataclass(frozen=True)
class CallBudget:
    """What one copy activity call may do, so that it ends well inside ``functionTimeout``.

    App settings: ``DELIVERY_MIB_PER_CALL`` (bytes moved through the function per call, default 1024),
    ``DELIVERY_SECONDS_PER_CALL`` (no new chunk starts after this, default 240; functionTimeout is 600 on
    Consumption), ``DELIVERY_FILES_PER_CALL`` (files per batch, default 500)."""

    bytes: int = 1024 * engine.MIB
    seconds: float = 240.0
    files: int = 500

    SETTINGS = {"bytes": ("DELIVERY_MIB_PER_CALL", engine.MIB), "seconds": ("DELIVERY_SECONDS_PER_CALL", 1),
                "files": ("DELIVERY_FILES_PER_CALL", 1)}

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "CallBudget":
        values = {}
        for attr, (setting, unit) in cls.SETTINGS.items():
            text = (environ.get(setting) or "").strip()
            if not text:
                continue
            try:
                number = float(text)
            except ValueError:
                number = float("nan")
            if not (0 < number <= 10 ** 7):
                raise DeliveryConfigError(f"app setting {setting}: must be a positive number, not {text[:40]!r}")
            values[attr] = int(number * unit) if attr != "seconds" else number
        return cls(**values)

    @classmethod
    def of(cls, data: Optional[Mapping[str, Any]]) -> "CallBudget":
        default = cls()
        data = data or {}
        return cls(bytes=int(data.get("bytes", default.bytes)), seconds=float(data.get("seconds", default.seconds)),
                   files=int(data.get("files", default.files)))

    def as_json(self) -> dict:
        return {"bytes": self.bytes, "seconds": self.seconds, "files": self.files}


class _RedactRecord(logging.Filter):
    """Rewrites a log record's text through ``redact``: urllib3 logs each request line, query string (a SAS
    connection's ``sig``) included, at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        clean = redact(text)
        if clean != text:
            record.msg, record.args = clean, ()
        return True


def _redact_transport_logs() -> None:
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _RedactRecord) for f in logger.filters):
        logger.addFilter(_RedactRecord())


class StorageClients:
    """Blob clients by connection name (the Functions convention, via ``shared.storage.connections``).

    ``client_kwargs`` (e.g. ``transport=``, ``retry_total=``) build fresh clients from the connection string
    instead of the shared cache; tests use it to inject faults at the HTTP boundary.
    """

    def __init__(self, environ: Mapping[str, str] = os.environ, **client_kwargs: Any):
        self.environ = environ
        self.client_kwargs = client_kwargs
        self._services: dict[str, Any] = {}
        _redact_transport_logs()

    def service(self, connection: str) -> Any:
        from ..storage.connections import blob_service_client

        if connection not in self._services:
            self._services[connection] = blob_service_client(connection, self.environ, **self.client_kwargs)
        return self._services[connection]

    def account_url(self, connection: str) -> str:
        """The connection's account, canonical and without credentials (a client's ``url`` carries a SAS)."""
        from ..blob_urls import canonical_account_url
        from ..storage.connections import StorageConnectionError, account_url_of

        try:
            return canonical_account_url(account_url_of(connection, self.environ))
        except StorageConnectionError as exc:
            raise DeliveryConfigError(redact(str(exc))) from None

    def check_account(self, connection: str, location: BlobLocation) -> None:
        """The connection must reach ``location``'s account (no client is built)."""
        from ..blob_urls import canonical_account_url

        reaches = self.account_url(connection)
        if reaches != canonical_account_url(location.account_url):
            raise DeliveryConfigError(f"connection {connection!r} reaches {reaches}, not the account of"
                                      f" {location.url}")

    def container(self, connection: str, location: BlobLocation) -> Any:
        """A container client for ``location``'s container, checked like ``blob``; its ``get_blob_client``
        shares one pipeline, the cheap way to address many blobs."""
        from ..storage.connections import StorageConnectionError

        self.check_account(connection, location)
        try:
            service = self.service(connection)
        except StorageConnectionError as exc:
            raise DeliveryConfigError(redact(str(exc))) from None
        return service.get_container_client(location.container)

    def blob(self, connection: str, location: BlobLocation) -> Any:
        """A blob client for ``location``; the connection must reach that location's account."""
        return self.container(connection, location).get_blob_client(location.path)

    def key(self, connection: str) -> Optional[tuple[str, str]]:
        from ..storage.connections import key_credential

        return key_credential(connection, self.environ)


def _describe_error(exc: BaseException) -> str:
    """Status, error code and the first line of the message, without SAS or keys."""
    from azure.core.exceptions import HttpResponseError

    if isinstance(exc, HttpResponseError):
        code = _error_code(exc)
        first = (exc.reason or str(exc).splitlines()[0] if str(exc) else "").strip()
        return redact(f"HTTP {exc.status_code} {code or ''} {first}".replace("  ", " ").strip())
    return redact(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".strip())


def _error_code(exc: Any) -> Optional[str]:
    code = getattr(exc, "error_code", None) or (exc.response.headers.get("x-ms-error-code")
                                                if getattr(exc, "response", None) is not None else None)
    return getattr(code, "value", code)


def _is_auth_error(exc: BaseException) -> bool:
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    return isinstance(exc, ClientAuthenticationError) or (
        isinstance(exc, HttpResponseError) and exc.status_code in (401, 403))


def _is_source_changed(exc: BaseException) -> bool:
    from azure.core.exceptions import HttpResponseError

    return isinstance(exc, engine.SourceChanged) or (
        isinstance(exc, HttpResponseError) and exc.status_code == 412
        and _error_code(exc) in ("ConditionNotMet", "SourceConditionNotMet", None))


def _is_permanent(exc: BaseException) -> bool:
    from azure.core.exceptions import HttpResponseError

    if _is_auth_error(exc) or isinstance(exc, DeliveryConfigError):
        return True
    return isinstance(exc, HttpResponseError) and exc.status_code in (400, 404, 405, 409, 411, 413, 416) \
        and _error_code(exc) not in ("ContainerNotFound",)


def _output_entry(name: str, path: str, found: engine.BlobFacts) -> dict:
    """One output as the plan records it: the copy later reads exactly this version (ETag) and trusts its MD5."""
    return {"file": name, "path": path, "bytes": found.size, "etag": found.etag, "md5": found.md5,
            "content_type": found.content_type}


def _list_folder(clients: StorageClients, datastore: Any, location: BlobLocation) -> list[dict]:
    folder = location.path.rstrip("/")
    container = clients.service(datastore.connection).get_container_client(location.container)
    prefix = folder + "/" if folder else ""
    files = []
    for item in container.list_blobs(name_starts_with=prefix, include=["metadata"]):
        if (item.metadata or {}).get("hdi_isfolder") == "true":
            continue  # ADLS directory placeholder
        files.append(_output_entry(relative_name(folder, item.name), item.name, engine.facts_of(item)))
    files.sort(key=lambda f: f["file"])
    return files


def _output_files(settings: AppSettings, route: Route, uri: str, clients: StorageClients, *,
                  folder: Optional[bool], summary_only: bool) -> tuple[Any, list[dict]]:
    """The files of one output: a UriFile output's file (``append_row``), or every blob under its folder
    (``uri_folder`` outputs; ``summary_only``: the folder of the output file). ``folder`` None (an output read
    from the job resource): the file when the URI names one, else the folder."""
    datastore, output = resolve_azureml_uri(uri, settings.datastores)
    if folder is None:
        folder = uri.endswith("/") or engine.facts(clients.blob(datastore.connection, output)) is None
    if folder or summary_only:
        where = output.path if folder else (output.path.rsplit("/", 1)[0] if "/" in output.path else "")
        files = _list_folder(clients, datastore, BlobLocation(output.account_url, output.container, where))
        if not files:
            shown = BlobLocation(output.account_url, output.container, where.rstrip("/") + "/" if where else "")
            raise FileNotFoundError(f"the job wrote no files under {shown.url}")
        return datastore, files
    found = engine.facts(clients.blob(datastore.connection, output))
    if found is None:
        raise FileNotFoundError(f"the job's output file {output.url} does not exist")
    return datastore, [_output_entry(output.path.rsplit("/", 1)[-1], output.path, found)]


def _job_outputs(settings: AppSettings, route: Route, job_name: str) -> Any:
    """No output was configured: the deployment's default location, where the route kind's backend finds it."""
    from ..route_backend import backend_for

    return backend_for(route, settings).job_outputs(job_name)


def _files(settings: AppSettings, route: Route, run: dict, clients: StorageClients,
           job_name: Optional[str] = None, job_outputs: Optional[Callable[..., Any]] = None,
           found_on: Optional[dict] = None) -> list[tuple]:
    """``[(output name, datastore, files)]`` for every output of the run; ``found_on`` (when given) learns
    where the outputs were found: ``run`` (rendered at the run's start), ``child_run`` or ``parent_job``."""
    from ..batch_endpoint.job_spec import run_outputs

    outputs = run_outputs(run)
    configured = {o.name: o for o in route.job_outputs}
    where: dict = {"outputs_found_on": "run"}
    if not outputs and job_name:
        from ..runs.pinning import route_for  # the job is read where the run submitted it

        answer = (job_outputs or _job_outputs)(settings, route_for(route, run.get("endpoint")), job_name)
        if isinstance(answer, dict):   # an injected look-up that answers with the job's outputs only
            outputs, where = dict(answer), {"outputs_found_on": "parent_job"}
        else:
            outputs = dict(answer.outputs)
            where = {"outputs_found_on": answer.found_on, "child_run": answer.child_run}
        if not outputs:
            raise FileNotFoundError(f"job {job_name} lists no outputs")
    if found_on is not None:
        found_on.update({k: v for k, v in where.items() if v is not None})
    found = []
    for name, uri in outputs.items():
        spec = configured.get(name)
        folder = None if spec is None else spec.type == "uri_folder"
        datastore, files = _output_files(settings, route, uri, clients, folder=folder,
                                         summary_only=spec is not None and spec.action == "summary_only")
        found.append((name, datastore, files))
    return found


def plan_delivery(payload: dict, settings: Optional[AppSettings] = None,
                  clients: Optional[StorageClients] = None,
                  job_outputs: Optional[Callable[..., dict]] = None) -> dict:
    """Locate the outputs and render every (sink, file) destination. Pure data out; nothing is copied.

    Each output goes to the sinks configured for its name (a sink without ``output`` receives every output;
    when it receives several, each output's files go under a folder named after the output)."""
    settings = settings or load_settings()
    clients = clients or StorageClients()
    run = payload["run"]
    route = settings.route(run["route"])
    if not route.sinks:
        return {"files": [], "sinks": [], "copies": []}
    where = run.get("output_uri") or f"job {payload.get('job_name')}"
    found_on: dict = {}
    try:
        budget = CallBudget.from_environ(clients.environ)
        outputs = _files(settings, route, run, clients, payload.get("job_name"), job_outputs, found_on)
    except (FileNotFoundError, KeyError, DeliveryConfigError, ValueError) as exc:
        return {"error": redact(f"locating the outputs of {where}: {exc}")}
    except Exception as exc:
        if _is_auth_error(exc):
            return {"error": f"locating the outputs of {where}: storage refused the credentials of"
                             f" the datastore's connection ({_describe_error(exc)})"}
        if _is_permanent(exc) or getattr(exc, "status_code", None) in (400, 404):
            return {"error": f"locating the outputs of {where}: {_describe_error(exc)}"}
        raise RuntimeError(f"locating the outputs of {where}: {_describe_error(exc)}") from None
    date = (run.get("requested_at") or "")[:10]  # the run's date, so a redrive renders the same paths
    copies, sinks, all_files = [], [], []
    for name, datastore, files in outputs:
        all_files.extend({**f, "output": name, "datastore": datastore.name} for f in files)
    for sink in route.sinks:
        received = [o for o in outputs if sink.output in (None, o[0])]
        nested = len(received) > 1
        destinations, checked = [], set()
        for name, datastore, files in received:
            for f in files:
                file_name = f"{name}/{f['file']}" if nested else f["file"]
                try:
                    target = sink_location(sink, route=route.name, folder=run["input"].get("folder", ""),
                                           run_id=run["run_id"], date=date, file_name=file_name)
                    if target.account_url not in checked:
                        clients.check_account(sink.connection, target)   # the connection reaches this account
                        checked.add(target.account_url)
                except (ValueError, DeliveryConfigError) as exc:
                    return {"error": redact(f"sink {sink.name!r}: file {file_name!r}: {exc}")}
                destinations.append(target)
                copies.append({"sink": sink.name, "file": file_name, "source_path": f["path"], "bytes": f["bytes"],
                               "etag": f["etag"], "md5": f["md5"], "content_type": f["content_type"],
                               "destination": target.url, "output": name, "datastore": datastore.name})
        if destinations:
            sinks.append({"sink": sink.name, "receipt": receipt_location(destinations).url})
    first = outputs[0][1].name if outputs else None
    return {"datastore": first, "files": all_files, "sinks": sinks, "copies": copies, **found_on,
            "copy_timeout_minutes": route.delivery.copy_timeout_minutes, "budget": budget.as_json()}


# --- copy -------------------------------------------------------------------------------------------------

ITEM_KEYS = ("file", "source_path", "destination", "bytes", "etag", "md5", "content_type")


@telemetry.traced("copy")
def copy_output(payload: dict, settings: Optional[AppSettings] = None,
                clients: Optional[StorageClients] = None) -> dict:
    """Copy a batch of output files (``items``) to one sink; each is verified, or found already there.

    Returns ``{"sink", "results": [...], "sent_bytes"}``, one result per item with ``state``:

    * ``skipped``: the sink already holds this version (one listing of the sink answers this for the batch);
    * ``copied``: copied now (a server-side copy, a Put Blob, or the last blocks of a large file committed);
    * ``partial``: a large file whose call budget ran out; its blocks are staged, call again to continue;
    * ``pending``: a server-side copy still running in storage; call again later to check.

    Strategy ``auto`` copies server-side (synchronously up to ``engine.SYNC_COPY_MAX``: one request per file,
    never pending) and streams when storage cannot copy by itself (no way to sign the source, or refused).

    The call is idempotent: a re-run (lost answer, retry, twin worker) re-derives everything from storage.
    A payload with one file's fields instead of ``items`` returns that file's result alone.
    """
    if "items" not in payload:
        item = {k: payload[k] for k in ITEM_KEYS if k in payload}
        out = _copy_batch({**payload, "items": [item]}, settings, clients)
        if out.get("error"):
            return {"sink": payload["sink"], "file": payload["file"], "destination": payload["destination"],
                    "error": out["error"]}
        return {"sink": payload["sink"], **out["results"][0]}
    return _copy_batch(payload, settings, clients)


class _Batch:
    """One call's shared state: clients, the budget left, the source signer, the strategy in force."""

    def __init__(self, payload: dict, settings: AppSettings, clients: StorageClients):
        self.clients = clients
        self.route = settings.route(payload["route"])
        self.sink = self.route.sink(payload["sink"])
        self.datastore = settings.datastores[payload["datastore"]]
        self.budget = CallBudget.of(payload.get("budget"))
        self.deadline = time.monotonic() + self.budget.seconds
        self.strategy = self.route.delivery.strategy
        self.server_side_off: Optional[str] = None
        self._sent = 0
        self._lock = threading.Lock()
        self._delegation_key: Any = None
        self._source_container: Any = None
        self._destinations: dict[str, Any] = {}

    def label(self, item: dict) -> str:
        return f"sink {self.sink.name!r}: file {item['file']!r}"

    def sent(self, n: int) -> None:
        with self._lock:
            self._sent += n

    @property
    def sent_bytes(self) -> int:
        return self._sent

    def bytes_left(self) -> int:
        return max(0, self.budget.bytes - self._sent)

    def source(self, item: dict) -> tuple[BlobLocation, Any]:
        location = BlobLocation(self.datastore.account_url, self.datastore.container, item["source_path"])
        if self._source_container is None:
            self._source_container = self.clients.container(self.datastore.connection, location)
        return location, self._source_container.get_blob_client(location.path)

    def destination(self, target: BlobLocation) -> Any:
        container = self._destinations.get(target.container)
        if container is None:
            container = self._destinations[target.container] = self.clients.container(self.sink.connection, target)
        return container.get_blob_client(target.path)

    def sas_url(self, source: Any) -> str:
        valid_for = timedelta(minutes=self.route.delivery.copy_timeout_minutes + 60)
        key = self.clients.key(self.datastore.connection)
        return engine.source_sas_url(source, valid_for=valid_for, account_key=key,
                                     delegation_key=None if key else self._user_delegation_key)

    def _user_delegation_key(self) -> Any:
        with self._lock:  # one key per call, not one per file
            if self._delegation_key is None:
                self._delegation_key = engine.user_delegation_key(
                    self.clients.service(self.datastore.connection),
                    valid_for=timedelta(minutes=self.route.delivery.copy_timeout_minutes + 60))
            return self._delegation_key


def _copy_batch(payload: dict, settings: Optional[AppSettings], clients: Optional[StorageClients]) -> dict:
    settings = settings or load_settings()
    clients = clients or StorageClients()
    items = payload["items"]
    try:
        batch = _Batch(payload, settings, clients)
        targets = [parse_blob_url(item["destination"]) for item in items]
        for account in {t.account_url for t in targets}:
            clients.check_account(batch.sink.connection, next(t for t in targets if t.account_url == account))
        found = _destination_facts(clients, batch.sink.connection, targets)
    except Exception as exc:
        names = [item["file"] for item in items]
        more = f" (and {len(names) - 1} more in this batch)" if len(names) > 1 else ""
        message = _error_message(f"sink {payload['sink']!r}: file {names[0]!r}{more}" if names
                                 else f"sink {payload['sink']!r}", exc)
        if message.permanent:
            log.warning("delivery to a sink failed permanently: %s", message.text)
            return {"sink": payload["sink"], "error": message.text}
        log.warning("delivery to a sink failed, will be retried: %s", message.text)
        raise RuntimeError(message.text) from None

    results: list[Optional[dict]] = [None] * len(items)
    large: list[int] = []

    def first_pass(index: int) -> None:
        item = items[index]
        try:
            outcome = _deliver(batch, item, targets[index], found[(targets[index].container, targets[index].path)],
                               stream=False)
        except Exception as exc:
            results[index] = _failure(batch, item, exc)
            return
        if outcome is None:
            large.append(index)     # needs chunked streaming: done one at a time below, within the budget
        else:
            results[index] = outcome

    with ThreadPoolExecutor(max_workers=min(ITEM_WORKERS, max(1, len(items))),
                            thread_name_prefix="deliver") as pool:
        list(pool.map(first_pass, range(len(items))))
    for index in sorted(large):
        item = items[index]
        try:
            results[index] = _deliver(batch, item, targets[index],
                                      found[(targets[index].container, targets[index].path)], stream=True)
        except Exception as exc:
            results[index] = _failure(batch, item, exc)

    transient = [r["retry"] for r in results if r.get("retry")]
    if transient and not any(r.get("error") for r in results):
        more = f" (+{len(transient) - MAX_ERRORS_IN_MESSAGE} more)" if len(transient) > MAX_ERRORS_IN_MESSAGE else ""
        raise RuntimeError("; ".join(transient[:MAX_ERRORS_IN_MESSAGE]) + more)
    # a permanent error fails the run anyway: the transient ones are reported with it instead of retried
    results = [{**{k: v for k, v in r.items() if k != "retry"}, "error": r["retry"]} if r.get("retry") else r
               for r in results]
    return {"sink": batch.sink.name, "results": results, "sent_bytes": batch.sent_bytes}


@dataclass(frozen=True)
class _Message:
    text: str
    permanent: bool


def _error_message(label: str, exc: BaseException) -> _Message:
    config_problem = isinstance(exc, (DeliveryConfigError, KeyError, FileNotFoundError))
    text = f"{label}: {exc if config_problem else _describe_error(exc)}"
    if _is_auth_error(exc):
        text = (f"{label}: storage refused the credentials ({_describe_error(exc)}); check the connections of"
                f" the sink and the datastore")
    elif _is_source_changed(exc):
        return _Message(redact(f"{label}: the output changed after delivery was planned ({_describe_error(exc)});"
                               f" redeliver the run to deliver its current version"), True)
    return _Message(redact(text), config_problem or _is_permanent(exc))


def _failure(batch: _Batch, item: dict, exc: BaseException) -> dict:
    base = {"file": item["file"], "destination": item["destination"]}
    if isinstance(exc, engine.CopyVerificationError):
        return {**base, "retry": redact(f"{batch.label(item)}: verification failed: {exc}")}
    message = _error_message(f"{batch.label(item)} ({item['destination']})", exc)
    if message.permanent:
        log.warning("copy failed permanently: %s", message.text)
        return {**base, "error": message.text}
    log.warning("copy failed, will be retried: %s", message.text)
    return {**base, "retry": message.text}


def _deliver(batch: _Batch, item: dict, target: BlobLocation, dst: Optional[engine.BlobFacts], *,
             stream: bool) -> Optional[dict]:
    """One file. With ``stream=False`` returns ``None`` when the file needs chunked streaming (done later)."""
    from azure.core.exceptions import HttpResponseError

    source_loc, source = batch.source(item)
    destination = batch.destination(target)
    if item.get("etag"):
        size, etag, md5, content_type = item["bytes"], item["etag"], item.get("md5"), item.get("content_type")
    else:   # a payload without the plan's facts: ask storage
        src = engine.facts(source)
        if src is None:
            raise FileNotFoundError(f"the output {source_loc.url} no longer exists")
        size, etag, md5, content_type = src.size, src.etag, src.md5, src.content_type
    origin = engine.provenance(source_loc.url, etag, size)
    result = {"file": item["file"], "destination": item["destination"], "bytes": size}

    if dst is not None and dst.copy_status == "pending":
        if dst.copy_source and same_path(dst.copy_source, source_loc.url):
            return {**result, "state": "pending", "method": "server_side"}
        destination.abort_copy(dst.copy_id)  # someone else's copy into our destination: ours replaces it
        dst = None
    if engine.already_delivered(dst, size=size, md5=md5, origin=origin):
        return {**result, "state": "skipped", "method": None, "md5": md5 or dst.md5, "sent_bytes": 0}

    if batch.strategy == "server_side" or (batch.strategy == "auto" and batch.server_side_off is None):
        try:
            status, _ = engine.server_side_copy(batch.sas_url(source), destination, etag, origin, size=size)
        except (engine.CannotSign, HttpResponseError) as exc:
            if batch.strategy == "server_side" or (isinstance(exc, HttpResponseError) and not _fallback_ok(exc)):
                raise
            batch.server_side_off = _describe_error(exc)
            log.info("%s: server-side copy not possible (%s); streaming instead", batch.label(item),
                     batch.server_side_off)
        else:
            if status == "pending":
                return {**result, "state": "pending", "method": "server_side"}
            if status != "success":
                raise engine.CopyVerificationError(f"server-side copy ended {status}")
            # storage moved and checked the bytes; it carries the source's Content-MD5 over
            return {**result, "state": "copied", "method": "server_side", "md5": md5, "sent_bytes": 0}

    if not stream and not engine.fits_one_put(size):
        return None
    progress = engine.stream_copy(source, destination, size=size, etag=etag, origin=origin,
                                  content_type=content_type, source_md5=md5,
                                  budget_bytes=batch.bytes_left(), deadline=batch.deadline)
    batch.sent(progress.sent_bytes)
    state = "copied" if progress.state == "committed" else "partial"
    return {**result, "state": state, "method": "streaming", "md5": progress.md5,
            "sent_bytes": progress.sent_bytes, "staged_bytes": progress.staged_bytes,
            "reused_bytes": progress.reused_bytes}


def _fallback_ok(exc: Any) -> bool:
    """Storage could not copy by itself (cannot reach/authorize the source, or not implemented)."""
    code = _error_code(exc) or ""
    return exc.status_code in (501,) or code in ("CannotVerifyCopySource", "AuthorizationFailure",
                                                 "AuthorizationPermissionMismatch", "FeatureNotSupported",
                                                 "APINotImplemented")


def _common_folder(paths: list[str]) -> str:
    import os.path

    prefix = os.path.commonprefix(paths)
    return prefix[:prefix.rfind("/") + 1]


def _destination_facts(clients: StorageClients, connection: str,
                       targets: list[BlobLocation]) -> dict[tuple[str, str], Optional[engine.BlobFacts]]:
    """What the sink holds at every target: one listing per container and common folder (metadata and copy
    state included), falling back to one HEAD per file only when the listing cannot answer. A missing
    container is created here, once per batch."""
    from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

    service = clients.service(connection)
    by_container: dict[str, list[BlobLocation]] = {}
    for target in targets:
        by_container.setdefault(target.container, []).append(target)
    found: dict[tuple[str, str], Optional[engine.BlobFacts]] = {}
    for container_name, locations in by_container.items():
        wanted = {t.path for t in locations}
        last = max(wanted)
        seen: dict[str, engine.BlobFacts] = {}
        container = service.get_container_client(container_name)
        complete = True
        try:
            limit = max(LIST_LIMIT, 2 * len(wanted))
            for count, props in enumerate(container.list_blobs(name_starts_with=_common_folder(sorted(wanted)),
                                                               include=["metadata", "copy"]), 1):
                if props.name in wanted:
                    seen[props.name] = engine.facts_of(props)
                    if len(seen) == len(wanted):
                        break
                elif props.name > last:
                    # listings come in name order: nothing wanted follows (should storage order some unicode
                    # names differently, a file is merely copied again, never wrongly skipped)
                    break
                if count >= limit:
                    complete = False
                    break
        except ResourceNotFoundError:   # the container does not exist yet
            try:
                container.create_container()
            except ResourceExistsError:
                pass
        except HttpResponseError as exc:
            if not _is_auth_error(exc):
                raise
            complete = False            # e.g. a SAS without list permission: ask file by file
        for path in wanted:
            if path in seen:
                found[(container_name, path)] = seen[path]
            else:
                found[(container_name, path)] = None if complete else engine.facts(container.get_blob_client(path))
    return found


def same_path(a: str, b: str) -> bool:
    from urllib.parse import unquote

    return unquote(a.split("?", 1)[0]).rstrip("/") == unquote(b.split("?", 1)[0]).rstrip("/")


def write_receipt(payload: dict, settings: Optional[AppSettings] = None,
                  clients: Optional[StorageClients] = None) -> dict:
    """``_RESULT.json`` for one sink, written after every file of that sink was verified."""
    from azure.storage.blob import ContentSettings

    settings = settings or load_settings()
    clients = clients or StorageClients()
    route = settings.route(payload["route"])
    sink = route.sink(payload["sink"])
    receipt = {"schema": RECEIPT_SCHEMA, **{k: payload[k] for k in (
        "run_id", "route", "job_name", "sink", "status", "output_uri", "started_at", "completed_at")},
        **{k: payload[k] for k in ("outputs_found_on", "child_run") if payload.get(k)},
        "files": payload["files"],
        "file_count": len(payload["files"]), "total_bytes": sum(f["bytes"] for f in payload["files"])}
    location = parse_blob_url(payload["receipt"])
    try:
        clients.blob(sink.connection, location).upload_blob(
            json.dumps(receipt, indent=1).encode(), overwrite=True,
            content_settings=ContentSettings(content_type="application/json"))
    except Exception as exc:
        message = f"sink {sink.name!r}: writing the receipt {location.url}: {_describe_error(exc)}"
        if _is_permanent(exc):
            return {"error": message}
        raise RuntimeError(message) from None
    return {"sink": sink.name, "receipt": location.url}
