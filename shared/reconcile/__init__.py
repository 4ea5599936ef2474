"""Self-healing: the reconcile sweep (lost events, orphaned claims, undelivered outputs), backfill of a prefix,
and the poison-queue re-drive. Every start goes through the same claims as events (``shared/runs/starter.py``),
so running any of them twice starts nothing new."""
