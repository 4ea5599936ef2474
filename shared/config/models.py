"""Typed configuration: what a route is, and the settings of the whole app.

Plain frozen dataclasses with no Azure SDK imports, so every decision that reads them stays pure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal, Optional

InputType = Literal["uri_folder", "uri_file"]
LandingMode = Literal["marker", "manifest", "quiet_period", "per_file"]

DEFAULT_CONNECTION = "AzureWebJobsStorage"


@dataclass(frozen=True)
class Workspace:
    """Azure ML workspace coordinates, needed for management-plane status and cancel."""

    subscription_id: str
    resource_group: str
    name: str


@dataclass(frozen=True)
class EndpointConfig:
    scoring_uri: str
    deployment: Optional[str] = None
    workspace: Optional[Workspace] = None


@dataclass(frozen=True)
class MatchRule:
    """Which landed blobs belong to a route: a storage connection, a container and a name prefix."""

    container: str
    prefix: str = ""
    connection: str = DEFAULT_CONNECTION


@dataclass(frozen=True)
class LandingRule:
    """When a landed folder is complete (see README, "Landing")."""

    mode: LandingMode = "marker"
    marker_name: str = "_SUCCESS"
    manifest_name: str = "_manifest.json"
    quiet_seconds: int = 60
    manifest_wait_minutes: int = 60
    ignore_subfolders: bool = False


@dataclass(frozen=True)
class InputSpec:
    type: InputType = "uri_folder"
    name: str = "input_data"


OutputAction = Literal["append_row", "summary_only"]


@dataclass(frozen=True)
class OutputSpec:
    """Where the job writes: a registered blob datastore and a path unique per run attempt.

    ``action`` mirrors the deployment's ``output_action``: ``append_row`` (one output file, delivered alone)
    or ``summary_only`` (the scoring script writes its own files: every blob under the output's folder is
    delivered).
    """

    datastore: str
    path: str
    name: str = "score"
    action: OutputAction = "append_row"


@dataclass(frozen=True)
class JobOverrides:
    """Per-job overrides of the deployment's settings; ``None`` keeps the deployment's value."""

    mini_batch_size: Optional[int] = None
    instance_count: Optional[int] = None
    max_retries: Optional[int] = None
    timeout_seconds: Optional[int] = None
    error_threshold: Optional[int] = None
    output_file_name: Optional[str] = None
    experiment_name: Optional[str] = None


@dataclass(frozen=True)
class PollPolicy:
    """How a run watches its job (the rules: shared/runs/schedule.py).

    Adaptive: short first intervals that grow to ``max_seconds``; an overall deadline. Duration-aware
    (``duration_aware``, once the route has ``min_history`` finished jobs): sparse polls until the
    expected end's window, ``near_seconds``..``dense_seconds`` inside it. ``events``: an Azure ML Event
    Grid subscription delivers this route's job events, so polling is only a fallback every
    ``event_fallback_seconds``.
    """

    initial_seconds: float = 15.0
    max_seconds: float = 120.0
    growth: float = 1.5
    deadline_hours: float = 24.0
    polls_per_execution: int = 100
    max_status_errors: int = 10
    duration_aware: bool = True
    history_runs: int = 20
    min_history: int = 3
    near_seconds: float = 10.0
    dense_seconds: float = 30.0
    sparse_fraction: float = 0.25
    events: bool = False
    event_fallback_seconds: float = 900.0

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

    url: str
    connection: str = DEFAULT_CONNECTION
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or self.url


DeliveryStrategy = Literal["auto", "server_side", "streaming"]


@dataclass(frozen=True)
class DeliveryPolicy:
    """How outputs are copied: ``auto`` tries a server-side copy and streams when storage cannot copy itself.

    ``copy_timeout_minutes`` bounds the durable wait for pending server-side copies.
    """

    strategy: DeliveryStrategy = "auto"
    copy_timeout_minutes: float = 60.0


@dataclass(frozen=True)
class QueueNotification:
    """A storage queue message per finished run (connection follows the Functions convention)."""

    connection: str
    queue: str


@dataclass(frozen=True)
class WebhookNotification:
    """An HTTP POST per finished run to a URL from configuration only.

    ``secret_setting`` names an app setting holding an HMAC key; the body is then signed in the
    ``X-Signature-SHA256`` header. The key itself never appears in configuration or history.
    """

    url: str
    secret_setting: Optional[str] = None


@dataclass(frozen=True)
class NotifyConfig:
    queue: Optional[QueueNotification] = None
    webhook: Optional[WebhookNotification] = None
    on: tuple[str, ...] = ("Succeeded", "Failed", "Canceled", "TimedOut")

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(name for name, target in (("queue", self.queue), ("webhook", self.webhook)) if target)


@dataclass(frozen=True)
class Route:
    name: str
    match: MatchRule
    endpoint: EndpointConfig
    input: InputSpec
    output: OutputSpec
    landing: LandingRule = field(default_factory=LandingRule)
    overrides: JobOverrides = field(default_factory=JobOverrides)
    poll: PollPolicy = field(default_factory=PollPolicy)
    sinks: tuple[SinkConfig, ...] = ()
    delivery: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    notify: NotifyConfig = field(default_factory=NotifyConfig)

    def sink(self, name: str) -> SinkConfig:
        for sink in self.sinks:
            if sink.name == name:
                return sink
        raise KeyError(f"route {self.name!r} has no sink {name!r}"
                       f" (sinks: {', '.join(s.name for s in self.sinks) or 'none'})")


@dataclass(frozen=True)
class Datastore:
    """A registered Azure ML blob datastore: its account URL, its container, and how the app reaches it."""

    name: str
    account_url: str
    container: str
    connection: str = DEFAULT_CONNECTION


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
