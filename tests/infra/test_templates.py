"""infra/ and azure.yaml, checked offline: every .bicep parses, modules are called with the parameters they
declare, every Event Grid subscription targets a function the app indexes, and the subscriptions filter as
the landing handler expects."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from shared.landing.events import BLOB_CREATED, COMMITTED_APIS, RENAME_APIS, RENAMED_TYPES
from tests.infra.bicep import INFRA, ROOT, bicep_files, body, main, module_calls, parse, resources, walk

EVENT_SUBSCRIPTION = "Microsoft.EventGrid/systemTopics/eventSubscriptions"

# what the app lands (shared/landing/events.py): committed blobs (SFTP's too) and ADLS Gen2 renames into place
LANDING_APIS = set(COMMITTED_APIS) | set(RENAME_APIS.values())
LANDING_EVENT_TYPES = {BLOB_CREATED} | set(RENAMED_TYPES)


def test_there_are_templates():
    assert (INFRA / "main.bicep") in bicep_files() and len(bicep_files()) >= 5


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_bicep_file_parses(path: Path):
    document = parse(path)
    assert document.get("resources") or document.get("modules"), f"{path.name} declares nothing"
    for symbol, declaration in document.get("resources", {}).items():
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}(-preview)?", declaration["api_version"] or ""), \
            f"{path.name}: {symbol} has no pinned API version"


def test_modules_exist_and_get_exactly_their_parameters():
    for caller, symbol, config, module in module_calls():
        assert module.is_file(), f"{caller.name}: module {symbol} points at missing {module}"
        declared = parse(module).get("parameters", {})
        given = set(config.get("params", {}))
        required = {name for name, p in declared.items() if p.get("default") is None}
        assert given <= set(declared), f"{symbol}: unknown parameters {given - set(declared)}"
        assert required <= given, f"{symbol}: missing required parameters {required - given}"


def test_main_parameters_file_names_declared_parameters():
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    declared = main()["parameters"]
    assert set(parameters) <= set(declared)
    required = {name for name, p in declared.items() if p.get("default") is None}
    assert required <= set(parameters), f"azd has no value for {required - set(parameters)}"


def targeted_functions() -> list[tuple[str, str]]:
    found = []
    for path, symbol, config in resources(EVENT_SUBSCRIPTION):
        for value in walk(config.get("properties", {})):
            if isinstance(value, str):
                found += [(f"{path.name}:{symbol}", name) for name in re.findall(r"/functions/(\w+)", value)]
    return found


def test_each_function_an_event_subscription_targets_is_an_event_grid_trigger_of_the_app(app_functions):
    targets = targeted_functions()
    assert {name for _, name in targets} == {"on_blob_created", "on_aml_run_event"}
    for where, name in targets:
        assert name in app_functions, f"{where} targets {name}, which function_app does not index"
        bindings = [b.get_dict_repr() for b in app_functions[name].get_bindings()]
        assert any(b["type"] == "eventGridTrigger" for b in bindings), f"{where}: {name} is not an Event Grid trigger"


def test_the_queue_delivery_uses_the_queue_the_queued_trigger_reads(app_functions):
    bindings = [b.get_dict_repr() for b in app_functions["on_blob_created_queued"].get_bindings()]
    trigger = next(b for b in bindings if b["type"] == "queueTrigger")
    assert main()["variables"]["landingQueueName"]["value"] == trigger["queueName"]
    assert trigger["connection"] == "AzureWebJobsStorage"  # the host storage account, where the queue is made
    host = parse(INFRA / "modules" / "host-storage.bicep")
    queue = host["resources"]["storage__queueService__landingQueue"]  # pycep flattens nested resources
    assert queue["config"]["name"] == "landingQueueName"


def landing_subscriptions() -> list[dict]:
    module = parse(INFRA / "modules" / "landing-subscriptions.bicep")
    return [body(module["resources"][symbol]) for symbol in ("toFunction", "toQueue")]


def test_landing_subscriptions_take_committed_blobs_and_renames_into_each_route_prefix():
    module = parse(INFRA / "modules" / "landing-subscriptions.bicep")
    apis = module["variables"]["committedApis"]["value"]
    assert set(apis) == LANDING_APIS and {"SftpCommit", "RenameFile", "RenameDirectory"} <= set(apis)
    assert len(apis) <= 25  # Event Grid: 25 advanced-filter values per subscription in total
    assert set(module["variables"]["landingEventTypes"]["value"]) == LANDING_EVENT_TYPES
    for subscription in landing_subscriptions():
        props = subscription["properties"]
        assert props["eventDeliverySchema"] == "EventGridSchema"  # what on_blob_created's binding decodes
        assert props["filter"]["includedEventTypes"] == "landingEventTypes"
        [api] = props["filter"]["advancedFilters"]
        assert (api["operatorType"], api["key"], api["values"]) == ("StringIn", "data.api", "committedApis")
        assert props["filter"]["subjectBeginsWith"] == \
            "/blobServices/default/containers/${route.match.container}/blobs/${route.match.?prefix ?? ''}"
        assert props["retryPolicy"] == "retryPolicy" and props["deadLetterWithResourceIdentity"] == "deadLetter"
    retry = module["variables"]["retryPolicy"]["value"]
    assert 1 <= retry["maxDeliveryAttempts"] <= 30 and 1 <= retry["eventTimeToLiveInMinutes"] <= 1440
    dead_letter = module["variables"]["deadLetter"]["value"]["deadLetterDestination"]
    assert dead_letter["endpointType"] == "StorageBlob"
    assert dead_letter["properties"]["blobContainerName"] == "deadLetterContainerName"


def test_one_subscription_per_landing_route_and_the_dead_letters_go_where_the_sweep_reads():
    variables = main()["variables"]
    loaded = variables["routes"]["value"]["function"]
    assert loaded["type"] == "load_json_content"
    assert "config/routes.json" in json.dumps(loaded) and variables["routesDocumentPath"]["value"] == \
        "config/routes.json"
    assert "LANDING" in json.dumps(variables["landingRoutes"]["value"])
    module = next(c for _, s, c, _ in module_calls() if s == "landingSubscriptions")
    assert module["params"]["routes"] == "landingRoutes"
    # the app reads its dead letters from the container Event Grid writes them to
    assert main()["variables"]["appSettings"]["value"]["DEADLETTER_CONTAINER"] == "deadLetterContainerName"
    assert module["params"]["deadLetterContainerName"] == "deadLetterContainerName"
    for subscription in landing_subscriptions():
        # Event Grid's 64-character limit; the config refuses two routes whose names agree on what is kept
        assert subscription["name"] == {"function": {"type": "take", "parameters": {
            "original_value": "landing-${toLower(replace(route.name, '_', '-'))}", "number_to_take": 64}}}


def test_function_targets_wait_for_the_deployed_code():
    module = parse(INFRA / "modules" / "landing-subscriptions.bicep")
    to_function = module["resources"]["toFunction"]["config"]["loop_type"]["detail"]["array_name"]
    assert to_function == "functionRoutes"
    assert "functionsDeployed" in json.dumps(module["variables"]["functionRoutes"])
    aml = parse(INFRA / "modules" / "aml.bicep")["resources"]["runStatusChanged"]["config"]["condition"]
    assert "functionsDeployed" in json.dumps(aml) and "subscribeRunEvents" in json.dumps(aml)
    hook = (ROOT / "scripts" / "azd" / "postdeploy.sh").read_text()
    assert "azd env set FUNCTIONS_DEPLOYED true" in hook and "azd provision" in hook
    assert json.loads((INFRA / "main.parameters.json").read_text())["parameters"]["functionsDeployed"]["value"] \
        == "${FUNCTIONS_DEPLOYED=false}"


def test_the_function_app_is_flex_python_with_a_user_assigned_identity_and_keyless_storage():
    app = parse(INFRA / "modules" / "function-app.bicep")
    plan = body(app["resources"]["plan"])
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    site = body(app["resources"]["site"])
    assert site["identity"]["type"] == "UserAssigned"
    config = site["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "pythonVersion"}
    assert config["deployment"]["storage"]["authentication"]["type"] == "UserAssignedIdentity"
    tags = json.dumps(site["tags"])
    service = re.search(r"^  (\w+):\n    project:", (ROOT / "azure.yaml").read_text(), re.M).group(1)
    assert f'"\'azd-service-name\'": "{service}"' in tags  # how azd deploy finds the app
    assert set(main()["parameters"]["pythonVersion"]["decorators"][1]["argument"]) >= {"3.11", "3.13"}
    for path in (INFRA / "modules" / "host-storage.bicep", INFRA / "modules" / "landing-account.bicep"):
        storage = body(parse(path)["resources"]["storage"])
        assert storage["properties"]["allowSharedKeyAccess"] is False, path.name
    settings = main()["variables"]["appSettings"]["value"]
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert not any(key in settings for key in ("AzureWebJobsStorage", "FUNCTIONS_WORKER_RUNTIME",
                                               "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE"))


def test_monitoring_is_application_insights_on_log_analytics_with_entra_auth():
    monitoring = parse(INFRA / "modules" / "monitoring.bicep")
    component = body(monitoring["resources"]["applicationInsights"])
    assert component["properties"]["DisableLocalAuth"] is True
    assert body(monitoring["resources"]["logAnalytics"])  # the workspace behind it
    settings = main()["variables"]["appSettings"]["value"]
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == \
        "ClientId=${identity.outputs.clientId};Authorization=AAD"


def test_the_landing_account_is_new_or_existing_by_parameter():
    variables = main()["variables"]
    assert "landingStorageAccountName" in json.dumps(variables["createLanding"])
    landing = main()["modules"]["landingAccount"]["config"]
    assert landing["condition"] == "createLanding"
    assert main()["parameters"]["landingStorageAccountName"]["default"] == ""


def test_every_module_file_is_used():
    used = {module for _, _, _, module in module_calls()}
    for path in sorted((INFRA / "modules").glob("*.bicep")):
        assert path.resolve() in used, f"{path.name} is never deployed"


def test_azd_hooks_exist_and_the_package_leaves_out_what_azure_does_not_run():
    text = (ROOT / "azure.yaml").read_text()
    for hook in re.findall(r"run: \./(\S+)", text):
        assert (ROOT / hook).is_file(), hook
    ignored = set((ROOT / ".funcignore").read_text().split())
    assert {"infra", "adf", "tests", "emulator", "bench", ".azure"} <= ignored
    assert not {"config", "blueprints", "shared", "function_app.py", "host.json", "requirements.txt"} & ignored


def test_output_subscriptions_take_committed_blobs_under_each_opted_in_output_prefix():
    module = parse(INFRA / "modules" / "output-subscriptions.bicep")
    props = body(module["resources"]["toFunction"])["properties"]
    assert props["eventDeliverySchema"] == "EventGridSchema"
    assert props["destination"]["properties"]["resourceId"] == "${functionAppId}/functions/on_blob_created"
    assert props["filter"]["includedEventTypes"] == [BLOB_CREATED]
    assert props["filter"]["subjectBeginsWith"] == \
        "/blobServices/default/containers/${output.container}/blobs/${output.prefix}"
    [api] = props["filter"]["advancedFilters"]
    assert set(api["values"]) <= set(COMMITTED_APIS)
    call = next(c for _, s, c, _ in module_calls() if s == "outputSubscriptions")
    assert call["params"]["outputs"] == "outputEventOutputs"
    variables = json.dumps(main()["variables"]["outputEventOutputs"]["value"])
    assert "summary_only" in variables and "output_events" in json.dumps(main()["variables"]["outputEventRoutes"])
