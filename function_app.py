"""The app: one blueprint per area (``blueprints/``), registered here as the Durable Python quickstarts do.

The blueprints hold decorators and one-line wrappers. Every ``shared`` module loads inside the function body
that needs it, not at import: the worker imports this file, and so every blueprint, on every cold start.
"""

import logging

import azure.durable_functions as df
import azure.functions as func

from blueprints import aml_events, delivery, http_api, landing, reconcile, runs

# azure-core logs every storage and HTTP request at INFO, which the host would ship to Application Insights
# as one trace per request; warnings and errors still go through (host.json quiets the host's own Azure.Core).
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

for area in (http_api, landing, runs, delivery, aml_events, reconcile):
    app.register_functions(area.bp)
