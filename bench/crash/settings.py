"""The crash bench's knobs: start and fault kinds, service profiles, the scaled clock, leases and waits."""

from __future__ import annotations

START_KINDS = ("marker", "manifest", "quiet_period", "http", "cancel")
SMOKE_STARTS = ("marker", "http")
SMOKE_LIMIT = 1
FAULT_KINDS = ("crash", "lost", "retried", "stall", "race")
#: the batch service's behaviour where the docs leave it open (emulator/config.py ``Behaviour``)
PROFILES = {"strict": {"job_names": "ignore", "job_labels": "drop"},
            "kind": {"job_names": "honour", "job_labels": "keep"}}
#: orchestration seconds per wall second: the submit retry (30 s) is 1.5 s, the first poll (1 s) 50 ms
SPEED = 20.0
STATE_SECONDS = 0.02          # the emulator's dwell time per early/late job state
DATASTORE_CONTAINER = "crash-blobstore"
ROUTES = {"marker": "heart", "manifest": "heartm", "quiet_period": "heartq", "http": "heart", "cancel": "heart"}
SETTLE_TIMEOUT_S = 60.0
CLAIM_GRACE_SECONDS = 1.0     # a crashed starter's claim is taken over after this (the app's default is 10 s)
STALL_SETTLE_S = 3.0          # how long a stalled call waits for the run the others started to finish
STALL_CANCEL_WAIT_S = 1.0     # (a cancel-kind run does not finish by itself: its job hangs until cancelled)
EVENT_DELIVERIES = 6          # Event Grid / HTTP client attempts per event or request
ACTIVITY_DELIVERIES = 6       # deliveries of one activity when its worker keeps dying
POLL = {"initial_seconds": 1, "max_seconds": 10, "growth": 1.5, "deadline_hours": 1}
#: what a sweep tick reports when it had to repair something
SWEEP_REPAIRS = ("started", "repaired", "redelivered")
#: the callers that race to deliver one folder, per start kind
RACE_ACTORS = {"event": ("event+event", "event+sweep", "event+backfill", "sweep+backfill", "event+sweep+backfill"),
               "http": ("post+post", "post+post+post"),
               "cancel": ("post+post", "cancel+cancel")}
RACE_STAGGER_S = 0.03         # the second caller of a staggered race starts this much later
#: activities that act on the world: an execution that runs one of them has started the run's work
SIDE_EFFECT_ACTIVITIES = ("submit_job", "cancel_job", "copy_output", "write_receipt", "send_notification")
TERMINAL = ("Completed", "Failed", "Terminated", "Canceled")
#: the app setting that turns fencing off (``shared/runs/fencing.py`` FENCING_SETTING; ``--control fencing-off``)
FENCING_SWITCH = "RUN_FENCING"
FENCING_OFF_VALUE = "off"
