"""Hostile Run-BatchEndpoint parameters given to adf/pipeline.json, replayed against the in-process app:
each start is refused with its exact status, nothing is started, and neither the function key nor a SAS
from the input reaches the pipeline's error or a log line."""

from __future__ import annotations

import json

import pytest

from tests.interop.adf import Run
from tests.interop.conftest import APP_URL, FUNCTION_KEY, ROUTES, VAULT_URL, InProcessApp, ScriptedJob
from tests.support.durable_host import DurableTestHost, split_functions

PIPELINE = json.loads((__import__("pathlib").Path(__file__).resolve().parents[2] / "adf" / "pipeline.json")
                      .read_text())
SAS_SIG = "SECRETSIGNATURE0123456789"

CASES = [
    # name, endpoint, input, status
    ("input-is-a-url-with-a-sas", "heart", f"https://evil.example/heart/x/?sv=2024&sig={SAS_SIG}", 400),
    ("input-climbs-out-of-the-prefix", "heart", "heart/../secrets/", 400),
    ("input-is-absolute", "heart", "/heart/2024-06-01/", 400),
    ("input-outside-the-route-prefix", "heart", "lungs/2024-06-01/", 400),
    ("input-is-abfss", "heart", "abfss://landing@acct.dfs.core.windows.net/heart/x/", 400),
    ("endpoint-climbs", "heart/../lungs", "heart/2024-06-01/", 400),  # not a route name: 400 naming `route`
    ("endpoint-unknown", "lungs", "heart/2024-06-01/", 404),
    ("endpoint-empty", "", "heart/2024-06-01/", 400),
    ("endpoint-is-a-url", "https://heart.eastus.inference.ml.azure.com/jobs", "heart/2024-06-01/", 400),
]


@pytest.fixture
def app(app_functions, azurite, monkeypatch):
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string())
    monkeypatch.setenv("BATCH_CONFIG_JSON", json.dumps(ROUTES))
    monkeypatch.setenv("STATE_CONTAINER", "hostileadf")
    monkeypatch.delenv("BATCH_CONFIG_PATH", raising=False)
    orchestrators, activities = split_functions(app_functions.values())
    with DurableTestHost(orchestrators, {**activities, **ScriptedJob().activities()}) as host:
        host.start_server()
        yield InProcessApp(host)


def test_hostile_pipeline_parameters_are_refused(app, catalogue, caplog):
    for name, endpoint, input_path, status in CASES:
        with catalogue.case("adf.pipeline", name, secrets=[FUNCTION_KEY, SAS_SIG]) as c:
            run = Run(PIPELINE, {"functionAppUrl": APP_URL, "keyVaultUrl": VAULT_URL, "endpoint": endpoint,
                                 "input": input_path}, app.http, app.sleep).execute()
            c.check(run.status == "Failed", f"pipeline {run.status}")
            c.check(run.failure.code == "2108", f"error {run.failure.code}")
            c.check(f"Response status code: '{status}'" in run.failure.message, run.failure.message)
            c.check(app.host.instance_ids() == [], f"started {app.host.instance_ids()}")
            c.no_secret_in(str(run.failure), *(r.getMessage() for r in caplog.records))
