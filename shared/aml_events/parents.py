"""Which job a run event belongs to when it names a child run (adapter; reference §7, §8).

Azure ML may publish a batch job's run events under the run id of its ``batchscoring`` child instead of the
job the app submitted (UNCONFIRMED which). An event whose run id is not in the run ledger is looked up once in
Run History (:func:`shared.batch_endpoint.child_client.find_parent_job`); the answer (a parent job, or none)
is remembered in the run id's event state (``job-events/<runId>.json``, key ``parent_job``), so later events
of that run cost no call.

The workspace to ask is the one the event's ``topic`` (CloudEvents ``source``) names, matched against the
routes' ``endpoint.workspace``; an event from a workspace no route uses is never looked up.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional

from ..config.models import AppSettings, EndpointConfig
from ..redact import shown

log = logging.getLogger(__name__)

#: What a look-up answered: a parent job name, ``NO_PARENT`` (remembered), or None (no answer now).
NO_PARENT = ""


def workspace_id(endpoint: EndpointConfig) -> Optional[str]:
    ws = endpoint.workspace
    if ws is None:
        return None
    return (f"/subscriptions/{ws.subscription_id}/resourceGroups/{ws.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{ws.name}").lower()


class ParentLookup:
    """``parent_of(run_id, topic)``: the run's parent job, ``NO_PARENT``, or None when it cannot be told now."""

    def __init__(self, settings: AppSettings, client_factory: Optional[Callable[[str], Any]] = None):
        self._settings = settings
        self._client_factory = client_factory
        self.calls = 0

    def endpoint_for(self, topic: Optional[str]) -> Optional[EndpointConfig]:
        wanted = (topic or "").rstrip("/").lower()
        if not wanted:
            return None
        for route in self._settings.routes:
            if route.endpoint is not None and workspace_id(route.endpoint) == wanted:
                return route.endpoint
        return None

    def parent_of(self, run_id: str, topic: Optional[str]) -> Optional[str]:
        from ..batch_endpoint import exceptions as errors
        from ..batch_endpoint.child_client import find_parent_job

        endpoint = self.endpoint_for(topic)
        if endpoint is None:
            return NO_PARENT
        factory = self._client_factory
        if factory is None:
            from ..route_backend import default_client as factory
        self.calls += 1
        try:
            with factory(endpoint.scoring_uri) as client:
                return find_parent_job(client, endpoint, run_id) or NO_PARENT
        except errors.TransientError as exc:
            log.info("aml event: run %s: its parent could not be looked up now (%s)", run_id, shown(str(exc), 200))
            return None
        except errors.PermanentError as exc:
            log.info("aml event: run %s: Run History refused the look-up (%s)", run_id, shown(str(exc), 200))
            return NO_PARENT
