"""Declarative configuration: routes, datastores and app-wide settings, validated up front.

Imports nothing from ``shared.storage`` or ``shared.identity`` (they import from here, never the reverse).
"""

from .exceptions import ConfigError, UnknownRouteError
from .loader import load_settings, parse_settings, read_document
from .models import (AppSettings, BatchEndpointRoute, Datastore, DeliveryPolicy, EndpointConfig, InputSpec,
                     JobOverrides, LandingRule, MatchRule, NotifyConfig, OutputSpec, PipelineEndpointV1Route,
                     PollPolicy, QueueNotification, Route, RoutesDocument, SinkConfig, StateStore,
                     WebhookNotification, Workspace)

__all__ = ["AppSettings", "BatchEndpointRoute", "ConfigError", "Datastore", "DeliveryPolicy", "EndpointConfig",
           "InputSpec", "JobOverrides", "LandingRule", "MatchRule", "NotifyConfig", "OutputSpec",
           "PipelineEndpointV1Route", "PollPolicy", "QueueNotification", "Route", "RoutesDocument", "SinkConfig",
           "StateStore", "UnknownRouteError", "WebhookNotification", "Workspace", "load_settings", "parse_settings",
           "read_document"]
