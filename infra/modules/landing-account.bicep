// A new landing storage account (used when no existing account is given), keyless, with the containers the
// routes land in. An existing account is left as it is.
param name string
param location string
param tags object
param containerNames array
@description('true: hierarchical namespace (ADLS Gen2); the app treats blob and dfs endpoints as one account.')
param isHnsEnabled bool = false

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
    isHnsEnabled: isHnsEnabled
  }

  resource blobService 'blobServices' = {
    name: 'default'
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for container in containerNames: {
  parent: storage::blobService
  name: container
}]

output name string = storage.name
