// The function app's own storage account, keyless: the host (keys, locks), the Durable task hub
// (queues, tables, large messages), the Flex deployment package, the run ledger, the Event Grid
// dead-letter container the reconcile sweep reads, and the landing-events queue.
param name string
param location string
param tags object
param deploymentContainerName string
param ledgerContainerName string
param deadLetterContainerName string
param landingQueueName string
@description('Queues on this account the routes send notifications to (notify.queue on AzureWebJobsStorage).')
param notifyQueueNames array = []
@description('true: the Durable task hub lives here (Azure Storage provider); false: in a Durable Task Scheduler.')
param durableOnStorage bool
@description('Principal id of the app identity.')
param appPrincipalId string

var roles = {
  blobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  queueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  queueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
  tableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    defaultToOAuthAuthentication: true
  }

  resource blobService 'blobServices' = {
    name: 'default'

    resource deployment 'containers' = {
      name: deploymentContainerName
    }

    resource ledger 'containers' = {
      name: ledgerContainerName
    }

    resource deadLetter 'containers' = {
      name: deadLetterContainerName
    }
  }

  resource queueService 'queueServices' = {
    name: 'default'

    resource landingQueue 'queues' = {
      name: landingQueueName
    }
  }
}

// Queues made here, not by their first user: the trigger's poison queue (the host moves a message there after
// maxDequeueCount failures; the reconcile sweep re-drives it) and the routes' notification queues, so that
// queue-scoped roles (Durable Task Scheduler backend) have something to point at. Top-level with parent, not
// nested: tests/infra's parser keeps only one nested child per parent.
resource poisonQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: storage::queueService
  name: '${landingQueueName}-poison'
}

resource notifyQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for queueName in notifyQueueNames: {
  parent: storage::queueService
  name: queueName
}]

// Host storage for the app identity, account-wide because the Functions host and the Durable task hub create
// containers, queues and tables of their own (azure-webjobs-hosts and -secrets, <taskhub>-*): blob read, write
// and container create (host keys and locks, Durable leases and large messages, deployment package, ledger,
// dead letters), queues (Durable control and work items, landing-events trigger; Azure Storage backend only),
// tables (Durable history and instances, host diagnostic events). Storage Blob Data Contributor, not Owner: the host reads and writes blobs
// and creates containers, and Owner adds only ACL, ownership, tag and super-user actions (docs/deploy.md, "Roles").
resource appBlob 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roles.blobDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.blobDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appQueue 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (durableOnStorage) {
  name: guid(storage.id, appPrincipalId, roles.queueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.queueDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appTable 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roles.tableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.tableDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Durable Task Scheduler backend: no task hub queues here, so queue roles name their queues. The trigger reads,
// updates and deletes landing-events messages, the sweep re-drives its poison queue (Contributor: Reader +
// Message Processor cannot release a message), notifications only send.
resource appLandingQueue 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!durableOnStorage) {
  name: guid(storage::queueService::landingQueue.id, appPrincipalId, roles.queueDataContributor)
  scope: storage::queueService::landingQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.queueDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appPoisonQueue 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!durableOnStorage) {
  name: guid(poisonQueue.id, appPrincipalId, roles.queueDataContributor)
  scope: poisonQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.queueDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appNotifyQueues 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (queueName, index) in (durableOnStorage ? [] : notifyQueueNames): {
  name: guid(notifyQueues[index].id, appPrincipalId, roles.queueDataMessageSender)
  scope: notifyQueues[index]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.queueDataMessageSender)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

output id string = storage.id
output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
