// One Event Grid subscription per landing route: BlobCreated of committed blobs, and ADLS Gen2's BlobRenamed /
// DirectoryRenamed (a file or folder renamed into the prefix: Spark, ADF copy, azcopy) (data.api), the
// route's container and prefix as subject-begins-with, retries, and dead letters into the container the
// reconcile sweep reads. Delivered to the on_blob_created function, or to the landing-events queue.
param topicName string
@description('Routes of the routes document that land on this account: name, match.container, match.prefix.')
param routes array
@allowed(['function', 'queue'])
param delivery string
@description('Resource id of the function app (function delivery).')
param functionAppId string
@description('false until the code is deployed: an AzureFunction destination must name an indexed function.')
param functionsDeployed bool
param hostStorageAccountId string
param deadLetterContainerName string
param landingQueueName string

// Only complete blobs: PutBlob / PutBlockList (block blobs), FlushWithClose (ADLS Gen2), CopyBlob, SftpCommit
// (SFTP), and renames into place: RenameFile (BlobRenamed), RenameDirectory (DirectoryRenamed).
var committedApis = [
  'PutBlob'
  'PutBlockList'
  'FlushWithClose'
  'CopyBlob'
  'SftpCommit'
  'RenameFile'
  'RenameDirectory'
]
// The subject of a rename names its destination, so subjectBeginsWith takes what was renamed into the prefix.
var landingEventTypes = [
  'Microsoft.Storage.BlobCreated'
  'Microsoft.Storage.BlobRenamed'
  'Microsoft.Storage.DirectoryRenamed'
]
var retryPolicy = {
  maxDeliveryAttempts: 30
  eventTimeToLiveInMinutes: 1440
}
var deadLetter = {
  identity: {
    type: 'SystemAssigned'
  }
  deadLetterDestination: {
    endpointType: 'StorageBlob'
    properties: {
      resourceId: hostStorageAccountId
      blobContainerName: deadLetterContainerName
    }
  }
}
var functionRoutes = delivery == 'function' && functionsDeployed ? routes : []
var queueRoutes = delivery == 'queue' ? routes : []

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: topicName
}

resource toFunction 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = [for route in functionRoutes: {
  parent: topic
  name: take('landing-${toLower(replace(route.name, '_', '-'))}', 64)
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionAppId}/functions/on_blob_created'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      includedEventTypes: landingEventTypes
      subjectBeginsWith: '/blobServices/default/containers/${route.match.container}/blobs/${route.match.?prefix ?? ''}'
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.api'
          values: committedApis
        }
      ]
    }
    retryPolicy: retryPolicy
    deadLetterWithResourceIdentity: deadLetter
  }
}]

resource toQueue 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = [for route in queueRoutes: {
  parent: topic
  name: take('landing-${toLower(replace(route.name, '_', '-'))}', 64)
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    deliveryWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      destination: {
        endpointType: 'StorageQueue'
        properties: {
          resourceId: hostStorageAccountId
          queueName: landingQueueName
          queueMessageTimeToLiveInSeconds: 604800
        }
      }
    }
    filter: {
      includedEventTypes: landingEventTypes
      subjectBeginsWith: '/blobServices/default/containers/${route.match.container}/blobs/${route.match.?prefix ?? ''}'
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.api'
          values: committedApis
        }
      ]
    }
    retryPolicy: retryPolicy
    deadLetterWithResourceIdentity: deadLetter
  }
}]

output subscriptionNames array = [for route in concat(functionRoutes, queueRoutes): take('landing-${toLower(replace(route.name, '_', '-'))}', 64)]
