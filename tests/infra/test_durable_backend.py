"""The Durable backend is a deploy choice (durableBackend): Azure Storage (the host account) or the Durable Task
Scheduler (azureManaged provider). Both variants, checked offline: what each creates, which app settings point
the Durable extension where, and that one host.json serves both."""

from __future__ import annotations

import json

from tests.infra import settings as reads
from tests.infra.bicep import INFRA, ROOT, app_settings, body, durable_scheduler_settings, main, parse

CONNECTION = "DURABLE_TASK_SCHEDULER_CONNECTION_STRING"
OVERRIDE = "AzureFunctionsJobHost__extensions__durableTask__storageProvider__"


def _decorators(parameter: str) -> dict:
    return {d["type"]: d.get("argument") for d in main()["parameters"][parameter]["decorators"]}


def test_the_backend_is_a_parameter_with_azure_storage_by_default():
    parameters = main()["parameters"]
    assert parameters["durableBackend"]["default"] == "AzureStorage"
    assert set(_decorators("durableBackend")["allowed"]) == {"AzureStorage", "DurableTaskScheduler"}
    assert set(_decorators("durableSchedulerSku")["allowed"]) == {"Consumption", "Dedicated"}
    assert parameters["durableSchedulerSku"]["default"] == "Consumption"
    # an empty allow list denies every call, even with the right role: refused at deploy time
    assert _decorators("durableSchedulerIpAllowlist")["min_length"] == 1
    assert parameters["durableSchedulerIpAllowlist"]["default"]
    azd = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert azd["durableBackend"]["value"] == "${DURABLE_BACKEND=AzureStorage}"
    assert azd["durableSchedulerSku"]["value"] == "${DURABLE_SCHEDULER_SKU=Consumption}"
    assert main()["variables"]["durableOnStorage"]["value"] == {
        "operator": {"type": "equals", "operands": {"operand_1": "durableBackend", "operand_2": "AzureStorage"}}}


def test_the_scheduler_variant_creates_a_scheduler_and_the_apps_task_hub():
    module = main()["modules"]["durableScheduler"]["config"]
    assert module["condition"] == {"operator": {"type": "not", "operands": {"bool_value": "durableOnStorage"}}}
    params = module["config"]["params"]
    assert params["taskHubName"] == "taskHubName"  # the hub TASK_HUB_NAME names (host.json hubName)
    assert (params["skuName"], params["capacity"], params["ipAllowlist"]) == (
        "durableSchedulerSku", "durableSchedulerCapacity", "durableSchedulerIpAllowlist")
    assert params["appPrincipalId"] == {"operator": {"type": "property_accessor", "operands": {
        "operand_1": "identity", "operand_2": {"operator": {"type": "property_accessor", "operands": {
            "operand_1": "outputs", "operand_2": "principalId"}}}}}}
    dts = parse(INFRA / "modules" / "durable-task-scheduler.bicep")
    scheduler = body(dts["resources"]["scheduler"])
    assert dts["resources"]["scheduler"]["type"] == "Microsoft.DurableTask/schedulers"
    assert scheduler["properties"]["ipAllowlist"] == "ipAllowlist"
    assert {d["type"]: d.get("argument") for d in dts["parameters"]["ipAllowlist"]["decorators"]}["min_length"] == 1
    sku = scheduler["properties"]["sku"]["operator"]["operands"]
    assert sku["true_value"] == {"name": "Dedicated", "capacity": "capacity"}
    assert sku["false_value"] == {"name": "Consumption"}
    hub = body(dts["resources"]["taskHub"])
    assert dts["resources"]["taskHub"]["type"] == "Microsoft.DurableTask/schedulers/taskHubs"
    assert (hub["parent"], hub["name"]) == ("scheduler", "taskHubName")
    assert body(dts["resources"]["dataContributor"])["scope"] == "taskHub"  # not the whole scheduler
    assert dts["outputs"]["endpoint"]["value"] == {"operator": {"type": "property_accessor", "operands": {
        "operand_1": "scheduler", "operand_2": {"operator": {"type": "property_accessor", "operands": {
            "operand_1": "properties", "operand_2": "endpoint"}}}}}}


def test_the_scheduler_variant_points_the_durable_extension_at_it_through_app_settings():
    settings = durable_scheduler_settings()
    assert set(settings) == {CONNECTION, OVERRIDE + "type", OVERRIDE + "connectionStringName"}
    assert settings[OVERRIDE + "type"] == "azureManaged"
    assert settings[OVERRIDE + "connectionStringName"] == CONNECTION
    # identity, never a key: the user-assigned identity's client id
    assert settings[CONNECTION] == ("Endpoint=${durableScheduler.outputs.endpoint};Authentication=ManagedIdentity;"
                                    "ClientID=${identity.outputs.clientId}")
    call = main()["modules"]["functionApp"]["config"]["params"]["appSettings"]
    assert call == {"function": {"type": "union", "parameters": {"arg_1": "appSettings",
                                                                "arg_2": "durableSchedulerSettings"}}}
    # neither variant names a backend in the base settings: Azure Storage is the extension's default
    assert not {k for k in app_settings() if k.startswith("AzureFunctionsJobHost__") or k == CONNECTION}


def test_one_host_json_serves_both_backends():
    host = json.loads((ROOT / "host.json").read_text())
    durable = host["extensions"]["durableTask"]
    assert durable["hubName"] == "%TASK_HUB_NAME%"
    assert "type" not in durable.get("storageProvider", {})  # the app setting decides; absent: Azure Storage
    assert "connectionStringName" not in durable.get("storageProvider", {})
    # each override names a path that exists in host.json, so it replaces a value the file has (or its default)
    for key in durable_scheduler_settings():
        if key.startswith("AzureFunctionsJobHost__"):
            path = key.split("__")[1:]
            node = host
            for part in path[:-1]:
                node = node[part]
            assert isinstance(node, dict), key


def test_each_variant_sets_only_settings_something_reads():
    assert set(durable_scheduler_settings()) <= set(reads.SCHEDULER_HOST_READS)
    assert not set(reads.SCHEDULER_HOST_READS) & set(app_settings())
    # both variants keep the host storage settings: the host, the queue trigger and the ledger use them
    for key in ("AzureWebJobsStorage__blobServiceUri", "AzureWebJobsStorage__queueServiceUri",
                "AzureWebJobsStorage__tableServiceUri", "TASK_HUB_NAME"):
        assert key in app_settings()


def test_the_scheduler_variant_scopes_host_queue_roles_to_queues_the_deployment_makes():
    host = parse(INFRA / "modules" / "host-storage.bicep")
    assert main()["modules"]["hostStorage"]["config"]["params"]["durableOnStorage"] == "durableOnStorage"
    assert body(host["resources"]["poisonQueue"])["name"] == "${landingQueueName}-poison"
    from shared.reconcile import poison
    assert poison.POISON_QUEUE == main()["variables"]["landingQueueName"]["value"] + "-poison"
    assert host["resources"]["notifyQueues"]["config"]["loop_type"]["detail"]["array_name"] == "notifyQueueNames"
    assert main()["modules"]["hostStorage"]["config"]["params"]["notifyQueueNames"] == "hostNotifyQueues"
    assert "notify" in json.dumps(main()["variables"]["hostNotifyQueues"])


def test_the_deploy_page_says_when_to_choose_which():
    text = (ROOT / "docs" / "deploy.md").read_text()
    section = text[text.index("### Durable backend"):]
    section = section[:section.index("\n#", 5)]
    for word in ("DURABLE_BACKEND", "DurableTaskScheduler", "AzureStorage", "Consumption", "Dedicated",
                 "ipAllowlist", "UNCONFIRMED"):
        assert word in section, word
