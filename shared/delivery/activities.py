"""Delivery activity bodies: plan, copy one file to one sink, write a sink's receipt, notify.

Inputs and outputs are plain JSON (they are stored in Durable history): locations, names, sizes and
checksums, never a SAS, key or token. Configuration (sinks, connections, notification targets) is read here
from the app's settings, not taken from the payload, so history cannot redirect a copy.

Error convention (as in ``shared/activities.py``): a permanent problem is *returned* as ``{"error": ...}``
naming the sink and the file, so the run fails at once with that message; a transient one raises (with the
same naming), so the orchestration's retry policy applies.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import timedelta
from typing import Any, Mapping, Optional

from .. import telemetry
from ..config import AppSettings, load_settings
from ..config.models import Route
from ..storage.uris import BlobLocation, parse_blob_url, resolve_azureml_uri, same_account
from . import copy as engine
from .sinks import receipt_location, relative_name, sink_location

log = logging.getLogger(__name__)

RECEIPT_SCHEMA = "batch-delivery-receipt/1"


class DeliveryConfigError(Exception):
    """A sink or datastore cannot be reached as configured (permanent)."""


class StorageClients:
    """Blob clients by connection name (the Functions convention, via ``shared.storage.connections``).

    ``client_kwargs`` (e.g. ``transport=``, ``retry_total=``) build fresh clients from the connection string
    instead of the shared cache; tests use it to inject faults at the HTTP boundary.
    """

    def __init__(self, environ: Mapping[str, str] = os.environ, **client_kwargs: Any):
        self.environ = environ
        self.client_kwargs = client_kwargs
        self._services: dict[str, Any] = {}

    def service(self, connection: str) -> Any:
        from ..config.loader import is_loopback_url
        from ..storage.connections import AZURITE_API_VERSION, account_url_of, blob_service_client

        if connection not in self._services:
            if not self.client_kwargs:
                self._services[connection] = blob_service_client(connection, self.environ)
            else:
                from azure.storage.blob import BlobServiceClient

                value = self.environ.get(connection) or ""
                if not value or value.lower().startswith("usedevelopmentstorage"):
                    raise DeliveryConfigError(f"connection {connection!r}: client options need a full"
                                              " connection string")
                extra = {"api_version": AZURITE_API_VERSION} \
                    if is_loopback_url(account_url_of(connection, self.environ)) else {}
                self._services[connection] = BlobServiceClient.from_connection_string(
                    value, **extra, **self.client_kwargs)
        return self._services[connection]

    def blob(self, connection: str, location: BlobLocation) -> Any:
        """A blob client for ``location``; the connection must reach that location's account."""
        from ..storage.connections import StorageConnectionError

        try:
            service = self.service(connection)
        except StorageConnectionError as exc:
            raise DeliveryConfigError(str(exc)) from None
        if not same_account(service.url.rstrip("/"), location.account_url):
            raise DeliveryConfigError(f"connection {connection!r} reaches {service.url.rstrip('/')}, not the"
                                      f" account of {location.url}")
        return service.get_blob_client(location.container, location.path)

    def key(self, connection: str) -> Optional[tuple[str, str]]:
        from ..storage.connections import key_credential

        return key_credential(connection, self.environ)


def _describe_error(exc: BaseException) -> str:
    """Status, error code and the first line of the message, without SAS or keys."""
    from azure.core.exceptions import HttpResponseError

    if isinstance(exc, HttpResponseError):
        code = getattr(exc, "error_code", None) or (exc.response.headers.get("x-ms-error-code")
                                                     if exc.response is not None else None)
        code = getattr(code, "value", code)
        status = exc.status_code
        first = (exc.reason or str(exc).splitlines()[0] if str(exc) else "").strip()
        return engine.redact(f"HTTP {status} {code or ''} {first}".replace("  ", " ").strip())
    return engine.redact(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".strip())


def _is_auth_error(exc: BaseException) -> bool:
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    return isinstance(exc, ClientAuthenticationError) or (
        isinstance(exc, HttpResponseError) and exc.status_code in (401, 403))


def _is_permanent(exc: BaseException) -> bool:
    from azure.core.exceptions import HttpResponseError

    if _is_auth_error(exc) or isinstance(exc, DeliveryConfigError):
        return True
    return isinstance(exc, HttpResponseError) and exc.status_code in (400, 404, 405, 409, 411, 413, 416) \
        and getattr(exc, "error_code", None) not in ("ContainerNotFound",)


def _files(settings: AppSettings, route: Route, run: dict, clients: StorageClients) -> tuple[Any, list[dict]]:
    datastore, output = resolve_azureml_uri(run["output_uri"], settings.datastores)
    if route.output.action == "summary_only":
        folder = output.path.rsplit("/", 1)[0] if "/" in output.path else ""
        container = clients.service(datastore.connection).get_container_client(output.container)
        prefix = folder + "/" if folder else ""
        files = []
        for item in container.list_blobs(name_starts_with=prefix, include=["metadata"]):
            if (item.metadata or {}).get("hdi_isfolder") == "true":
                continue  # ADLS directory placeholder
            files.append({"file": relative_name(folder, item.name), "path": item.name, "bytes": item.size})
        files.sort(key=lambda f: f["file"])
        if not files:
            raise FileNotFoundError(f"the job wrote no files under {BlobLocation(output.account_url, output.container, prefix).url}")
        return datastore, files
    found = engine.facts(clients.blob(datastore.connection, output))
    if found is None:
        raise FileNotFoundError(f"the job's output file {output.url} does not exist")
    return datastore, [{"file": output.path.rsplit("/", 1)[-1], "path": output.path, "bytes": found.size}]


def plan_delivery(payload: dict, settings: Optional[AppSettings] = None,
                  clients: Optional[StorageClients] = None) -> dict:
    """Locate the outputs and render every (sink, file) destination. Pure data out; nothing is copied."""
    settings = settings or load_settings()
    clients = clients or StorageClients()
    run = payload["run"]
    route = settings.route(run["route"])
    if not route.sinks:
        return {"files": [], "sinks": [], "copies": []}
    try:
        datastore, files = _files(settings, route, run, clients)
    except (FileNotFoundError, KeyError, DeliveryConfigError) as exc:
        return {"error": f"locating the outputs of {run['output_uri']}: {exc}"}
    except Exception as exc:
        if _is_permanent(exc):
            return {"error": f"locating the outputs of {run['output_uri']}: {_describe_error(exc)}"}
        raise RuntimeError(f"locating the outputs of {run['output_uri']}: {_describe_error(exc)}") from None
    date = (run.get("requested_at") or "")[:10]  # the run's date, so a redrive renders the same paths
    copies, sinks = [], []
    for sink in route.sinks:
        destinations = []
        for f in files:
            try:
                target = sink_location(sink, route=route.name, folder=run["input"].get("folder", ""),
                                       run_id=run["run_id"], date=date, file_name=f["file"])
                clients.blob(sink.connection, target)  # validates the connection and the account
            except (ValueError, DeliveryConfigError) as exc:
                return {"error": f"sink {sink.name!r}: file {f['file']!r}: {exc}"}
            destinations.append(target)
            copies.append({"sink": sink.name, "file": f["file"], "source_path": f["path"], "bytes": f["bytes"],
                           "destination": target.url})
        sinks.append({"sink": sink.name, "receipt": receipt_location(destinations).url})
    return {"datastore": datastore.name, "files": files, "sinks": sinks, "copies": copies,
            "copy_timeout_minutes": route.delivery.copy_timeout_minutes}


@telemetry.traced("copy")
def copy_output(payload: dict, settings: Optional[AppSettings] = None,
                clients: Optional[StorageClients] = None) -> dict:
    """Copy one output file to one sink, or find it already there; verified by length and MD5.

    Returns ``state``: ``skipped`` (an identical copy exists), ``copied`` (copied and verified) or ``pending``
    (a server-side copy is still running; call again later: the call is idempotent and then verifies it).
    """
    settings = settings or load_settings()
    clients = clients or StorageClients()
    route = settings.route(payload["route"])
    label = f"sink {payload['sink']!r}: file {payload['file']!r}"
    result = {"sink": payload["sink"], "file": payload["file"], "destination": payload["destination"]}
    try:
        sink = route.sink(payload["sink"])
        datastore = settings.datastores[payload["datastore"]]
        source_loc = BlobLocation(datastore.account_url, datastore.container, payload["source_path"])
        source = clients.blob(datastore.connection, source_loc)
        target = parse_blob_url(payload["destination"])
        destination = clients.blob(sink.connection, target)
        container = clients.service(sink.connection).get_container_client(target.container)
        outcome = _copy_verified(route, datastore.connection, clients, source, destination, container, label)
    except engine.CopyVerificationError as exc:
        raise RuntimeError(f"{label}: verification failed: {exc}") from None  # transient: a retry re-copies
    except Exception as exc:
        config_problem = isinstance(exc, (DeliveryConfigError, KeyError, FileNotFoundError))
        message = f"{label} ({payload['destination']}): {exc if config_problem else _describe_error(exc)}"
        if _is_auth_error(exc):
            message = (f"{label} ({payload['destination']}): storage refused the credentials"
                       f" ({_describe_error(exc)}); check the connections of the sink and the datastore")
        if config_problem or _is_permanent(exc):
            log.warning("copy failed permanently: %s", message)
            return {**result, "error": message}
        log.warning("copy failed, will be retried: %s", message)
        raise RuntimeError(message) from None
    return {**result, **outcome}


def _copy_verified(route: Route, source_connection: str, clients: StorageClients,
                   source: Any, destination: Any, container: Any, label: str) -> dict:
    from azure.core.exceptions import HttpResponseError

    src = engine.facts(source)
    if src is None:
        raise FileNotFoundError(f"the output {source.url} no longer exists")
    source_md5 = _Lazy(lambda: src.md5 or engine.blob_md5(source, src.size, src.etag))

    dst = _destination_facts(destination, container)
    if dst is not None and dst.copy_status == "pending":
        if dst.copy_source and same_path(dst.copy_source, source.url):
            return {"state": "pending", "method": "server_side", "bytes": src.size}
        destination.abort_copy(dst.copy_id)  # someone else's copy into our destination: ours replaces it
        dst = engine.facts(destination)
    if dst is not None and _identical(destination, dst, src, source_md5):
        return {"state": "skipped", "method": None, "bytes": src.size, "md5": source_md5()}

    method = "streaming"
    if route.delivery.strategy != "streaming":
        try:
            sas_url = engine.source_sas_url(source, clients.service(source_connection), clients.key(source_connection),
                                            valid_for=timedelta(minutes=route.delivery.copy_timeout_minutes + 60))
            status, _ = engine.server_side_copy(sas_url, destination, src.etag)
            del sas_url
            method = "server_side"
            if status == "pending":
                return {"state": "pending", "method": method, "bytes": src.size}
            if status != "success":
                raise engine.CopyVerificationError(f"server-side copy ended {status}")
        except (engine.CannotSign, HttpResponseError) as exc:
            if route.delivery.strategy == "server_side" or (isinstance(exc, HttpResponseError) and not _fallback_ok(exc)):
                raise
            log.info("%s: server-side copy not possible (%s); streaming instead", label, _describe_error(exc))
    if method == "streaming":
        md5 = engine.stream_copy(source, destination, size=src.size, etag=src.etag, content_type=src.content_type,
                                 expected_md5=src.md5, chunk_bytes=engine.CHUNK_BYTES, window=engine.WINDOW)
        source_md5.value = src.md5 or md5
    dst = engine.facts(destination)
    if dst is None or not _identical(destination, dst, src, source_md5):
        raise engine.CopyVerificationError(
            f"destination has {dst.size if dst else 'no'} bytes, MD5 {dst.md5 if dst else None};"
            f" source has {src.size} bytes, MD5 {source_md5()}")
    return {"state": "copied", "method": method, "bytes": src.size, "md5": source_md5()}


def _fallback_ok(exc: Any) -> bool:
    """Storage could not copy by itself (cannot reach/authorize the source, or not implemented)."""
    code = getattr(exc, "error_code", None) or ""
    return exc.status_code in (501,) or code in ("CannotVerifyCopySource", "AuthorizationFailure",
                                                 "AuthorizationPermissionMismatch", "FeatureNotSupported",
                                                 "APINotImplemented")


def _destination_facts(destination: Any, container: Any) -> Optional[engine.BlobFacts]:
    """The destination's state; creates the sink's container when it is missing."""
    from azure.core.exceptions import ResourceExistsError

    found = engine.facts(destination)
    if found is None:
        try:
            container.create_container()
        except ResourceExistsError:
            pass
    return found


class _Lazy:
    def __init__(self, compute):
        self.compute = compute
        self.value: Optional[str] = None

    def __call__(self) -> str:
        if self.value is None:
            self.value = self.compute()
        return self.value


def _identical(destination: Any, dst: engine.BlobFacts, src: engine.BlobFacts, source_md5: _Lazy) -> bool:
    """Same length and same MD5. A destination without an MD5 is hashed once and then labelled with it."""
    if dst.size != src.size or dst.copy_status not in (None, "success"):
        return False
    if dst.md5 is not None:
        return dst.md5 == source_md5()
    actual = engine.blob_md5(destination, dst.size, dst.etag)
    if actual != source_md5():
        return False
    engine.set_md5(destination, actual, src.content_type)
    return True


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
