"""Fencing tokens: a start that lands late never executes a run (or a landing waiter) a second time.

The claim's lease (``claims.py``) decides who calls ``start_new``, but a call that stalls past the lease can
land after a taker-over's instance has *finished*, and Durable then starts the finished instance again
(``overridableExistingInstanceStates`` = NonRunningStates). So:

* every claim has an ``epoch``, advanced on every take-over (an ETag-checked write, ``ledger.ClaimBook``);
* the starter puts ``{"book", "key", "epoch"}`` into the orchestration's input (:func:`fence_for`);
* before its first side effect the orchestration calls the ``fence_run`` activity (:func:`begin`), which
  checks the token against the record and records that the run began (``claims.fence_verdict``); a run that
  already ended, or was begun under a newer epoch, ends at once: no submit, no copy, no notification;
* when it ends, the orchestration records that (:func:`end`), with its summary, so a late execution can
  answer with the run's real outcome instead of overwriting it.

The switch: app setting ``RUN_FENCING=off`` (or ``fencing.FENCING_ENABLED = False`` in-process) starts
orchestrations without a token, as before fencing; only the crash bench's ``--control fencing-off`` should
use it (it then shows re-executed runs). Inputs without a token (older instances, redeliveries, which carry
their job and skip the submit) are not checked.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any, Generator, Optional

from blueprints.registry import Activity

FENCING_SETTING = "RUN_FENCING"
FENCING_ENABLED = True  # in-process switch (the crash bench's control); the app setting can only turn it off
RUNS_BOOK = "runs"
WAITERS_BOOK = "waiters"
FENCE_ATTEMPTS = 5
FENCE_FIRST_RETRY = timedelta(seconds=5)


def fencing_enabled() -> bool:
    """Whether new starts carry a fencing token (on unless switched off)."""
    return FENCING_ENABLED and os.environ.get(FENCING_SETTING, "on").strip().lower() not in ("off", "0", "false",
                                                                                             "no", "disabled")


def fence_for(book: str, key: str, epoch: int) -> Optional[dict]:
    """The token a start carries in its orchestration input; ``None`` when fencing is switched off."""
    if not fencing_enabled() or epoch < 1:
        return None
    return {"book": book, "key": key, "epoch": epoch}


def read_fence(value: Any) -> Optional[dict]:
    """A token from an orchestration input, or ``None`` (no token: not checked)."""
    if not isinstance(value, dict) or value.get("book") not in (RUNS_BOOK, WAITERS_BOOK):
        return None
    epoch = value.get("epoch")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 1 or not isinstance(value.get("key"), str):
        return None
    return {"book": value["book"], "key": value["key"], "epoch": epoch}


# --- the activity ------------------------------------------------------------------------------------------

def _book(book: str, settings: Any) -> Any:
    from ..landing.store import WAITER_PREFIX
    from .ledger import RECORD_PREFIX, ClaimBook, RunLedger

    prefixes = {RUNS_BOOK: RECORD_PREFIX, WAITERS_BOOK: WAITER_PREFIX}
    return ClaimBook(RunLedger.from_settings(settings), prefixes[book])


def fence_run(payload: dict, settings: Any = None) -> dict:
    """``{"op": "begin", "fence", "execution"}`` → ``{"action", "reason"[, "summary", "outcome"]}``;
    ``{"op": "end", "fence", "outcome", "summary"}`` → ``{"ended": bool}``. Storage errors raise (retried)."""
    from ..config import load_settings
    from ..paths import check_run_id

    fence = read_fence(payload.get("fence"))
    if fence is None:
        raise ValueError("fence_run needs a fencing token {book, key, epoch}")
    key = check_run_id(fence["key"])
    book = _book(fence["book"], settings or load_settings())
    if payload.get("op") == "end":
        summary = payload.get("summary") if isinstance(payload.get("summary"), dict) else None
        return {"ended": book.mark_ended(key, fence["epoch"], payload.get("outcome"), summary)}
    if payload.get("op") != "begin" or not isinstance(payload.get("execution"), str):
        raise ValueError("fence_run: op must be 'begin' (with an execution id) or 'end'")
    verdict, record = book.fence(key, fence["epoch"], payload["execution"],
                                 rerun_unended=fence["book"] == WAITERS_BOOK)
    answer = {"action": verdict.action, "reason": verdict.reason, "epoch": fence["epoch"]}
    if record:
        answer["outcome"] = record.get("outcome")
        if isinstance(record.get("summary"), dict):
            answer["summary"] = record["summary"]
    return answer


# --- the orchestration side (deterministic: activities only) ------------------------------------------------

def begin(context: Any, fence: Optional[dict], waits: Any, on_arrival: Any) -> Generator[Any, Any, Optional[dict]]:
    """Check the token before the first side effect. ``None``: go on (no token, or ``proceed``); otherwise the
    activity's answer (``action`` is ``ended`` or ``superseded``): the caller ends at once. Raises
    ``ActivityFailed`` when the ledger cannot be read (the caller ends without a side effect, saying so)."""
    from .claims import PROCEED

    if fence is None:
        return None
    payload = {"op": "begin", "fence": fence, "execution": str(context.new_uuid())}
    _, answer = yield from waits.call_with_retry(Activity.FENCE_RUN, payload, on_arrival, attempts=FENCE_ATTEMPTS,
                                                 first_delay=FENCE_FIRST_RETRY)
    answer = answer if isinstance(answer, dict) else {}
    return None if answer.get("action") == PROCEED else answer


def end(context: Any, fence: Optional[dict], outcome: Optional[str],
        summary: Optional[dict]) -> Generator[Any, Any, None]:
    """Record that the run ended (best effort: a late start that finds no end mark still finds it begun)."""
    if fence is None:
        return
    import azure.durable_functions as df

    retry = df.RetryOptions(first_retry_interval_in_milliseconds=int(FENCE_FIRST_RETRY.total_seconds() * 1000),
                            max_number_of_attempts=FENCE_ATTEMPTS)
    try:
        yield context.call_activity_with_retry(Activity.FENCE_RUN, retry, {"op": "end", "fence": fence,
                                                                           "outcome": outcome, "summary": summary})
    except Exception:  # noqa: BLE001 - the run has ended either way; the begin mark still fences it
        pass
