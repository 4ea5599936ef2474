"""Cross-field rules of route kinds, deployment kinds, inputs and outputs (pure; called by the loader).

* ``kind: batch_endpoint`` needs ``endpoint``; ``kind: pipeline_endpoint_v1`` needs ``pipeline_endpoint``.
* Model deployments keep their rules (contract §1.5, §1.6): the landed folder is the only input, at most one
  output and it is ``uri_file``; ``input.type: uri_file`` only with ``per_file`` landing.
* Pipeline-component deployments take named inputs (data and literals) and named outputs (``uri_folder`` too);
  the model-deployment overrides (mini-batch size, retries, …) do not apply to them.
* Every sink receives a named output, or the single one; data-asset inputs need the workspace coordinates
  (the SDK turns ``azureml:name:version`` into the asset's ARM id).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

from .. import blob_urls, job_inputs, paths
from . import checks
from .models import Datastore, JobOverrides, Route
from .outputs import outputs_shared_between_runs
from .problems import Problems, Where

_MODEL_ONLY_OVERRIDES = tuple(f.name for f in dataclasses.fields(JobOverrides) if f.name != "experiment_name")


def kind_rules(route: Route, datastores: dict[str, Datastore], named: set, problems: Problems, at: Where) -> None:
    if route.kind == "batch_endpoint":
        if route.endpoint is None:
            problems.add(at.key("endpoint"), "is required (kind batch_endpoint)")
        if route.pipeline_endpoint is not None:
            problems.add(at.key("pipeline_endpoint"), "is only for kind pipeline_endpoint_v1")
    else:
        if route.pipeline_endpoint is None:
            problems.add(at.key("pipeline_endpoint"), "is required (kind pipeline_endpoint_v1)")
        if route.endpoint is not None:
            problems.add(at.key("endpoint"), "is only for kind batch_endpoint (this route submits to a v1"
                                             " PipelineEndpoint: see pipeline_endpoint)")
        if route.inputs:
            problems.add(at.key("inputs"), "a v1 PipelineEndpoint takes pipeline_endpoint.parameters and the landed"
                                           " folder as a DataPath; inputs are for batch endpoints")
    if route.landing.mode == "per_file" and route.input.type != "uri_file":
        problems.add(at.key("input").key("type"), "must be 'uri_file' when landing.mode is 'per_file'")
    if route.input.type == "uri_file" and route.landing.mode != "per_file":
        problems.add(at.key("input").key("type"), "'uri_file' needs landing.mode 'per_file': the other modes land a"
                                                  " folder, which a job cannot read as a file")
    if route.output is not None and route.outputs:
        problems.add(at.key("outputs"), "give either output or outputs, not both")
    pipeline = route.kind == "batch_endpoint" and route.endpoint is not None \
        and route.endpoint.deployment_kind == "pipeline_component"
    if route.kind == "batch_endpoint" and not pipeline:
        _model_rules(route, problems, at)
    elif pipeline:
        for name in _MODEL_ONLY_OVERRIDES:
            if getattr(route.overrides, name) is not None:
                problems.add(at.key("overrides").key(name), "applies to model deployments only; a pipeline-component"
                                                            " deployment takes its settings from the pipeline")
    _input_rules(route, problems, at)
    outputs = route.job_outputs
    names = [o.name for o in outputs]
    where_outputs = at.key("outputs" if route.outputs else "output")
    for n, output in enumerate(outputs):
        here = where_outputs.index(n) if route.outputs else where_outputs
        if names.count(output.name) > 1 and names.index(output.name) != n:
            problems.add(here.key("name"), f"{output.name!r} names more than one output")
        if output.datastore not in datastores and output.datastore not in named:
            problems.add(here.key("datastore"), f"datastore {checks.shown(output.datastore)} is not in the datastores"
                                                f" map (known: {', '.join(sorted(datastores)) or 'none'})")
        if route.kind == "pipeline_endpoint_v1" and output.type != "uri_folder":
            problems.add(here.key("type"), "a v1 pipeline output is a DataPath (a folder): use uri_folder")
    for name in outputs_shared_between_runs(route):
        n = names.index(name)
        problems.add(where_outputs.index(n) if route.outputs else where_outputs,
                     f"{name!r}: its final URI does not keep {{run_id}}, so every run would write the same place"
                     " (the service fails all but the first)")
    _sink_rules(route, names, problems, at)
    if route.kind == "pipeline_endpoint_v1" and route.sinks and not outputs:
        problems.add(at.key("sinks"), "a v1 pipeline run lists no outputs to deliver: give outputs (DataPath folders"
                                      " the pipeline writes) or no sinks")
    if route.kind == "pipeline_endpoint_v1" and route.pipeline_endpoint is not None:
        _v1_rules(route, datastores, named, problems, at.key("pipeline_endpoint"))


def _model_rules(route: Route, problems: Problems, at: Where) -> None:
    if route.inputs:
        problems.add(at.key("inputs"), "a model deployment takes exactly one data input (the landed folder or"
                                       " file); fixed and literal inputs need endpoint.deployment_kind"
                                       " 'pipeline_component'")
    if len(route.outputs) > 1:
        problems.add(at.key("outputs"), f"a model deployment has exactly one output, got {len(route.outputs)};"
                                        " several outputs need endpoint.deployment_kind 'pipeline_component'")
    for output in route.job_outputs[:1]:
        if output.type != "uri_file":
            problems.add(at.key("outputs" if route.outputs else "output").key("type"),
                         "must be 'uri_file' for a model deployment (the service answers \"Job output type must be"
                         " 'uri_file'.\")")


def _input_rules(route: Route, problems: Problems, at: Where) -> None:
    seen = {route.input.name}
    workspace = route.endpoint.workspace if route.endpoint is not None else None
    for n, spec in enumerate(route.inputs):
        here = at.key("inputs").index(n)
        if spec.name in seen:
            problems.add(here.key("name"), f"{spec.name!r} is already an input of the route (input.name is the"
                                           " landed folder's)")
        seen.add(spec.name)
        if spec.type == "literal":
            if spec.value is None:
                problems.add(here.key("value"), "is required for a literal input")
            if spec.path is not None:
                problems.add(here.key("path"), "a literal input has a value, not a path")
            continue
        if spec.value is not None:
            problems.add(here.key("value"), f"only literal inputs have a value ({spec.type} inputs have a path)")
        if spec.path is None:
            problems.add(here.key("path"), f"is required for a {spec.type} input")
            continue
        try:
            parsed = job_inputs.parse_job_input_uri(spec.path)
        except paths.InvalidName:
            continue  # reported by the field's own check
        if parsed.kind == "asset" and workspace is None:
            problems.add(here.key("path"), "a data asset is sent as its ARM id, which needs endpoint.workspace"
                                           " (subscription_id, resource_group, name)")


def _sink_rules(route: Route, output_names: list[str], problems: Problems, at: Where) -> None:
    for n, sink in enumerate(route.sinks):
        here = at.key("sinks").index(n).key("output")
        if sink.output is None:
            if len(output_names) > 1:
                problems.add(here, f"is required: the route has several outputs ({', '.join(output_names)}); name"
                                   " the one this sink receives")
        elif output_names and sink.output not in output_names:
            problems.add(here, f"{sink.output!r} is not an output of the route (outputs: {', '.join(output_names)})")


def _v1_rules(route: Route, datastores: dict[str, Datastore], named: set, problems: Problems, at: Where) -> None:
    spec = route.pipeline_endpoint
    assert spec is not None
    if spec.datastore is not None and spec.datastore not in datastores and spec.datastore not in named:
        problems.add(at.key("datastore"), f"datastore {checks.shown(spec.datastore)} is not in the datastores map")
    store = datastores.get(spec.datastore) if spec.datastore is not None else None
    if store is not None and store.container != route.match.container:
        problems.add(at.key("datastore"), landed_datastore_mismatch(spec.datastore, f"container {store.container!r}",
                                                                    f"container {route.match.container!r}"))
    for key, value in spec.parameters.items():
        if not isinstance(key, str) or not key or len(key) > 128:
            problems.add(at.key("parameters"), "parameter names must be 1-128 characters")
        elif isinstance(value, str):
            for message in checks.literal_value(value):
                problems.add(at.key("parameters").key(key), message)


def landed_datastore_mismatch(name: str, theirs: str, landing: str) -> str:
    """Why a v1 route's ``pipeline_endpoint.datastore`` cannot name its landed folder: the run sends the folder
    as (DataStoreName, RelativePath), the path relative to the landing container, so the pipeline would read
    that path from another container (or account)."""
    return (f"datastore {name!r} is on {theirs}, but the route lands on {landing}: the landed folder's path would"
            " be read from the wrong place; name a datastore registered for the landing container (or leave"
            " datastore unset to use the one registered for it)")


def landed_datastore(route: Route, datastores: dict[str, Datastore], account_url: Optional[str]) -> Optional[Any]:
    """The datastore a v1 route names the landed folder by (its own setting, else the one registered for the
    landing container on ``account_url``)."""
    spec = route.pipeline_endpoint
    if spec is not None and spec.datastore:
        return datastores.get(spec.datastore)
    if account_url is None:
        return None
    for store in datastores.values():
        if store.container == route.match.container and \
                blob_urls.same_account(store.account_url, account_url):
            return store
    return None
