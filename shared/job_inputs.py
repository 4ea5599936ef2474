"""Azure ML job inputs (batch-endpoint ``InputData``; contract §1.5): every form a route may give a job input,
read against its grammar before it reaches a request body (data assets by name or ARM id, datastore paths in
their short, long and ``$DATASTORE_ID`` forms, storage URLs). Pure: names from :mod:`shared.paths`, storage
URLs from :mod:`shared.blob_urls`."""

from __future__ import annotations

import re
from typing import NamedTuple

from .blob_urls import abfss_to_blob_url
from .paths import _CONTROL, MAX_URL_CHARS, InvalidName, check_relative_path
from .redact import shown

# --- Azure ML job inputs (batch-endpoint InputData; contract §1.5) ---------------------------------------------

_ASSET_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}"
_AML_ASSET = re.compile(rf"^azureml:(?P<name>{_ASSET_NAME})(?::(?P<version>[A-Za-z0-9_][A-Za-z0-9_.-]{{0,63}})"
                        r"|@(?P<label>latest))$")
_AML_DATASTORE = re.compile(r"^azureml://(?:subscriptions/(?P<sub>[A-Za-z0-9-]{1,64})/resourcegroups/"
                            r"(?P<rg>[A-Za-z0-9_.()-]{1,90})/workspaces/(?P<ws>[A-Za-z0-9_.()-]{1,90})/)?"
                            r"datastores/(?P<ds>[A-Za-z0-9_]{1,255})/paths/(?P<path>.*)$", re.IGNORECASE | re.DOTALL)


_ARM_WORKSPACE = (r"/subscriptions/(?P<sub>[A-Za-z0-9-]{1,64})/resourceGroups/(?P<rg>[A-Za-z0-9_.()-]{1,90})"
                  r"/providers/Microsoft\.MachineLearningServices/workspaces/(?P<ws>[A-Za-z0-9_.()-]{1,90})")
_ASSET_VERSION = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}"
#: A data asset's ARM id (contract §1.5, the REST tab's form) and the ``azureml://locations/…`` asset URI.
_ARM_DATA_ASSET = re.compile(rf"^(?:azureml:)?{_ARM_WORKSPACE}/data/(?P<name>{_ASSET_NAME})/versions/"
                             rf"(?P<version>{_ASSET_VERSION})$", re.IGNORECASE)
_LOCATION_DATA_ASSET = re.compile(rf"^azureml://locations/(?P<loc>[A-Za-z0-9]{{1,64}})/workspaces/"
                                  rf"(?P<ws>[A-Za-z0-9_.()-]{{1,90}})/data/(?P<name>{_ASSET_NAME})/versions/"
                                  rf"(?P<version>{_ASSET_VERSION}|labels/latest)$", re.IGNORECASE)
#: ``$DATASTORE_ID/paths/<p>``: a datastore's ARM id, then the path (contract §1.5, the REST tab's form).
_ARM_DATASTORE = re.compile(rf"^{_ARM_WORKSPACE}/datastores/(?P<ds>[A-Za-z0-9_]{{1,255}})/paths/(?P<path>.*)$",
                            re.IGNORECASE | re.DOTALL)


class JobInputUri(NamedTuple):
    """A fixed job input's location, classified: ``asset`` (``azureml:name:version`` / ``azureml:name@latest``),
    ``asset_id`` (a data asset's ARM id or ``azureml://locations/…/data/<name>/versions/<v>``: sent as written),
    ``datastore`` (``azureml://datastores/<ds>/paths/<p>``, the long ``azureml://subscriptions/…`` form or
    ``$DATASTORE_ID/paths/<p>``: ``long`` True), or ``url`` (a storage URL: https blob/dfs, abfss, or http on
    loopback)."""

    kind: str
    value: str
    name: str = ""          # asset name / datastore name
    version: str = ""       # asset version, or "latest"
    path: str = ""          # datastore path
    long: bool = False


def parse_job_input_uri(value: object, *, field: str = "path") -> JobInputUri:
    """Classify and check a fixed job input's location. The path part of a datastore URI is a relative path
    (no ``..`` even encoded); a storage URL has no query or fragment (so no SAS) and no user info."""
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise InvalidName(field, "must be a non-empty string without surrounding spaces")
    if len(value) > MAX_URL_CHARS or _CONTROL.search(value):
        raise InvalidName(field, "is too long or holds control characters")
    asset_id = _ARM_DATA_ASSET.match(value) or _LOCATION_DATA_ASSET.match(value)
    if asset_id:
        return JobInputUri("asset_id", value, asset_id["name"], asset_id["version"])
    if value.startswith("/"):
        match = _ARM_DATASTORE.match(value)
        if not match:
            raise InvalidName(field, "an ARM id must be a data asset's (/subscriptions/…/workspaces/<ws>/data/<name>/"
                                     "versions/<v>) or a datastore's with a path (/subscriptions/…/workspaces/<ws>/"
                                     f"datastores/<ds>/paths/<path>), got {shown(value)!r}")
        check_relative_path(match["path"].rstrip("/"), field=field, decode=True)
        return JobInputUri("datastore", value, match["ds"], "", match["path"], long=True)
    if value.lower().startswith("azureml:") and not value.lower().startswith("azureml://"):
        match = _AML_ASSET.match(value)
        if not match:
            raise InvalidName(field, f"must be a data asset as azureml:<name>:<version> or azureml:<name>@latest,"
                                     f" got {shown(value)!r}")
        return JobInputUri("asset", value, match["name"], match["version"] or "latest")
    if value.lower().startswith("azureml://"):
        match = _AML_DATASTORE.match(value)
        if not match:
            raise InvalidName(field, "must be azureml://datastores/<datastore>/paths/<path> (or the long"
                                     " azureml://subscriptions/<sub>/resourcegroups/<rg>/workspaces/<ws>/datastores/"
                                     f"... form), got {shown(value)!r}")
        path = match["path"]
        check_relative_path(path.rstrip("/"), field=field, decode=True)
        return JobInputUri("datastore", value, match["ds"], "", path, long=bool(match["sub"]))
    if "?" in value or "#" in value:
        raise InvalidName(field, "must not have a query or fragment: a SAS cannot be given to the job (grant the"
                                 " compute's identity read access instead)")
    lowered = value.lower()
    if lowered.startswith(("abfss://", "abfs://")):
        abfss_to_blob_url(value)
    elif not (lowered.startswith("https://") or (lowered.startswith("http://") and _is_loopback_url(value))):
        raise InvalidName(field, "must be azureml:<asset>:<version>, azureml:<asset>@latest, a data asset's ARM id,"
                                 " azureml://datastores/<ds>/paths/<path> (or its long or $DATASTORE_ID/paths/"
                                 f"forms), or an https:// (or abfss://) storage URL, got {shown(value)!r}")
    authority = value.split("://", 1)[1].split("/", 1)[0]
    if "@" in authority and not lowered.startswith(("abfss://", "abfs://")):
        raise InvalidName(field, "must not carry credentials (user@host)")
    return JobInputUri("url", value)


def _is_loopback_url(url: str) -> bool:
    host = url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    host = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    return host.lower() in ("127.0.0.1", "localhost", "[::1]")


def data_asset_arm_id(subscription_id: str, resource_group: str, workspace: str, name: str, version: str) -> str:
    """The ARM id the SDK sends for ``azureml:<name>:<version>`` (contract §1.5: resolved client-side)."""
    return (f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{workspace}/data/{name}/versions/{version}")
