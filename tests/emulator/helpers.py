"""Helpers shared by the emulator tests (config for the in-process emulator, uploads, bodies, polling)."""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from azure.storage.blob import ContainerClient

from emulator import EmulatorServer

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "heart"
SCRIPTS = Path(__file__).resolve().parent / "scripts"
PIPELINE = REPO / "samples" / "pipeline"
V1_PIPELINE_ENDPOINT_ID = "5a3c1f2e-0000-4000-8000-00000000a001"
ASSET_VERSIONS = ("1", "2")
TOKEN = {"Authorization": "Bearer local-test-token"}
TERMINAL = {"Completed", "Failed", "Canceled"}
FAST = {"not_started": 0.05, "queued": 0.05, "preparing": 0.05, "finalizing": 0.05, "cancel_requested": 0.05}


def emulator_config_dict(conn_str: str, profile: str | None = None) -> dict[str, Any]:
    """The heart sample config pointed at the test Azurite, plus test-only endpoints. ``profile``
    (``strict``/``kind``): None leaves it to the emulator (``AML_EMULATOR_PROFILE``, else ``strict``)."""
    cfg = json.loads((SAMPLE / "emulator.sample.json").read_text())
    if profile is not None:
        cfg["profile"] = profile
    cfg["storage_accounts"]["devstoreaccount1"] = {"connection_string": conn_str}
    cfg["timings"] = dict(FAST)
    flaky = {"type": "model", "code_configuration": {"code": str(SCRIPTS / "flaky"), "scoring_script": "score.py"},
             "settings": {"mini_batch_size": 1, "retry_settings": {"max_retries": 2, "timeout": 30}}}
    summary = json.loads(json.dumps(flaky))
    summary["settings"]["output_action"] = "summary_only"
    frame = {"type": "model", "code_configuration": {"code": str(SCRIPTS / "frame"), "scoring_script": "score.py"},
             "settings": {"mini_batch_size": 2}}
    cfg["endpoints"]["lab"] = {"default_deployment": "flaky",
                               "deployments": {"flaky": flaky, "summary": summary, "frame": frame}}
    cfg["endpoints"]["nodefault"] = {"deployments": {"classifier": {"file": str(SAMPLE / "deployment.json")}}}
    # the pipeline sample (samples/pipeline): a pipeline-component deployment, its data asset, a v1 endpoint
    cfg["endpoints"]["sales"] = {"default_deployment": "sales-pipeline",
                                 "deployments": {"sales-pipeline": {"file": str(PIPELINE / "deployment.json")}}}
    cfg["data_assets"] = {"regions": {"versions": {v: ds_uri(f"assets/regions/{v}/") for v in ASSET_VERSIONS}}}
    cfg["pipeline_endpoints"] = {V1_PIPELINE_ENDPOINT_ID: {"name": "sales-v1", "versions": ["1", "2"],
                                                           "component": str(PIPELINE / "component.json")}}
    return cfg


def upload_pipeline_assets(datastore: ContainerClient) -> None:
    """The ``regions`` data asset's files (every version) into the datastore's container; idempotent."""
    from azure.core.exceptions import ResourceExistsError

    data = (PIPELINE / "data" / "regions" / "regions.csv").read_bytes()
    for version in ASSET_VERSIONS:
        try:
            datastore.upload_blob(f"assets/regions/{version}/regions.csv", data)
        except ResourceExistsError:
            pass


def pipeline_sales_files() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((PIPELINE / "data" / "sales").glob("*.csv"))}


def unique(prefix: str) -> str:
    return f"{prefix}/{uuid.uuid4().hex[:10]}"


def upload(container: ContainerClient, folder: str, files: dict[str, str | bytes]) -> None:
    for name, data in files.items():
        container.upload_blob(f"{folder}/{name}", data)


def ds_uri(path: str, datastore: str = "workspaceblobstore") -> str:
    return f"azureml://datastores/{datastore}/paths/{path}"


def body(input_uri: str, output_uri: str | None = None, input_type: str = "UriFolder", **props: Any) -> dict[str, Any]:
    """Documented PascalCase body; extra camelCase job properties via **props."""
    p: dict[str, Any] = {"InputData": {"heart_data": {"JobInputType": input_type, "Uri": input_uri}}}
    if output_uri is not None:
        p["OutputData"] = {"score": {"JobOutputType": "UriFile", "Uri": output_uri}}
    p.update(props)
    return {"properties": p}


def wait_for(client: httpx.Client, endpoint: str, name: str, statuses: set[str] = TERMINAL,
              timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"/endpoints/{endpoint}/jobs/{name}")
        assert r.status_code == 200, r.text
        job = r.json()
        if job["properties"]["status"] in statuses:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {name} still {job['properties']['status']} after {timeout}s")
        time.sleep(0.02)


def emulator_job(server: EmulatorServer, name: str) -> dict[str, Any]:
    jobs = httpx.get(server.base_url + "/_emulator/jobs").json()["value"]
    return next(j for j in jobs if j["name"] == name)

