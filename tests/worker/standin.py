"""A small stand-in for the Functions host, driving the real Python worker library from PyPI.

In Azure the host talks to the Python worker over gRPC (``FunctionRpc.EventStream``): StartStream,
WorkerInitRequest, FunctionsMetadataRequest, FunctionLoadRequest, then one InvocationRequest per trigger,
each carrying the trigger's data as the host converted it. On Python 3.13 the process the host starts is a
thin proxy that hands every request to ``azure_functions_runtime`` in-process; that library is what indexes
``function_app.py``, converts each ``TypedData`` through the app's ``azure.functions`` converters, calls the
function and encodes its answer (on 3.11 see README.md here). This module plays the host and the proxy:

* the gRPC messages are compiled from the host's own ``FunctionRpc.proto`` (vendored in ``protos/``, MIT)
  with grpcio-tools, once per session, and every message is serialised and parsed again on the way in and
  out, as it would be on the wire;
* :meth:`WorkerStandIn.start` sends WorkerInitRequest (the app's folder), FunctionsMetadataRequest and a
  FunctionLoadRequest per function, as the host does for an indexed (v2) app;
* :meth:`WorkerStandIn.invoke` sends an InvocationRequest with the binding data the host sends for each
  trigger kind (see the ``*_binding`` builders) and returns the worker's InvocationResponse.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import sys
import types
import uuid
from pathlib import Path
from typing import Any, Optional

PROTOS = Path(__file__).resolve().parent / "protos"
REPO = Path(__file__).resolve().parents[2]
PACKAGE = "functions_rpc_protos"


def compile_protos(out_dir: Path) -> types.SimpleNamespace:
    """Compile the vendored protos into ``out_dir/functions_rpc_protos`` and return the namespace the worker
    library expects as ``protos`` (the messages of FunctionRpc.proto and NullableTypes.proto by name)."""
    from grpc_tools import protoc

    target = out_dir / PACKAGE
    target.mkdir(parents=True, exist_ok=True)
    include = str(Path(protoc.__file__).parent / "_proto")
    sources = ["FunctionRpc.proto", "identity/ClaimsIdentityRpc.proto", "shared/NullableTypes.proto"]
    code = protoc.main(["protoc", f"-I{PROTOS}", f"-I{include}", f"--python_out={target}", *sources])
    if code != 0:
        raise RuntimeError(f"protoc failed ({code})")
    for sub in ("", "identity", "shared"):
        (target / sub / "__init__.py").touch()
    # protoc writes top-level imports (``from identity import ...``); ``shared`` is also this app's package
    for generated in target.rglob("*_pb2.py"):
        text = re.sub(r"^from (identity|shared) import", rf"from {PACKAGE}.\1 import", generated.read_text(),
                      flags=re.M)
        generated.write_text(text)
    sys.path.insert(0, str(out_dir))
    rpc = importlib.import_module(f"{PACKAGE}.FunctionRpc_pb2")
    nullable = importlib.import_module(f"{PACKAGE}.shared.NullableTypes_pb2")
    names = {name: getattr(module, name) for module in (rpc, nullable) for name in dir(module)
             if isinstance(getattr(module, name), type)}
    return types.SimpleNamespace(**names)


def wire(message: Any) -> Any:
    """The message as the other side reads it: serialised and parsed again."""
    copy = type(message)()
    copy.ParseFromString(message.SerializeToString())
    return copy


class Request:
    """What the proxy worker hands the library: the StreamingMessage and the host's properties."""

    def __init__(self, message: Any, protos: Any):
        self.request = message
        self.properties = {"host": "127.0.0.1", "protos": protos}


def _take_app_modules() -> dict:
    """Remove ``function_app`` and its blueprints from ``sys.modules`` (a blueprint holds its functions, so an
    app imported afresh needs fresh blueprints too); returns what was removed."""
    names = [n for n in sys.modules if n == "function_app" or n == "blueprints" or n.startswith("blueprints.")]
    return {name: sys.modules.pop(name) for name in names}


class WorkerStandIn:
    """The host and the 3.13 proxy worker around ``azure_functions_runtime``, on one private event loop."""

    def __init__(self, protos: Any, app_dir: Path = REPO):
        self.protos = protos
        self.app_dir = app_dir
        self.loop = asyncio.new_event_loop()
        self.functions: dict[str, Any] = {}   # name → RpcFunctionMetadata (function_id, bindings)
        self.loop_of_host: Optional[asyncio.AbstractEventLoop] = None
        self.invoked: set[str] = set()        # functions invoked so far (tests check every trigger kind was)
        import azure_functions_runtime as runtime

        self.runtime = runtime

    def _send(self, handler: Any, **content: Any) -> Any:
        message = wire(self.protos.StreamingMessage(request_id=uuid.uuid4().hex, **content))
        call = handler(Request(message, self.protos))
        if self.loop_of_host is not None:  # the worker process has one event loop; here it is the local host's
            return wire(asyncio.run_coroutine_threadsafe(call, self.loop_of_host).result(timeout=120))
        return wire(self.loop.run_until_complete(call))

    def start(self) -> "WorkerStandIn":
        p = self.protos
        # The worker is a process of its own: it imports function_app afresh (its own app object, indexed once
        # by the worker), and the local host and the tests keep theirs.
        theirs = _take_app_modules()
        try:
            self._initialise()
        finally:
            self.app_module = _take_app_modules().get("function_app")
            sys.modules.update(theirs)
        return self

    def _initialise(self) -> None:
        p = self.protos
        self.runtime.start_threadpool_executor()
        init = self._send(self.runtime.worker_init_request, worker_init_request=p.WorkerInitRequest(
            host_version="4.1037.0", function_app_directory=str(self.app_dir),
            capabilities={"RpcHttpBodyOnly": "true", "RawHttpBodyBytes": "true", "TypedDataCollection": "true"}))
        self._check(init.result, "WorkerInitRequest")
        metadata = self._send(self.runtime.functions_metadata_request,
                              functions_metadata_request=p.FunctionsMetadataRequest(
                                  function_app_directory=str(self.app_dir)))
        self._check(metadata.result, "FunctionsMetadataRequest")
        for item in metadata.function_metadata_results:
            loaded = self._send(self.runtime.function_load_request, function_load_request=p.FunctionLoadRequest(
                function_id=item.function_id, metadata=item))
            self._check(loaded.result, f"FunctionLoadRequest {item.name}")
            self.functions[item.name] = item

    def stop(self) -> None:
        self.runtime.stop_threadpool_executor()
        self.loop.close()

    def _check(self, result: Any, what: str) -> None:
        if result.status != self.protos.StatusResult.Success:
            raise AssertionError(f"{what} failed: {result.exception.message}\n{result.exception.stack_trace}")

    def bindings(self, name: str) -> dict[str, dict]:
        """The function's bindings as the worker declared them to the host (binding name → raw binding JSON)."""
        return {json.loads(raw)["name"]: json.loads(raw) for raw in self.functions[name].raw_bindings}

    def trigger_kind(self, name: str) -> str:
        return next(b["type"] for b in self.bindings(name).values() if b["type"].endswith("Trigger"))

    def invoke(self, name: str, inputs: dict[str, Any], trigger_metadata: Optional[dict[str, Any]] = None) -> Any:
        """One InvocationRequest: ``inputs`` maps binding name → TypedData; returns the InvocationResponse."""
        p = self.protos
        self.invoked.add(name)
        request = p.InvocationRequest(
            invocation_id=str(uuid.uuid4()), function_id=self.functions[name].function_id,
            input_data=[p.ParameterBinding(name=key, data=value) for key, value in inputs.items()],
            trigger_metadata=trigger_metadata or {})
        return self._send(self.runtime.invocation_request, invocation_request=request)

    # --- the binding data the host sends ------------------------------------------------------------------
    def http(self, method: str, url: str, *, headers: dict[str, str], query: list[tuple[str, str]],
             route_params: dict[str, str], body: bytes) -> Any:
        """An HTTP trigger's RpcHttp. The host gives the query as one string per name: ASP.NET's
        ``IQueryCollection`` value of a repeated name is its values joined with ','; the body arrives as
        bytes (the worker declared RawHttpBodyBytes and RpcHttpBodyOnly)."""
        p = self.protos
        joined: dict[str, str] = {}
        for key, value in query:
            joined[key] = f"{joined[key]},{value}" if key in joined else value
        return p.TypedData(http=p.RpcHttp(
            method=method, url=url, headers=headers, query=joined, params=route_params,
            body=p.TypedData(bytes=body), rawBody=p.TypedData(bytes=body),
            nullable_headers={k: p.NullableString(value=v) for k, v in headers.items()},
            nullable_query={k: p.NullableString(value=v) for k, v in joined.items()},
            nullable_params={k: p.NullableString(value=v) for k, v in route_params.items()}))

    def json(self, value: Any) -> Any:
        return self.protos.TypedData(json=value if isinstance(value, str) else json.dumps(value))

    def string(self, value: str) -> Any:
        return self.protos.TypedData(string=value)

    def queue_metadata(self, *, message_id: str, dequeue_count: int, inserted: str, expires: str,
                       next_visible: str, pop_receipt: str) -> dict[str, Any]:
        """The trigger metadata of a queue message (the Storage extension's binding data)."""
        p = self.protos
        return {"Id": p.TypedData(string=message_id), "DequeueCount": p.TypedData(json=str(dequeue_count)),
                "InsertionTime": p.TypedData(json=json.dumps(inserted)),
                "ExpirationTime": p.TypedData(json=json.dumps(expires)),
                "NextVisibleTime": p.TypedData(json=json.dumps(next_visible)),
                "PopReceipt": p.TypedData(string=pop_receipt)}


def answer_value(response: Any) -> Any:
    """The InvocationResponse's return value as plain Python (``None`` when there is none)."""
    if not response.HasField("return_value"):
        return None
    data = response.return_value
    kind = data.WhichOneof("data")
    if kind == "http":
        http = data.http
        body = getattr(http.body, http.body.WhichOneof("data")) if http.body.WhichOneof("data") else b""
        return {"status": int(http.status_code or 200), "headers": {k.lower(): v for k, v in http.headers.items()},
                "body": body.encode() if isinstance(body, str) else bytes(body)}
    return getattr(data, kind) if kind else None
