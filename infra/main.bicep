// Batch runs for Azure ML batch endpoints: everything `azd up` deploys.
// Flex Consumption Python app + user-assigned identity, keyless host storage (task hub, run ledger,
// dead letters, landing-events queue), a landing account (new or existing) with Event Grid subscriptions per
// route, the existing Azure ML workspace (+ optional RunStatusChanged events), the datastore and sink
// accounts' roles, Application Insights + Log Analytics, and exactly the app settings the code reads.
// durableBackend = 'DurableTaskScheduler' moves the Durable task hub to a Durable Task Scheduler.
// Every role names the narrowest scope it can (docs/deploy.md, "Roles"; tests/infra prints them).
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; used in resource names and tags.')
param environmentName string

@minLength(1)
@description('Region of the function app and its storage: one with Flex Consumption (az functionapp list-flexconsumption-locations).')
@metadata({ azd: { type: 'location' } })
param location string

@description('Resource group to create or use; empty: rg-<environmentName>.')
param resourceGroupName string = ''

@description('Python version of the Flex runtime; check the region with az functionapp list-flexconsumption-runtimes.')
@allowed([
  '3.11'
  '3.12'
  '3.13'
])
param pythonVersion string = '3.11'

@description('Flex instance memory (MB).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

// --- Durable backend (docs/deploy.md, "Durable backend: Azure Storage or the Durable Task Scheduler") -------
@description('Where Durable Functions keeps orchestration state: the host storage account, or a Durable Task Scheduler (the azureManaged provider).')
@allowed([
  'AzureStorage'
  'DurableTaskScheduler'
])
param durableBackend string = 'AzureStorage'

@description('Durable Task Scheduler billing: Consumption (pay per use) or Dedicated (capacity units).')
@allowed([
  'Consumption'
  'Dedicated'
])
param durableSchedulerSku string = 'Consumption'

@minValue(1)
@description('Capacity units of a Dedicated scheduler.')
param durableSchedulerCapacity int = 1

@minLength(1)
@description('Addresses (IPv4, IPv6, CIDR) that may reach the scheduler; an empty list would deny all traffic. Flex Consumption has no fixed outbound addresses without VNet integration: access is still only by role.')
param durableSchedulerIpAllowlist array = [
  '0.0.0.0/0'
]

// --- landing ---------------------------------------------------------------------------------------
@description('An existing landing storage account; empty creates a new one.')
param landingStorageAccountName string = ''

@description('Resource group of an existing landing account; empty: the app\'s resource group.')
param landingResourceGroupName string = ''

@description('Name of a system topic that already exists on an existing landing account (one per source is allowed).')
param landingExistingTopicName string = ''

@description('Where BlobCreated events go: the on_blob_created function, or the landing-events queue (buffered; on_blob_created_queued).')
@allowed([
  'function'
  'queue'
])
param landingDelivery string = 'function'

@description('Set by the postdeploy hook: the functions are deployed, so subscriptions may target them.')
param functionsDeployed bool = false

// --- Azure ML --------------------------------------------------------------------------------------
@description('The existing Azure ML workspace whose batch endpoints the routes invoke.')
param amlWorkspaceName string

@description('Resource group of the workspace.')
param amlResourceGroupName string

@description('Storage account behind the datastore that batch jobs write their outputs to (e.g. workspaceblobstore).')
param amlDatastoreStorageAccountName string

@description('Container of that datastore.')
param amlDatastoreContainerName string

@description('Resource group of the datastore account; empty: the workspace\'s.')
param amlDatastoreResourceGroupName string = ''

@description('Subscribe the workspace\'s RunStatusChanged events to on_aml_run_event (needs Contributor or Owner on the workspace).')
param subscribeAmlRunEvents bool = false

@description('Name of a system topic that already exists on the workspace.')
param amlExistingTopicName string = ''

@description('Name of a system topic that already exists on the datastore account (output events); empty creates one when a route opts in.')
param amlDatastoreExistingTopicName string = ''

// --- sinks -----------------------------------------------------------------------------------------
@description('Existing account the CURATED connection (route sinks) writes to; empty: the landing account, in containers of their own.')
param curatedStorageAccountName string = ''

@description('Resource group of the curated account; empty: the landing account\'s.')
param curatedResourceGroupName string = ''

// --- names -----------------------------------------------------------------------------------------
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var appName = 'func-${resourceToken}'
var hostStorageName = 'sthost${resourceToken}'
var createLanding = empty(landingStorageAccountName)
var landingName = createLanding ? 'stland${resourceToken}' : landingStorageAccountName
var landingGroup = empty(landingResourceGroupName) ? rg.name : landingResourceGroupName
var curatedName = empty(curatedStorageAccountName) ? landingName : curatedStorageAccountName
var curatedGroup = empty(curatedResourceGroupName) ? landingGroup : curatedResourceGroupName
var datastoreGroup = empty(amlDatastoreResourceGroupName) ? amlResourceGroupName : amlDatastoreResourceGroupName

var deploymentContainerName = 'app-package-${take(resourceToken, 7)}'
var ledgerContainerName = 'batchruns'
var deadLetterContainerName = 'eventgrid-deadletter'
var landingQueueName = 'landing-events'
var taskHubName = 'batchruns${take(resourceToken, 8)}'
var durableOnStorage = durableBackend == 'AzureStorage'

// The routes document deployed with the code (BATCH_CONFIG_PATH). Routes whose match.connection is LANDING
// get an Event Grid subscription on the landing account, one per route prefix.
var routesDocumentPath = 'config/routes.json'
var routes = loadJsonContent('../config/routes.json', '$.routes')
var landingRoutes = filter(routes, route => (route.match.?connection ?? 'AzureWebJobsStorage') == 'LANDING')
var landingContainers = union(map(landingRoutes, route => route.match.container), [])
// The containers the routes' CURATED sinks write to (https://<account>.blob|dfs.../<container>/... or
// abfss://<container>@<account>.dfs.../...): the app may write there and nowhere else on that account.
var curatedSinkUrls = flatten(map(routes, route => map(filter(route.?sinks ?? [], sink => (sink.?connection ?? 'AzureWebJobsStorage') == 'CURATED'), sink => sink.url)))
var curatedContainers = union(map(curatedSinkUrls, url => startsWith(toLower(url), 'abfss://') ? split(split(url, '/')[2], '@')[0] : split(url, '/')[3]), [])
// Notification queues on the host account (notify.queue with the AzureWebJobsStorage connection).
var hostNotifyQueues = union(map(filter(routes, route => ((route.?notify.?queue.?name ?? '') != '') && ((route.?notify.?queue.?connection ?? 'AzureWebJobsStorage') == 'AzureWebJobsStorage')), route => route.notify.queue.name), [])
// Outputs that signal their job's end (routes with poll.output_events; not summary_only; shared/output_events):
// the datastore container and the output path up to the folder of its first placeholder.
var outputEventRoutes = filter(routes, route => route.?poll.?output_events ?? false)
var outputEventOutputs = flatten(map(outputEventRoutes, route => map(filter(empty(route.?outputs ?? []) ? (route.?output == null ? [] : [route.output]) : route.outputs, output => (output.?action ?? 'append_row') != 'summary_only'), output => {
  route: route.name
  output: output.?name ?? 'score'
  container: amlDatastoreContainerName
  prefix: substring(split(output.path, '{')[0], 0, lastIndexOf(split(output.path, '{')[0], '/') + 1)
})))
var curatedOnLanding = (curatedName == landingName) && (curatedGroup == landingGroup)
// On the landing account the sinks have containers of their own: a landing container never gets a write role.
var curatedWritableContainers = curatedOnLanding ? filter(curatedContainers, container => !contains(landingContainers, container)) : curatedContainers

var roles = {
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDelegator: 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a'
}

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: empty(resourceGroupName) ? 'rg-${environmentName}' : resourceGroupName
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
    appPrincipalId: identity.outputs.principalId
  }
}

module hostStorage 'modules/host-storage.bicep' = {
  name: 'host-storage'
  scope: rg
  params: {
    name: hostStorageName
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    ledgerContainerName: ledgerContainerName
    deadLetterContainerName: deadLetterContainerName
    landingQueueName: landingQueueName
    notifyQueueNames: hostNotifyQueues
    durableOnStorage: durableOnStorage
    appPrincipalId: identity.outputs.principalId
  }
}

module durableScheduler 'modules/durable-task-scheduler.bicep' = if (!durableOnStorage) {
  name: 'durable-task-scheduler'
  scope: rg
  params: {
    name: 'dts-${resourceToken}'
    location: location
    tags: tags
    taskHubName: taskHubName
    skuName: durableSchedulerSku
    capacity: durableSchedulerCapacity
    ipAllowlist: durableSchedulerIpAllowlist
    appPrincipalId: identity.outputs.principalId
  }
}

module landingAccount 'modules/landing-account.bicep' = if (createLanding) {
  name: 'landing-account'
  scope: rg
  params: {
    name: landingName
    location: location
    tags: tags
    // the sinks' own containers too when they are on this new account (the CURATED default)
    containerNames: union(landingContainers, curatedOnLanding ? curatedWritableContainers : [])
  }
}

module landingTopic 'modules/landing-topic.bicep' = {
  name: 'landing-topic'
  scope: resourceGroup(landingGroup)
  params: {
    storageAccountName: landingName
    topicName: 'evgt-landing-${resourceToken}'
    existingTopicName: landingExistingTopicName
    tags: tags
  }
  dependsOn: [
    landingAccount
  ]
}

module eventGridAccess 'modules/event-grid-access.bicep' = {
  name: 'event-grid-access'
  scope: rg
  params: {
    storageAccountName: hostStorage.outputs.name
    deadLetterContainerName: deadLetterContainerName
    landingQueueName: landingQueueName
    topicPrincipalId: landingTopic.outputs.principalId
    deliverToQueue: landingDelivery == 'queue'
  }
}

// The app settings: every one the code or the host reads, and nothing else (tests/infra checks both ways).
var appSettings = {
  // host storage, identity-based (the Functions host and the Durable task hub)
  AzureWebJobsStorage__blobServiceUri: hostStorage.outputs.blobEndpoint
  AzureWebJobsStorage__queueServiceUri: hostStorage.outputs.queueEndpoint
  AzureWebJobsStorage__tableServiceUri: hostStorage.outputs.tableEndpoint
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.outputs.clientId
  TASK_HUB_NAME: taskHubName
  // telemetry: the host and shared/telemetry.py (lazily) export to Application Insights with Entra auth
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.connectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.outputs.clientId};Authorization=AAD'
  // the app
  BATCH_CONFIG_PATH: routesDocumentPath
  AML_MANAGEMENT_URL: environment().resourceManager
  AZURE_CLOUD: environment().name // AzureCloud | AzureUSGovernment | AzureChinaCloud: token audiences, ARM, Studio
  AZURE_CLIENT_ID: identity.outputs.clientId
  STATE_CONNECTION: 'AzureWebJobsStorage'
  STATE_CONTAINER: ledgerContainerName
  DEADLETTER_CONTAINER: deadLetterContainerName
  // the reconcile sweep (shared/reconcile): on, every 15 minutes
  RECONCILE_ENABLED: 'true'
  RECONCILE_SCHEDULE: '0 */15 * * * *'
  // the storage connections the routes name (config/routes.json), identity-based
  LANDING__blobServiceUri: landingTopic.outputs.blobEndpoint
  LANDING__clientId: identity.outputs.clientId
  CURATED__blobServiceUri: 'https://${curatedName}.blob.${environment().suffixes.storage}'
  CURATED__clientId: identity.outputs.clientId
  AML_DATASTORE__blobServiceUri: 'https://${amlDatastoreStorageAccountName}.blob.${environment().suffixes.storage}'
  AML_DATASTORE__clientId: identity.outputs.clientId
}

// Durable Task Scheduler backend: app settings override host.json's durableTask.storageProvider (one host.json
// serves both backends); the hub name stays %TASK_HUB_NAME%. Only the documented client API is used by the
// app (docs/deploy.md, "Durable backend"), so nothing else changes.
var durableSchedulerSettings = durableOnStorage ? {} : {
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${durableScheduler.outputs.endpoint};Authentication=ManagedIdentity;ClientID=${identity.outputs.clientId}'
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: 'azureManaged'
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING'
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    name: appName
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    pythonVersion: pythonVersion
    deploymentContainerUrl: '${hostStorage.outputs.blobEndpoint}${deploymentContainerName}'
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    appSettings: union(appSettings, durableSchedulerSettings)
  }
}

module landingSubscriptions 'modules/landing-subscriptions.bicep' = {
  name: 'landing-subscriptions'
  scope: resourceGroup(landingGroup)
  params: {
    topicName: landingTopic.outputs.name
    routes: landingRoutes
    delivery: landingDelivery
    functionAppId: functionApp.outputs.id
    functionsDeployed: functionsDeployed
    hostStorageAccountId: hostStorage.outputs.id
    deadLetterContainerName: deadLetterContainerName
    landingQueueName: landingQueueName
  }
  dependsOn: [
    eventGridAccess
  ]
}

module outputSubscriptions 'modules/output-subscriptions.bicep' = {
  name: 'output-subscriptions'
  scope: resourceGroup(datastoreGroup)
  params: {
    datastoreAccountName: amlDatastoreStorageAccountName
    topicName: 'evgt-outputs-${resourceToken}'
    existingTopicName: amlDatastoreExistingTopicName
    outputs: outputEventOutputs
    functionAppId: functionApp.outputs.id
    functionsDeployed: functionsDeployed
    tags: tags
  }
}

// --- the app identity's data roles outside its own storage (docs/deploy.md, "Roles") ----------------------
// Read the landing containers the routes name, write the sinks' containers: never a whole account.
module landingReader 'modules/storage-role.bicep' = {
  name: 'role-landing-reader'
  scope: resourceGroup(landingGroup)
  params: {
    storageAccountName: landingName
    scope: 'containers'
    containerNames: landingContainers
    principalId: identity.outputs.principalId
    roleDefinitionId: roles.storageBlobDataReader
  }
  dependsOn: [
    landingAccount
  ]
}

module curatedWriter 'modules/storage-role.bicep' = {
  name: 'role-curated-writer'
  scope: resourceGroup(curatedGroup)
  params: {
    storageAccountName: curatedName
    scope: 'containers'
    containerNames: curatedWritableContainers
    principalId: identity.outputs.principalId
    roleDefinitionId: roles.storageBlobDataContributor
  }
  dependsOn: [
    landingAccount
  ]
}

module datastoreReader 'modules/storage-role.bicep' = {
  name: 'role-datastore-reader'
  scope: resourceGroup(datastoreGroup)
  params: {
    storageAccountName: amlDatastoreStorageAccountName
    scope: 'containers'
    containerNames: [
      amlDatastoreContainerName
    ]
    principalId: identity.outputs.principalId
    roleDefinitionId: roles.storageBlobDataReader
  }
}

// The reader role is container-scoped, so the account-level user delegation key needs the Delegator role
// (its one action, generateUserDelegationKey, reads and writes no data).
module datastoreDelegator 'modules/storage-role.bicep' = {
  name: 'role-datastore-delegator'
  scope: resourceGroup(datastoreGroup)
  params: {
    storageAccountName: amlDatastoreStorageAccountName
    scope: 'account'
    principalId: identity.outputs.principalId
    roleDefinitionId: roles.storageBlobDelegator
  }
}

module aml 'modules/aml.bicep' = {
  name: 'aml'
  scope: resourceGroup(amlResourceGroupName)
  params: {
    workspaceName: amlWorkspaceName
    appPrincipalId: identity.outputs.principalId
    roleNameSuffix: resourceToken
    subscribeRunEvents: subscribeAmlRunEvents
    functionsDeployed: functionsDeployed
    functionAppId: functionApp.outputs.id
    topicName: 'evgt-aml-${resourceToken}'
    existingTopicName: amlExistingTopicName
    tags: tags
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'
output AZURE_LANDING_STORAGE_ACCOUNT string = landingName
output AZURE_LANDING_RESOURCE_GROUP string = landingGroup
output AZURE_HOST_STORAGE_ACCOUNT string = hostStorage.outputs.name
output AZURE_LANDING_SUBSCRIPTIONS array = landingSubscriptions.outputs.subscriptionNames
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output DEADLETTER_CONTAINER string = deadLetterContainerName
output DURABLE_BACKEND string = durableBackend
