// Output events (docs/operations.md, "Output events"; shared/output_events): for each route that opts in
// (poll.output_events)
// one Event Grid subscription per output that can signal, on the datastore account the jobs write to:
// BlobCreated of committed blobs under the output's static prefix, delivered to on_blob_created (the same
// function as landing events; it tells an output from a landing by the routes document). A summary_only
// output and a route without an output of its own cannot signal (plan says so) and get no subscription.
param datastoreAccountName string
param topicName string
@description('Name of a system topic that already exists on the datastore account (one per source); empty creates topicName.')
param existingTopicName string = ''
@description('One entry per output that signals: route, output, container, prefix (the path up to its first placeholder\'s folder).')
param outputs array
param functionAppId string
@description('false until the code is deployed: an AzureFunction destination must name an indexed function.')
param functionsDeployed bool
param tags object

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: datastoreAccountName
}

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' = if (empty(existingTopicName) && !empty(outputs)) {
  name: topicName
  location: account.location
  tags: tags
  properties: {
    source: account.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

resource reused 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: empty(existingTopicName) ? topicName : existingTopicName
}

resource toFunction 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = [for output in (functionsDeployed ? outputs : []): {
  parent: reused
  name: take('output-${toLower(replace(output.route, '_', '-'))}-${toLower(replace(output.output, '_', '-'))}', 64)
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
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      subjectBeginsWith: '/blobServices/default/containers/${output.container}/blobs/${output.prefix}'
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.api'
          values: [
            'PutBlob'
            'PutBlockList'
            'FlushWithClose'
            'CopyBlob'
          ]
        }
      ]
    }
    // a lost hint costs a safety poll, never a wrong answer: short retries, no dead letters
    retryPolicy: {
      maxDeliveryAttempts: 5
      eventTimeToLiveInMinutes: 60
    }
  }
  dependsOn: [
    topic
  ]
}]

output subscriptionNames array = [for output in (functionsDeployed ? outputs : []): take('output-${toLower(replace(output.route, '_', '-'))}-${toLower(replace(output.output, '_', '-'))}', 64)]
