"""Which outputs can signal a job's end, and which run an output blob belongs to (pure).

The app chooses every output's path (``shared/config/outputs.py``: a template that must hold ``{run_id}``), so
a blob written there names its run. A blob path is matched against each opted-in route's final path
template, anchored at both ends; the captured run id must pass the run-id grammar and belong to the route
(run ids are ``<route>-<digest>``), and every other placeholder is one path segment. The handler then checks
the run's ledger record (it exists, is the route's, and its output location holds the blob).

Outputs that cannot signal: the deployment's default output location (the app does not choose it), and a
``summary_only`` output (the scoring script writes its files while the job runs, so a new blob there says
nothing about the end).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Optional

from .. import blob_urls, paths
from ..config.models import AppSettings, Route
from ..config.outputs import final_path_template

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SEGMENT = r"[^/]{1,255}"


def signal_gaps(route: Route) -> list[str]:
    """Why (some of) ``route``'s outputs cannot signal its job's end; empty when every output can."""
    outputs = route.job_outputs
    if not outputs:
        return ["the route has no output of its own (the deployment's default output location is not chosen"
                " by the app, so no event names the run)"]
    return [f"output {o.name!r} is summary_only (the scoring script writes there while the job runs)"
            for o in outputs if o.action == "summary_only"]


def signal_note(route: Route) -> Optional[str]:
    """``plan``'s line about output events, or ``None`` when the route does not ask for them."""
    if not getattr(route.poll, "output_events", False):
        return None
    gaps = signal_gaps(route)
    signalling = [o.name for o in route.job_outputs if o.action != "summary_only"]
    if not signalling:
        return ("output events cannot signal this route's job end: " + "; ".join(gaps) +
                "; the run falls back to polling (Azure ML events if subscribed, else the poll schedule)")
    note = f"output events: a blob created under output {', '.join(repr(n) for n in signalling)} hints the job's end"
    return note + ("; not for " + "; ".join(gaps) if gaps else "")


def template_pattern(template: str, *, folder: bool) -> re.Pattern:
    """An anchored pattern for a final path template: ``{run_id}`` captured (later uses must repeat it),
    every other placeholder one path segment, a folder output followed by at least one more name."""
    out, seen_run_id, at = [], False, 0
    for match in _PLACEHOLDER.finditer(template):
        out.append(re.escape(template[at:match.start()]))
        if match.group(1) == "run_id":
            out.append(r"(?P=run_id)" if seen_run_id else rf"(?P<run_id>{_SEGMENT})")
            seen_run_id = True
        else:
            out.append(_SEGMENT)
        at = match.end()
    out.append(re.escape(template[at:]))
    if folder:
        out.append(r".+")
    return re.compile("^" + "".join(out) + "$")


@dataclass(frozen=True)
class OutputWatch:
    route: str
    output: str
    account: str
    container: str
    prefix: str
    pattern: re.Pattern


@dataclass(frozen=True)
class OutputMatch:
    route: str
    output: str
    run_id: str


def build_watches(settings: AppSettings, routes: Optional[Iterable[Route]] = None) -> list[OutputWatch]:
    """Every output that may signal, of the routes that ask for output events."""
    watches = []
    for route in routes if routes is not None else settings.routes:
        if not getattr(route.poll, "output_events", False):
            continue
        for output in route.job_outputs:
            datastore = settings.datastores.get(output.datastore)
            if datastore is None or output.action == "summary_only":
                continue
            template = final_path_template(route, output)
            watches.append(OutputWatch(route.name, output.name, blob_urls.canonical_account_url(datastore.account_url),
                                       datastore.container, paths.static_prefix(template),
                                       template_pattern(template, folder=template.endswith("/"))))
    return watches


def match_output(watches: Iterable[OutputWatch], account_url: str, container: str, path: str) -> Optional[OutputMatch]:
    """The run whose output ``path`` is, or ``None`` (not an output location, or a name that fails a grammar)."""
    try:
        if paths.check_relative_path(path, field="blob path", decode=False) != path:
            return None
    except paths.InvalidName:
        return None
    account = blob_urls.canonical_account_url(account_url)
    for watch in watches:
        if (watch.account, watch.container) != (account, container) or not path.startswith(watch.prefix):
            continue
        found = watch.pattern.match(path)
        if found is None:
            continue
        run_id = found.group("run_id")
        if not paths.is_valid_run_id(run_id) or not run_id.startswith(watch.route + "-"):
            continue
        return OutputMatch(watch.route, watch.output, run_id)
    return None


def under_output(output_uri: Optional[str], path: str) -> bool:
    """Whether ``path`` is the run's recorded output (a file) or inside it (a folder); True when unrecorded."""
    from ..batch_endpoint.attempts import output_key

    key = output_key(output_uri)
    if key is None:
        return True
    recorded = key[1]
    return path == recorded or path.startswith(recorded.rstrip("/") + "/")
