"""Typed configuration: what a route is, and the settings of the whole app.

Plain frozen dataclasses with no Azure SDK imports, so every decision that reads them stays pure. Each field
is declared once, with its default and its rule (:func:`.fields.setting`: bounds, grammar, enum, doc): the
generic validator (:mod:`.validate`) checks a routes document against these definitions, and the JSON Schema
(``config/routes.schema.json``, :mod:`.schema`) is generated from them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal, Optional, Union

from .. import paths
from . import checks
from .fields import setting

InputType = Literal["uri_folder", "uri_file"]
JobInputType = Literal["uri_folder", "uri_file", "literal"]
OutputType = Literal["uri_file", "uri_folder"]
RouteKind = Literal["batch_endpoint", "pipeline_endpoint_v1"]
DeploymentKind = Literal["model", "pipeline_component"]
#: A literal job input's value: the validator accepts any of these JSON scalars (no null, no containers).
Scalar = Union[bool, int, float, str]
LandingMode = Literal["marker", "manifest", "quiet_period", "per_file"]
OutputAction = Literal["append_row", "summary_only"]
DeliveryStrategy = Literal["auto", "server_side", "streaming"]
Outcome = Literal["Succeeded", "Failed", "Canceled", "TimedOut"]

DEFAULT_CONNECTION = "AzureWebJobsStorage"

DAY = 86400
APP_SETTING_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,255}$"
_APP_SETTING = dict(pattern=APP_SETTING_PATTERN,
                    pattern_message="must be an app-setting name (letters, digits, _), not a value;"
                                    " the value given is not shown")
_CONTAINER = dict(pattern=paths.CONTAINER_NAME_PATTERN,
                  pattern_message="{value} is not a valid blob container name")
# Names that end up in a URL path or a JSON body of Azure ML calls: a closed grammar, so nothing escapes.
_AZURE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.()-]{0,89}$"


def _connection_field(doc: str) -> object:
    return setting(DEFAULT_CONNECTION, doc=doc + " Follows the Functions connection convention: the app setting"
                   " <NAME> holds a connection string, or <NAME>__blobServiceUri / __serviceUri / __accountName"
                   " select managed identity (<NAME>__clientId for a user-assigned one).", **_APP_SETTING)


@dataclass(frozen=True)
class Workspace:
    """Azure ML workspace coordinates, needed for management-plane status and cancel."""

    subscription_id: str = setting(doc="Subscription id (a GUID) of the Azure ML workspace.",
                                   pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$",
                                   pattern_message="must be a subscription id (a GUID), got {value}")
    resource_group: str = setting(doc="Resource group of the workspace.", pattern=_AZURE_NAME,
                                  pattern_message="must be a resource group name (letters, digits, _.()-),"
                                                  " got {value}")
    name: str = setting(doc="Workspace name.", pattern=_AZURE_NAME,
                        pattern_message="must be a workspace name (letters, digits, _.()-), got {value}")


@dataclass(frozen=True)
class EndpointConfig:
    """The batch endpoint that scores a route's folders."""

    scoring_uri: str = setting(doc="The endpoint's scoring URI (…/jobs), https:// (http only on loopback).",
                               checks=(checks.endpoint_url,), format="uri")
    deployment: Optional[str] = setting(None, doc="Deployment to use; null uses the endpoint's default.",
                                        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$",
                                        pattern_message="must be a deployment name (letters, digits, '-', '_'),"
                                                        " got {value}")
    workspace: Optional[Workspace] = setting(None, doc="Needed for status polling and cancel through the"
                                                       " management plane, and for data-asset inputs.")
    deployment_kind: DeploymentKind = setting("model", doc="model: one data input, one UriFile output (the"
                                              " model-deployment rules); pipeline_component: several named inputs"
                                              " (data and literals) and named outputs, which may be uri_folder.")


@dataclass(frozen=True)
class MatchRule:
    """Which landed blobs belong to a route: a storage connection, a container and a name prefix."""

    container: str = setting(doc="Landing container (or ADLS Gen2 file system).", **_CONTAINER)
    prefix: str = setting("", allow_empty=True, checks=(checks.blob_prefix,),
                          doc="Blob name prefix of the route's folders (e.g. 'heart/'); '' is the whole container."
                              " Two routes may not share container and prefix.")
    connection: str = _connection_field("Connection (app-setting name) of the landing account.")


@dataclass(frozen=True)
class LandingRule:
    """When a landed folder is complete (see README, "Landing")."""

    mode: LandingMode = setting("marker", doc="marker: a marker blob completes the folder; manifest: a manifest"
                                " lists the files; quiet_period: no new file for quiet_seconds; per_file: every"
                                " file is a run.")
    marker_name: str = setting("_SUCCESS", checks=(checks.file_name,), max_length=255,
                               doc="File name of the marker blob (no '/').")
    manifest_name: str = setting("_manifest.json", checks=(checks.file_name,), max_length=255,
                                 doc="File name of the manifest blob (no '/').")
    quiet_seconds: int = setting(60, minimum=1, maximum=7 * DAY,
                                 why_max="(7 days: a folder quiet that long is complete or abandoned, and longer"
                                         " durable timers only pin the folder's waiter)",
                                 doc="quiet_period: seconds without a new file before the folder is complete.")
    manifest_wait_minutes: int = setting(60, minimum=1, maximum=7 * 24 * 60,
                                         why_max="(7 days: longer waits only pin the manifest's waiter)",
                                         doc="manifest: how long to wait for the listed files.")
    ignore_subfolders: bool = setting(False, doc="Accept folders with sub-folders (batch jobs read only the top"
                                                 " level).")


_IO_NAME = dict(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$",
                pattern_message="must be an input or output name (letters, digits, _), got {value}")


@dataclass(frozen=True)
class InputSpec:
    """How the landed folder (or file) is passed to the batch job: the job input it is bound to."""

    type: InputType = setting("uri_folder", doc="uri_folder, or uri_file (only with landing.mode per_file, which it"
                                                " requires).")
    name: str = setting("input_data", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$",
                        pattern_message="must be an input name (letters, digits, _), got {value}",
                        doc="Name of the job input.")


@dataclass(frozen=True)
class JobInputSpec:
    """A fixed input of a pipeline-component deployment: a data asset, a datastore path, a storage URL or a literal.

    ``path`` forms: ``azureml:<name>:<version>``, ``azureml:<name>@latest`` (resolved to the asset's ARM id, as the
    SDK does), a data asset's ARM id or ``azureml://locations/…/data/<name>/versions/<v>``,
    ``azureml://datastores/<ds>/paths/<p>``, the long ``azureml://subscriptions/…/datastores/<ds>/paths/<p>``,
    ``$DATASTORE_ID/paths/<p>``, and public storage URLs (https blob/dfs; abfss, sent as its https blob URL;
    no SAS). ``value`` is a literal's string, integer,
    number or boolean; a string may use ``{date}``, ``{folder}``, ``{run_id}`` and ``{route}``.
    """

    name: str = setting(doc="Name of the job input.", **_IO_NAME)
    type: JobInputType = setting("uri_folder", doc="uri_folder, uri_file, or literal (a value).")
    path: Optional[str] = setting(None, checks=(checks.job_input_path,), max_length=2048,
                                  doc="Where a uri_folder/uri_file input is: a data asset (azureml:<name>:<v>,"
                                      " @latest, or its ARM id), a datastore URI (short, long, or"
                                      " $DATASTORE_ID/paths/…) or a storage URL.", examples=("azureml:regions:2",
                                                                 "azureml://datastores/workspaceblobstore/paths/ref/"))
    value: Optional[Scalar] = setting(None, checks=(checks.literal_value,), max_length=4096,
                                      doc="A literal input's value (string, integer, number or boolean); strings may"
                                          " use {date}, {folder}, {run_id}, {route}.")


@dataclass(frozen=True)
class OutputSpec:
    """Where the job writes: a registered blob datastore and a path unique per run attempt.

    ``action`` mirrors the deployment's ``output_action``: ``append_row`` (one output file, delivered alone)
    or ``summary_only`` (the scoring script writes its own files: every blob under the output's folder is
    delivered).
    """

    datastore: str = setting(doc="Name of a datastore in the top-level datastores map.")
    path: str = setting(checks=(checks.output_path,), max_length=1024,
                        doc="Output file path inside the datastore, a template with {run_id} (required), {route},"
                            " {date}, {attempt}. With overrides.output_file_name it is the output's folder and"
                            " the file name is appended to it, as the SDK does.", examples=("batch/heart/{date}/{run_id}/predictions.csv",))
    name: str = setting("score", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$",
                        pattern_message="must be an output name (letters, digits, _), got {value}",
                        doc="Name of the job output.")
    type: OutputType = setting("uri_file", doc="uri_file (path is the file; model deployments accept only this) or"
                                               " uri_folder (path is a folder; pipeline-component deployments).")
    action: OutputAction = setting("append_row", doc="The deployment's output_action: append_row (one file) or"
                                                     " summary_only (every file under the output folder).")


_INT32 = 2 ** 31 - 1


@dataclass(frozen=True)
class JobOverrides:
    """Per-job overrides of the deployment's settings; ``None`` keeps the deployment's value."""

    mini_batch_size: Optional[int] = setting(None, minimum=1, maximum=1_000_000, doc="Files per mini-batch.")
    instance_count: Optional[int] = setting(None, minimum=1, maximum=1000,
                                            why_max="(compute clusters are quota-bound far below that)",
                                            doc="Compute nodes for the job.")
    max_retries: Optional[int] = setting(None, minimum=0, maximum=100, doc="Retries of a failed mini-batch.")
    timeout_seconds: Optional[int] = setting(None, minimum=1, maximum=7 * DAY,
                                             doc="Timeout of one mini-batch, in seconds.")
    error_threshold: Optional[int] = setting(None, minimum=-1, maximum=_INT32,
                                             doc="Failed files tolerated; -1 ignores every failure.")
    output_file_name: Optional[str] = setting(None, checks=(checks.file_name,), max_length=255,
                                              doc="Name of the append_row output file (no '/').")
    experiment_name: Optional[str] = setting(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$",
                                             pattern_message="must be an experiment name (letters, digits, _.-),"
                                                             " got {value}",
                                             doc="Azure ML experiment of the job.")


@dataclass(frozen=True)
class PollPolicy:
    """How a run watches its job (the rules: shared/runs/schedule.py).

    Adaptive: short first intervals that grow to ``max_seconds``; an overall deadline. Duration-aware
    (``duration_aware``, once the route has ``min_history`` finished jobs): sparse polls until the
    expected end's window, ``near_seconds``..``dense_seconds`` inside it. ``events``: an Azure ML Event
    Grid subscription delivers this route's job events; ``output_events``: BlobCreated events of the job's
    own outputs say it is about to end. With either, polling is only a safety net that starts at a multiple
    of ``event_fallback_seconds`` and grows with the job's age (shared/runs/schedule.py).

    ``near_seconds``, ``dense_seconds`` and ``event_fallback_seconds`` default to values that follow
    ``max_seconds`` (so a route that only shortens ``max_seconds`` stays consistent).
    """

    initial_seconds: float = setting(15.0, minimum=1, maximum=DAY, doc="First polling interval.")
    max_seconds: float = setting(120.0, minimum=1, maximum=6 * DAY, doc="Longest polling interval.")
    growth: float = setting(1.5, minimum=1, maximum=10, doc="Factor by which intervals grow.")
    deadline_hours: float = setting(24.0, minimum=0.001, maximum=30 * 24,
                                    why_max="(30 days: Azure ML keeps a job's state about that long, and a"
                                            " longer deadline only keeps an orchestration alive; far larger"
                                            " values overflow date arithmetic)",
                                    doc="Overall deadline of a run; the job is canceled and the run TimedOut.")
    polls_per_execution: int = setting(100, minimum=5, maximum=10_000,
                                       why_max="(each execution's history is replayed on every poll; the run"
                                               " continues as new after this many polls)",
                                       doc="Polls per orchestration execution before continue-as-new.")
    max_status_errors: int = setting(10, minimum=1, maximum=1000,
                                     doc="Consecutive failed status calls before the run fails.")
    duration_aware: bool = setting(True, doc="Poll densely only around the expected end, once history exists.")
    history_runs: int = setting(20, minimum=2, maximum=500, doc="Finished jobs remembered per route.")
    min_history: int = setting(3, minimum=2, maximum=500, doc="Finished jobs needed before duration-aware polling.")
    near_seconds: Optional[float] = setting(None, minimum=1, maximum=3600,
                                            doc="Shortest interval inside the expected end's window"
                                                " (default: min(10, dense_seconds)).")
    dense_seconds: Optional[float] = setting(None, minimum=1, maximum=6 * 3600,
                                             doc="Longest interval inside the expected end's window"
                                                 " (default: min(30, max_seconds)).")
    sparse_fraction: float = setting(0.25, minimum=0.01, maximum=1,
                                     doc="Interval before the window, as a fraction of the expected duration.")
    events: bool = setting(False, doc="Azure ML job events are subscribed: polling is only a fallback.")
    event_fallback_seconds: Optional[float] = setting(None, minimum=60, maximum=6 * DAY,
                                                      doc="Fallback polling interval when events is true"
                                                          " (default: max(900, max_seconds)).")
    output_events: bool = setting(False, doc="A BlobCreated subscription on the route's output locations (infra"
                                             " creates it) tells the run its job is about to end: a hint that one"
                                             " status call confirms. Not for summary_only outputs or the"
                                             " deployment's default output location (they cannot signal).")

    def __post_init__(self) -> None:
        # Derived defaults, decided here once (a constructor call and a document get the same values).
        if self.dense_seconds is None:
            object.__setattr__(self, "dense_seconds", min(30.0, self.max_seconds))
        if self.near_seconds is None:
            object.__setattr__(self, "near_seconds", min(10.0, self.dense_seconds))
        if self.event_fallback_seconds is None:
            object.__setattr__(self, "event_fallback_seconds", max(900.0, self.max_seconds))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "PollPolicy":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class SinkConfig:
    """A downstream copy target: ``url`` is a template of account, container and path.

    Blob URLs (``https://acct.blob.core.windows.net/container/path``) and ADLS Gen2 URLs
    (``https://acct.dfs.core.windows.net/filesystem/path`` or ``abfss://filesystem@acct.dfs.core.windows.net/path``)
    are accepted; ADLS sinks are written through the account's blob endpoint (multi-protocol access).
    ``name`` labels the sink in errors, receipts and notifications (default: ``<account>/<container>``).
    """

    url: str = setting(checks=(checks.sink_url,), max_length=2048,
                       doc="Sink URL template: blob, dfs or abfss; placeholders {route}, {folder}, {run_id}, {date},"
                           " {file} in the path only; a trailing '/' appends the file's name. No credentials.",
                       examples=("https://curated.blob.core.windows.net/scores/{folder}/",))
    connection: str = _connection_field("Connection (app-setting name) that writes to the sink's account.")
    name: str = setting("", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,127}$",
                        pattern_message="must be 1-128 letters, digits or _.:/@- , got {value}",
                        doc="Label of the sink in receipts and notifications (default: <account>/<container>).")
    output: Optional[str] = setting(None, doc="Name of the job output copied to this sink (default: the route's"
                                              " single output; required when the route has several).", **_IO_NAME)

    @property
    def label(self) -> str:
        return self.name or self.url


@dataclass(frozen=True)
class DeliveryPolicy:
    """How outputs are copied: ``auto`` tries a server-side copy and streams when storage cannot copy itself.

    ``copy_timeout_minutes`` bounds the durable wait for pending server-side copies.
    """

    strategy: DeliveryStrategy = setting("auto", doc="auto, server_side or streaming.")
    copy_timeout_minutes: float = setting(60.0, minimum=1, maximum=7 * 24 * 60,
                                          doc="Longest durable wait for pending server-side copies.")


@dataclass(frozen=True)
class QueueNotification:
    """A storage queue message per finished run (connection follows the Functions convention)."""

    connection: str = setting(doc="Connection (app-setting name) of the queue's account; <NAME>__queueServiceUri"
                                  " selects managed identity.", document_default=DEFAULT_CONNECTION,
                              **_APP_SETTING)
    queue: str = setting(json_name="name", pattern=paths.CONTAINER_NAME_PATTERN,
                         pattern_message="{value} is not a valid queue name (3-63 lowercase letters, digits and"
                                         " single '-')", doc="Queue name.")


@dataclass(frozen=True)
class WebhookNotification:
    """An HTTP POST per finished run to a URL from configuration only: ``url`` in the routes document, or
    ``url_setting``, the name of an app setting (a Key Vault reference) holding a URL that carries its own key.

    ``secret_setting`` names an app setting holding an HMAC key; the body is then signed. The key itself never
    appears in configuration or history. ``traceparent`` goes to the receiver only with ``send_trace_context``.
    """

    url: Optional[str] = setting(None, checks=(checks.webhook_url,), max_length=2048,
                                 doc="Receiver URL, https:// (http only on loopback); no credentials in it (a URL"
                                     " with a key in its query or path goes in an app setting: url_setting)."
                                     " Exactly one of url and url_setting.")
    secret_setting: Optional[str] = setting(None, doc="App setting holding the signing key.", **_APP_SETTING)
    url_setting: Optional[str] = setting(None, doc="App setting (e.g. a Key Vault reference) holding the receiver"
                                                   " URL, read at each call; for URLs that carry a key (Slack, Teams,"
                                                   " Logic Apps sig=, ?apikey=). Exactly one of url and"
                                                   " url_setting.", **_APP_SETTING)
    send_trace_context: bool = setting(False, doc="Send the W3C traceparent header to the receiver (off: a"
                                                  " third party learns nothing of the app's traces).")


@dataclass(frozen=True)
class NotifyConfig:
    """Notifications per finished run."""

    queue: Optional[QueueNotification] = setting(None, doc="A storage queue message per finished run.")
    webhook: Optional[WebhookNotification] = setting(None, doc="An HTTP POST per finished run.")
    on: tuple[Outcome, ...] = setting(("Succeeded", "Failed", "Canceled", "TimedOut"), min_items=1,
                                      min_items_message="must be a non-empty list of outcomes from Succeeded,"
                                                        " Failed, Canceled, TimedOut",
                                      doc="Outcomes that notify.")

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(name for name, target in (("queue", self.queue), ("webhook", self.webhook)) if target)


@dataclass(frozen=True)
class PipelineEndpointV1:
    """A published Azure ML v1 PipelineEndpoint (ADF "Machine Learning Execute Pipeline"). Deprecated: Azure ML
    SDK v1 support ended on 2026-06-30; move the pipeline to a batch endpoint with a pipeline-component deployment
    (README, "Route kinds")."""

    api_url: str = setting(doc="The workspace region's API host, e.g. https://eastus2.api.azureml.ms (http only on"
                               " loopback).", checks=(checks.endpoint_url,), format="uri")
    id: str = setting(doc="The PipelineEndpoint id (a GUID).", pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$",
                      pattern_message="must be a pipeline endpoint id (a GUID), got {value}")
    experiment_name: str = setting(doc="ExperimentName of the submitted run.",
                                   pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$",
                                   pattern_message="must be an experiment name (letters, digits, _.-), got {value}")
    workspace: Workspace = setting(doc="The workspace that holds the pipeline endpoint.")
    version: Optional[str] = setting(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
                                     pattern_message="must be a pipeline version, got {value}",
                                     doc="Pipeline version to run; null runs the endpoint's default version.")
    data_path_name: str = setting("input_datapath", doc="Name of the DataPath pipeline parameter that receives the"
                                                        " landed folder.", **_IO_NAME)
    datastore: Optional[str] = setting(None, doc="DataStoreName of the landed folder (a name in the datastores map);"
                                                 " default: the datastore registered for the landing container.")
    parameters: dict[str, Scalar] = setting(default_factory=dict,
                                            doc="ParameterAssignments: pipeline parameters (strings may use"
                                                " {date}, {folder}, {run_id}, {route}).")


@dataclass(frozen=True)
class Route:
    """A route: which landed folders, which endpoint scores them, where the results go."""

    name: str = setting(pattern=paths.ROUTE_NAME_PATTERN, pattern_message="must be 1-63 letters, digits, '-' or '_'",
                        doc="Route name: 1-63 letters, digits, '-' or '_'.")
    match: MatchRule = setting(doc="Which landed blobs belong to the route.")
    input: InputSpec = setting(document_default=InputSpec(), doc="The job input the landed folder (or file) is"
                                                                  " bound to.")
    endpoint: Optional[EndpointConfig] = setting(None, doc="The batch endpoint (kind batch_endpoint).")
    output: Optional[OutputSpec] = setting(None, doc="The job's output; null: the deployment's default output"
                                                     " location (OutputData is not sent; delivery reads the outputs"
                                                     " from the job).")
    kind: RouteKind = setting("batch_endpoint", doc="batch_endpoint (Azure ML v2 batch endpoint), or"
                                                    " pipeline_endpoint_v1 (deprecated v1 PipelineEndpoint).")
    inputs: tuple[JobInputSpec, ...] = setting((), doc="Further named inputs (pipeline-component deployments):"
                                                       " data assets, datastore paths, storage URLs, literals.")
    outputs: tuple[OutputSpec, ...] = setting((), doc="Named outputs (pipeline-component deployments; instead of"
                                                      " output).")
    pipeline_endpoint: Optional[PipelineEndpointV1] = setting(None, doc="The v1 PipelineEndpoint (kind"
                                                                         " pipeline_endpoint_v1).")
    landing: LandingRule = setting(default_factory=LandingRule, doc="When a landed folder is complete.")
    overrides: JobOverrides = setting(default_factory=JobOverrides, doc="Per-job overrides of the deployment.")
    poll: PollPolicy = setting(default_factory=PollPolicy, doc="How the run watches its job.")
    sinks: tuple[SinkConfig, ...] = setting((), doc="Where outputs are copied.")
    delivery: DeliveryPolicy = setting(default_factory=DeliveryPolicy, doc="How outputs are copied.")
    notify: NotifyConfig = setting(default_factory=NotifyConfig, doc="Who hears about finished runs.")
    description: str = setting("", allow_empty=True, max_length=4096, doc="Free text.")

    @property
    def job_outputs(self) -> tuple[OutputSpec, ...]:
        """The configured outputs (``output`` or ``outputs``); empty: the deployment's default location."""
        return self.outputs or ((self.output,) if self.output is not None else ())

    def sinks_for(self, output_name: str) -> tuple[SinkConfig, ...]:
        """The sinks that receive ``output_name`` (a sink without ``output`` receives every output)."""
        return tuple(s for s in self.sinks if s.output in (None, output_name))

    @property
    def deprecated(self) -> Optional[str]:
        if self.kind == "pipeline_endpoint_v1":
            return ("pipeline_endpoint_v1: Azure ML SDK v1 support ended on 2026-06-30; move the route to a batch"
                    " endpoint with a pipeline-component deployment (README, 'Route kinds')")
        return None

    def sink(self, name: str) -> SinkConfig:
        for sink in self.sinks:
            if sink.name == name:
                return sink
        raise KeyError(f"route {self.name!r} has no sink {name!r}"
                       f" (sinks: {', '.join(s.name for s in self.sinks) or 'none'})")


@dataclass(frozen=True)
class Datastore:
    """A registered Azure ML blob datastore: its account URL, its container, and how the app reaches it."""

    name: str = setting(from_key=True, pattern=r"^[A-Za-z0-9_]{1,255}$",
                        pattern_message="is not a valid datastore name (letters, digits, _)",
                        doc="The datastore's name in Azure ML (the key in the datastores map).")
    account_url: str = setting(checks=(checks.endpoint_url,), format="uri",
                               doc="Blob endpoint of the datastore's account, https:// (http only on loopback).")
    container: str = setting(doc="The datastore's container.", pattern=checks.LOOSE_CONTAINER_PATTERN,
                             pattern_message="{value} is not a valid blob container name")
    connection: str = _connection_field("Connection (app-setting name) that reads the datastore's account.")


@dataclass(frozen=True)
class StateStore:
    """Where the app keeps its own state (run ledger, job history); app settings STATE_* apply when unset."""

    connection: Optional[str] = setting(None, doc="Connection (app-setting name); default: STATE_CONNECTION or"
                                                  " AzureWebJobsStorage.", **_APP_SETTING)
    container: Optional[str] = setting(None, doc="Container; default: STATE_CONTAINER or batchruns.", **_CONTAINER)


@dataclass(frozen=True)
class RoutesDocument:
    """The routes document (BATCH_CONFIG_PATH or BATCH_CONFIG_JSON): datastores, routes and app-wide settings."""

    routes: tuple[Route, ...] = setting((), min_items=1, min_items_message="must be a non-empty list of routes",
                                        item_label="route {name!r}", doc="The routes.")
    datastores: dict[str, Datastore] = setting(default_factory=dict, item_label="datastore {key}",
                                               doc="Azure ML datastores by name.")
    management_url: Optional[str] = setting(None, format="uri",
                                            doc="Azure Resource Manager URL (the AML_MANAGEMENT_URL app setting"
                                                " wins); default https://management.azure.com.")
    state: StateStore = setting(default_factory=StateStore, doc="Where the app keeps its state.")
    description: str = setting("", allow_empty=True, max_length=4096, doc="Free text.")
    schema: Optional[str] = setting(None, json_name="$schema", allow_empty=True,
                                    doc="Editors' schema reference, e.g. ./routes.schema.json.")


@dataclass(frozen=True)
class AppSettings:
    routes: tuple[Route, ...]
    datastores: dict[str, Datastore]
    management_url: str = "https://management.azure.com"
    management_api_version: str = "2024-04-01"
    state_connection: str = DEFAULT_CONNECTION
    state_container: str = "batchruns"

    def route(self, name: str) -> Route:
        from .exceptions import UnknownRouteError

        for route in self.routes:
            if route.name == name:
                return route
        raise UnknownRouteError(name, [r.name for r in self.routes])
