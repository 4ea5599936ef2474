"""JSON shapes the service returns for a job (data-plane BatchJobResource, ARM job) and its log text."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from .config import Workspace
from .jobs import Job


def iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def iso_duration(seconds: float) -> str:
    return f"PT{seconds:g}S"


def studio_url(job: Job, ws: Workspace) -> str:
    return (f"https://ml.azure.com/runs/{job.name}?wsid=/subscriptions/{ws.subscription_id}"
            f"/resourcegroups/{ws.resource_group}/workspaces/{ws.workspace_name}")


def _system_data(job: Job) -> dict[str, Any]:
    return {"createdAt": iso(job.created_at), "createdBy": "emulator", "createdByType": "User",
            "lastModifiedAt": iso(job.modified_at), "lastModifiedBy": "emulator", "lastModifiedByType": "User"}


def job_tags(job: Job) -> dict[str, str]:
    return {"azureml.batchrun": "true", "azureml.deploymentname": job.deployment.name,
            "azureml.jobtype": "azureml.pipelinejob", **job.request.tags}


def job_properties(job: Job) -> dict[str, str]:
    """The client's user properties, then the service's own (which win on a clash)."""
    return {**job.request.properties,
            "azureml.deploymentname": job.deployment.name, "azureml.endpointname": job.endpoint,
            "azureml.defaultDataStoreName": "workspaceblobstore", "azureml.runLineageType": "batchDeployment",
            "runSource": "BatchDeployment", "runType": "HTTP"}


def _error(job: Job) -> dict[str, Any] | None:
    return {"code": "UserError", "message": job.error} if job.error else None


def batch_job_resource(job: Job, ws: Workspace) -> dict[str, Any]:
    """Data-plane shape (POST/GET on the scoring URI); camelCase as on the wire (contract §1.10)."""
    s = job.settings
    props: dict[str, Any] = {
        "name": job.name,
        "status": job.status.value,
        "provisioningState": "Succeeded",
        "experimentName": job.experiment_name,
        "interactionEndpoints": {"Studio": {"endpoint": studio_url(job, ws), "jobEndpointType": "Studio"}},
        "inputData": dict(job.request.input_echo),
        "outputData": {(job.request.output.name if job.request.output else "score"):
                       {"jobOutputType": "UriFile", "uri": job.output_uri}},
        "compute": {"instanceCount": s.instance_count, "isLocal": True},
        "miniBatchSize": s.mini_batch_size,
        "maxConcurrencyPerInstance": s.max_concurrency_per_instance,
        "errorThreshold": s.error_threshold,
        "retrySettings": {"maxRetries": s.max_retries, "timeout": iso_duration(s.timeout)},
        "outputFileName": s.output_file_name,
        "loggingLevel": s.logging_level,
        "tags": job_tags(job),
        "properties": job_properties(job),
        "output": {},
    }
    if hasattr(job, "extra_properties"):  # pipeline jobs: every named input and output (pipelines.py)
        props.update(job.extra_properties(arm=False))
    if job.request.description:
        props["description"] = job.request.description
    if job.error:
        props["error"] = _error(job)
    return {"id": f"{ws.arm_id}/batchEndpoints/{job.endpoint}/jobs/{job.name}", "name": job.name,
            "type": "Microsoft.MachineLearningServices/workspaces/batchEndpoints/jobs",
            "properties": props, "systemData": _system_data(job)}


def arm_job_resource(job: Job, ws: Workspace) -> dict[str, Any]:
    """ARM Jobs API shape (GET .../workspaces/{ws}/jobs/{name}); contract §2.1 B."""
    inp = job.request.input
    out_name = job.request.output.name if job.request.output else "score"
    props: dict[str, Any] = {
        "jobType": "Pipeline",
        "displayName": job.name,
        "status": job.status.value,
        "experimentName": job.experiment_name,
        "isArchived": False,
        "services": {"Studio": {"endpoint": studio_url(job, ws), "jobServiceType": "Studio"}},
        "tags": job_tags(job),
        "properties": job_properties(job),
        "inputs": {inp.name: {"jobInputType": "uri_folder" if inp.type == "UriFolder" else "uri_file",
                              "uri": inp.uri, "mode": "ReadOnlyMount"}},
        "outputs": {out_name: {"jobOutputType": "uri_file", "uri": job.output_uri, "mode": "ReadWriteMount"}},
    }
    if hasattr(job, "extra_properties"):
        props.update(job.extra_properties(arm=True))
    if job.request.description:
        props["description"] = job.request.description
    if job.error:
        props["error"] = _error(job)
    return {"id": f"{ws.arm_id}/jobs/{job.name}", "name": job.name,
            "type": "Microsoft.MachineLearningServices/workspaces/jobs", "properties": props,
            "systemData": _system_data(job)}


def job_logs(job: Job) -> str:
    """job_progress_overview-like summary, the job log, then the scoring script's stdout/stderr."""
    c = job.counters
    s = job.settings
    parts = [
        "== logs/job_progress_overview.txt ==",
        f"Job: {job.name}  endpoint={job.endpoint} deployment={job.deployment.name}  status={job.status.value}",
        f"Total files: {c['files']}",
        f"Total mini batches: {c['mini_batches']} (mini_batch_size={s.mini_batch_size})",
        f"Processed mini batches: {c['succeeded_mini_batches'] + c['failed_mini_batches']}",
        f"Succeeded mini batches: {c['succeeded_mini_batches']}",
        f"Failed mini batches: {c['failed_mini_batches']}",
        f"Failed items: {c['failed_items']} (error_threshold={s.error_threshold})",
        f"Returned elements: {c['returned_elements']}",
        f"Resources: instance_count={s.instance_count} max_concurrency_per_instance={s.max_concurrency_per_instance}",
    ]
    if job.error:
        parts += ["", "== logs/user/error.txt ==", job.error]
    parts += ["", "== logs/sys/master_role.txt ==", *job.log_lines]
    for title, path in (("stdout", job.stdout_path), ("stderr", job.stderr_path)):
        parts += ["", f"== logs/user/stdout/0/process000.{title}.txt =="]
        if path and Path(path).exists():
            parts.append(Path(path).read_text(encoding="utf-8", errors="replace").rstrip("\n"))
    return "\n".join(parts) + "\n"
