// The landing account's Event Grid system topic. Azure allows one system topic per source: when one exists
// already (Defender for Storage creates one), pass its name as existingTopicName and it is reused.
param storageAccountName string
param topicName string
@description('Name of a system topic that already exists on the account; empty creates topicName.')
param existingTopicName string = ''
param tags object

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' = if (empty(existingTopicName)) {
  name: topicName
  location: account.location
  tags: tags
  // its own identity writes dead letters (and queue deliveries) into the app's storage
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: account.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

resource reused 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = if (!empty(existingTopicName)) {
  name: empty(existingTopicName) ? topicName : existingTopicName
}

output name string = empty(existingTopicName) ? topic.name : reused.name
output principalId string = empty(existingTopicName) ? topic.identity.principalId : reused.identity.principalId
output storageAccountId string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
