// One data-plane role for one principal on an existing storage account, or on one of its containers
// (containerName set): put each role on the specific account (landing, datastore, sink), never the group.
param storageAccountName string
@description('Empty: the account; else this container only.')
param containerName string = ''
param principalId string
param roleDefinitionId string
@allowed(['ServicePrincipal'])
param principalType string = 'ServicePrincipal'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName

  resource blobService 'blobServices' existing = {
    name: 'default'

    resource container 'containers' existing = {
      name: empty(containerName) ? 'unused' : containerName
    }
  }
}

resource onAccount 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (empty(containerName)) {
  name: guid(account.id, principalId, roleDefinitionId)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionId)
    principalId: principalId
    principalType: principalType
  }
}

resource onContainer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(containerName)) {
  name: guid(account::blobService::container.id, principalId, roleDefinitionId)
  scope: account::blobService::container
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionId)
    principalId: principalId
    principalType: principalType
  }
}
