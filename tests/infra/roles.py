"""Every role assignment infra/ makes, read from the templates: who gets which role on what, and under which
condition. tests/infra/test_roles.py judges the list; tests/infra/conftest.py prints it as a table.

Role names come from GUIDs (built-in roles) or from a ``Microsoft.Authorization/roleDefinitions`` resource
in the same file (custom roles, whose actions are read too)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional

from tests.infra.bicep import GUID, INFRA, body, main, module_calls, parse, walk
from tests.infra.settings import deployed_routes_document

ROLE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments"
ROLE_DEFINITION = "Microsoft.Authorization/roleDefinitions"

# Built-in roles infra/ may use, by GUID (Azure's built-in role definitions).
BUILT_IN = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
    "db58b8e5-c6ad-4a2a-8342-4190687cbf4a": "Storage Blob Delegator",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a": "Storage Queue Data Message Sender",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    "0ad04412-c4d5-4796-b79c-f76d14c8d402": "Durable Task Data Contributor",
}

# Built-in roles that can read secrets or keys (listKeys, listSecrets, listStorageAccountKeys, readSecrets, or a
# `*/action` wildcard that includes them). None of them may be assigned.
SECRET_READING_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner (*)",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor (*, includes listKeys)",
    "f6c7c914-8db3-469d-8ca1-694a8f32e121": "AzureML Data Scientist (workspaces/*/action: datastores/listsecrets)",
    "17d1049b-9a84-46fb-8f53-869881c3d3ab": "Storage Account Contributor (storageAccounts/listKeys)",
    "81a9662b-bebf-436f-a333-f67b29880f12": "Storage Account Key Operator Service Role (listKeys)",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User (secrets/getSecret)",
}
# An action that reads a secret or a key, or a wildcard that could.
SECRET_ACTION_WORDS = ("listkeys", "listsecrets", "liststorageaccountkeys", "readsecrets", "/secrets/",
                       "regeneratekey", "listcredentials", "*")

# Roles that write or delete data (a write on a whole account reaches every container in it).
DATA_WRITE_ROLES = {"Storage Blob Data Owner", "Storage Blob Data Contributor", "Storage Queue Data Contributor",
                    "Storage Queue Data Message Sender", "Storage Table Data Contributor"}

# Which "on" of the Roles table (docs/deploy.md) a role assignment resource's scope is, by module file and
# scope symbol; and its kind.
SCOPES = {
    ("host-storage.bicep", "storage"): ("host storage account", "account"),
    ("monitoring.bicep", "applicationInsights"): ("Application Insights", "resource"),
    ("aml.bicep", "workspace"): ("Azure ML workspace", "resource"),
    ("event-grid-access.bicep", "deadLetter"): ("dead-letter container", "container"),
    ("event-grid-access.bicep", "landingQueue"): ("landing-events queue", "queue"),
    ("host-storage.bicep", "landingQueue"): ("landing-events queue", "queue"),
    ("host-storage.bicep", "poisonQueue"): ("landing-events-poison queue", "queue"),
    ("host-storage.bicep", "notifyQueues"): ("notification queues", "queue"),
    ("durable-task-scheduler.bicep", "taskHub"): ("Durable task hub", "resource"),
}
BACKENDS = ("AzureStorage", "DurableTaskScheduler")
# Modules deployed for one backend only, by their condition in main.bicep.

# Which "on" of the Roles table (docs/deploy.md) a storage-role.bicep call is, by account parameter:
# (whole account, its containers).
STORAGE_ROLE_SCOPES = {
    "landingName": ("landing account", "landing containers"),
    "curatedName": ("curated account", "sink containers"),
    "amlDatastoreStorageAccountName": ("datastore account", "datastore container"),
}
PRINCIPALS = {"appPrincipalId": "app", "topicPrincipalId": "landing topic"}


@dataclass(frozen=True)
class CustomRole:
    name: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    data_actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Assignment:
    role: str                  # the built-in role's name, or the custom role's name
    role_id: str               # a built-in GUID, or "custom"
    principal: str             # "app" | "landing topic"
    on: str                    # the Roles table's "on" (docs/deploy.md)
    kind: str                  # "account" | "containers" | "container" | "queue" | "resource"
    where: str                 # file:symbol
    condition: str = ""        # the Bicep condition, if any (other than the Durable backend)
    custom: Optional[CustomRole] = field(default=None, compare=False)
    backends: tuple[str, ...] = BACKENDS  # the durableBackend values it is deployed with


def _strings(value) -> list[str]:
    return [v for v in walk(value) if isinstance(v, str)]


def _role(expression, document: dict) -> tuple[str, str, Optional[CustomRole]]:
    variables = document.get("variables", {})
    definitions = {symbol: body(d) for symbol, d in document.get("resources", {}).items()
                   if d["type"] == ROLE_DEFINITION}
    for name in reversed(_strings(expression)):
        if name in definitions:
            return "custom", *_custom(definitions[name], variables)
        guid = name if GUID.fullmatch(name) else None
        if guid is None and name in variables and isinstance(variables[name]["value"], str):
            guid = variables[name]["value"]
        roles = variables.get("roles", {}).get("value", {})
        if guid is None and isinstance(roles, dict) and name in roles:
            guid = roles[name]
        if guid is not None:
            return guid, BUILT_IN.get(guid) or SECRET_READING_ROLES.get(guid) or f"unknown {guid}", None
    raise AssertionError(f"cannot resolve role definition {expression}")


def _array(value, variables: dict) -> list[str]:
    """A literal array, or variables joined with concat()/union()."""
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    if isinstance(value, str) and value in variables:
        return _array(variables[value]["value"], variables)
    if isinstance(value, dict) and "function" in value and value["function"]["type"] in ("concat", "union"):
        return [a for arg in value["function"]["parameters"].values() for a in _array(arg, variables)]
    raise AssertionError(f"not a literal list of actions: {json.dumps(value, default=str)[:200]}")


def _custom(definition: dict, variables: dict) -> tuple[str, CustomRole]:
    props = definition["properties"]
    [permissions] = props["permissions"]
    role = CustomRole(name=str(props["roleName"]).split(" (")[0],
                      actions=tuple(_array(permissions.get("actions", []), variables)),
                      not_actions=tuple(_array(permissions.get("notActions", []), variables)),
                      data_actions=tuple(_array(permissions.get("dataActions", []), variables)))
    return role.name, role


def _condition(declaration: dict) -> tuple[str, tuple[str, ...]]:
    """``(condition text, backends)``: a condition or loop on ``durableOnStorage`` picks the backend."""
    config = declaration["config"]
    condition = config.get("condition")
    loop = (config.get("loop_type") or {}).get("detail", {}).get("array_name")
    if condition is None and isinstance(loop, dict) and "conditional" in json.dumps(loop):
        operands = loop["operator"]["operands"]
        if operands["condition"] == "durableOnStorage":  # durableOnStorage ? [] : names
            assert operands["true_value"] == [], loop
            return "", ("DurableTaskScheduler",)
    if condition == "durableOnStorage":
        return "", ("AzureStorage",)
    if condition == {"operator": {"type": "not", "operands": {"bool_value": "durableOnStorage"}}}:
        return "", ("DurableTaskScheduler",)
    assert "durableOnStorage" not in json.dumps(condition, default=str), condition
    text = "" if condition is None else condition if isinstance(condition, str) else json.dumps(condition, default=str)
    return text, BACKENDS


def _module_backends() -> dict[str, tuple[str, ...]]:
    """Module file name → the backends main.bicep deploys it with."""
    found = {}
    for _, symbol, _, module in module_calls():
        _, backends = _condition(main()["modules"][symbol])
        found[module.name] = backends
    return found


def assignments() -> list[Assignment]:
    found = []
    module_backends = _module_backends()
    for path in sorted((INFRA / "modules").glob("*.bicep")):
        if path.name == "storage-role.bicep":
            continue  # its callers say what it is for (below)
        document = parse(path)
        for symbol, declaration in document.get("resources", {}).items():
            if declaration["type"] != ROLE_ASSIGNMENT:
                continue
            config = body(declaration)
            index = (declaration["config"].get("loop_type") or {}).get("detail", {}).get("index_name")
            scope = [v for v in _strings(config["scope"]) if v not in ("id", index)][-1]
            assert (path.name, scope) in SCOPES, f"{path.name}:{symbol} assigns a role on an unlisted scope {scope}"
            on, kind = SCOPES[(path.name, scope)]
            role_id, role, custom = _role(config["properties"]["roleDefinitionId"], document)
            principal = PRINCIPALS[config["properties"]["principalId"]]
            condition, backends = _condition(declaration)
            backends = tuple(b for b in backends if b in module_backends[path.name])
            found.append(Assignment(role, role_id, principal, on, kind, f"{path.name}:{symbol}",
                                    condition, custom, backends))
    document = main()
    for caller, symbol, config, module in module_calls():
        if module.name != "storage-role.bicep":
            continue
        params = config["params"]
        assert "identity" in str(params["principalId"]), f"{symbol}: a role for someone else than the app"
        scope = params["scope"]
        assert params["storageAccountName"] in STORAGE_ROLE_SCOPES, f"{symbol}: a role on an unlisted account"
        on = STORAGE_ROLE_SCOPES[params["storageAccountName"]][scope == "containers"]
        role_id, role, _ = _role(params["roleDefinitionId"], document)
        condition, backends = _condition(document["modules"][symbol])
        found.append(Assignment(role, role_id, "app", on, scope, f"{caller.name}:{symbol}", condition,
                                backends=backends))
    return found


# --- what the scopes hold for the deployed routes document (config/routes.json, else the example) ----------

def _container_of(url: str) -> str:
    if url.lower().startswith("abfss://"):
        return url.split("/")[2].split("@")[0]
    return url.split("/")[3]


def landing_containers(document: Optional[dict] = None) -> list[str]:
    """main.bicep's landingContainers: the containers of the routes whose match.connection is LANDING."""
    document = document or deployed_routes_document()
    return sorted({r["match"]["container"] for r in document.get("routes", [])
                   if r.get("match", {}).get("connection", "AzureWebJobsStorage") == "LANDING"})


def sink_containers(document: Optional[dict] = None, *, curated_on_landing: bool = True) -> list[str]:
    """main.bicep's curatedWritableContainers: the containers of the CURATED sinks, less landing containers when
    the curated account is the landing account (the default)."""
    document = document or deployed_routes_document()
    containers = {_container_of(s["url"]) for r in document.get("routes", []) for s in r.get("sinks", [])
                  if s.get("connection", "AzureWebJobsStorage") == "CURATED"}
    if curated_on_landing:
        containers -= set(landing_containers(document))
    return sorted(containers)


def scope_values() -> dict[str, str]:
    document = deployed_routes_document()
    return {"landing containers": ", ".join(landing_containers(document)) or "(none)",
            "sink containers": ", ".join(sink_containers(document)) or "(none)"}


def for_backend(backend: str) -> list[Assignment]:
    return [a for a in assignments() if backend in a.backends]


def table() -> list[str]:
    """The role table, one line per assignment."""
    rows = [("to", "role", "on", "kind", "when", "durableBackend", "where")]
    values = scope_values()
    for a in assignments():
        on = f"{a.on}: {values[a.on]}" if a.on in values else a.on
        role = f"{a.role} (custom: {len(a.custom.actions)} actions)" if a.custom else a.role
        backends = "both" if a.backends == BACKENDS else ", ".join(a.backends)
        rows.append((a.principal, role, on, a.kind, a.condition or "always", backends, a.where))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
