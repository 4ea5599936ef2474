"""Plan: what a landing of ``path`` on ``route`` would do, with no side effect and no token requested.

``POST /api/plan`` and ``python -m tools.plan`` answer with:

* ``request``: the call a run would send (method, URL, headers without the token, body), for batch endpoints
  and v1 pipeline endpoints alike; what only the service can say (an asset's latest version) is listed under
  ``resolved_at_submit`` with the call that will ask;
* ``job_name`` (the first attempt's client-chosen name; a v1 run's id is the service's), ``run_id`` and how it
  is derived;
* ``outputs`` and, per sink, the paths each output's files get (a file the job names itself shows ``{file}``);
* ``completion``: the rule that decides the folder is complete, checked against a read-only listing when the
  landing connection needs no token (a key, a SAS or Azurite's development account), else "not checked".

Bad routes and paths get the same answers as a real start (:func:`shared.http_api.runs.parse_start`).
:func:`build_plan` is pure; :func:`read_listing` is the only storage read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Optional

from .config.models import AppSettings, Route
from .redact import redact, redact_data
from .storage.uris import BlobLocation

NOT_CHECKED = "not checked"
TOKEN_LEFT_OUT = "Bearer <token for {scope}: not requested by plan>"


@dataclass(frozen=True)
class Listed:
    """One blob of the landed folder, as a read-only listing saw it."""

    name: str          # relative to the folder
    etag: str
    size: int
    last_modified: Optional[datetime] = None
    md5: Optional[bytes] = None


@dataclass(frozen=True)
class Listing:
    files: tuple[Listed, ...] = ()
    checked: bool = False
    why_not: str = ""  # why the folder was not read ("not checked" answers)
    manifest: Optional[Any] = None  # the manifest's JSON when mode is manifest and it was read
    manifest_raw: Optional[bytes] = None  # its bytes (what the pre-flight parses)
    prefix: str = ""  # what was listed (the files' names are relative to it)


def _call(method: str, url: str, scope: str, headers: Mapping[str, str], body: Any) -> dict:
    from .config.clouds import current_cloud

    scope = current_cloud().scope(scope)   # the audience of the app's cloud (AZURE_CLOUD)
    shown = {"Authorization": TOKEN_LEFT_OUT.format(scope=scope.removesuffix("/.default")), **headers}
    return {"method": method, "url": url, "headers": shown, "body": body}


def _folder(location: BlobLocation, route: Route) -> BlobLocation:
    if route.input.type == "uri_file" or not location.path or location.path.endswith("/"):
        return location
    return BlobLocation(location.account_url, location.container, location.path + "/")


def completion(route: Route, location: BlobLocation, listing: Listing, now: datetime) -> dict:
    """The landing rule of the route for this folder, and (when the folder was read) whether it holds."""
    rule = route.landing
    text = {
        "marker": f"complete when the marker {rule.marker_name!r} lands in the folder",
        "manifest": f"complete when the manifest {rule.manifest_name!r} lands and every file it lists is present"
                    f" (waits up to {rule.manifest_wait_minutes} min)",
        "quiet_period": f"complete when no new file has landed for {rule.quiet_seconds} s",
        "per_file": "every landed file is a run of its own",
    }[rule.mode]
    out: dict[str, Any] = {"mode": rule.mode, "rule": text}
    if not listing.checked:
        out.update(checked=False, complete=None, status=NOT_CHECKED, why=listing.why_not)
        return out
    names = {f.name for f in listing.files}
    data = [f for f in listing.files if f.name not in (rule.marker_name, rule.manifest_name)]
    out.update(checked=True, files=len(data), nested=sum(1 for f in data if "/" in f.name))
    if rule.mode == "marker":
        out["complete"] = rule.marker_name in names
    elif rule.mode == "manifest":
        listed = listing.manifest.get("files") if isinstance(listing.manifest, dict) else None
        missing = sorted(set(map(str, listed or [])) - names) if isinstance(listed, list) else None
        out["complete"] = rule.manifest_name in names and missing == []
        if missing:
            out["missing"] = missing[:20]
    elif rule.mode == "quiet_period":
        newest = max((f.last_modified for f in data if f.last_modified), default=None)
        quiet = (now - newest).total_seconds() if newest else None
        out["quiet_seconds_so_far"] = None if quiet is None else round(quiet, 1)
        out["complete"] = bool(data) and quiet is not None and quiet >= rule.quiet_seconds
    else:
        out["complete"] = location.path.rsplit("/", 1)[-1] in names
    if not data and rule.mode != "per_file":
        out["complete"] = False
    out["status"] = "complete" if out["complete"] else "not complete"
    return out


def run_identity(route: Route, location: BlobLocation, listing: Listing) -> dict:
    """The run id a landing would get (it depends on the completing blob's ETag), when it can be known."""
    from .runs.claims import claim_etag
    from .runs.ids import landing_run_id

    folder = _folder(location, route)
    rule = route.landing
    by_name = {f.name: f for f in listing.files}
    if rule.mode == "quiet_period":
        from .landing.rules import quiet_run_id

        return {"run_id": quiet_run_id(route.name, folder.url), "derived_from": "the folder (quiet period)"}
    completing = {"marker": rule.marker_name, "manifest": rule.manifest_name}.get(rule.mode)
    if rule.mode == "per_file":
        listed = by_name.get(location.path.rsplit("/", 1)[-1])
        if listed is not None:
            return {"run_id": landing_run_id(route.name, location.url, claim_etag(listed.etag)),
                    "derived_from": f"the file's ETag {listed.etag}"}
        return {"run_id": None, "derived_from": "the landed file's ETag (" + NOT_CHECKED + ")"}
    listed = by_name.get(completing or "")
    if listed is not None:
        return {"run_id": landing_run_id(route.name, folder.url, claim_etag(listed.etag)),
                "derived_from": f"the {rule.mode} blob's ETag {listed.etag}"}
    return {"run_id": None, "derived_from": f"the ETag of the {rule.mode} blob, once it lands"}


def _batch_request(settings: AppSettings, route: Route, run: dict, job_name: str, labels: dict) -> dict:
    from .batch_endpoint.job_spec import job_spec
    from .batch_endpoint.requests import data_container_call, submit_call
    from .runs.ids import submit_request_id

    spec = job_spec(route, run, job_name=job_name, labels=labels)
    call = submit_call(route.endpoint, spec.body, submit_request_id(run["run_id"], 1))
    later = []
    for item in spec.latest_assets:
        ask = data_container_call(route.endpoint, item.asset, settings.management_url,
                                  settings.management_api_version)
        later.append({"input": item.input_name, "what": f"latest version of data asset {item.asset!r}",
                      "call": _call(ask.method, ask.url, ask.scope, ask.headers, None)})
    return {"request": _call(call.method, call.url, call.scope, call.headers, call.body), "resolved_at_submit": later}


def _v1_request(route: Route, run: dict, labels: dict) -> dict:
    from .pipeline_v1 import requests as v1
    from .runs.ids import submit_request_id

    call = v1.submit_call(route, v1.submission_body(route, run, labels), submit_request_id(run["run_id"], 1))
    return {"request": _call(call.method, call.url, call.scope, call.headers, call.body), "resolved_at_submit": []}


def _sinks(route: Route, run: dict, outputs: Mapping[str, str], listing: Listing) -> list[dict]:
    from .delivery.sinks import sink_location

    date = run["requested_at"][:10]
    configured = {o.name: o for o in route.job_outputs}
    names = list(outputs) or ["<the outputs the job lists>"]
    out = []
    for sink in route.sinks:
        received = [n for n in names if sink.output in (None, n)]
        paths = []
        for name in received:
            spec = configured.get(name)
            if spec is not None and spec.type == "uri_file" and spec.action == "append_row":
                file_name = outputs[name].rsplit("/", 1)[-1]
            else:
                file_name = "{file}"
            if len(received) > 1:
                file_name = f"{name}/{file_name}"
            try:
                target = sink_location(sink, route=route.name, folder=run["input"]["folder"], run_id=run["run_id"],
                                       date=date, file_name=file_name)
                paths.append({"output": name, "path": f"{target.container}/{target.path}", "url": target.url})
            except ValueError as exc:
                paths.append({"output": name, "error": redact(str(exc))})
        out.append({"sink": sink.name, "output": sink.output, "paths": paths})
    return out


def build_plan(settings: AppSettings, route: Route, location: BlobLocation, listing: Listing,
               now: datetime) -> dict:
    """The plan (pure): no storage, no token, no network."""
    from .batch_endpoint.attempts import AttemptIdentity
    from .runs.models import new_run_input

    identity = run_identity(route, location, listing)
    run_id = identity["run_id"] or f"{route.name}-{'0' * 24}"
    run = new_run_input(settings, route, run_id, location, source="plan", now=now)
    attempt = AttemptIdentity.of(run_id, 1, run.get("output_uri"))
    if route.kind == "pipeline_endpoint_v1":
        request = _v1_request(route, run, attempt.labels)
        job = {"job_name": None, "note": "a v1 run's id is chosen by the service; the attempt is tagged"
                                         f" batchrun.attempt_id={attempt.job_name} and found by that tag"}
    else:
        request = _batch_request(settings, route, run, attempt.job_name, attempt.labels)
        job = {"job_name": attempt.job_name, "note": "the first attempt's client-chosen job name"}
    if identity["run_id"] is None:
        job["note"] += f"; shown for the placeholder run id {run_id} (the real one is derived from" \
                       f" {identity['derived_from']})"
    outputs = dict(run.get("outputs") or {})
    plan = {
        "route": route.name, "kind": route.kind,
        "deployment_kind": route.endpoint.deployment_kind if route.endpoint is not None else None,
        "input": {k: run["input"][k] for k in ("type", "url", "uri", "folder")},
        "run_id": identity["run_id"], "run_id_from": identity["derived_from"],
        **job, **request,
        "outputs": outputs or {"default": "the deployment's default output location: OutputData is not sent;"
                                          " delivery reads the outputs from the job resource"},
        "sinks": _sinks(route, run, outputs, listing),
        "completion": completion(route, location, listing, now),
    }
    from .output_events.rules import signal_note

    note = signal_note(route)
    if note is not None:
        plan["output_events"] = note
    if route.deprecated:
        plan["deprecated"] = route.deprecated
    return redact_data(plan)  # type: ignore[return-value]


def read_listing(route: Route, location: BlobLocation, environ: Mapping[str, str],
                 service_factory: Optional[Callable[[str], Any]] = None) -> Listing:
    """List the folder read-only, only when the landing connection needs no token; any failure is "not
    checked" with its reason (redacted)."""
    from .config.connections import StorageConnectionError, resolve

    try:
        kind = resolve(route.match.connection, environ).kind
    except StorageConnectionError as exc:
        return Listing(why_not=redact(str(exc)))
    if kind == "identity":
        return Listing(why_not=f"connection {route.match.connection!r} uses a managed identity; plan requests no"
                               " token, so the folder was not read")
    folder = _folder(location, route)
    prefix = folder.path if route.input.type != "uri_file" else (folder.path.rsplit("/", 1)[0] + "/"
                                                                 if "/" in folder.path else "")
    try:
        if service_factory is None:
            from .storage.connections import blob_service_client

            def service_factory(name: str) -> Any:
                return blob_service_client(name, environ)
        container = service_factory(route.match.connection).get_container_client(location.container)
        files = []
        manifest = raw = None
        for item in container.list_blobs(name_starts_with=prefix):
            name = item.name[len(prefix):]
            settings = getattr(item, "content_settings", None)
            md5 = getattr(settings, "content_md5", None) if settings is not None else None
            files.append(Listed(name, str(item.etag), int(item.size or 0), item.last_modified,
                                bytes(md5) if md5 else None))
            if len(files) >= 5000:
                break
        if route.landing.mode == "manifest" and any(f.name == route.landing.manifest_name for f in files):
            import json

            # at most 1 MB read: the caller chose the folder, and a bigger manifest is "not checked" here
            raw = container.get_blob_client(prefix + route.landing.manifest_name).download_blob(
                offset=0, length=1_000_001).readall()
            try:
                manifest = json.loads(raw) if len(raw) <= 1_000_000 else None
            except ValueError:
                manifest = None
        return Listing(tuple(files), True, manifest=manifest, manifest_raw=raw, prefix=prefix)
    except Exception as exc:  # unreachable storage: the plan still answers
        return Listing(why_not=redact(f"the folder could not be read: {type(exc).__name__}: {str(exc)[:200]}"))


def plan_request(data: dict, settings: AppSettings, environ: Mapping[str, str],
                 now: Optional[datetime] = None) -> dict:
    """``{route, path[, container]}`` → the plan; raises ``HttpProblem`` like a real start."""
    from .http_api.runs import parse_start

    from .http_api.runs import force_field

    data = dict(data)
    force = force_field(data)
    route, location = parse_start(data, settings)
    listing = read_listing(route, location, environ)
    now = now or datetime.now(timezone.utc)
    plan = build_plan(settings, route, location, listing, now)
    plan["preflight"] = preflight_verdict(route, location, listing, now, force)
    return plan


def preflight_verdict(route: Route, location: BlobLocation, listing: Listing, now: datetime, force: bool) -> dict:
    """What ``POST /api/runs`` with this body would answer before claiming anything (pure, from plan's own
    listing): the same :func:`shared.landing.preflight.check_input` on the same names."""
    from .landing.preflight import InputListing, check_input
    from .reconcile.scan import Listed as ScanListed

    if not listing.checked:
        return {"checked": False, "status": NOT_CHECKED, "why": listing.why_not, "force": force}
    items = [ScanListed(listing.prefix + f.name, f.etag, f.size, f.last_modified) for f in listing.files]
    md5s = {listing.prefix + f.name: f.md5 for f in listing.files}
    verdict = check_input(route, location, InputListing(items, md5s, listing.manifest_raw), now).as_dict()
    verdict.update(checked=True, force=force)
    if force and not verdict["ok"]:
        verdict["note"] = "\"force\": true: a start would skip this check and submit anyway"
    return redact_data(verdict)  # type: ignore[return-value]
