"""Azure ML run events (Event Grid) → the run's orchestration.

``events`` (pure): parse an Event Grid event into a :class:`~.events.JobEvent`, and the payload shape the
orchestration receives. ``rules`` (pure): per-job de-duplication and ordering decisions. ``store``: the
per-job event state in the state container. ``handler``: the Event Grid function's body and the
``take_early_job_events`` activity body.
"""
