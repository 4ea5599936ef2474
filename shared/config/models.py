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


@dataclass(frozen=True)
class OutputSpec:
    """Where the job writes: a registered blob datastore and a path unique per run attempt."""

    datastore: str
    path: str
    name: str = "score"


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
    """Adaptive polling: short first intervals that grow to ``max_seconds``; an overall deadline."""

    initial_seconds: float = 15.0
    max_seconds: float = 120.0
    growth: float = 1.5
    deadline_hours: float = 24.0
    polls_per_execution: int = 100
    max_status_errors: int = 10

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "PollPolicy":
        return cls(**data)


@dataclass(frozen=True)
class SinkConfig:
    """A downstream copy target: ``url`` is a template of account, container and path."""

    url: str
    connection: str = DEFAULT_CONNECTION


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
