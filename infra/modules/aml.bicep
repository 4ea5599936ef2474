// The existing Azure ML workspace: the app identity may invoke its batch endpoints and read and cancel
// their jobs, through a custom role with exactly those actions (docs/deploy.md, "Roles": the workspace role and why
// each action). Optionally its RunStatusChanged events go to on_aml_run_event (only a workspace Contributor
// or Owner can create that subscription).
param workspaceName string
param appPrincipalId string
@description('Makes the custom role\'s name unique in the tenant (role names are tenant-wide).')
param roleNameSuffix string
param subscribeRunEvents bool
@description('false until the code is deployed: an AzureFunction destination must name an indexed function.')
param functionsDeployed bool
param functionAppId string
param topicName string
@description('Name of a system topic that already exists on the workspace; empty creates topicName.')
param existingTopicName string = ''
param tags object

var createTopic = subscribeRunEvents && empty(existingTopicName)
var subscribedTopicName = empty(existingTopicName) ? topicName : existingTopicName

// Microsoft's list for invoking a batch endpoint ("Configure RBAC for batch endpoints invoke",
// how-to-authenticate-batch-endpoint) without its secret readers (datastores/listsecrets,
// listStorageAccountKeys, computes/listKeys, environments/readSecrets, metadata/secrets/read) and without its
// writes to definitions this app never changes (batchEndpoints/write, deployments/write, datastores/write,
// environments/write and build, endpoints/pipelines/write); plus the reads and the cancel the app makes
// itself. Every name is in the Microsoft.MachineLearningServices operations list.
var invokeActions = [
  'Microsoft.MachineLearningServices/workspaces/read'
  'Microsoft.MachineLearningServices/workspaces/batchEndpoints/read'
  'Microsoft.MachineLearningServices/workspaces/batchEndpoints/jobs/write'
  'Microsoft.MachineLearningServices/workspaces/batchEndpoints/deployments/read'
  'Microsoft.MachineLearningServices/workspaces/batchEndpoints/deployments/jobs/write'
  'Microsoft.MachineLearningServices/workspaces/computes/read'
  'Microsoft.MachineLearningServices/workspaces/data/versions/write'
  'Microsoft.MachineLearningServices/workspaces/datasets/registered/read'
  'Microsoft.MachineLearningServices/workspaces/datasets/registered/write'
  'Microsoft.MachineLearningServices/workspaces/datasets/unregistered/read'
  'Microsoft.MachineLearningServices/workspaces/datasets/unregistered/write'
  'Microsoft.MachineLearningServices/workspaces/datastores/read'
  'Microsoft.MachineLearningServices/workspaces/endpoints/pipelines/read'
  'Microsoft.MachineLearningServices/workspaces/environments/read'
  'Microsoft.MachineLearningServices/workspaces/experiments/read'
  'Microsoft.MachineLearningServices/workspaces/experiments/runs/read'
  'Microsoft.MachineLearningServices/workspaces/experiments/runs/submit/action'
  'Microsoft.MachineLearningServices/workspaces/experiments/runs/write'
  'Microsoft.MachineLearningServices/workspaces/metadata/artifacts/read'
  'Microsoft.MachineLearningServices/workspaces/metadata/artifacts/write'
  'Microsoft.MachineLearningServices/workspaces/metadata/snapshots/read'
  'Microsoft.MachineLearningServices/workspaces/metrics/resource/write'
  'Microsoft.MachineLearningServices/workspaces/models/read'
  'Microsoft.MachineLearningServices/workspaces/modules/read'
]
var appActions = [
  'Microsoft.MachineLearningServices/workspaces/batchEndpoints/jobs/read'
  'Microsoft.MachineLearningServices/workspaces/jobs/read'
  'Microsoft.MachineLearningServices/workspaces/jobs/cancel/action'
  'Microsoft.MachineLearningServices/workspaces/data/read'
]

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-10-01' existing = {
  name: workspaceName
}

resource invoker 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, workspaceName, 'batch-runs-invoker')
  properties: {
    roleName: 'Batch runs invoker (${workspaceName}, ${roleNameSuffix})'
    description: 'Invoke the workspace\'s batch endpoints, read and cancel their jobs. No secrets, no definition writes.'
    type: 'CustomRole'
    permissions: [
      {
        actions: concat(invokeActions, appActions)
        notActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

resource invokerAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, appPrincipalId, invoker.id)
  scope: workspace
  properties: {
    roleDefinitionId: invoker.id
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' = if (createTopic) {
  name: topicName
  location: workspace.location
  tags: tags
  properties: {
    source: workspace.id
    topicType: 'Microsoft.MachineLearningServices.Workspaces'
  }
}

resource runStatusChanged 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = if (subscribeRunEvents && functionsDeployed) {
  name: '${subscribedTopicName}/aml-run-status'
  dependsOn: [
    topic
  ]
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionAppId}/functions/on_aml_run_event'
        maxEventsPerBatch: 1
      }
    }
    filter: {
      includedEventTypes: [
        'Microsoft.MachineLearningServices.RunStatusChanged'
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: 10
      eventTimeToLiveInMinutes: 60
    }
  }
}

output invokerRoleDefinitionId string = invoker.id
