"""The emulator's state and its operations, independent of HTTP: routing, submit, cancel."""
from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path

from .config import Behaviour, Deployment, EmulatorConfig, Endpoint
from .contract import NO_ROUTE_MESSAGE, ContractError, SubmitRequest, parse_submit
from .events import EventPublisher
from .faults import FaultState
from .jobs import EffectiveSettings, Job, JobStore
from .runner import JobRunner
from .shape import check_sdk_shape
from .storage import Storage, StorageError

OUTPUT_STORE_MESSAGE = ("It must be a path to an output file in a Data Store attached to the Machine Learning "
                        "workspace. No other type of URIs is supported.")


class Emulator:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.store = JobStore()
        self.faults = FaultState()
        self.faults.apply(config.faults)
        self.behaviour: Behaviour = config.behaviour  # replaced whole (POST /_emulator/behaviour)
        self.storage = Storage(config)
        self._own_work_dir = config.work_dir is None
        self.work_root = Path(tempfile.mkdtemp(prefix="aml-emulator-")) if config.work_dir is None else config.work_dir
        self.work_root.mkdir(parents=True, exist_ok=True)
        self.runner = JobRunner(config, self.store, self.storage, self.work_root)
        self.events = EventPublisher(config.events, config.workspace)
        self.store.listeners.append(self.events.on_status)
        self.storage.on_created.append(self.events.on_blob_created)
        from .children import rewrite_event

        self.events.rewrite = lambda job, event: rewrite_event(self, job, event)

    # -- routing ---------------------------------------------------------------------------------------
    def endpoint(self, name: str) -> Endpoint:
        ep = self.config.endpoints.get(name)
        if ep is None:
            raise ContractError(404, "EndpointNotFound",
                                f"Batch endpoint '{name}' not found in workspace '{self.config.workspace.workspace_name}'.")
        return ep

    def route(self, ep: Endpoint, header: str | None) -> Deployment:
        if header:
            dep = ep.deployments.get(header)
            if dep is None:
                raise ContractError(404, "DeploymentNotFound",
                                    f"Deployment '{header}' named in the 'azureml-model-deployment' header does not "
                                    f"exist in endpoint '{ep.name}'. Deployments: {', '.join(ep.deployments) or 'none'}.")
            return dep
        if ep.default_deployment is None:
            raise ContractError(404, "NoValidDeployments", NO_ROUTE_MESSAGE)
        return ep.deployments[ep.default_deployment]

    # -- operations ------------------------------------------------------------------------------------
    def submit(self, endpoint_name: str, deployment_header: str | None, raw_body: bytes) -> Job:
        return self.create_job(endpoint_name, deployment_header, raw_body)[0]

    def create_job(self, endpoint_name: str, deployment_header: str | None, raw_body: bytes) -> tuple[Job, bool]:
        """``(job, created)``: ``created`` is False when a reused client name answers with the existing job."""
        ep = self.endpoint(endpoint_name)
        dep = self.route(ep, (deployment_header or "").strip() or None)
        if self.behaviour.body_shape == "sdk":
            check_sdk_shape(_json_or_none(raw_body))
        if dep.type == "pipeline":  # named inputs, literals, named outputs: emulator/pipelines.py
            from .pipelines import create_pipeline_job

            return create_pipeline_job(self, ep, dep, raw_body)
        req = parse_submit(raw_body)
        behaviour = self.behaviour
        if behaviour.job_labels != "keep":  # model deployments keep no user properties in either other mode
            req = replace(req, tags={}, properties={},
                          experiment_name=req.experiment_name if behaviour.job_labels == "drop" else None)
        honoured = req.name is not None and behaviour.job_names == "honour"
        name = req.name if honoured else f"batchjob-{uuid.uuid4()}"
        existing = self.store.get(name)
        if existing is not None:
            if behaviour.reused_job_name == "existing":
                return existing, False
            status = 409 if behaviour.reused_job_name == "conflict" else 400
            raise ContractError(status, "Conflict" if status == 409 else "UserError",
                                f"[emulator] A job named '{name}' already exists in workspace "
                                f"'{self.config.workspace.workspace_name}'.")
        settings = self._effective(dep, req)
        output_uri = self._output_uri(req, settings, name)
        try:
            self.storage.resolve(req.input.uri)  # datastores, storage URLs, data-asset ids, abfss (assets.py)
        except StorageError as exc:
            raise ContractError(400, "UserError", str(exc)) from exc
        try:
            out = self.storage.resolve(output_uri)
        except StorageError as exc:
            raise ContractError(400, "UserError", f"Invalid output URI '{output_uri}'. {OUTPUT_STORE_MESSAGE} "
                                                  f"[emulator] {exc}") from exc
        if out.datastore is None:
            raise ContractError(400, "UserError", f"Invalid output URI '{output_uri}'. {OUTPUT_STORE_MESSAGE}")
        job = Job(name=name, endpoint=ep.name, deployment=dep, request=req, settings=settings,
                  experiment_name=req.experiment_name or ep.name, output_uri=output_uri,
                  faults=self.faults.take_job_faults(ep.name, dep.name), requested_name=req.name)
        if req.name and not honoured:
            job.log(f"the client-chosen name '{req.name}' was ignored (behaviour.job_names = ignore)")
        job.log(f"submitted to endpoint={ep.name} deployment={dep.name} input={req.input.uri} output={output_uri}")
        if req.output and req.overrides.output_file_name:
            job.log("note: outputFileName is ignored because OutputData gives the full file URI")
        self.store.add(job)
        self.runner.start(job)
        return job, True

    def cancel(self, job: Job) -> None:
        self.runner.cancel(job)

    def check_cancel(self, job: Job) -> None:
        """Before the ARM job cancel: the strict profile refuses a finished job (that it is an error:
        Azure/azureml-assets#2496; the status and wording are UNCONFIRMED)."""
        if job.terminal and self.behaviour.finished_cancel == "refuse":
            raise ContractError(400, "UserError", f"[emulator] Job '{job.name}' is already {job.status.value}"
                                                  " and cannot be canceled.")

    async def shutdown(self) -> None:
        await self.runner.shutdown()
        await self.events.close()
        if self._own_work_dir:
            shutil.rmtree(self.work_root, ignore_errors=True)

    # -- helpers ---------------------------------------------------------------------------------------
    @staticmethod
    def _effective(dep: Deployment, req: SubmitRequest) -> EffectiveSettings:
        s, o = dep.settings, req.overrides
        pick = lambda override, default: default if override is None else override  # noqa: E731
        return EffectiveSettings(
            mini_batch_size=pick(o.mini_batch_size, s.mini_batch_size),
            instance_count=pick(o.instance_count, dep.instance_count),
            max_concurrency_per_instance=pick(o.max_concurrency_per_instance, s.max_concurrency_per_instance),
            error_threshold=pick(o.error_threshold, s.error_threshold),
            max_retries=pick(o.max_retries, s.retry_settings.max_retries),
            timeout=pick(o.timeout, s.retry_settings.timeout),
            output_action=s.output_action,
            output_file_name=pick(o.output_file_name, s.output_file_name),
            logging_level=pick(o.logging_level, s.logging_level),
        )

    def _output_uri(self, req: SubmitRequest, settings: EffectiveSettings, job_name: str) -> str:
        """UriFile output = full file path (contract §1.6); without OutputData, the default datastore's
        azureml/<job>/score/<output_file_name>."""
        if req.output is not None:
            return req.output.uri
        ds = self.config.default_datastore
        if ds is None:
            raise ContractError(400, "UserError", "[emulator] No OutputData given and no default_datastore configured.")
        return f"azureml://datastores/{ds}/paths/azureml/{job_name}/score/{settings.output_file_name}"


def _json_or_none(raw: bytes) -> object:
    """The parsed body, or None when it is not JSON (``parse_submit`` then answers as the service does)."""
    try:
        return json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        return None
