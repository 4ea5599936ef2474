"""Each role README's "Roles" table lists is assigned by infra/, to whom and on what it says, and infra/
assigns nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from tests.infra.bicep import GUID, INFRA, ROOT, body, main, module_calls, parse, walk

ROLE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments"
# Which README "on" a role assignment resource's scope is, by module file and scope symbol.
SCOPES = {
    ("host-storage.bicep", "storage"): "host storage account",
    ("monitoring.bicep", "applicationInsights"): "Application Insights",
    ("aml.bicep", "workspace"): "Azure ML workspace",
    ("event-grid-access.bicep", "deadLetter"): "dead-letter container",
    ("event-grid-access.bicep", "landingQueue"): "landing-events queue",
}
# Which README "on" a storage-role.bicep call in main.bicep is, by account and whether a container is named.
ACCOUNTS = {
    ("landingName", False): "landing account",
    ("curatedName", False): "curated account",
    ("amlDatastoreStorageAccountName", True): "datastore container",
    ("amlDatastoreStorageAccountName", False): "datastore account",
}
PRINCIPALS = {"appPrincipalId": "app", "topicPrincipalId": "landing topic"}


def readme_roles() -> set[tuple[str, str, str, str]]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Roles"):]
    section = section[:section.index("\n### ", 5)]
    rows = set()
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and GUID.search(cells[1]):
            rows.add((cells[0], GUID.search(cells[1]).group(0), cells[2], cells[3]))
    return rows


def _role_id(expression, variables: dict) -> str:
    names = [v for v in walk(expression) if isinstance(v, str)]
    for name in reversed(names):
        if GUID.fullmatch(name):
            return name
        if name in variables and isinstance(variables[name]["value"], str):
            return variables[name]["value"]
        roles = variables.get("roles", {}).get("value", {})
        if isinstance(roles, dict) and name in roles:
            return roles[name]
    raise AssertionError(f"cannot resolve role definition {expression}")


def assigned_roles() -> set[tuple[str, str, str]]:
    found = set()
    for path in sorted((INFRA / "modules").glob("*.bicep")):
        document = parse(path)
        variables = document.get("variables", {})
        for symbol, declaration in document.get("resources", {}).items():
            if declaration["type"] != ROLE_ASSIGNMENT or path.name == "storage-role.bicep":
                continue
            config = body(declaration)
            scope = [v for v in walk(config["scope"]) if isinstance(v, str) and v != "id"][-1]
            assert (path.name, scope) in SCOPES, f"{path.name}:{symbol} assigns a role on an unlisted scope {scope}"
            principal = config["properties"]["principalId"]
            found.add((_role_id(config["properties"]["roleDefinitionId"], variables),
                       PRINCIPALS[principal], SCOPES[(path.name, scope)]))
    variables = main()["variables"]
    for caller, symbol, config, module in module_calls():
        if module.name != "storage-role.bicep":
            continue
        params = config["params"]
        assert "identity" in str(params["principalId"]), f"{symbol}: a role for someone else than the app"
        on = ACCOUNTS[(params["storageAccountName"], "containerName" in params)]
        found.add((_role_id(params["roleDefinitionId"], variables), "app", on))
    return found


def test_the_readme_table_is_there():
    rows = readme_roles()
    assert len(rows) >= 10
    names = {name for name, *_ in rows}
    assert {"Storage Blob Delegator", "Storage Queue Data Contributor", "Storage Queue Data Message Sender",
            "AzureML Data Scientist"} <= names


def test_every_role_readme_lists_is_assigned_and_nothing_more():
    listed = {(guid, who, on) for _, guid, who, on in readme_roles()}
    assigned = assigned_roles()
    assert listed - assigned == set(), f"in README, not assigned: {sorted(listed - assigned)}"
    assert assigned - listed == set(), f"assigned, not in README: {sorted(assigned - listed)}"


def test_role_names_match_their_guids():
    known = {  # Azure built-in role definitions
        "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
        "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
        "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
        "Storage Blob Delegator": "db58b8e5-c6ad-4a2a-8342-4190687cbf4a",
        "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
        "Storage Queue Data Message Sender": "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a",
        "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
        "AzureML Data Scientist": "f6c7c914-8db3-469d-8ca1-694a8f32e121",
        "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
    }
    for name, guid, _, _ in readme_roles():
        assert known[name] == guid, name


def test_every_guid_in_the_templates_is_a_listed_role():
    listed = {guid for _, guid, _, _ in readme_roles()}
    for path in sorted(INFRA.rglob("*.bicep")):
        assert set(GUID.findall(Path(path).read_text())) <= listed, path.name
