"""The run ledger: one claim record per run (``runs/<run_id>.json``), plus the job index.

Claims are created with ``If-None-Match: *`` (atomic in Blob Storage and Azurite, so exactly one of many
concurrent callers creates a record) and changed only with the ETag they were read with. Their states and
the rules for orphans are in ``claims.py``; ``starter.py`` walks them. The records also let the HTTP API list
runs, let the sweep find runs to repair, and let event handlers find a run by its job name.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Optional, TypeVar

from ..storage.state import StateStore
from ..timefmt import now_text
from . import claims

RECORD_PREFIX = "runs/"
JOB_INDEX_PREFIX = "jobs/"
UNCERTAIN_PREFIX = "uncertain/"   # runs waiting in SubmitUncertain (an index for the sweep)
T = TypeVar("T")


def record_name(run_id: str) -> str:
    return f"{RECORD_PREFIX}{run_id}.json"


class ClaimBook:
    """Claim records ``<prefix><key>.json`` in a state store. Each method is one storage read or write,
    so a test can fail any single write (the store's container client is injected)."""

    def __init__(self, store: StateStore, prefix: str):
        self.store = store
        self.prefix = prefix

    def name(self, key: str) -> str:
        return f"{self.prefix}{key}.json"

    def create(self, key: str, record: dict) -> bool:
        """True if this caller created the record; False if one already existed."""
        return self.store.create(self.name(key), record)

    def read(self, key: str) -> Optional[dict]:
        record = self.store.read(self.name(key))
        return record if isinstance(record, dict) else None

    def take_over(self, key: str, seen: dict, record: dict) -> bool:
        """Replace the orphan ``seen`` with our ``record``; False when the record changed since it was seen
        (another caller took it over, or its owner finished)."""
        def change(current: Optional[dict]):
            if not isinstance(current, dict) or any(current.get(k) != seen.get(k)
                                                    for k in ("state", "owner", "claimed_at")):
                return False, None
            return True, record

        return self.store.update(self.name(key), change)

    def mark_started(self, key: str, **extra: Any) -> Optional[dict]:
        """Record that the instance exists (final). Whoever observed it may write this."""
        def change(current: Optional[dict]):
            if not isinstance(current, dict):
                return None, None
            if claims.state_of(current) == claims.STARTED:
                return current, None
            started = {**current, **extra, "state": claims.STARTED,
                       "started_at": now_text("milliseconds")}
            return started, started

        return self.store.update(self.name(key), change)

    def release(self, key: str, token: str) -> bool:
        """Our ``start_new`` failed and the instance does not exist: let anyone take the claim over now.
        Only the owner's own claim is released (a taken-over claim belongs to someone else)."""
        def change(current: Optional[dict]):
            if not isinstance(current, dict) or current.get("owner") != token \
                    or claims.state_of(current) != claims.CLAIMED:
                return False, None
            return True, {**current, "state": claims.RELEASED,
                          "released_at": now_text("milliseconds")}

        return self.store.update(self.name(key), change)

    def fence(self, key: str, epoch: int, execution: str, *,
              rerun_unended: bool = False) -> tuple[claims.FenceVerdict, Optional[dict]]:
        """Check an execution's fencing token against the record and, when it may run, record that it began
        (one ETag-checked write, so two executions cannot both begin). Returns the verdict and the record."""
        def change(current: Optional[dict]):
            verdict = claims.fence_verdict(current, epoch=epoch, execution=execution,
                                           now=datetime.now(timezone.utc), rerun_unended=rerun_unended)
            return (verdict, verdict.record or current), verdict.record

        return self.store.update(self.name(key), change)

    def mark_ended(self, key: str, epoch: int, outcome: Optional[str], summary: Optional[dict] = None) -> bool:
        """Record that the run's execution ended (and how): from now on no start executes it again."""
        def change(current: Optional[dict]):
            if not isinstance(current, dict):
                return False, None
            return True, claims.ended_record(current, epoch=epoch, now=datetime.now(timezone.utc),
                                             outcome=outcome, summary=summary)

        return self.store.update(self.name(key), change)

    def keys(self, start_after: Optional[str] = None) -> Iterator[str]:
        for name in self.store.names(self.prefix):
            if name.endswith(".json"):
                key = name[len(self.prefix):-len(".json")]
                if start_after is None or key > start_after:
                    yield key


class RunLedger(StateStore):
    """Claim records ``runs/<run_id>.json``, plus the job index ``jobs/<job_name>`` → run id."""

    @property
    def claims(self) -> ClaimBook:
        return ClaimBook(self, RECORD_PREFIX)

    def claim(self, run_id: str, record: dict) -> bool:
        """True if this caller created the record (a bare claim without an owner; ``starter.py`` makes
        owned claims through :attr:`claims`)."""
        return self.create(record_name(run_id), {
            **record, "run_id": run_id, "state": claims.CLAIMED,
            "claimed_at": now_text()})

    def get(self, run_id: str) -> Optional[dict]:
        return self.read(record_name(run_id))

    def change(self, run_id: str, change: Callable[[dict], tuple[T, Optional[dict]]], missing: T) -> T:
        """Apply ``change(record) -> (result, new_record)`` atomically; ``missing`` when there is no record."""
        return self.update(record_name(run_id), lambda record: (missing, None) if record is None else change(record))

    def update_record(self, run_id: str, **changes: Any) -> Optional[dict]:
        """Merge ``changes`` into the record; ``None`` when the run has no record."""
        def merge(record: dict):
            merged = {**record, **changes}
            return merged, merged

        return self.change(run_id, merge, None)

    def release(self, run_id: str) -> None:
        """Delete a claim outright (operators only: the starter releases by state, see ``ClaimBook``)."""
        self.delete(record_name(run_id))

    # -- submits that cannot be searched for (``attempts.searchable``): a write-ahead mark per attempt ---------

    def mark_posting(self, run_id: str, attempt: int) -> bool:
        """Before the one POST of an attempt whose job cannot be searched for: False when an earlier call
        already marked it (its POST may have created the job, so this one must not post). A run without a
        record (started outside the ledger) is not marked."""
        def change(record: dict):
            submits = dict(record.get("submits") or {})
            if submits.get(str(attempt)):
                return False, None
            submits[str(attempt)] = {"posting": now_text()}
            return True, {**record, "submits": submits}

        return self.change(run_id, change, True)

    def clear_posting(self, run_id: str, attempt: int) -> None:
        """The POST certainly created nothing (no connection, throttled): the attempt may post again."""
        def change(record: dict):
            submits = dict(record.get("submits") or {})
            if submits.pop(str(attempt), None) is None:
                return None, None
            return None, {**record, "submits": submits}

        self.change(run_id, change, None)

    def record_posted(self, run_id: str, attempt: int, job_name: str) -> None:
        """The attempt's POST answered with its job: a repeated call adopts it (``posted_job``)."""
        def change(record: dict):
            submits = dict(record.get("submits") or {})
            submits[str(attempt)] = {"job_name": job_name}
            return None, {**record, "submits": submits}

        self.change(run_id, change, None)

    def posted_job(self, run_id: str, attempt: int) -> Optional[str]:
        record = self.get(run_id)
        entry = ((record or {}).get("submits") or {}).get(str(attempt))
        return entry.get("job_name") if isinstance(entry, dict) else None

    def note_uncertain(self, run_id: str, attempt: int, reason: str) -> None:
        """List the run under ``uncertain/`` for the sweep (``shared/reconcile/sweep.py``)."""
        self.write(f"{UNCERTAIN_PREFIX}{run_id}.json", {"run_id": run_id, "attempt": attempt, "reason": reason[:500],
                                                        "since": now_text()})

    def settle_uncertain(self, run_id: str) -> None:
        self.delete(f"{UNCERTAIN_PREFIX}{run_id}.json")

    def uncertain_runs(self) -> Iterator[dict]:
        for name in self.names(UNCERTAIN_PREFIX):
            entry = self.read(name)
            if isinstance(entry, dict) and entry.get("run_id"):
                yield entry

    def index_job(self, job_name: str, run_id: str) -> None:
        self.write(f"{JOB_INDEX_PREFIX}{job_name}", {"run_id": run_id})

    def run_for_job(self, job_name: str) -> Optional[str]:
        entry = self.read(f"{JOB_INDEX_PREFIX}{job_name}")
        return entry.get("run_id") if isinstance(entry, dict) else None
