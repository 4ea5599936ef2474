"""Mini-batch execution: split files, run them through a worker with timeout/retries, count failures.

Semantics from contract §4.1–4.2: work is distributed by file count; a mini-batch that raises or
times out is retried up to max_retries times, after which all its files count as failed; fewer
returned elements than input files count the difference as failed; error_threshold (-1 = unlimited)
applies to failed files over the whole input and aborts the job when exceeded.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from .jobs import EffectiveSettings
from .worker_client import BatchTimeout, WorkerError, WorkerProcess

NO_SUCCESS_MESSAGE = ("No succeeded mini batch item returned from run(). "
                      "Please check 'response: run()' in https://aka.ms/batch-inference-documentation.")
INIT_TIMEOUT_FLOOR = 60.0


class JobFailure(Exception):
    """Ends the job as Failed with this message."""


def mini_batches(files: list[str], size: int) -> list[list[str]]:
    return [files[i:i + size] for i in range(0, len(files), size)]


@dataclass
class ExecutionResult:
    lines: list[str] = field(default_factory=list)
    mini_batches: int = 0
    succeeded_batches: int = 0
    failed_batches: int = 0
    failed_items: int = 0
    returned_elements: int = 0

    def threshold_exceeded(self, threshold: int) -> bool:
        return threshold >= 0 and self.failed_items > threshold


@dataclass(frozen=True)
class WorkerSpec:
    code_dir: Path
    scoring_script: str
    env: Mapping[str, str]
    cwd: Path


async def execute(files: list[str], settings: EffectiveSettings, spec: WorkerSpec,
                  log: Callable[[str], None], result: ExecutionResult | None = None) -> ExecutionResult:
    """Fills `result` as it goes, so a caller still has the counts when this raises JobFailure."""
    batches = mini_batches(files, settings.mini_batch_size)
    result = result if result is not None else ExecutionResult()
    result.mini_batches = len(batches)
    log(f"mini_batch_size={settings.mini_batch_size} files={len(files)} mini_batches={len(batches)} "
        f"instance_count={settings.instance_count} max_concurrency_per_instance="
        f"{settings.max_concurrency_per_instance} (emulated with one sequential worker process)")
    worker = WorkerProcess(spec.code_dir, spec.scoring_script, spec.env, spec.cwd, settings.logging_level)
    try:
        for batch_id, batch in enumerate(batches):
            lines = await _run_with_retries(worker, batch_id, batch, settings, log)
            if lines is None:
                result.failed_batches += 1
                result.failed_items += len(batch)
                log(f"mini batch {batch_id}: FAILED after {settings.max_retries} retries; "
                    f"{len(batch)} items counted as failed")
            else:
                result.succeeded_batches += 1
                result.returned_elements += len(lines)
                missing = max(0, len(batch) - len(lines))
                result.failed_items += missing
                result.lines.extend(lines)
                log(f"mini batch {batch_id}: succeeded, {len(batch)} files, {len(lines)} elements returned"
                    + (f", {missing} items counted as failed (fewer elements than inputs)" if missing else ""))
            if result.threshold_exceeded(settings.error_threshold):
                raise JobFailure(f"The number of failed items ({result.failed_items}) exceeded the error threshold "
                                 f"({settings.error_threshold}). The batch inference was aborted.")
    except BaseException:  # cancel/abort: don't wait for a busy script to notice stdin closing
        await worker.kill()
        raise
    await worker.close()
    if result.returned_elements == 0:
        raise JobFailure(NO_SUCCESS_MESSAGE)
    return result


async def _run_with_retries(worker: WorkerProcess, batch_id: int, batch: list[str], settings: EffectiveSettings,
                            log: Callable[[str], None]) -> list[str] | None:
    names = [os.path.basename(f) for f in batch]
    for attempt in range(settings.max_retries + 1):
        if not worker.running:
            try:
                await worker.start(max(INIT_TIMEOUT_FLOOR, settings.timeout))
            except WorkerError as exc:
                raise JobFailure(f"The scoring script failed to start: {exc}") from exc
        try:
            res = await worker.run_batch(batch_id, batch, settings.timeout)
        except BatchTimeout as exc:
            log(f"mini batch {batch_id} attempt {attempt + 1}: {exc}; the process was aborted. files={names}")
            continue
        except WorkerError as exc:
            log(f"mini batch {batch_id} attempt {attempt + 1}: {exc}. files={names}")
            continue
        if res.ok:
            return res.lines
        log(f"mini batch {batch_id} attempt {attempt + 1}: run() raised {res.error}. files={names}")
    return None
