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
@description('Principal id of the app identity.')
param appPrincipalId string

var roles = {
  blobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  queueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
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

// Host storage for the app identity, account-wide because the Functions host and the Durable task hub create
// containers, queues and tables of their own (azure-webjobs-hosts and -secrets, <taskhub>-*): blob read, write
// and container create (host keys and locks, Durable leases and large messages, deployment package, ledger,
// dead letters), queues (Durable control and work items, landing-events trigger), tables (Durable history and
// instances, host diagnostic events). Storage Blob Data Contributor, not Owner: the host reads and writes blobs
// and creates containers, and Owner adds only ACL, ownership, tag and super-user actions (README, "Roles").
resource appBlob 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roles.blobDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.blobDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appQueue 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
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

output id string = storage.id
output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
