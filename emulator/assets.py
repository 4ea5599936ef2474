"""Data assets and ADLS inputs: a small asset registry (config ``data_assets``) and URI expansion.

The SDK and CLI resolve ``azureml:<name>:<version>`` / ``azureml:<name>@latest`` client-side and send the
asset's ARM id (contract §1.5); the service reads the asset's path. Here the registry maps each
``name → version → path`` (a datastore URI or a storage URL), and ``GET {mgmt}/…/data/{name}`` answers the
data container with ``properties.latestVersion``, which the SDK reads for ``@latest``.

abfss inputs (``abfss://<fs>@<account>.dfs.core.windows.net/<path>``) name the account's file system; they
are read through the blob endpoint of a configured storage account.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from .contract import ContractError

_ASSET_ID = re.compile(r"^(?:azureml:/)?/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
                       r"Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+)/data/(?P<name>[^/]+)/versions/"
                       r"(?P<version>[^/]+)$", re.IGNORECASE)
_LOCATION_ASSET = re.compile(r"^azureml://locations/[^/]+/workspaces/(?P<ws>[^/]+)/data/(?P<name>[^/]+)/versions/"
                             r"(?:labels/)?(?P<version>[^/]+)$", re.IGNORECASE)
_ABFSS = re.compile(r"^abfss?://(?P<fs>[^@/]+)@(?P<account>[a-z0-9]+)\.dfs\.[^/]+(?P<path>/.*)?$", re.IGNORECASE)


def parse_assets(raw: Any) -> dict[str, dict[str, str]]:
    """``{"regions": {"versions": {"1": "<uri>", ...}}}`` (or ``{"regions": {"1": "<uri>"}}``)."""
    assets: dict[str, dict[str, str]] = {}
    for name, spec in (raw or {}).items():
        versions = spec.get("versions", spec) if isinstance(spec, Mapping) else None
        if not isinstance(versions, Mapping) or not versions:
            raise ValueError(f"data_assets.{name}: needs versions {{version: uri}}")
        assets[str(name)] = {str(v): str(uri) for v, uri in versions.items()}
    return assets


def latest_version(versions: Mapping[str, str]) -> str:
    def key(version: str) -> tuple:
        return (0, int(version), "") if version.isdigit() else (1, 0, version)
    return max(versions, key=key)


def not_found(name: str, version: str | None = None) -> ContractError:
    what = f"Data asset '{name}'" + (f" version '{version}'" if version else "")
    return ContractError(404, "UserError", f"{what} was not found in the workspace.")


def expand(assets: Mapping[str, Mapping[str, str]], uri: str) -> str:
    """The location an input URI reads: an asset id → the asset version's path; abfss → the blob URL;
    anything else unchanged. Raises ContractError for an unknown asset or a client-side-only reference."""
    text = uri.strip()
    if text.lower().startswith("azureml:") and not text.lower().startswith("azureml://"):
        raise ContractError(400, "UserError", f"[emulator] '{text}' is resolved by the SDK/CLI, not the service:"
                                              " send the data asset's ARM id (…/data/<name>/versions/<version>).")
    match = _ASSET_ID.match(text) or _LOCATION_ASSET.match(text)
    if match:
        versions = assets.get(match["name"])
        if versions is None:
            raise not_found(match["name"])
        version = latest_version(versions) if match["version"] == "latest" else match["version"]
        if version not in versions:
            raise not_found(match["name"], version)
        return versions[version]
    abfss = _ABFSS.match(text)
    if abfss:
        return f"https://{abfss['account'].lower()}.blob.core.windows.net/{abfss['fs']}{abfss['path'] or '/'}"
    return text


def data_container(assets: Mapping[str, Mapping[str, str]], name: str, arm_prefix: str) -> dict[str, Any]:
    """ARM ``Data Containers - Get`` for ``name``."""
    versions = assets.get(name)
    if versions is None:
        raise not_found(name)
    return {"id": f"{arm_prefix}/data/{name}", "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/data",
            "properties": {"dataType": "uri_folder", "isArchived": False, "latestVersion": latest_version(versions),
                           "nextVersion": str(int(latest_version(versions)) + 1)
                           if latest_version(versions).isdigit() else None}}
