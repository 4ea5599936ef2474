"""The delivery phase of a run's orchestration (deterministic; runs inside the orchestrator).

``deliver_outputs``: plan (locate outputs, render destinations) → fan out ``copy_output`` activities, each
copying a batch of files to one sink within a call budget (bytes, seconds, files) → call again for large
files left ``partial`` (each call resumes from the staged blocks) and, after durable timers bounded by the
route's ``delivery.copy_timeout_minutes``, for server-side copies still ``pending`` → one receipt per sink,
written last.

``notify``: one ``send_notification`` activity, retried per failed target on durable timers; it never
raises, so a notification problem cannot change or lose the run's result.

No I/O, no wall clock: time is ``context.current_utc_datetime``; all storage work happens in activities.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Generator, Optional

from ..timefmt import format_time

import azure.durable_functions as df
from blueprints.registry import Activity

log = logging.getLogger(__name__)


PLAN_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=15_000, max_number_of_attempts=4)
COPY_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=15_000, max_number_of_attempts=4)
RECEIPT_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=15_000, max_number_of_attempts=4)
NOTIFY_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=10_000, max_number_of_attempts=2)

PENDING_WAITS_SECONDS = (5, 10, 20, 40, 60)   # then every 60 s until the route's copy timeout
NOTIFY_ROUNDS = 4                             # sends per target in all (first + 3 retries)
NOTIFY_BACKOFF_SECONDS = (30, 120, 600)
DEFAULT_COPY_TIMEOUT_MINUTES = 60.0
MAX_ERRORS_IN_MESSAGE = 5


class DeliveryFailed(Exception):
    """Delivery could not finish; the message names each sink and file that failed."""


def _iso(context: df.DurableOrchestrationContext) -> str:
    return format_time(context.current_utc_datetime)


def pending_wait(round_index: int) -> int:
    return PENDING_WAITS_SECONDS[min(round_index, len(PENDING_WAITS_SECONDS) - 1)]


DEFAULT_BUDGET = {"bytes": 1024 * 1024 * 1024, "seconds": 240.0, "files": 500}
MAX_STALLED_CALLS = 3      # calls in a row that staged nothing new for a large file before the run fails
ITEM_FIELDS = ("file", "source_path", "destination", "bytes", "etag", "md5", "content_type")


def pack_batches(copies: list[dict], budget: dict) -> list[list[dict]]:
    """Group the copies into activity calls (pure): per sink, in plan order, at most ``budget["files"]`` files
    and about ``budget["bytes"]`` bytes per call; a file of the budget's size or more goes alone (its call
    moves one budget's worth of blocks, and the next call resumes it)."""
    max_bytes, max_files = int(budget["bytes"]), max(1, int(budget["files"]))
    batches: list[list[dict]] = []
    open_batch: dict[str, list[dict]] = {}
    open_bytes: dict[str, int] = {}
    for item in copies:
        # one call copies from one datastore to one sink (outputs of one run may sit on different datastores)
        sink, size = (item["sink"], item.get("datastore")), int(item.get("bytes") or 0)
        if size >= max_bytes:
            batches.append([item])
            continue
        current = open_batch.get(sink)
        if current is None or len(current) >= max_files or open_bytes[sink] + size > max_bytes:
            current = open_batch[sink] = []
            open_bytes[sink] = 0
            batches.append(current)
        current.append(item)
        open_bytes[sink] += size
    return batches


def deliver_outputs(context: df.DurableOrchestrationContext, run: dict,
                    job_name: str) -> Generator[Any, Any, list]:
    """Copy the job's outputs to the route's sinks; returns one entry per sink. Raises if delivery failed.

    Rounds of batched copy calls: files that are done drop out; a large file whose call budget ran out
    (``partial``) is called again at once and resumes from its staged blocks; server-side copies still
    running in storage (``pending``) are asked again after a durable timer."""
    started_at = _iso(context)
    plan = yield context.call_activity_with_retry(Activity.PLAN_DELIVERY, PLAN_RETRY,
                                                  {"run": run, "job_name": job_name})
    if plan.get("error"):
        raise DeliveryFailed(plan["error"])
    if not plan["copies"]:
        return []

    base = {"run_id": run["run_id"], "route": run["route"], "datastore": plan["datastore"]}
    budget = plan.get("budget") or DEFAULT_BUDGET
    timeout = timedelta(minutes=float(plan.get("copy_timeout_minutes") or DEFAULT_COPY_TIMEOUT_MINUTES))
    deadline = context.current_utc_datetime + timeout
    done: dict[tuple[str, str], dict] = {}
    staged: dict[tuple[str, str], int] = {}
    stalled: dict[tuple[str, str], int] = {}
    todo = list(plan["copies"])
    rounds = 0
    while todo:
        batches = pack_batches(todo, budget)
        outs = yield context.task_all([context.call_activity_with_retry(
            Activity.COPY_OUTPUT, COPY_RETRY, {**base, "sink": batch[0]["sink"], "budget": budget,
                                        "datastore": batch[0].get("datastore") or plan["datastore"],
                                        "items": [{k: c[k] for k in ITEM_FIELDS if k in c} for c in batch]})
            for batch in batches])
        errors = [out["error"] for out in outs if out.get("error")]
        errors += [r["error"] for out in outs for r in out.get("results", []) if r.get("error")]
        if errors:
            more = f" (+{len(errors) - MAX_ERRORS_IN_MESSAGE} more)" if len(errors) > MAX_ERRORS_IN_MESSAGE else ""
            raise DeliveryFailed("; ".join(errors[:MAX_ERRORS_IN_MESSAGE]) + more)
        still, resuming = [], False
        for batch, out in zip(batches, outs):
            for item, result in zip(batch, out["results"]):
                key = (item["sink"], item["file"])
                if result["state"] == "pending":
                    still.append(item)
                elif result["state"] == "partial":
                    before = staged.get(key, -1)
                    staged[key] = result.get("staged_bytes", 0)
                    stalled[key] = stalled.get(key, 0) + 1 if staged[key] <= before else 0
                    if stalled[key] >= MAX_STALLED_CALLS:
                        raise DeliveryFailed(f"sink {item['sink']!r}: file {item['file']!r}: the copy staged"
                                             f" nothing new in {MAX_STALLED_CALLS} calls in a row")
                    still.append(item)
                    resuming = True
                else:
                    done[key] = result
        if still and not resuming:   # only server-side copies in storage's hands: wait before asking again
            if context.current_utc_datetime >= deadline:
                first = still[0]
                raise DeliveryFailed(f"sink {first['sink']!r}: file {first['file']!r}: the server-side copy was"
                                     f" still pending after {timeout.total_seconds() / 60:g} minutes"
                                     f" ({len(still)} copies pending); redeliver the run to check again")
            wait_until = min(deadline, context.current_utc_datetime + timedelta(seconds=pending_wait(rounds)))
            yield context.create_timer(wait_until)
            rounds += 1
        todo = still

    completed_at = _iso(context)
    receipts = []
    for sink in plan["sinks"]:
        files = [{"file": c["file"], "path": _path_of(c["destination"]), "bytes": done[(c["sink"], c["file"])]["bytes"],
                  "md5": done[(c["sink"], c["file"])].get("md5"), "method": done[(c["sink"], c["file"])].get("method"),
                  "state": done[(c["sink"], c["file"])]["state"]}
                 for c in plan["copies"] if c["sink"] == sink["sink"]]
        receipts.append({"run_id": run["run_id"], "route": run["route"], "job_name": job_name,
                         "sink": sink["sink"], "receipt": sink["receipt"], "status": "Succeeded",
                         "output_uri": run["output_uri"], "started_at": started_at, "completed_at": completed_at,
                         **_found_on(plan), "files": files})
    written = yield context.task_all([context.call_activity_with_retry(Activity.WRITE_RECEIPT, RECEIPT_RETRY, r)
                                      for r in receipts])
    errors = [w["error"] for w in written if w.get("error")]
    if errors:
        raise DeliveryFailed("; ".join(errors))
    return [{"sink": r["sink"], "receipt": r["receipt"], "files": len(r["files"]), **_found_on(plan),
             "bytes": sum(f["bytes"] for f in r["files"]),
             "copied": sum(1 for f in r["files"] if f["state"] == "copied"),
             "skipped": sum(1 for f in r["files"] if f["state"] == "skipped")} for r in receipts]


def _found_on(plan: dict) -> dict:
    """Where the plan found the outputs (``run``, ``child_run`` with its id, or ``parent_job``), for the receipt
    and the run's summary."""
    return {k: plan[k] for k in ("outputs_found_on", "child_run") if plan.get(k)}


def _path_of(url: str) -> str:
    from ..storage.uris import parse_blob_url

    location = parse_blob_url(url)
    return f"{location.container}/{location.path}"


def notification_body(summary: dict) -> dict:
    """What downstream systems receive: the run summary with a stable id for de-duplication."""
    body = {k: v for k, v in summary.items() if k != "notifications"}
    body["notification_id"] = f"{summary['run_id']}:{summary['outcome']}:{summary.get('finished_at')}"
    return body


def notify(context: df.DurableOrchestrationContext, summary: dict) -> Generator[Any, Any, dict]:
    """Tell the route's notification targets how the run ended; returns the summary with a ``notifications``
    note. Never raises: the run's outcome stands whatever happens here."""
    body = notification_body(summary)
    targets: Optional[list] = None  # None: every target configured for the route
    sent: list[str] = []
    failed: dict[str, str] = {}
    for attempt in range(NOTIFY_ROUNDS):
        try:
            result = yield context.call_activity_with_retry(Activity.SEND_NOTIFICATION, NOTIFY_RETRY,
                                                            {"summary": body, "targets": targets})
        except Exception as exc:  # the activity itself kept failing (e.g. configuration unreadable)
            text = " ".join(str(exc).split("$OutOfProcData$", 1)[0].split())[:500]
            failed = {name: text for name in (targets or ["all"])}
            result = {"sent": [], "failed": failed}
        sent.extend(result.get("sent", []))
        failed = result.get("failed", {})
        if not failed:
            break
        targets = sorted(failed)
        if attempt + 1 < NOTIFY_ROUNDS:
            wait = NOTIFY_BACKOFF_SECONDS[min(attempt, len(NOTIFY_BACKOFF_SECONDS) - 1)]
            yield context.create_timer(context.current_utc_datetime + timedelta(seconds=wait))
    if not context.is_replaying and failed:
        log.warning("run %s: notification failed for %s", summary.get("run_id"), ", ".join(sorted(failed)))
    if not sent and not failed:
        return summary
    return {**summary, "notifications": {"sent": sent, "failed": failed}}
