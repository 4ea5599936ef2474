"""Sovereign clouds (issue 17, case 7): ``AZURE_CLOUD`` decides the token audiences, the ARM base URL and the
Studio link; unset, nothing changes; an unknown value is refused naming the setting. On the emulator standing in
for the US Government cloud, a run succeeds only when the app names that cloud (Azurite + emulator)."""
from __future__ import annotations

import copy

import pytest

from shared.config import ConfigError, parse_settings
from shared.config.clouds import CLOUDS, cloud_named
from shared.pipeline_v1.requests import studio_url
from tests.e2e.conftest import _reset_faults, emulator, host, routes_document, stack  # noqa: F401 - fixtures
from tests.e2e.test_e2e import finish, land_sample

DOC = {"routes": [{"name": "r", "match": {"container": "landing", "prefix": "in/"},
                   "endpoint": {"scoring_uri": "https://r.eastus.inference.ml.azure.com/jobs",
                                "workspace": {"subscription_id": "s-1", "resource_group": "rg", "name": "ws"}}}]}
ENV = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}

EXPECTED = {
    # cloud: (ARM, batch-endpoint audience, Studio)
    "AzurePublicCloud": ("https://management.azure.com", "https://ml.azure.com", "https://ml.azure.com"),
    "AzureUSGovernment": ("https://management.usgovcloudapi.net", "https://ml.azure.us", "https://ml.azure.us"),
    "AzureChinaCloud": ("https://management.chinacloudapi.cn", "https://ml.azure.cn", "https://studio.ml.azure.cn"),
}


def test_defaults_are_unchanged_without_the_setting():
    settings = parse_settings(copy.deepcopy(DOC), ENV)
    assert settings.management_url == "https://management.azure.com"
    cloud = cloud_named(None)
    assert (cloud.ml_scope, cloud.management_scope) == ("https://ml.azure.com/.default",
                                                        "https://management.azure.com/.default")


@pytest.mark.parametrize("name", list(EXPECTED))
def test_the_setting_decides_arm_audiences_and_studio(name, monkeypatch):
    management, audience, studio = EXPECTED[name]
    settings = parse_settings(copy.deepcopy(DOC), {**ENV, "AZURE_CLOUD": name})
    assert settings.management_url == management
    cloud = CLOUDS[name]
    assert cloud.scope("https://ml.azure.com/.default") == audience + "/.default"
    assert cloud.scope("https://management.azure.com/.default") == management + "/.default"
    v1 = parse_settings({"routes": [{"name": "v", "kind": "pipeline_endpoint_v1",
                                     "match": {"container": "landing", "prefix": "v/"},
                                     "pipeline_endpoint": {"api_url": "https://eastus2.api.azureml.ms", "id": "p-1",
                                                           "experiment_name": "e", "workspace": DOC["routes"][0][
                                                               "endpoint"]["workspace"]}}]}, ENV).routes[0]
    monkeypatch.setenv("AZURE_CLOUD", name)
    assert studio_url(v1, "run-1").startswith(f"{studio}/runs/run-1?wsid=/subscriptions/s-1/")


def test_aml_management_url_still_wins():
    settings = parse_settings(copy.deepcopy(DOC), {**ENV, "AZURE_CLOUD": "AzureChinaCloud",
                                                   "AML_MANAGEMENT_URL": "http://127.0.0.1:5100/management"})
    assert settings.management_url == "http://127.0.0.1:5100/management"


def test_bicep_s_name_for_the_public_cloud_is_accepted():
    assert cloud_named("AzureCloud") is CLOUDS["AzurePublicCloud"]
    assert cloud_named("azureusgovernment") is CLOUDS["AzureUSGovernment"]


@pytest.mark.parametrize("value", ["Mars", "AzureGermanCloud", "https://management.azure.com", "x" * 300])
def test_an_unknown_cloud_is_refused_naming_the_setting_and_the_known_values(value):
    with pytest.raises(ConfigError) as caught:
        parse_settings(copy.deepcopy(DOC), {**ENV, "AZURE_CLOUD": value})
    [problem] = [p for p in caught.value.problems if p.startswith("AZURE_CLOUD")]
    assert "AzurePublicCloud, AzureUSGovernment, AzureChinaCloud" in problem and len(problem) < 300


@pytest.mark.parametrize("app_cloud, succeeds", [("AzureUSGovernment", True), (None, False)])
def test_tokens_carry_the_audience_of_the_configured_cloud(stack, host, monkeypatch, app_cloud, succeeds):
    emu = stack.emulator.emulator
    stack.configure(routes_document(stack.emulator, stack.azurite, stack.sink_container))
    if app_cloud:
        monkeypatch.setenv("AZURE_CLOUD", app_cloud)
    else:
        monkeypatch.delenv("AZURE_CLOUD", raising=False)
    emu.cloud = "AzureUSGovernment"   # the emulator accepts only US Government audiences
    try:
        run_id, _ = land_sample(stack, host)
        summary = finish(host, run_id)
    finally:
        emu.cloud = "AzurePublicCloud"
    if succeeds:
        assert summary["outcome"] == "Succeeded", summary
    else:   # a public-cloud token is refused as the service refuses a wrong audience; nothing was submitted
        assert summary["outcome"] == "Failed", summary
        assert "wrong audience" in summary["error"] and "https://management.azure.com" in summary["error"], summary
        assert summary["job_name"] is None
