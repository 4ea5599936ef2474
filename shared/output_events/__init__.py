"""Output events: a BlobCreated on a job's own output location says the job is about to end (a hint that
the run confirms with one status call). ``rules`` (pure: which routes can signal, blob path → run),
``handler`` (the event → the run's ``job_status`` external event, marked ``signal: output``)."""
