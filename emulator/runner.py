"""Job lifecycle: walks the real status sequence and runs the job in the middle.

NotStarted → Queued → Preparing (download inputs, check output) → Running (mini-batches) →
Finalizing (write outputs) → Completed | Failed; Canceled via CancelRequested at any point.
One asyncio task per job on the server's loop; blob I/O runs in threads.
"""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
import traceback
from dataclasses import dataclass
from pathlib import Path

from .config import EmulatorConfig
from .execution import ExecutionResult, JobFailure, WorkerSpec, execute
from .faults import JobFault
from .jobs import Job, JobStatus, JobStore
from .storage import BlobLocation, PathExistsError, Storage, StorageError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    files: list[str]  # local paths, in input order
    output: BlobLocation
    bi_output: Path


class JobRunner:
    def __init__(self, config: EmulatorConfig, store: JobStore, storage: Storage, work_root: Path) -> None:
        self._config = config
        self._store = store
        self._storage = storage
        self._work_root = work_root
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._shutting_down = False

    def start(self, job: Job) -> None:
        self._tasks[job.name] = asyncio.get_running_loop().create_task(self._lifecycle(job), name=f"job-{job.name}")

    def cancel(self, job: Job) -> None:
        if job.terminal or job.cancel_requested:
            return
        job.cancel_requested = True
        self._store.set_status(job, JobStatus.CANCEL_REQUESTED)
        task = self._tasks.get(job.name)
        if task and not task.done():
            task.cancel()

    async def shutdown(self) -> None:
        self._shutting_down = True
        for name, task in list(self._tasks.items()):
            job = self._store.get(name)
            if job and not job.terminal:
                self.cancel(job)
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _lifecycle(self, job: Job) -> None:
        job_dir = self._work_root / job.name
        try:
            await self._dwell(job)
            self._store.set_status(job, JobStatus.QUEUED)
            await self._dwell(job)
            self._store.set_status(job, JobStatus.PREPARING)
            prepared = await self._prepare(job, job_dir)
            await self._dwell(job)
            self._store.set_status(job, JobStatus.RUNNING)
            await self._apply_faults(job)
            result = ExecutionResult()
            try:
                await execute(prepared.files, job.settings, self._worker_spec(job, job_dir, prepared), job.log, result)
            finally:
                self._record(job, result)
            self._store.set_status(job, JobStatus.FINALIZING)
            await self._finalize(job, prepared, result)
            await self._dwell(job)
            self._store.set_status(job, JobStatus.COMPLETED)
        except JobFailure as exc:
            self._fail(job, str(exc))
        except StorageError as exc:
            self._fail(job, str(exc))
        except asyncio.CancelledError:
            if not self._shutting_down:
                await asyncio.sleep(self._config.timings.dwell(JobStatus.CANCEL_REQUESTED.value))
            self._store.set_status(job, JobStatus.CANCELED)
        except Exception as exc:  # an emulator bug must still end the job visibly
            log.exception("job %s crashed", job.name)
            job.log(traceback.format_exc())
            self._fail(job, f"[emulator] internal error: {exc}")
        finally:
            shutil.rmtree(job_dir / "inputs", ignore_errors=True)

    async def _dwell(self, job: Job) -> None:
        await asyncio.sleep(self._config.timings.dwell(job.status.value))

    def _fail(self, job: Job, message: str) -> None:
        job.log(f"ERROR: {message}")
        self._store.set_status(job, JobStatus.FAILED, error=message)

    async def _apply_faults(self, job: Job) -> None:
        for fault in job.faults:
            assert isinstance(fault, JobFault)
            if fault.effect == "not_responding":
                job.log(f"[fault] NotResponding for {fault.seconds:g} s")
                self._store.set_status(job, JobStatus.NOT_RESPONDING)
                await asyncio.sleep(fault.seconds)
                self._store.set_status(job, JobStatus.RUNNING)
            elif fault.effect == "hang":
                job.log("[fault] hanging in Running until cancelled")
                await asyncio.Event().wait()
            elif fault.effect == "fail":
                raise JobFailure(fault.message)

    async def _prepare(self, job: Job, job_dir: Path) -> Prepared:
        inputs = job_dir / "inputs"
        bi_output = job_dir / "output"
        for d in (inputs, bi_output, job_dir / "logs" / "user" / "stdout"):
            d.mkdir(parents=True, exist_ok=True)
        src = self._storage.resolve(job.request.input.uri)
        if src.sas:
            job.log("input: read with the SAS token of its URI (not with the emulator's account key)")
        if job.request.input.type == "UriFolder":
            names = await asyncio.to_thread(self._storage.list_folder, src)
            if not names:
                raise JobFailure(f"The input folder '{job.request.input.uri}' has no files at its top level "
                                 "(nested folders are not explored).")
        else:
            names = [src.path]
        files = []
        for name in names:
            local = inputs / os.path.basename(name)
            await asyncio.to_thread(self._storage.download, src, name, local)
            files.append(str(local))
        job.counters["files"] = len(files)
        job.log(f"input {job.request.input.type} {job.request.input.uri}: {len(files)} files downloaded")
        output = self._storage.resolve(job.output_uri)
        if job.settings.output_action == "append_row" and await asyncio.to_thread(self._storage.exists, output):
            raise JobFailure(_exists_message(job.output_uri))
        return Prepared(files, output, bi_output)

    def _worker_spec(self, job: Job, job_dir: Path, prepared: Prepared) -> WorkerSpec:
        dep = job.deployment
        logs = job_dir / "logs" / "user" / "stdout"
        job.stdout_path = str(logs / "process000.stdout.txt")
        job.stderr_path = str(logs / "process000.stderr.txt")
        env = {**os.environ, **dep.settings.environment_variables,
               "AZUREML_BI_OUTPUT_PATH": str(prepared.bi_output),
               "EMULATOR_STDOUT": job.stdout_path, "EMULATOR_STDERR": job.stderr_path,
               "PYTHONUNBUFFERED": "1"}
        if dep.model_dir is not None:
            env["AZUREML_MODEL_DIR"] = str(dep.model_dir)
        return WorkerSpec(dep.code_dir, dep.scoring_script, env, job_dir)

    @staticmethod
    def _record(job: Job, result: ExecutionResult) -> None:
        job.counters.update(mini_batches=result.mini_batches, succeeded_mini_batches=result.succeeded_batches,
                            failed_mini_batches=result.failed_batches, failed_items=result.failed_items,
                            returned_elements=result.returned_elements,
                            succeeded_items=max(0, job.counters["files"] - result.failed_items))

    async def _finalize(self, job: Job, prepared: Prepared, result: ExecutionResult) -> None:
        try:
            if job.settings.output_action == "append_row":
                data = "".join(line + "\n" for line in result.lines).encode("utf-8")
                await asyncio.to_thread(self._storage.upload_new, prepared.output, data, owner=job.name)
                job.log(f"append_row: {len(result.lines)} lines written to {job.output_uri}")
            folder = prepared.output.parent
            for path in sorted(p for p in prepared.bi_output.rglob("*") if p.is_file()):
                rel = path.relative_to(prepared.bi_output).as_posix()
                if folder.child(rel) == prepared.output and job.settings.output_action == "append_row":
                    continue  # the merged file wins over a same-named file the script wrote
                await asyncio.to_thread(self._storage.upload_new, folder.child(rel), path.read_bytes(),
                                        owner=job.name)
                job.log(f"output file {rel} uploaded to {folder.child(rel)}")
        except PathExistsError as exc:
            raise JobFailure(_exists_message(str(exc))) from exc


def _exists_message(where: str) -> str:
    return f"Cannot write output '{where}': the path already exists. Use a unique output location."
