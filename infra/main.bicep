// Batch runs for Azure ML batch endpoints: everything `azd up` deploys.
// Flex Consumption Python app + user-assigned identity, keyless host storage (task hub, run ledger,
// dead letters, landing-events queue), a landing account (new or existing) with Event Grid subscriptions per
// route, the existing Azure ML workspace (+ optional RunStatusChanged events), the datastore and sink
// accounts' roles, Application Insights + Log Analytics, and exactly the app settings the code reads.
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

// --- sinks -----------------------------------------------------------------------------------------
@description('Existing account the CURATED connection (route sinks) writes to; empty: the landing account.')
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

// The routes document deployed with the code (BATCH_CONFIG_PATH). Routes whose match.connection is LANDING
// get an Event Grid subscription on the landing account, one per route prefix.
var routesDocumentPath = 'config/routes.json'
var routes = loadJsonContent('../config/routes.json', '$.routes')
var landingRoutes = filter(routes, route => (route.match.?connection ?? 'AzureWebJobsStorage') == 'LANDING')
var landingContainers = union(map(landingRoutes, route => route.match.container), [])

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
    containerNames: landingContainers
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
    appSettings: appSettings
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

// --- the app identity's data roles outside its own storage (README, "Deploy": the roles table) --------
module landingReader 'modules/storage-role.bicep' = if ((curatedName != landingName) || (curatedGroup != landingGroup)) {
  name: 'role-landing-reader'
  scope: resourceGroup(landingGroup)
  params: {
    storageAccountName: landingName
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
    containerName: amlDatastoreContainerName
    principalId: identity.outputs.principalId
    roleDefinitionId: roles.storageBlobDataReader
  }
}

// The reader role is container-scoped, so the account-level user delegation key needs the Delegator role.
module datastoreDelegator 'modules/storage-role.bicep' = {
  name: 'role-datastore-delegator'
  scope: resourceGroup(datastoreGroup)
  params: {
    storageAccountName: amlDatastoreStorageAccountName
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
