// The Durable Task Scheduler backend (main.bicep durableBackend = 'DurableTaskScheduler'): a scheduler, the
// app's task hub, and Durable Task Data Contributor for the app identity on that task hub only. The app
// settings that point the Durable extension here (azureManaged provider) are set by main.bicep.
param name string
param location string
param tags object
param taskHubName string
@allowed([
  'Consumption'
  'Dedicated'
])
param skuName string
@minValue(1)
@description('Capacity units of the Dedicated SKU (not used by Consumption).')
param capacity int = 1
@minLength(1)
@description('Addresses (IPv4, IPv6, CIDR) that may reach the scheduler. An empty list denies all traffic.')
param ipAllowlist array
@description('Principal id of the app identity.')
param appPrincipalId string

var durableTaskDataContributor = '0ad04412-c4d5-4796-b79c-f76d14c8d402'

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    ipAllowlist: ipAllowlist
    sku: (skuName == 'Dedicated') ? {
      name: 'Dedicated'
      capacity: capacity
    } : {
      name: 'Consumption'
    }
  }
}

resource taskHub 'Microsoft.DurableTask/schedulers/taskHubs@2025-11-01' = {
  parent: scheduler
  name: taskHubName
}

// All data operations (start, query, raise events, terminate, purge, run work items) on this task hub only.
resource dataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(taskHub.id, appPrincipalId, durableTaskDataContributor)
  scope: taskHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', durableTaskDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output endpoint string = scheduler.properties.endpoint
output taskHubName string = taskHub.name
