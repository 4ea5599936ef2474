"""Emulator configuration: JSON file → frozen dataclasses.

Paths inside the config resolve relative to the file that names them (the config file, or a
deployment file it references), so a config can be moved together with its sample.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

OUTPUT_ACTIONS = ("append_row", "summary_only")
# Microsoft.MachineLearningServices api-versions (Pulumi azure-native's list for jobs, plus 2025-12-01, the
# @azure/arm-machinelearning default, contract §2.1/§2.4). Any other is refused as ARM refuses it.
ARM_API_VERSIONS = (
    "2021-03-01-preview", "2022-02-01-preview", "2022-05-01", "2022-06-01-preview", "2022-10-01",
    "2022-10-01-preview", "2022-12-01-preview", "2023-02-01-preview", "2023-04-01", "2023-04-01-preview",
    "2023-06-01-preview", "2023-08-01-preview", "2023-10-01", "2024-01-01-preview", "2024-04-01",
    "2024-07-01-preview", "2024-10-01", "2024-10-01-preview", "2025-01-01-preview", "2025-04-01",
    "2025-04-01-preview", "2025-06-01", "2025-07-01-preview", "2025-09-01", "2025-10-01-preview", "2025-12-01",
)


class ConfigError(ValueError):
    """The emulator config is unusable; the message names the offending key."""


def azurite_connection_string(blob_endpoint: str, account: str = AZURITE_ACCOUNT, key: str = AZURITE_KEY) -> str:
    return f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};BlobEndpoint={blob_endpoint};"


@dataclass(frozen=True)
class StorageAccount:
    name: str
    connection_string: str


@dataclass(frozen=True)
class Datastore:
    name: str
    account: str  # key into EmulatorConfig.storage_accounts
    container: str


@dataclass(frozen=True)
class RetrySettings:
    max_retries: int = 3
    timeout: float = 30.0  # seconds per mini-batch


@dataclass(frozen=True)
class DeploymentSettings:
    mini_batch_size: int = 10
    max_concurrency_per_instance: int = 1
    output_action: str = "append_row"
    output_file_name: str = "predictions.csv"
    retry_settings: RetrySettings = RetrySettings()
    error_threshold: int = -1
    logging_level: str = "info"
    environment_variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Deployment:
    name: str
    type: str  # only "model" is emulated
    code_dir: Path
    scoring_script: str  # relative to code_dir
    model_dir: Path | None
    instance_count: int
    settings: DeploymentSettings


@dataclass(frozen=True)
class Endpoint:
    name: str
    deployments: Mapping[str, Deployment]
    default_deployment: str | None


@dataclass(frozen=True)
class Workspace:
    subscription_id: str = "00000000-0000-0000-0000-000000000000"
    resource_group: str = "rg-local"
    workspace_name: str = "ws-local"
    region: str = "local"

    @property
    def arm_id(self) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace_name}")


@dataclass(frozen=True)
class Timings:
    """Seconds spent in each early/late state; the real service takes minutes."""
    not_started: float = 1.0
    queued: float = 1.0
    preparing: float = 1.0
    finalizing: float = 1.0
    cancel_requested: float = 0.5

    def dwell(self, status: str) -> float:
        key = {"NotStarted": "not_started", "Queued": "queued", "Preparing": "preparing",
               "Finalizing": "finalizing", "CancelRequested": "cancel_requested"}.get(status)
        return getattr(self, key) if key else 0.0


@dataclass(frozen=True)
class EventsConfig:
    url: str | None = None
    drop_next: int = 0  # drop the next N events
    drop_statuses: tuple[str, ...] = ()
    duplicate: bool = False  # deliver every event twice (Event Grid is at-least-once)
    # where Microsoft.Storage.BlobCreated events for the outputs a job writes are posted (the app's Event Grid
    # webhook, as a subscription on the datastore's account would): local runs get output events
    blob_url: str | None = None


JOB_NAME_MODES = ("honour", "ignore")
JOB_LABEL_MODES = ("keep", "drop", "pipeline_properties")
REUSED_NAME_ANSWERS = ("conflict", "existing", "bad_request")
BODY_SHAPES = ("lenient", "sdk")
DATA_PLANE_LISTS = ("serve", "none")
FINISHED_CANCEL_ANSWERS = ("accept", "refuse")

#: Where the real service's answer is unknown, ``strict`` assumes the least helpful one the sources allow
#: (contract §8) and ``kind`` the most helpful; README "Profiles" lists each choice.
PROFILES: Mapping[str, Mapping[str, Any]] = {
    "kind": {"job_names": "honour", "job_labels": "keep", "body_shape": "lenient", "data_plane_list": "serve",
             "finished_cancel": "accept"},
    "strict": {"job_names": "ignore", "job_labels": "pipeline_properties", "body_shape": "sdk",
               "data_plane_list": "none", "finished_cancel": "refuse"},
}
#: The profile when the config file names none: this variable, else ``strict``.
PROFILE_ENV = "AML_EMULATOR_PROFILE"
DEFAULT_PROFILE = "strict"


def default_profile() -> str:
    """``AML_EMULATOR_PROFILE`` when set (CI can run a suite on ``kind``), else ``strict``."""
    name = os.environ.get(PROFILE_ENV, "").strip() or DEFAULT_PROFILE
    if name not in PROFILES:
        raise ConfigError(f"{PROFILE_ENV} must be one of {tuple(PROFILES)}, got {name!r}")
    return name


@dataclass(frozen=True)
class Behaviour:
    """Answers where the real service's behaviour is UNCONFIRMED (contract §1.8, §8), so tests can try each.

    ``profile``: the preset these started from (``PROFILES``); a spec with ``profile`` starts again from it.
    ``job_names``: ``honour`` makes a client-chosen ``properties.name`` the job name; ``ignore`` gives every
    job a generated name, as azure-sdk-for-python#32763 reports for some deployments.
    ``reused_job_name``: the answer to a POST whose honoured name already exists: ``conflict`` (409, what
    the SDK maps to ResourceExistsError), ``existing`` (200 with the existing job, an idempotent create) or
    ``bad_request`` (400 UserError).
    ``job_labels``: ``keep`` stores the request's ``tags`` and user ``properties`` on the job; ``drop``
    loses them (invoke-time tags are UNCONFIRMED, contract §1.7), leaving only the output path to
    recognise a job by; ``pipeline_properties`` drops tags everywhere and keeps user properties (the
    experiment name among them) only on pipeline-component deployments, as the docs allow (contract §8).
    ``body_shape``: ``sdk`` refuses an invoke body whose shape differs from what azure-ai-ml's ``invoke()``
    sends (key casing, enum spelling, unknown properties: emulator/shape.py); ``lenient`` reads any casing.
    ``data_plane_list``: ``serve`` answers ``GET {scoring URI}`` with the endpoint's jobs; ``none`` with 404,
    as no documented data-plane list exists (contract §2.1).
    ``finished_cancel``: ``accept`` answers a cancel of a terminal job 202 and changes nothing; ``refuse``
    answers 400 (cancelling a finishing job is an error, Azure/azureml-assets#2496).
    ``list_page_size``: jobs per page of the job lists (newest first, ``nextLink`` to the next page).
    """
    profile: str = "kind"
    job_names: str = "honour"
    reused_job_name: str = "conflict"
    job_labels: str = "keep"
    body_shape: str = "lenient"
    data_plane_list: str = "serve"
    finished_cancel: str = "accept"
    list_page_size: int = 50

    @staticmethod
    def preset(profile: str) -> "Behaviour":
        if profile not in PROFILES:
            raise ConfigError(f"behaviour.profile must be one of {tuple(PROFILES)}, got {profile!r}")
        return replace(Behaviour(), profile=profile, **PROFILES[profile])

    def updated(self, spec: Mapping[str, Any]) -> "Behaviour":
        """A copy with the keys of ``spec`` applied (``profile`` first: its preset, then the other keys);
        unknown keys or values raise ConfigError."""
        if not isinstance(spec, Mapping):
            raise ConfigError("behaviour must be a JSON object")
        unknown = set(spec) - set(Behaviour.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"behaviour: unknown key(s) {sorted(unknown)}; known: "
                              f"{sorted(Behaviour.__dataclass_fields__)}")
        base = Behaviour.preset(spec["profile"]) if "profile" in spec else self
        new = replace(base, **{k: v for k, v in spec.items() if k != "profile"})
        for key, allowed in (("job_names", JOB_NAME_MODES), ("job_labels", JOB_LABEL_MODES),
                             ("reused_job_name", REUSED_NAME_ANSWERS), ("body_shape", BODY_SHAPES),
                             ("data_plane_list", DATA_PLANE_LISTS), ("finished_cancel", FINISHED_CANCEL_ANSWERS)):
            if getattr(new, key) not in allowed:
                raise ConfigError(f"behaviour.{key} must be one of {allowed}")
        if not isinstance(new.list_page_size, int) or isinstance(new.list_page_size, bool) or new.list_page_size < 1:
            raise ConfigError("behaviour.list_page_size must be an integer >= 1")
        return new


@dataclass(frozen=True)
class EmulatorConfig:
    workspace: Workspace = Workspace()
    management_prefix: str = "/management"
    storage_accounts: Mapping[str, StorageAccount] = field(default_factory=dict)
    datastores: Mapping[str, Datastore] = field(default_factory=dict)
    default_datastore: str | None = None
    endpoints: Mapping[str, Endpoint] = field(default_factory=dict)
    timings: Timings = Timings()
    faults: Mapping[str, Any] = field(default_factory=dict)  # parsed by faults.FaultState
    events: EventsConfig = EventsConfig()
    behaviour: Behaviour = Behaviour()
    arm_api_versions: tuple[str, ...] = ARM_API_VERSIONS
    work_dir: Path | None = None  # job scratch space; a temp dir when None
    data_assets: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # name -> version -> uri (assets.py)
    pipeline_endpoints: Mapping[str, Any] = field(default_factory=dict)  # v1 PipelineEndpoints by id (pipelines_v1.py)

    def with_timings(self, **seconds: float) -> "EmulatorConfig":
        return replace(self, timings=replace(self.timings, **seconds))


def load_config(source: str | os.PathLike[str] | Mapping[str, Any], base_dir: str | os.PathLike[str] | None = None) -> EmulatorConfig:
    """Load from a JSON file path or an already-parsed dict (dicts resolve paths against base_dir or cwd)."""
    if isinstance(source, Mapping):
        return _parse(source, Path(base_dir or os.getcwd()).resolve())
    path = Path(source).resolve()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read emulator config {path}: {exc}") from exc
    return _parse(raw, path.parent)


def _parse(raw: Mapping[str, Any], base: Path) -> EmulatorConfig:
    ws = raw.get("workspace") or {}
    workspace = Workspace(**{k: str(v) for k, v in ws.items() if k in Workspace.__dataclass_fields__})
    accounts = {name: StorageAccount(name, _connection_string(name, spec))
                for name, spec in (raw.get("storage_accounts") or {}).items()}
    datastores = {name: _datastore(name, spec, accounts) for name, spec in (raw.get("datastores") or {}).items()}
    default_ds = raw.get("default_datastore") or (next(iter(datastores)) if datastores else None)
    if default_ds is not None and default_ds not in datastores:
        raise ConfigError(f"default_datastore {default_ds!r} is not in datastores")
    endpoints = {name: _endpoint(name, spec, base) for name, spec in (raw.get("endpoints") or {}).items()}
    timings = Timings(**{k: float(v) for k, v in (raw.get("timings") or {}).items() if k in Timings.__dataclass_fields__})
    ev = raw.get("events") or {}
    events = EventsConfig(url=ev.get("url"), drop_next=int(ev.get("drop_next", 0)),
                          drop_statuses=tuple(ev.get("drop_statuses") or ()), duplicate=bool(ev.get("duplicate", False)),
                          blob_url=ev.get("blob_url"))
    prefix = "/" + str(raw.get("management_prefix", "/management")).strip("/")
    work_dir = raw.get("work_dir")
    return EmulatorConfig(workspace=workspace, management_prefix=prefix, storage_accounts=accounts,
                          datastores=datastores, default_datastore=default_ds, endpoints=endpoints,
                          timings=timings, faults=dict(raw.get("faults") or {}), events=events,
                          behaviour=Behaviour.preset(_profile(raw)).updated(raw.get("behaviour") or {}),
                          arm_api_versions=tuple(raw.get("arm_api_versions") or ARM_API_VERSIONS),
                          work_dir=(base / work_dir) if work_dir else None, **_pipeline_parts(raw, base))


def _profile(raw: Mapping[str, Any]) -> str:
    """The config's ``profile``, else :func:`default_profile`."""
    name = raw.get("profile")
    if name is None:
        return default_profile()
    if name not in PROFILES:
        raise ConfigError(f"profile must be one of {tuple(PROFILES)}, got {name!r}")
    return str(name)


def _pipeline_parts(raw: Mapping[str, Any], base: Path) -> dict[str, Any]:
    from .assets import parse_assets
    from .pipelines import parse_v1_endpoints

    try:
        return {"data_assets": parse_assets(raw.get("data_assets")),
                "pipeline_endpoints": parse_v1_endpoints(raw.get("pipeline_endpoints"), base)}
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def _connection_string(name: str, spec: Any) -> str:
    if isinstance(spec, str):
        return spec
    if "connection_string" in spec:
        return spec["connection_string"]
    if "connection_string_env" in spec:  # keeps keys out of committed config files
        value = os.environ.get(spec["connection_string_env"])
        if not value:
            raise ConfigError(f"storage_accounts.{name}: env var {spec['connection_string_env']} is not set")
        return value
    if "blob_endpoint" in spec:  # Azurite well-known key unless given
        return azurite_connection_string(spec["blob_endpoint"], spec.get("account_name", name), spec.get("key", AZURITE_KEY))
    raise ConfigError(f"storage_accounts.{name}: needs connection_string, connection_string_env or blob_endpoint")


def _datastore(name: str, spec: Mapping[str, Any], accounts: dict[str, StorageAccount]) -> Datastore:
    if "container" not in spec:
        raise ConfigError(f"datastores.{name}: container is required")
    account = spec.get("account")
    if account is None and "connection_string" in spec:
        account = f"__datastore_{name}"
        accounts[account] = StorageAccount(account, spec["connection_string"])
    if account not in accounts:
        raise ConfigError(f"datastores.{name}: account {account!r} is not in storage_accounts")
    return Datastore(name, account, spec["container"])


def _endpoint(name: str, spec: Mapping[str, Any], base: Path) -> Endpoint:
    deployments = {d: _deployment(d, s, base) for d, s in (spec.get("deployments") or {}).items()}
    default = spec.get("default_deployment")
    if default is not None and default not in deployments:
        raise ConfigError(f"endpoints.{name}.default_deployment {default!r} is not one of its deployments")
    return Endpoint(name, deployments, default)


def _deployment(name: str, spec: Mapping[str, Any], base: Path) -> Deployment:
    """Accepts the Azure ML batch deployment YAML shape (as JSON), inline or via {"file": ...}."""
    if "file" in spec:
        path = (base / spec["file"]).resolve()
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"deployment {name}: cannot read {path}: {exc}") from exc
        merged = {**loaded, **{k: v for k, v in spec.items() if k != "file"}}
        return _deployment(name, merged, path.parent)
    dtype = spec.get("type", "model")
    if dtype == "pipeline":  # pipeline-component deployments: emulator/pipelines.py
        from .pipelines import parse_pipeline_deployment

        return parse_pipeline_deployment(name, spec, base)
    if dtype != "model":
        raise ConfigError(f"deployment {name}: type {dtype!r} is not emulated (only 'model' and 'pipeline')")
    cc = spec.get("code_configuration") or {}
    code = cc.get("code", spec.get("code"))
    script = cc.get("scoring_script", spec.get("scoring_script"))
    if not code or not script:
        raise ConfigError(f"deployment {name}: code_configuration.code and scoring_script are required")
    code_dir = (base / code).resolve()
    if not (code_dir / script).is_file():
        raise ConfigError(f"deployment {name}: scoring script {code_dir / script} not found")
    model = spec.get("model")
    model_path = model.get("path") if isinstance(model, Mapping) else model
    s = spec.get("settings") or {}
    rs = s.get("retry_settings") or {}
    output_action = str(s.get("output_action", "append_row")).lower()
    if output_action not in OUTPUT_ACTIONS:
        raise ConfigError(f"deployment {name}: output_action must be one of {OUTPUT_ACTIONS}")
    settings = DeploymentSettings(
        mini_batch_size=int(s.get("mini_batch_size", 10)),
        max_concurrency_per_instance=int(s.get("max_concurrency_per_instance", 1)),
        output_action=output_action,
        output_file_name=str(s.get("output_file_name", "predictions.csv")),
        retry_settings=RetrySettings(int(rs.get("max_retries", 3)), float(rs.get("timeout", 30))),
        error_threshold=int(s.get("error_threshold", -1)),
        logging_level=str(s.get("logging_level", "info")),
        environment_variables={str(k): str(v) for k, v in (s.get("environment_variables") or {}).items()},
    )
    resources = spec.get("resources") or {}
    return Deployment(name=name, type=dtype, code_dir=code_dir, scoring_script=script,
                      model_dir=(base / model_path).resolve() if model_path else None,
                      instance_count=int(resources.get("instance_count", spec.get("instance_count", 1))),
                      settings=settings)
