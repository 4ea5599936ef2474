"""Route kind ``pipeline_endpoint_v1``: a published Azure ML v1 PipelineEndpoint (deprecated; contract §3)."""
