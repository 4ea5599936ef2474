"""Declarative configuration: routes, datastores and app-wide settings, validated up front.

Imports nothing from ``shared.storage`` or ``shared.identity`` (they import from here, never the reverse).
"""

from .exceptions import ConfigError, UnknownRouteError
from .loader import load_settings, parse_settings, read_document
from .models import (AppSettings, Datastore, DeliveryPolicy, EndpointConfig, NotifyConfig, QueueNotification,
                     WebhookNotification, InputSpec, JobOverrides, LandingRule, MatchRule,
                     OutputSpec, PollPolicy, Route, RoutesDocument, SinkConfig, StateStore, Workspace)

__all__ = ["AppSettings", "ConfigError", "Datastore", "DeliveryPolicy", "NotifyConfig", "QueueNotification",
           "WebhookNotification", "EndpointConfig", "InputSpec", "JobOverrides",
           "LandingRule", "MatchRule", "OutputSpec", "PollPolicy", "Route", "RoutesDocument", "SinkConfig",
           "StateStore", "UnknownRouteError", "Workspace", "load_settings", "parse_settings", "read_document"]
