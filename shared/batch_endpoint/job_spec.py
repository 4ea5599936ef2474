"""What a route's job gets (pure): its inputs and outputs, rendered for one run, as the invoke body.

* The landed folder (or file) is bound to ``route.input.name``.
* Fixed inputs (pipeline-component deployments): ``azureml:name:version`` becomes the asset's ARM id, as the SDK
  sends it; ``azureml:name@latest`` needs the asset's latest version, which only the service knows: the body
  carries a placeholder until :func:`resolve_latest` fills it in at submit (``plan`` shows it unresolved).
  A data asset's ARM id (or ``azureml://locations/…`` URI), datastore URIs (short, long and
  ``$DATASTORE_ID/paths/…``) and https storage URLs go as written. An ``abfss://`` URL, which the SDK's
  ``invoke()`` refuses, is sent as the same location's https blob URL (:func:`shared.blob_urls.abfss_to_blob_url`):
  the app sends only forms the SDK sends.
* Literal inputs: the JSON value; strings rendered with ``{date}``, ``{folder}``, ``{run_id}``, ``{route}``
  through :func:`shared.paths.render_text` (no ``str.format``).
* Outputs are rendered when the run starts (:func:`render_outputs`) and travel in the run's input, so every
  attempt of every activity sends the same URIs; a ``uri_folder`` output ends in '/'. A model deployment's
  ``overrides.output_file_name`` is appended to its output path (then a folder), as the SDK does
  (:mod:`shared.config.outputs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Optional

from .. import blob_urls, job_inputs, paths
from ..config.models import Route
from ..storage.uris import azureml_uri
from ..config.outputs import render_final_path
from .requests import batch_job_body, data_input, data_output, literal_input

#: Stands in for an asset's latest version until submit resolves it (never sent: submit refuses it).
LATEST_PLACEHOLDER = "{latest}"


@dataclass(frozen=True)
class LatestAsset:
    """A ``azureml:name@latest`` input: the asset whose latest version submit must look up."""

    input_name: str
    asset: str


@dataclass(frozen=True)
class JobSpec:
    body: dict
    latest_assets: tuple[LatestAsset, ...] = field(default_factory=tuple)


def run_values(run: Mapping[str, Any]) -> dict[str, str]:
    """The template values of a run: ``{date}`` is the run's request date, so every attempt renders alike."""
    return {"date": str(run.get("requested_at") or "")[:10], "folder": str((run.get("input") or {}).get("folder", "")),
            "run_id": str(run["run_id"]), "route": str(run["route"])}


def render_outputs(route: Route, run_id: str, attempt: int, now: datetime) -> dict[str, str]:
    """``{output name: URI}`` for a new run attempt (empty: the deployment's default output location)."""
    values = {"run_id": paths.check_run_id(run_id), "route": route.name, "date": now.strftime("%Y-%m-%d"),
              "attempt": str(attempt)}
    rendered = {}
    for output in route.job_outputs:
        rendered[output.name] = azureml_uri(output.datastore, render_final_path(route, output, values))
    return rendered


def input_uri(route: Route, raw: str) -> tuple[str, Optional[str]]:
    """``(uri to send, asset name whose latest version is needed or None)`` for a fixed input's ``path``."""
    parsed = job_inputs.parse_job_input_uri(raw)
    if parsed.kind == "url" and raw.lower().startswith(("abfss://", "abfs://")):
        return blob_urls.abfss_to_blob_url(raw), None
    if parsed.kind != "asset":
        return raw, None
    workspace = route.endpoint.workspace if route.endpoint is not None else None
    if workspace is None:
        raise ValueError(f"data asset {raw!r} needs endpoint.workspace to be sent as its ARM id")
    version = LATEST_PLACEHOLDER if parsed.version == "latest" else parsed.version
    arm_id = job_inputs.data_asset_arm_id(workspace.subscription_id, workspace.resource_group, workspace.name,
                                     parsed.name, version)
    return arm_id, parsed.name if parsed.version == "latest" else None


def literal(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return paths.render_text(value, values, field="value")
    return value


def job_spec(route: Route, run: Mapping[str, Any], *, job_name: Optional[str] = None,
             labels: Optional[Mapping[str, str]] = None) -> JobSpec:
    """The invoke body of ``run`` (its outputs as rendered at the run's start)."""
    values = run_values(run)
    inputs: dict[str, dict] = {route.input.name: data_input(run["input"]["type"], run["input"]["uri"])}
    latest: list[LatestAsset] = []
    for spec in route.inputs:
        if spec.type == "literal":
            inputs[spec.name] = literal_input(literal(spec.value, values))
            continue
        uri, asset = input_uri(route, spec.path or "")
        inputs[spec.name] = data_input(spec.type, uri)
        if asset is not None:
            latest.append(LatestAsset(spec.name, asset))
    types = {o.name: o.type for o in route.job_outputs}
    outputs = {name: data_output(types.get(name, "uri_file"), uri) for name, uri in run_outputs(run).items()}
    body = batch_job_body(inputs=inputs, outputs=outputs, overrides=route.overrides, job_name=job_name,
                          labels=labels)
    return JobSpec(body, tuple(latest))


def run_outputs(run: Mapping[str, Any]) -> dict[str, str]:
    """A run's rendered outputs; runs started before named outputs existed carry ``output_uri`` only."""
    outputs = run.get("outputs")
    if isinstance(outputs, dict):
        return dict(outputs)
    if run.get("output_uri"):
        return {run.get("output_name") or "score": run["output_uri"]}
    return {}


def resolve_latest(spec: JobSpec, versions: Mapping[str, str]) -> dict:
    """The body with each ``@latest`` asset's ARM id completed from ``versions`` (asset name → version)."""
    body = {"properties": dict(spec.body["properties"])}
    inputs = dict(body["properties"]["inputData"])
    for item in spec.latest_assets:
        version = paths.check_job_name(versions[item.asset], field=f"latest version of data asset {item.asset}")
        entry = dict(inputs[item.input_name])
        entry["uri"] = entry["uri"].replace(LATEST_PLACEHOLDER, version)
        inputs[item.input_name] = entry
    body["properties"]["inputData"] = inputs
    return body
