// One data-plane role for one principal on an existing storage account, or on each of some of its containers:
// put each role on the specific account (landing, datastore, sink), never the group, and on containers
// wherever the app's use is limited to known containers. scope 'containers' with no names assigns nothing.
param storageAccountName string
@allowed([
  'account'
  'containers'
])
param scope string
@description('scope \'containers\': the containers, each gets the role.')
param containerNames array = []
param principalId string
param roleDefinitionId string
@allowed(['ServicePrincipal'])
param principalType string = 'ServicePrincipal'

var assignedContainers = (scope == 'containers') ? containerNames : []

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName

  resource blobService 'blobServices' existing = {
    name: 'default'
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = [for name in assignedContainers: {
  parent: account::blobService
  name: name
}]

resource onAccount 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (scope == 'account') {
  name: guid(account.id, principalId, roleDefinitionId)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionId)
    principalId: principalId
    principalType: principalType
  }
}

resource onContainer 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (name, index) in assignedContainers: {
  name: guid(containers[index].id, principalId, roleDefinitionId)
  scope: containers[index]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionId)
    principalId: principalId
    principalType: principalType
  }
}]
