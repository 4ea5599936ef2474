// What an Event Grid system topic's identity may do in the app's storage: write dead letters into one
// container, and (queue delivery) send messages to the landing-events queue. Nothing else.
param storageAccountName string
param deadLetterContainerName string
param landingQueueName string
param topicPrincipalId string
param deliverToQueue bool

var roles = {
  blobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  queueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName

  resource blobService 'blobServices' existing = {
    name: 'default'

    resource deadLetter 'containers' existing = {
      name: deadLetterContainerName
    }
  }

  resource queueService 'queueServices' existing = {
    name: 'default'

    resource landingQueue 'queues' existing = {
      name: landingQueueName
    }
  }
}

resource deadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::deadLetter.id, topicPrincipalId, roles.blobDataContributor)
  scope: storage::blobService::deadLetter
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.blobDataContributor)
    principalId: topicPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource queueSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (deliverToQueue) {
  name: guid(storage::queueService::landingQueue.id, topicPrincipalId, roles.queueDataMessageSender)
  scope: storage::queueService::landingQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.queueDataMessageSender)
    principalId: topicPrincipalId
    principalType: 'ServicePrincipal'
  }
}
