"""Where a route's job writes, as a path template in the datastore (pure): the one place that decides it.

The SDK's rule (azure-ai-ml ``convert_v1_dataset_to_v2``): with an output file name, the output path is a
folder and the file name is *appended* to it (``<path>/<file name>``); without one a ``uri_file`` path is
the file itself. A ``uri_folder`` output ends in '/'. Every final path must keep ``{run_id}``, or every run
of the route writes the same place and the service fails all but the first ("already exists").
"""

from __future__ import annotations

from typing import Optional

from .. import paths
from .models import OutputSpec, Route

#: Two run ids used to prove that a route's final output paths differ between runs.
PROBE_RUN_IDS = ("run-probe-a", "run-probe-b")


def appends_file_name(route: Route) -> Optional[str]:
    """The file name appended to a ``uri_file`` output's folder: ``overrides.output_file_name`` of a model
    deployment (a pipeline-component deployment and a v1 pipeline take no such override)."""
    model = route.kind == "batch_endpoint" and (route.endpoint is None or route.endpoint.deployment_kind == "model")
    return route.overrides.output_file_name if model else None


def final_path_template(route: Route, output: OutputSpec) -> str:
    """The output's path template as the job receives it (file name appended, folder with its '/')."""
    if output.type == "uri_folder":
        return output.path.rstrip("/") + "/"
    file_name = appends_file_name(route)
    return output.path.rstrip("/") + "/" + file_name if file_name else output.path


def render_final_path(route: Route, output: OutputSpec, values: dict) -> str:
    """The final path of ``output`` rendered with ``values`` (checked to stay under its static prefix)."""
    return paths.render_under(final_path_template(route, output), values, field="output.path")


def outputs_shared_between_runs(route: Route) -> list[str]:
    """Names of the outputs whose final path is the same for two different runs (empty: none)."""
    from .checks import output_path

    shared = []
    for output in route.job_outputs:
        if output_path(output.path):
            continue   # the path's own check reports it (e.g. no {run_id} at all)
        rendered = set()
        for run_id in PROBE_RUN_IDS:
            values = {"run_id": run_id, "route": route.name, "date": "2024-01-01", "attempt": "1"}
            try:
                rendered.add(render_final_path(route, output, values))
            except paths.InvalidName:
                break  # the path's own check reports it
        else:
            if len(rendered) < len(PROBE_RUN_IDS):
                shared.append(output.name)
    return shared
