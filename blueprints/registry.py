"""The one table of Durable function names: what the blueprints register and what the orchestrators call.

A blueprint registers each activity and orchestrator under ``function_name(<name from here>)``; the
orchestrators in ``shared`` schedule activities and start orchestrations with the same attribute, so a name
is written once and a rename cannot leave a caller behind (tests/test_registry.py checks both sides).
No imports: ``shared``'s orchestrators and the cold-start path of ``function_app`` both load this module.
"""

from __future__ import annotations


class Orchestrator:
    RUN = "run_orchestrator"
    LANDING_MANIFEST = "landing_manifest_orchestrator"
    LANDING_QUIET = "landing_quiet_orchestrator"
    BACKFILL = "backfill_orchestrator"


class Activity:
    # the run orchestration (shared/runs)
    SUBMIT_JOB = "submit_job"
    GET_JOB_STATUS = "get_job_status"
    CANCEL_JOB = "cancel_job"
    FIND_ATTEMPT_JOB = "find_attempt_job"
    FENCE_RUN = "fence_run"
    TAKE_EARLY_JOB_EVENTS = "take_early_job_events"
    ESTIMATE_JOB_DURATION = "estimate_job_duration"
    RECORD_JOB_DURATION = "record_job_duration"
    # delivery (shared/delivery, called from the run orchestration)
    PLAN_DELIVERY = "plan_delivery"
    COPY_OUTPUT = "copy_output"
    WRITE_RECEIPT = "write_receipt"
    SEND_NOTIFICATION = "send_notification"
    # the landing waiters (shared/landing)
    LANDING_CHECK_MANIFEST = "landing_check_manifest"
    LANDING_START_RUN = "landing_start_run"
    LANDING_REPORT_LATE = "landing_report_late"
    # a backfill operation (shared/reconcile/operation.py)
    BACKFILL_STEP = "backfill_step"


def names(table: type) -> dict[str, str]:
    """``{attribute: function name}`` of :class:`Activity` or :class:`Orchestrator`."""
    return {key: value for key, value in vars(table).items() if key.isupper() and isinstance(value, str)}
