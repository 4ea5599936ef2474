// The existing Azure ML workspace: the app identity may invoke its batch endpoints and read and cancel
// their jobs (AzureML Data Scientist). Optionally its RunStatusChanged events go to on_aml_run_event
// (only a workspace Contributor or Owner can create that subscription).
param workspaceName string
param appPrincipalId string
param subscribeRunEvents bool
@description('false until the code is deployed: an AzureFunction destination must name an indexed function.')
param functionsDeployed bool
param functionAppId string
param topicName string
@description('Name of a system topic that already exists on the workspace; empty creates topicName.')
param existingTopicName string = ''
param tags object

var azureMLDataScientist = 'f6c7c914-8db3-469d-8ca1-694a8f32e121'
var createTopic = subscribeRunEvents && empty(existingTopicName)
var subscribedTopicName = empty(existingTopicName) ? topicName : existingTopicName

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-10-01' existing = {
  name: workspaceName
}

resource dataScientist 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, appPrincipalId, azureMLDataScientist)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', azureMLDataScientist)
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
