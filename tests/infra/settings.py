"""Which app settings the app reads: found in the code (``environ.get("X")``, ``environ["X"]``, constants named
``*_SETTING``, and the ``{connection}__suffix`` patterns of identity-based connections), in host.json
(``%X%``), and by the Functions host itself (documented conventions, listed here with their reason)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Read by the Functions host or the Azure Monitor exporter, not by this app's Python code.
HOST_READS = {
    "AzureWebJobsStorage__blobServiceUri": "host storage, identity-based (host, Durable task hub, queue trigger)",
    "AzureWebJobsStorage__queueServiceUri": "host storage: Durable queues and the landing-events trigger",
    "AzureWebJobsStorage__tableServiceUri": "host storage: Durable history and instances tables",
    "AzureWebJobsStorage__credential": "host storage: 'managedidentity'",
    "AzureWebJobsStorage__clientId": "host storage: which user-assigned identity",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "the host's Application Insights logger (and shared/telemetry.py)",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Entra auth for the host and the worker's exporter",
}

# Read by the Functions host in the Durable Task Scheduler variant only (main.bicep durableSchedulerSettings).
SCHEDULER_HOST_READS = {
    "DURABLE_TASK_SCHEDULER_CONNECTION_STRING": "the scheduler endpoint and identity, named by connectionStringName",
    "AzureFunctionsJobHost__extensions__durableTask__storageProvider__type": "host.json override: azureManaged",
    "AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName":
        "host.json override: which setting holds the scheduler connection",
}

# Read by the code, deliberately not set in Azure.
OPTIONAL_IN_AZURE = {
    "BATCH_CONFIG_JSON": "the routes document inline; Azure deploys the file config/routes.json (BATCH_CONFIG_PATH)",
    "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": "only to let the Python worker configure Azure Monitor instead"
                                                   " of shared/telemetry.py",
    "RUN_FENCING": "on unless set; 'off' is the crash bench's control (shared/runs/fencing.py), never for Azure",
}

# Set in Azure for code that another area is writing now: remove an entry once the code reads it.
PENDING_READERS: dict[str, str] = {}


def _is_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id == "environ") or \
        (isinstance(node, ast.Attribute) and node.attr == "environ")


def _sources() -> list[Path]:
    return [ROOT / "function_app.py", *sorted((ROOT / "blueprints").rglob("*.py")),
            *sorted((ROOT / "shared").rglob("*.py"))]


def code_reads() -> tuple[set[str], set[str]]:
    """``(setting names read literally, suffixes read for any connection as {connection}__suffix)``."""
    names: set[str] = set()
    suffixes: set[str] = set()
    for path in _sources():
        tree = ast.parse(path.read_text(), str(path))
        constants = {target.id: node.value.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
                     and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
                     for target in node.targets if isinstance(target, ast.Name) and target.id.endswith("_SETTING")}
        names.update(constants.values())
        for node in ast.walk(tree):  # IDENTITY_SUFFIXES = ("blobServiceUri", ...): read as {connection}__<suffix>
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id.endswith("_SUFFIXES")
                                                    for t in node.targets) and isinstance(node.value, ast.Tuple):
                suffixes.update(e.value for e in node.value.elts if isinstance(e, ast.Constant))
        for node in ast.walk(tree):
            key = None
            if isinstance(node, ast.Call) and node.args and (
                    (isinstance(node.func, ast.Attribute) and node.func.attr == "get" and _is_environ(node.func.value))
                    or (isinstance(node.func, ast.Attribute) and node.func.attr == "getenv")):
                key = node.args[0]
            elif isinstance(node, ast.Subscript) and _is_environ(node.value):
                key = node.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                names.add(key.value)
            elif isinstance(key, ast.Name) and key.id in constants:
                names.add(constants[key.id])
            if isinstance(node, ast.JoinedStr) and len(node.values) == 2 and \
                    isinstance(node.values[0], ast.FormattedValue) and isinstance(node.values[1], ast.Constant):
                tail = node.values[1].value
                if isinstance(tail, str) and re.fullmatch(r"__\w+", tail):
                    suffixes.add(tail[2:])
    return names, suffixes


def host_json_reads() -> set[str]:
    return set(re.findall(r"%(\w+)%", (ROOT / "host.json").read_text()))


def deployed_routes_document() -> dict:
    """config/routes.json (what Azure gets); the production-shaped example stands in until a user writes it."""
    path = ROOT / "config" / "routes.json"
    return json.loads((path if path.exists() else ROOT / "config" / "routes.example.json").read_text())


def route_connections(document: dict) -> set[str]:
    connections = {d.get("connection", "AzureWebJobsStorage") for d in document.get("datastores", {}).values()}
    for route in document.get("routes", []):
        connections.add(route.get("match", {}).get("connection", "AzureWebJobsStorage"))
        connections.update(s.get("connection", "AzureWebJobsStorage") for s in route.get("sinks", []))
        queue = (route.get("notify") or {}).get("queue")
        if queue:
            connections.add(queue.get("connection", "AzureWebJobsStorage"))
    return connections


def route_secret_settings(document: dict) -> set[str]:
    return {((r.get("notify") or {}).get("webhook") or {}).get("secret_setting")
            for r in document.get("routes", [])} - {None}
