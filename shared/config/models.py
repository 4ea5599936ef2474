"""Typed configuration: what a route is, and the settings of the whole app.

Frozen dataclasses with no Azure SDK imports, so every decision that reads them stays pure. Each field is
declared once, as ``Annotated[type, Field(...), Says(...)]``: pydantic validates a routes document against
these declarations in one call (:mod:`.loader`) and generates ``config/routes.schema.json`` from them;
:class:`Says` holds what pydantic does not know (today's wording of a field's problems, and the checks of
:mod:`.checks` that no JSON Schema keyword expresses). Python callers construct models without validation.
"""

import math
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any, Callable, Literal, Optional, Union

from pydantic import BeforeValidator, ConfigDict, Discriminator, Field, PlainValidator, Strict, Tag, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from .. import paths
from . import checks


@dataclass(frozen=True)
class Says:
    """A field's problems in the project's words, and its checks beyond JSON Schema (``check(value) -> list of
    messages``). ``pattern`` may contain ``{value}`` (shown redacted); leave it out where values are secrets."""

    pattern: str = ""
    why_max: str = ""
    items: str = ""
    checks: tuple[Callable[[Any], list], ...] = ()


# python-re: the container grammar (shared.paths) uses a look-ahead, which the default Rust engine lacks.
STRICT = ConfigDict(extra="forbid", regex_engine="python-re")
Str = Annotated[str, Strict()]
Name = Annotated[str, Strict(), Field(min_length=1)]
Int = Annotated[int, Strict()]
Float = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Bool = Annotated[bool, Strict()]
URI = {"format": "uri"}


def _scalar(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("finite_number", f"must be a finite number, got {value!r} (NaN and Infinity are"
                                                   " not allowed)")
    if isinstance(value, str) and len(value) > 4096:
        raise PydanticCustomError("string_too_long", f"must be at most 4096 characters, got {len(value)}")
    if isinstance(value, (bool, int, float, str)):
        return value
    raise PydanticCustomError("scalar_type", "must be a boolean or an integer or a number or a string, got {got}",
                              {"got": checks.kind_of(value)})


#: A literal value: a JSON scalar (no null, no containers).
Scalar = Annotated[Union[bool, int, float, str], PlainValidator(_scalar),
                   WithJsonSchema({"type": ["boolean", "number", "string"], "maxLength": 4096})]
InputType = Literal["uri_folder", "uri_file"]
JobInputType = Literal["uri_folder", "uri_file", "literal"]
OutputType = Literal["uri_file", "uri_folder"]
RouteKind = Literal["batch_endpoint", "pipeline_endpoint_v1"]
DeploymentKind = Literal["model", "pipeline_component"]
LandingMode = Literal["marker", "manifest", "quiet_period", "per_file"]
OutputAction = Literal["append_row", "summary_only"]
DeliveryStrategy = Literal["auto", "server_side", "streaming"]
Outcome = Literal["Succeeded", "Failed", "Canceled", "TimedOut"]

DEFAULT_CONNECTION = "AzureWebJobsStorage"
DAY = 86400
_INT32 = 2 ** 31 - 1
APP_SETTING_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,255}$"
_APP_SETTING = Says(pattern="must be an app-setting name (letters, digits, _), not a value; the value given is not"
                            " shown")
_CONTAINER = Says(pattern="{value} is not a valid blob container name")
# Names that end up in a URL path or a JSON body of Azure ML calls: a closed grammar, so nothing escapes.
_AZURE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.()-]{0,89}$"
_IO_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
_CONVENTION = (" Follows the Functions connection convention: the app setting <NAME> holds a connection string, or"
               " <NAME>__blobServiceUri / __serviceUri / __accountName select managed identity (<NAME>__clientId"
               " for a user-assigned one).")


def Connection(doc: str) -> Any:
    """An app-setting name naming a storage connection (the value itself is never in the document)."""
    return Annotated[Name, Field(description=doc + _CONVENTION, pattern=APP_SETTING_PATTERN), _APP_SETTING]


@dataclass(frozen=True)
class Workspace:
    """Azure ML workspace coordinates, needed for management-plane status and cancel."""

    __pydantic_config__ = STRICT
    subscription_id: Annotated[Name, Field(description="Subscription id (a GUID) of the Azure ML workspace.",
                                           pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$"),
                               Says(pattern="must be a subscription id (a GUID), got {value}")]
    resource_group: Annotated[Name, Field(description="Resource group of the workspace.", pattern=_AZURE_NAME),
                              Says(pattern="must be a resource group name (letters, digits, _.()-), got {value}")]
    name: Annotated[Name, Field(description="Workspace name.", pattern=_AZURE_NAME),
                    Says(pattern="must be a workspace name (letters, digits, _.()-), got {value}")]


@dataclass(frozen=True)
class EndpointConfig:
    """The batch endpoint that scores a route's folders."""

    __pydantic_config__ = STRICT
    scoring_uri: Annotated[Name, Field(description="The endpoint's scoring URI (…/jobs), https:// (http only on"
                                                   " loopback).", json_schema_extra=URI),
                           Says(checks=(checks.endpoint_url,))]
    deployment: Annotated[Optional[Name], Field(description="Deployment to use; null uses the endpoint's default.",
                                                pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"),
                          Says(pattern="must be a deployment name (letters, digits, '-', '_'), got {value}")] = None
    workspace: Annotated[Optional[Workspace], Field(description="Needed for status polling and cancel through the"
                                                                " management plane, and for data-asset inputs.")] = None
    deployment_kind: Annotated[DeploymentKind, Field(description="model: one data input, one UriFile output (the"
                               " model-deployment rules); pipeline_component: several named inputs (data and"
                               " literals) and named outputs, which may be uri_folder.")] = "model"


@dataclass(frozen=True)
class MatchRule:
    """Which landed blobs belong to a route: a storage connection, a container and a name prefix."""

    __pydantic_config__ = STRICT
    container: Annotated[Name, Field(description="Landing container (or ADLS Gen2 file system).",
                                     pattern=paths.CONTAINER_NAME_PATTERN), _CONTAINER]
    prefix: Annotated[Str, Field(description="Blob name prefix of the route's folders (e.g. 'heart/'); '' is the"
                                             " whole container. Two routes may not share container and prefix."),
                      Says(checks=(checks.blob_prefix,))] = ""
    connection: Connection("Connection (app-setting name) of the landing account.") = DEFAULT_CONNECTION


def _file_name(doc: str) -> Any:
    return Annotated[Name, Field(description=doc, max_length=255), Says(checks=(checks.file_name,))]


@dataclass(frozen=True)
class LandingRule:
    """When a landed folder is complete (see docs/landing.md)."""

    __pydantic_config__ = STRICT
    mode: Annotated[LandingMode, Field(description="marker: a marker blob completes the folder; manifest: a manifest"
                                       " lists the files; quiet_period: no new file for quiet_seconds; per_file: every"
                                       " file is a run.")] = "marker"
    marker_name: _file_name("File name of the marker blob (no '/').") = "_SUCCESS"
    manifest_name: _file_name("File name of the manifest blob (no '/').") = "_manifest.json"
    quiet_seconds: Annotated[Int, Field(ge=1, le=7 * DAY, description="quiet_period: seconds without a new file"
                                                                      " before the folder is complete."),
                             Says(why_max="(7 days: a folder quiet that long is complete or abandoned, and longer"
                                          " durable timers only pin the folder's waiter)")] = 60
    manifest_wait_minutes: Annotated[Int, Field(ge=1, le=7 * 24 * 60, description="manifest: how long to wait for"
                                                                                  " the listed files."),
                                     Says(why_max="(7 days: longer waits only pin the manifest's waiter)")] = 60
    ignore_subfolders: Annotated[Bool, Field(description="Accept folders with sub-folders (batch jobs read only the"
                                                         " top level).")] = False


def _io_name(doc: str, what: str = "an input or output name") -> Any:
    return Annotated[Name, Field(description=doc, pattern=_IO_NAME),
                     Says(pattern=f"must be {what} (letters, digits, _), got {{value}}")]


@dataclass(frozen=True)
class InputSpec:
    """How the landed folder (or file) is passed to the batch job: the job input it is bound to."""

    __pydantic_config__ = STRICT
    type: Annotated[InputType, Field(description="uri_folder, or uri_file (only with landing.mode per_file, which it"
                                                 " requires).")] = "uri_folder"
    name: _io_name("Name of the job input.", "an input name") = "input_data"


@dataclass(frozen=True)
class JobInputSpec:
    """A fixed input of a pipeline-component deployment: a data asset, a datastore path, a storage URL or a literal.

    ``path`` forms: ``azureml:<name>:<version>``, ``azureml:<name>@latest`` (resolved to the asset's ARM id, as the
    SDK does), a data asset's ARM id or ``azureml://locations/…/data/<name>/versions/<v>``,
    ``azureml://datastores/<ds>/paths/<p>``, the long ``azureml://subscriptions/…/datastores/<ds>/paths/<p>``,
    ``$DATASTORE_ID/paths/<p>``, and public storage URLs (https blob/dfs; abfss, sent as its https blob URL;
    no SAS). ``value`` is a literal's string, integer, number or boolean; a string may use ``{date}``,
    ``{folder}``, ``{run_id}`` and ``{route}``.
    """

    __pydantic_config__ = STRICT
    name: _io_name("Name of the job input.")
    type: Annotated[JobInputType, Field(description="uri_folder, uri_file, or literal (a value).")] = "uri_folder"
    path: Annotated[Optional[Name], Field(max_length=2048, examples=[
        "azureml:regions:2", "azureml://datastores/workspaceblobstore/paths/ref/"],
                                          description="Where a uri_folder/uri_file input is: a data asset"
                                          " (azureml:<name>:<v>, @latest, or its ARM id), a datastore URI (short,"
                                          " long, or $DATASTORE_ID/paths/…) or a storage URL."),
                    Says(checks=(checks.job_input_path,))] = None
    value: Annotated[Optional[Scalar], Field(description="A literal input's value (string, integer, number or"
                                                         " boolean); strings may use {date}, {folder}, {run_id},"
                                                         " {route}."),
                     Says(checks=(checks.literal_value,))] = None


@dataclass(frozen=True)
class OutputSpec:
    """Where the job writes: a registered blob datastore and a path unique per run attempt.

    ``action`` mirrors the deployment's ``output_action``: ``append_row`` (one output file, delivered alone)
    or ``summary_only`` (the scoring script writes its own files: every blob under the output's folder is
    delivered).
    """

    __pydantic_config__ = STRICT
    datastore: Annotated[Name, Field(description="Name of a datastore in the top-level datastores map.")]
    path: Annotated[Name, Field(max_length=1024, examples=["batch/heart/{date}/{run_id}/predictions.csv"],
                                description="Output file path inside the datastore, a template with {run_id}"
                                " (required), {route}, {date}, {attempt}. With overrides.output_file_name it is the"
                                " output's folder and the file name is appended to it, as the SDK does."),
                    Says(checks=(checks.output_path,))]
    name: _io_name("Name of the job output.", "an output name") = "score"
    type: Annotated[OutputType, Field(description="uri_file (path is the file; model deployments accept only this)"
                                      " or uri_folder (path is a folder; pipeline-component deployments).")] \
        = "uri_file"
    action: Annotated[OutputAction, Field(description="The deployment's output_action: append_row (one file) or"
                                                      " summary_only (every file under the output folder).")] \
        = "append_row"


@dataclass(frozen=True)
class JobOverrides:
    """Per-job overrides of the deployment's settings; ``None`` keeps the deployment's value."""

    __pydantic_config__ = STRICT
    mini_batch_size: Annotated[Optional[Int], Field(ge=1, le=1_000_000, description="Files per mini-batch.")] = None
    instance_count: Annotated[Optional[Int], Field(ge=1, le=1000, description="Compute nodes for the job."),
                              Says(why_max="(compute clusters are quota-bound far below that)")] = None
    max_retries: Annotated[Optional[Int], Field(ge=0, le=100, description="Retries of a failed mini-batch.")] = None
    timeout_seconds: Annotated[Optional[Int], Field(ge=1, le=7 * DAY, description="Timeout of one mini-batch, in"
                                                                                  " seconds.")] = None
    error_threshold: Annotated[Optional[Int], Field(ge=-1, le=_INT32, description="Failed files tolerated; -1"
                                                                                  " ignores every failure.")] = None
    output_file_name: Optional[_file_name("Name of the append_row output file (no '/').")] = None
    experiment_name: Annotated[Optional[Name], Field(description="Azure ML experiment of the job.",
                                                     pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$"),
                               Says(pattern="must be an experiment name (letters, digits, _.-), got {value}")] = None


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

    __pydantic_config__ = STRICT
    initial_seconds: Annotated[Float, Field(ge=1, le=DAY, description="First polling interval.")] = 15.0
    max_seconds: Annotated[Float, Field(ge=1, le=6 * DAY, description="Longest polling interval.")] = 120.0
    growth: Annotated[Float, Field(ge=1, le=10, description="Factor by which intervals grow.")] = 1.5
    deadline_hours: Annotated[Float, Field(ge=0.001, le=30 * 24, description="Overall deadline of a run; the job is"
                                                                             " canceled and the run TimedOut."),
                              Says(why_max="(30 days: Azure ML keeps a job's state about that long, and a longer"
                                           " deadline only keeps an orchestration alive; far larger values overflow"
                                           " date arithmetic)")] = 24.0
    polls_per_execution: Annotated[Int, Field(ge=5, le=10_000, description="Polls per orchestration execution before"
                                                                           " continue-as-new."),
                                   Says(why_max="(each execution's history is replayed on every poll; the run"
                                                " continues as new after this many polls)")] = 100
    max_status_errors: Annotated[Int, Field(ge=1, le=1000, description="Consecutive failed status calls before the"
                                                                       " run fails.")] = 10
    duration_aware: Annotated[Bool, Field(description="Poll densely only around the expected end, once history"
                                                      " exists.")] = True
    history_runs: Annotated[Int, Field(ge=2, le=500, description="Finished jobs remembered per route.")] = 20
    min_history: Annotated[Int, Field(ge=2, le=500, description="Finished jobs needed before duration-aware"
                                                                " polling.")] = 3
    near_seconds: Annotated[Optional[Float], Field(ge=1, le=3600, description="Shortest interval inside the expected"
                                                   " end's window (default: min(10, dense_seconds)).")] = None
    dense_seconds: Annotated[Optional[Float], Field(ge=1, le=6 * 3600, description="Longest interval inside the"
                                                    " expected end's window (default: min(30, max_seconds)).")] = None
    sparse_fraction: Annotated[Float, Field(ge=0.01, le=1, description="Interval before the window, as a fraction of"
                                                                       " the expected duration.")] = 0.25
    events: Annotated[Bool, Field(description="Azure ML job events are subscribed: polling is only a fallback.")] \
        = False
    event_fallback_seconds: Annotated[Optional[Float], Field(ge=60, le=6 * DAY, description="Fallback polling"
                                                             " interval when events is true (default: max(900,"
                                                             " max_seconds)).")] = None
    output_events: Annotated[Bool, Field(description="A BlobCreated subscription on the route's output locations"
                                                     " (infra creates it) tells the run its job is about to end: a"
                                                     " hint that one status call confirms. Not for summary_only"
                                                     " outputs or the deployment's default output location (they"
                                                     " cannot signal).")] = False

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

    __pydantic_config__ = STRICT
    url: Annotated[Name, Field(max_length=2048, examples=["https://curated.blob.core.windows.net/scores/{folder}/"],
                               description="Sink URL template: blob, dfs or abfss; placeholders {route}, {folder},"
                               " {run_id}, {date}, {file} in the path only; a trailing '/' appends the file's name."
                               " No credentials."), Says(checks=(checks.sink_url,))]
    connection: Connection("Connection (app-setting name) that writes to the sink's account.") = DEFAULT_CONNECTION
    name: Annotated[Name, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,127}$", description="Label of the sink in"
                                " receipts and notifications (default: <account>/<container>)."),
                    Says(pattern="must be 1-128 letters, digits or _.:/@- , got {value}")] = ""
    output: Optional[_io_name("Name of the job output copied to this sink (default: the route's single output;"
                              " required when the route has several).")] = None

    @property
    def label(self) -> str:
        return self.name or self.url


@dataclass(frozen=True)
class DeliveryPolicy:
    """How outputs are copied: ``auto`` tries a server-side copy and streams when storage cannot copy itself.

    ``copy_timeout_minutes`` bounds the durable wait for pending server-side copies.
    """

    __pydantic_config__ = STRICT
    strategy: Annotated[DeliveryStrategy, Field(description="auto, server_side or streaming.")] = "auto"
    copy_timeout_minutes: Annotated[Float, Field(ge=1, le=7 * 24 * 60, description="Longest durable wait for pending"
                                                                                   " server-side copies.")] = 60.0


def _app_setting(doc: str) -> Any:
    return Annotated[Optional[Name], Field(description=doc, pattern=APP_SETTING_PATTERN), _APP_SETTING]


@dataclass(frozen=True)
class QueueNotification:
    """A storage queue message per finished run (connection follows the Functions convention)."""

    __pydantic_config__ = STRICT
    queue: Annotated[Name, Field(alias="name", description="Queue name.", pattern=paths.CONTAINER_NAME_PATTERN),
                     Says(pattern="{value} is not a valid queue name (3-63 lowercase letters, digits and single '-')")]
    connection: Annotated[Name, Field(description="Connection (app-setting name) of the queue's account;"
                                                  " <NAME>__queueServiceUri selects managed identity.",
                                      pattern=APP_SETTING_PATTERN), _APP_SETTING] = DEFAULT_CONNECTION


@dataclass(frozen=True)
class WebhookNotification:
    """An HTTP POST per finished run to a URL from configuration only: ``url`` in the routes document, or
    ``url_setting``, the name of an app setting (a Key Vault reference) holding a URL that carries its own key.

    ``secret_setting`` names an app setting holding an HMAC key; the body is then signed. The key itself never
    appears in configuration or history. ``traceparent`` goes to the receiver only with ``send_trace_context``.
    """

    __pydantic_config__ = STRICT
    url: Annotated[Optional[Name], Field(max_length=2048, description="Receiver URL, https:// (http only on"
                                         " loopback); no credentials in it (a URL with a key in its query or path goes"
                                         " in an app setting: url_setting). Exactly one of url and url_setting."),
                   Says(checks=(checks.webhook_url,))] = None
    secret_setting: _app_setting("App setting holding the signing key.") = None
    url_setting: _app_setting("App setting (e.g. a Key Vault reference) holding the receiver URL, read at each"
                              " call; for URLs that carry a key (Slack, Teams, Logic Apps sig=, ?apikey=). Exactly"
                              " one of url and url_setting.") = None
    send_trace_context: Annotated[Bool, Field(description="Send the W3C traceparent header to the receiver (off: a"
                                                          " third party learns nothing of the app's traces).")] = False


@dataclass(frozen=True)
class NotifyConfig:
    """Notifications per finished run."""

    __pydantic_config__ = STRICT
    queue: Annotated[Optional[QueueNotification], Field(description="A storage queue message per finished run.")] \
        = None
    webhook: Annotated[Optional[WebhookNotification], Field(description="An HTTP POST per finished run.")] = None
    on: Annotated[tuple[Outcome, ...], Field(min_length=1, description="Outcomes that notify."),
                  Says(items="must be a non-empty list of outcomes from Succeeded, Failed, Canceled, TimedOut")] \
        = ("Succeeded", "Failed", "Canceled", "TimedOut")

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(name for name, target in (("queue", self.queue), ("webhook", self.webhook)) if target)


@dataclass(frozen=True)
class PipelineEndpointV1:
    """A published Azure ML v1 PipelineEndpoint (ADF "Machine Learning Execute Pipeline"). Deprecated: Azure ML
    SDK v1 support ended on 2026-06-30; move the pipeline to a batch endpoint with a pipeline-component deployment
    (docs/route-kinds.md)."""

    __pydantic_config__ = STRICT
    api_url: Annotated[Name, Field(description="The workspace region's API host, e.g. https://eastus2.api.azureml.ms"
                                               " (http only on loopback).", json_schema_extra=URI),
                       Says(checks=(checks.endpoint_url,))]
    id: Annotated[Name, Field(description="The PipelineEndpoint id (a GUID).",
                              pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$"),
                  Says(pattern="must be a pipeline endpoint id (a GUID), got {value}")]
    experiment_name: Annotated[Name, Field(description="ExperimentName of the submitted run.",
                                           pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$"),
                               Says(pattern="must be an experiment name (letters, digits, _.-), got {value}")]
    workspace: Annotated[Workspace, Field(description="The workspace that holds the pipeline endpoint.")]
    version: Annotated[Optional[Name], Field(description="Pipeline version to run; null runs the endpoint's default"
                                                         " version.", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"),
                       Says(pattern="must be a pipeline version, got {value}")] = None
    data_path_name: _io_name("Name of the DataPath pipeline parameter that receives the landed folder.") \
        = "input_datapath"
    datastore: Annotated[Optional[Name], Field(description="DataStoreName of the landed folder (a name in the"
                                               " datastores map); default: the datastore registered for the landing"
                                               " container.")] = None
    parameters: Annotated[dict[str, Scalar], Field(description="ParameterAssignments: pipeline parameters (strings"
                                                   " may use {date}, {folder}, {run_id}, {route}).")] \
        = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    """A route: which landed folders, which endpoint scores them, where the results go."""

    __pydantic_config__ = STRICT
    name: Annotated[Name, Field(description="Route name: 1-63 letters, digits, '-' or '_'.",
                                pattern=paths.ROUTE_NAME_PATTERN),
                    Says(pattern="must be 1-63 letters, digits, '-' or '_'")]
    match: Annotated[MatchRule, Field(description="Which landed blobs belong to the route.")]
    input: Annotated[InputSpec, Field(description="The job input the landed folder (or file) is bound to.")] \
        = InputSpec()
    endpoint: Annotated[Optional[EndpointConfig], Field(description="The batch endpoint (kind batch_endpoint).")] \
        = None
    output: Annotated[Optional[OutputSpec], Field(description="The job's output; null: the deployment's default"
                                                  " output location (OutputData is not sent; delivery reads the"
                                                  " outputs from the job).")] = None
    kind: Annotated[RouteKind, Field(description="batch_endpoint (Azure ML v2 batch endpoint), or"
                                                 " pipeline_endpoint_v1 (deprecated v1 PipelineEndpoint).")] \
        = "batch_endpoint"
    inputs: Annotated[tuple[JobInputSpec, ...], Field(description="Further named inputs (pipeline-component"
                                                      " deployments): data assets, datastore paths, storage URLs,"
                                                      " literals.")] = ()
    outputs: Annotated[tuple[OutputSpec, ...], Field(description="Named outputs (pipeline-component deployments;"
                                                                 " instead of output).")] = ()
    pipeline_endpoint: Annotated[Optional[PipelineEndpointV1], Field(description="The v1 PipelineEndpoint (kind"
                                                                                 " pipeline_endpoint_v1).")] = None
    landing: Annotated[LandingRule, Field(description="When a landed folder is complete.")] \
        = field(default_factory=LandingRule)
    overrides: Annotated[JobOverrides, Field(description="Per-job overrides of the deployment.")] \
        = field(default_factory=JobOverrides)
    poll: Annotated[PollPolicy, Field(description="How the run watches its job.")] = field(default_factory=PollPolicy)
    sinks: Annotated[tuple[SinkConfig, ...], Field(description="Where outputs are copied.")] = ()
    delivery: Annotated[DeliveryPolicy, Field(description="How outputs are copied.")] \
        = field(default_factory=DeliveryPolicy)
    notify: Annotated[NotifyConfig, Field(description="Who hears about finished runs.")] \
        = field(default_factory=NotifyConfig)
    description: Annotated[Str, Field(max_length=4096, description="Free text.")] = ""

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
                    " endpoint with a pipeline-component deployment (docs/route-kinds.md)")
        return None

    def sink(self, name: str) -> SinkConfig:
        for sink in self.sinks:
            if sink.name == name:
                return sink
        raise KeyError(f"route {self.name!r} has no sink {name!r}"
                       f" (sinks: {', '.join(s.name for s in self.sinks) or 'none'})")


# The route kinds: one class each, told apart by ``kind`` (a missing kind is batch_endpoint). The presence of each
# kind's target (endpoint, pipeline_endpoint) is a rule of :mod:`.route_kinds`, so that a route naming the wrong
# one still hears every other problem it has.
@dataclass(frozen=True)
class BatchEndpointRoute(Route):
    """A route scored by an Azure ML v2 batch endpoint (``endpoint``)."""

    kind: Annotated[Literal["batch_endpoint"], Field(description="batch_endpoint (Azure ML v2 batch endpoint).")] \
        = "batch_endpoint"


@dataclass(frozen=True)
class PipelineEndpointV1Route(Route):
    """A route submitted to a deprecated Azure ML v1 PipelineEndpoint (``pipeline_endpoint``)."""

    # In JSON Schema a route without kind is a batch_endpoint route: this kind must be named.
    __pydantic_config__ = ConfigDict(**STRICT, json_schema_extra={"required": ["name", "match", "kind"]})
    kind: Annotated[Literal["pipeline_endpoint_v1"], Field(description="pipeline_endpoint_v1 (deprecated v1"
                                                                       " PipelineEndpoint).")] = "pipeline_endpoint_v1"


ROUTE_KINDS: dict[str, type] = {"batch_endpoint": BatchEndpointRoute, "pipeline_endpoint_v1": PipelineEndpointV1Route}
AnyRoute = Annotated[Union[tuple(Annotated[cls, Tag(kind)] for kind, cls in ROUTE_KINDS.items())],  # type: ignore
                     Discriminator(lambda v: v.get("kind", "batch_endpoint") if isinstance(v, dict)
                                   else getattr(v, "kind", None))]


@dataclass(frozen=True)
class Datastore:
    """A registered Azure ML blob datastore: its account URL, its container, and how the app reaches it."""

    __pydantic_config__ = STRICT
    # The key in the datastores map (the loader passes it in), not a member of the object.
    name: SkipJsonSchema[Annotated[Str, Field(pattern=r"^[A-Za-z0-9_]{1,255}$"),
                                   Says(pattern="is not a valid datastore name (letters, digits, _)")]]
    account_url: Annotated[Name, Field(description="Blob endpoint of the datastore's account, https:// (http only"
                                                   " on loopback).", json_schema_extra=URI),
                           Says(checks=(checks.endpoint_url,))]
    container: Annotated[Name, Field(description="The datastore's container.", pattern=checks.LOOSE_CONTAINER_PATTERN),
                         _CONTAINER]
    connection: Connection("Connection (app-setting name) that reads the datastore's account.") = DEFAULT_CONNECTION


@dataclass(frozen=True)
class StateStore:
    """Where the app keeps its own state (run ledger, job history); app settings STATE_* apply when unset."""

    __pydantic_config__ = STRICT
    connection: _app_setting("Connection (app-setting name); default: STATE_CONNECTION or AzureWebJobsStorage.") \
        = None
    container: Annotated[Optional[Name], Field(description="Container; default: STATE_CONTAINER or batchruns.",
                                               pattern=paths.CONTAINER_NAME_PATTERN), _CONTAINER] = None


def _named(value: Any) -> Any:
    """Each datastore object gets its key as its name."""
    if not isinstance(value, dict):
        return value
    return {key: {**item, "name": key} if isinstance(item, dict) else item for key, item in value.items()}


@dataclass(frozen=True)
class RoutesDocument:
    """The routes document (BATCH_CONFIG_PATH or BATCH_CONFIG_JSON): datastores, routes and app-wide settings."""

    __pydantic_config__ = STRICT
    routes: Annotated[tuple[AnyRoute, ...], Field(min_length=1, description="The routes."),
                      Says(items="must be a non-empty list of routes")]
    datastores: Annotated[dict[str, Datastore], BeforeValidator(_named),
                          Field(description="Azure ML datastores by name.",
                                json_schema_extra={"propertyNames": {"pattern": r"^[A-Za-z0-9_]{1,255}$"}})] \
        = field(default_factory=dict)
    management_url: Annotated[Optional[Name], Field(description="Azure Resource Manager URL (the AML_MANAGEMENT_URL"
                                                    " app setting wins); default https://management.azure.com.",
                                                    json_schema_extra=URI)] = None
    state: Annotated[StateStore, Field(description="Where the app keeps its state.")] \
        = field(default_factory=StateStore)
    description: Annotated[Str, Field(max_length=4096, description="Free text.")] = ""
    schema: Annotated[Optional[Str], Field(alias="$schema", description="Editors' schema reference, e.g."
                                                                        " ./routes.schema.json.")] = None


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
