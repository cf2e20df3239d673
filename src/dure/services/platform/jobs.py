"""The job runner: takes queued jobs from the store and runs them, one at a time.

The queue lives in the database, so a job queued by the command line or another server
process is run too, and queued jobs survive a restart. Jobs that were running when a
process stopped are marked failed when the runner starts (their work is not resumable).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from dure.domain.jobs import Job, JobKind
from dure.domain.users import Caller
from dure.errors import DureError
from dure.services.inspection.inspect import run_batch
from dure.services.inspection.teaching import run_training
from dure.services.platform.model_files import InspectorCache
from dure.store.session import Store

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0


class JobRunner:
    """Runs queued jobs in one background thread (training uses both cores by itself)."""

    def __init__(self, store: Store, work_root: Path, cache: InspectorCache) -> None:
        self.store = store
        self.work_root = Path(work_root)
        self.cache = cache
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Close jobs a previous process left running, then start the worker thread."""
        with self.store.system() as system:
            closed = system.job_queue.fail_interrupted()
        if closed:
            log.warning("marked %d interrupted job(s) as failed", closed)
        self._thread = threading.Thread(target=self._loop, name="dure-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the worker to stop after its current job."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        """Look for queued jobs now rather than at the next poll."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self.run_next():
                self._wake.wait(timeout=POLL_SECONDS)
                self._wake.clear()

    def run_next(self, job_id: str | None = None) -> Job | None:
        """Claim and run the oldest queued job, or the queued job ``job_id``.

        Returns the job as claimed, or None when there was nothing to run.
        """
        with self.store.system() as system:
            job = system.job_queue.claim_next(job_id)
            if job is None:
                return None
            try:
                caller = system.identities.caller_for_user(job.org_id, job.created_by)
            except DureError as exc:
                system.job_queue.fail(job.id, exc.detail)
                return job
        try:
            result = self._run(job, caller)
        except DureError as exc:
            self._finish(job, caller, error=exc.detail)
        except Exception as exc:  # a job must never kill the runner
            log.exception("job %s failed", job.id)
            self._finish(job, caller, error=f"internal error: {type(exc).__name__}: {exc}")
        else:
            self._finish(job, caller, result=result)
        return job

    def _run(self, job: Job, caller: Caller) -> dict[str, Any]:
        if job.kind == JobKind.TRAIN_INSPECTION_MODEL:
            return run_training(self.store, caller, job, self.work_root)
        if job.kind == JobKind.INSPECT_BATCH:
            return run_batch(self.store, caller, job, self.cache)
        raise DureError(f"unknown job kind {job.kind!r}")

    def _finish(
        self, job: Job, caller: Caller, result: dict[str, Any] | None = None, error: str = ""
    ) -> None:
        with self.store.session(caller) as s:
            if result is not None:
                s.jobs.succeed(job.id, result)
            else:
                s.jobs.fail(job.id, error)
