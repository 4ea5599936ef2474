"""Pipeline-component deployments and v1 PipelineEndpoints: named inputs, literals, named outputs.

A batch deployment of ``type: pipeline`` runs a pipeline component (contract §1.4–1.6): the invoke body's
``InputData`` binds each component input (data: ``UriFolder``/``UriFile``; values: ``Literal``), ``OutputData``
places each component output (``UriFolder`` allowed; omitted → the default datastore under
``azureml/<job>/<output>/``). The component is emulated as one command step (its ``command`` with
``${{inputs.x}}`` / ``${{outputs.y}}`` replaced by local paths and literal values), run in a subprocess.

The v1 PipelineEndpoint (contract §3; ADF "Machine Learning Execute Pipeline") runs the same kind of component:
``ParameterAssignments`` are its literal inputs, ``DataPathAssignments`` (``DataStoreName`` + ``RelativePath``)
its data inputs or output folders. Runs are read through Run History (``/history/v1.0/…/runs/{id}``) and found
again with a tag query (``…/experiments/{exp}/runs:query``, [emulator] shape: UNCONFIRMED).

Messages marked [emulator] are our own wording.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shlex
import shutil
import sys
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .config import ConfigError, Deployment, DeploymentSettings
from .contract import (OUTPUT_TYPE_MESSAGE, ContractError, JobInput, Overrides, SubmitRequest, ValidationIssue,
                       ci_get, validation_error)
from .execution import JobFailure
from .jobs import EffectiveSettings, Job, JobStatus
from .storage import PathExistsError, StorageError

log = logging.getLogger(__name__)

DATA_TYPES = {"uri_folder": "UriFolder", "uri_file": "UriFile"}
LITERAL_TYPES = ("number", "integer", "string", "boolean")
_WIRE = {"urifolder": "UriFolder", "urifile": "UriFile", "literal": "Literal", "mltable": "MLTable"}
_PLACEHOLDER = re.compile(r"\$\{\{\s*(inputs|outputs)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
V1_ENDPOINT_PREFIX = "pipelineEndpoint:"


@dataclass(frozen=True)
class Port:
    name: str
    type: str  # uri_folder | uri_file | number | integer | string | boolean
    default: Any = None
    optional: bool = False


@dataclass(frozen=True)
class PipelineComponent:
    name: str
    inputs: Mapping[str, Port]
    outputs: Mapping[str, str]  # name -> uri_folder | uri_file
    code_dir: Path
    command: str


@dataclass(frozen=True)
class PipelineDeployment(Deployment):
    component: PipelineComponent | None = None


@dataclass(frozen=True)
class V1Endpoint:
    id: str
    name: str
    component: PipelineComponent
    versions: tuple[str, ...] = ("1",)


# -- config ----------------------------------------------------------------------------------------------

def _load(spec: Any, base: Path, what: str) -> tuple[Mapping[str, Any], Path]:
    if isinstance(spec, str):
        spec = {"file": spec}
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{what}: must be an object or a file name")
    if "file" in spec:
        path = (base / spec["file"]).resolve()
        try:
            return json.loads(path.read_text(encoding="utf-8")), path.parent
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{what}: cannot read {path}: {exc}") from exc
    return spec, base


def parse_component(spec: Any, base: Path, what: str) -> PipelineComponent:
    raw, base = _load(spec, base, what)
    inputs = {}
    for name, port in (raw.get("inputs") or {}).items():
        kind = str(port.get("type", "")).lower()
        if kind not in (*DATA_TYPES, *LITERAL_TYPES):
            raise ConfigError(f"{what}: input {name}: type {kind!r} is not emulated")
        inputs[name] = Port(name, kind, port.get("default"), bool(port.get("optional", False)))
    outputs = {}
    for name, port in (raw.get("outputs") or {}).items():
        kind = str(port.get("type", "uri_folder")).lower()
        if kind not in DATA_TYPES:
            raise ConfigError(f"{what}: output {name}: type {kind!r} is not emulated")
        outputs[name] = kind
    code_dir = (base / raw.get("code", ".")).resolve()
    command = raw.get("command")
    if not isinstance(command, str) or not command.strip():
        raise ConfigError(f"{what}: command is required (the component's one step)")
    for kind, name in _PLACEHOLDER.findall(command):
        if name not in (inputs if kind == "inputs" else outputs):
            raise ConfigError(f"{what}: command names {kind}.{name}, which the component does not declare")
    return PipelineComponent(str(raw.get("name", what)), inputs, outputs, code_dir, command)


def parse_pipeline_deployment(name: str, spec: Mapping[str, Any], base: Path) -> PipelineDeployment:
    if "component" not in spec:
        raise ConfigError(f"deployment {name}: a pipeline deployment needs component")
    component = parse_component(spec["component"], base, f"deployment {name}: component")
    return PipelineDeployment(name=name, type="pipeline", code_dir=component.code_dir, scoring_script="",
                              model_dir=None, instance_count=1, settings=DeploymentSettings(),
                              component=component)


def parse_v1_endpoints(raw: Any, base: Path) -> dict[str, V1Endpoint]:
    out = {}
    for endpoint_id, spec in (raw or {}).items():
        if not isinstance(spec, Mapping) or "component" not in spec:
            raise ValueError(f"pipeline_endpoints.{endpoint_id}: needs component")
        component = parse_component(spec["component"], base, f"pipeline_endpoints.{endpoint_id}")
        versions = tuple(str(v) for v in spec.get("versions", ("1",)))
        out[str(endpoint_id)] = V1Endpoint(str(endpoint_id), str(spec.get("name", endpoint_id)), component, versions)
    return out


# -- jobs ------------------------------------------------------------------------------------------------

@dataclass
class PipelineJob(Job):
    component: PipelineComponent | None = None
    bindings: dict[str, tuple[str, Any]] = field(default_factory=dict)  # input -> (wire type, uri | value)
    outputs_map: dict[str, tuple[str, str]] = field(default_factory=dict)  # output -> (wire type, uri)
    v1: bool = False

    def extra_properties(self, arm: bool) -> dict[str, Any]:
        """The job resource's inputs and outputs (hook in resources.py)."""
        def data_type(wire: str) -> str:
            return {"UriFolder": "uri_folder", "UriFile": "uri_file", "Literal": "literal"}[wire] if arm else wire

        inputs = {}
        for name, (wire, value) in self.bindings.items():
            key = "value" if wire == "Literal" else "uri"
            inputs[name] = {"jobInputType": data_type(wire), key: value}
        outputs = {name: {"jobOutputType": data_type(wire), "uri": uri} for name, (wire, uri) in self.outputs_map.items()}
        if arm:
            return {"inputs": inputs, "outputs": outputs}
        return {"inputData": inputs, "outputData": outputs}


def _settings() -> EffectiveSettings:
    s = DeploymentSettings()
    return EffectiveSettings(mini_batch_size=s.mini_batch_size, instance_count=1, max_concurrency_per_instance=1,
                             error_threshold=s.error_threshold, max_retries=0, timeout=0.0,
                             output_action="summary_only", output_file_name="", logging_level=s.logging_level)


def _canonical(value: Any) -> str | None:
    return _WIRE.get(str(value).replace("_", "").lower()) if value is not None else None


def bind_inputs(component: PipelineComponent, given: Mapping[str, tuple[str, Any]]) -> dict[str, tuple[str, Any]]:
    """Check ``given`` (name → (wire type, uri or value)) against the component; add defaults."""
    issues = []
    bound: dict[str, tuple[str, Any]] = {}
    for name, (wire, value) in given.items():
        port = component.inputs.get(name)
        if port is None:
            issues.append(ValidationIssue(f"InputData.{name}", f"[emulator] '{name}' is not an input of pipeline"
                                          f" component '{component.name}' (inputs: {', '.join(component.inputs)}).",
                                          name))
            continue
        if port.type in DATA_TYPES:
            if wire != DATA_TYPES[port.type]:
                issues.append(ValidationIssue(f"InputData.{name}.JobInputType", f"[emulator] Input '{name}' is"
                                              f" {port.type}; got {wire}.", wire))
                continue
        else:
            if wire != "Literal":
                issues.append(ValidationIssue(f"InputData.{name}.JobInputType", f"[emulator] Input '{name}' is a"
                                              f" {port.type} literal; got {wire}.", wire))
                continue
            try:
                value = _literal(port.type, value)
            except ValueError:
                issues.append(ValidationIssue(f"InputData.{name}.Value", f"[emulator] '{value}' is not a valid"
                                              f" {port.type} for input '{name}'.", value))
                continue
        bound[name] = (wire, value)
    for name, port in component.inputs.items():
        if name in bound:
            continue
        if port.default is not None:
            bound[name] = ("Literal", _literal(port.type, port.default)) if port.type in LITERAL_TYPES else \
                (DATA_TYPES[port.type], port.default)
        elif not port.optional:
            issues.append(ValidationIssue(f"InputData.{name}", f"[emulator] Required input '{name}' of pipeline"
                                          f" component '{component.name}' is missing.", code="NotEmptyValidator"))
    if issues:
        raise validation_error(*issues)
    return bound


def _literal(kind: str, value: Any) -> Any:
    if kind == "string":
        return value if isinstance(value, str) else json.dumps(value)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        raise ValueError(value)
    if isinstance(value, bool):
        raise ValueError(value)
    number = float(value)
    if kind == "integer":
        if number != int(number):
            raise ValueError(value)
        return int(number)
    return number


def _name_and_existing(emu: Any, requested: str | None) -> tuple[str, Job | None]:
    behaviour = emu.behaviour
    honoured = requested is not None and behaviour.job_names == "honour"
    name = requested if honoured else f"batchjob-{uuid.uuid4()}"
    existing = emu.store.get(name)
    if existing is not None and behaviour.reused_job_name != "existing":
        status = 409 if behaviour.reused_job_name == "conflict" else 400
        raise ContractError(status, "Conflict" if status == 409 else "UserError",
                            f"[emulator] A job named '{name}' already exists in workspace "
                            f"'{emu.config.workspace.workspace_name}'.")
    return name, existing


def _default_output(emu: Any, job_name: str, name: str, kind: str) -> str:
    ds = emu.config.default_datastore
    if ds is None:
        raise ContractError(400, "UserError", "[emulator] No OutputData given and no default_datastore configured.")
    tail = f"{name}/" if kind == "uri_folder" else f"{name}/{name}"
    return f"azureml://datastores/{ds}/paths/azureml/{job_name}/{tail}"


def _check_locations(emu: Any, bindings: Mapping[str, tuple[str, Any]], outputs: Mapping[str, tuple[str, str]]) -> None:
    from .core import OUTPUT_STORE_MESSAGE

    for name, (wire, value) in bindings.items():
        if wire == "Literal":
            continue
        try:
            emu.storage.resolve(value)
        except StorageError as exc:
            raise ContractError(400, "UserError", f"Input '{name}': {exc}") from exc
    for name, (_, uri) in outputs.items():
        try:
            out = emu.storage.resolve(uri)
        except StorageError as exc:
            raise ContractError(400, "UserError", f"Invalid output URI '{uri}'. {OUTPUT_STORE_MESSAGE} "
                                                  f"[emulator] {exc}") from exc
        if out.datastore is None:
            raise ContractError(400, "UserError", f"Invalid output URI '{uri}'. {OUTPUT_STORE_MESSAGE}")


def _request(bindings: Mapping[str, tuple[str, Any]], name: str | None, experiment: str | None,
             tags: Mapping[str, Any], properties: Mapping[str, Any], description: str | None) -> SubmitRequest:
    data = [(n, w, v) for n, (w, v) in bindings.items() if w != "Literal"]
    first = JobInput(data[0][0], data[0][1], data[0][2]) if data else JobInput("", "UriFolder", "")
    return SubmitRequest(input=first, output=None, overrides=Overrides(), name=name, experiment_name=experiment,
                         tags={str(k): str(v) for k, v in tags.items()},
                         properties={str(k): str(v) for k, v in properties.items()
                                     if str(k).lower() != "experimentname"},
                         description=description)


def create_pipeline_job(emu: Any, ep: Any, dep: PipelineDeployment, raw_body: bytes) -> tuple[Job, bool]:
    """The invoke of a pipeline-component deployment (hook in core.create_job)."""
    component = dep.component
    assert component is not None
    try:
        body = json.loads(raw_body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ContractError(400, "BadRequest", f"The request body is not valid JSON: {exc}") from exc
    props = ci_get(body, "properties")
    if not isinstance(props, Mapping):
        raise ContractError(400, "BadRequest", "The request body must be a JSON object with a 'properties' object.")
    given: dict[str, tuple[str, Any]] = {}
    for name, spec in (ci_get(props, "inputData") or {}).items():
        wire = _canonical(ci_get(spec, "jobInputType"))
        if wire not in ("UriFolder", "UriFile", "Literal"):
            raise validation_error(ValidationIssue(f"InputData.{name}.JobInputType",
                                                   f"The specified job input type '{wire or ci_get(spec, 'jobInputType')}"
                                                   "JobInput' is not supported.", ci_get(spec, "jobInputType")))
        given[str(name)] = (wire, ci_get(spec, "value") if wire == "Literal" else ci_get(spec, "uri"))
    bindings = bind_inputs(component, given)
    requested = ci_get(props, "name")
    name, existing = _name_and_existing(emu, str(requested) if requested else None)
    if existing is not None:
        return existing, False
    outputs: dict[str, tuple[str, str]] = {}
    for out_name, spec in (ci_get(props, "outputData") or {}).items():
        kind = component.outputs.get(str(out_name))
        if kind is None:
            raise validation_error(ValidationIssue(f"OutputData.{out_name}", f"[emulator] '{out_name}' is not an"
                                                   f" output of pipeline component '{component.name}' (outputs:"
                                                   f" {', '.join(component.outputs)}).", out_name))
        wire = _canonical(ci_get(spec, "jobOutputType"))
        if wire not in ("UriFolder", "UriFile"):
            raise validation_error(ValidationIssue(f"OutputData.{out_name}.JobOutputType", OUTPUT_TYPE_MESSAGE,
                                                   ci_get(spec, "jobOutputType")))
        uri = ci_get(spec, "uri")
        if not isinstance(uri, str) or not uri.strip():
            raise validation_error(ValidationIssue(f"OutputData.{out_name}.Uri", "'Uri' must not be empty.",
                                                   code="NotEmptyValidator"))
        outputs[str(out_name)] = (wire, uri.strip())
    for out_name, kind in component.outputs.items():
        outputs.setdefault(out_name, (DATA_TYPES[kind], _default_output(emu, name, out_name, kind)))
    _check_locations(emu, bindings, outputs)
    user = ci_get(props, "properties") or {}
    user = user if isinstance(user, Mapping) else {}
    labels = emu.behaviour.job_labels  # pipeline_properties: tags dropped, user properties kept (contract §8)
    tags = (ci_get(props, "tags") or {}) if labels == "keep" else {}
    if labels == "drop":
        user = {k: v for k, v in user.items() if str(k).lower() == "experimentname"}
    request = _request(bindings, str(requested) if requested else None, ci_get(user, "experimentName"),
                       tags, user, ci_get(props, "description"))
    job = PipelineJob(name=name, endpoint=ep.name, deployment=dep, request=request, settings=_settings(),
                      experiment_name=request.experiment_name or ep.name,
                      output_uri=next(iter(outputs.values()))[1] if outputs else "",
                      requested_name=request.name, component=component, bindings=bindings, outputs_map=outputs,
                      faults=emu.faults.take_job_faults(ep.name, dep.name))
    job.log(f"submitted to endpoint={ep.name} deployment={dep.name} (pipeline component {component.name})")
    start(emu, job)
    return job, True


def start(emu: Any, job: PipelineJob) -> None:
    emu.store.add(job)
    task = asyncio.get_running_loop().create_task(_lifecycle(emu, job), name=f"pipeline-{job.name}")
    emu.runner._tasks[job.name] = task  # cancel and shutdown find it there


# -- execution -------------------------------------------------------------------------------------------

async def _dwell(emu: Any, job: Job) -> None:
    await asyncio.sleep(emu.config.timings.dwell(job.status.value))


async def _lifecycle(emu: Any, job: PipelineJob) -> None:
    store = emu.store
    job_dir = emu.work_root / job.name
    try:
        await _dwell(emu, job)
        store.set_status(job, JobStatus.QUEUED)
        await _dwell(emu, job)
        store.set_status(job, JobStatus.PREPARING)
        values = await _prepare(emu, job, job_dir)
        await _dwell(emu, job)
        store.set_status(job, JobStatus.RUNNING)
        await emu.runner._apply_faults(job)  # the same job faults as model deployments (faults.py)
        await _run_step(job, job_dir, values)
        store.set_status(job, JobStatus.FINALIZING)
        await _upload_outputs(emu, job, job_dir)
        await _dwell(emu, job)
        store.set_status(job, JobStatus.COMPLETED)
    except (JobFailure, StorageError, ContractError) as exc:
        job.log(f"ERROR: {exc}")
        store.set_status(job, JobStatus.FAILED, error=str(exc))
    except asyncio.CancelledError:
        store.set_status(job, JobStatus.CANCELED)
    except Exception as exc:  # an emulator bug must still end the job visibly
        log.exception("pipeline job %s crashed", job.name)
        job.log(traceback.format_exc())
        store.set_status(job, JobStatus.FAILED, error=f"[emulator] internal error: {exc}")
    finally:
        shutil.rmtree(job_dir / "inputs", ignore_errors=True)


async def _prepare(emu: Any, job: PipelineJob, job_dir: Path) -> dict[tuple[str, str], str]:
    storage = emu.storage
    values: dict[tuple[str, str], str] = {}
    for name, (wire, value) in job.bindings.items():
        if wire == "Literal":
            values[("inputs", name)] = str(value).lower() if isinstance(value, bool) else str(value)
            continue
        src = storage.resolve(value)
        if src.sas:
            job.log(f"input {name}: read with the SAS token of its URI (not with the emulator's account key)")
        local = job_dir / "inputs" / name
        local.mkdir(parents=True, exist_ok=True)
        if wire == "UriFolder":
            names = await asyncio.to_thread(storage.list_folder, src)
            for blob in names:
                await asyncio.to_thread(storage.download, src, blob, local / os.path.basename(blob))
            values[("inputs", name)] = str(local)
            job.log(f"input {name} {value}: {len(names)} files downloaded")
        else:
            target = local / (src.basename or name)
            await asyncio.to_thread(storage.download, src, src.path, target)
            values[("inputs", name)] = str(target)
    for name, (wire, uri) in job.outputs_map.items():
        loc = storage.resolve(uri)
        taken = await asyncio.to_thread(storage.list_folder, loc) if wire == "UriFolder" else \
            ([loc.path] if await asyncio.to_thread(storage.exists, loc) else [])
        if taken:
            raise JobFailure(f"Cannot write output '{uri}': the path already exists. Use a unique output location.")
        local = job_dir / "outputs" / name
        if wire == "UriFolder":
            local.mkdir(parents=True, exist_ok=True)
            values[("outputs", name)] = str(local)
        else:
            local.mkdir(parents=True, exist_ok=True)
            values[("outputs", name)] = str(local / (loc.basename or name))
    return values


async def _run_step(job: PipelineJob, job_dir: Path, values: Mapping[tuple[str, str], str]) -> None:
    assert job.component is not None
    words = []
    for word in shlex.split(job.component.command):
        word = _PLACEHOLDER.sub(lambda m: values.get((m[1], m[2]), ""), word)
        words.append(sys.executable if word == "python" else word)
    logs = job_dir / "logs" / "user" / "stdout"
    logs.mkdir(parents=True, exist_ok=True)
    job.stdout_path, job.stderr_path = str(logs / "process000.stdout.txt"), str(logs / "process000.stderr.txt")
    job.log(f"step: {' '.join(shlex.quote(w) for w in words)}")
    with open(job.stdout_path, "wb") as out, open(job.stderr_path, "wb") as err:
        process = await asyncio.create_subprocess_exec(*words, cwd=str(job.component.code_dir), stdout=out, stderr=err)
        try:
            code = await process.wait()
        except asyncio.CancelledError:
            process.kill()
            await process.wait()
            raise
    if code != 0:
        tail = Path(job.stderr_path).read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
        raise JobFailure(f"Pipeline step of component '{job.component.name}' failed with exit code {code}: "
                         + " | ".join(tail))


async def _upload_outputs(emu: Any, job: PipelineJob, job_dir: Path) -> None:
    storage = emu.storage
    for name, (wire, uri) in job.outputs_map.items():
        loc = storage.resolve(uri)
        local = job_dir / "outputs" / name
        try:
            if wire == "UriFolder":
                for path in sorted(p for p in local.rglob("*") if p.is_file()):
                    rel = path.relative_to(local).as_posix()
                    await asyncio.to_thread(storage.upload_new, loc.child(rel), path.read_bytes(), owner=job.name)
                job.log(f"output {name}: folder uploaded to {uri}")
            else:
                path = local / (loc.basename or name)
                if not path.is_file():
                    raise JobFailure(f"The step wrote no file for output '{name}' ({uri}).")
                await asyncio.to_thread(storage.upload_new, loc, path.read_bytes(), owner=job.name)
                job.log(f"output {name}: file uploaded to {uri}")
        except PathExistsError as exc:
            raise JobFailure(f"Cannot write output '{exc}': the path already exists.") from exc
