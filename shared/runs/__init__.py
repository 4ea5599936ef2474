"""One run = one Durable orchestration: identity, schedule, orchestrator, starter and ledger."""
