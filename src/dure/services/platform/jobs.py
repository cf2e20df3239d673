"""The job runner: supervised workers take queued jobs from the store and run them.

The queue lives in the database, so a job queued by the command line or another server
process is run too, and queued jobs survive a restart. Jobs that were running when a
process stopped are marked failed when the runner starts (their work is not resumable),
and so are the models they were training.

Work is split into lanes, one worker each, so a long training (or adaptation) never
holds back the inspection of a batch. Two lanes take no job rows: the checks lane runs the
live checks that are due, and the outbox lane retries what must reach a partner's install
(root-cause answers approved while the OEM was unreachable). A worker that meets an error
outside a job (the store busy or down) logs it, waits (1 s, doubling to 60 s) and goes on;
``status`` says how each worker is doing and how long the queue is, for ``/api/health``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dure.collab.outbound import OutboundPolicy
from dure.domain.jobs import Job, JobKind
from dure.domain.users import Caller
from dure.errors import DureError
from dure.scale.cluster import RayEngine
from dure.services.alerts.delivery import STRICT
from dure.services.collaboration import parity, root_cause
from dure.services.collaboration.adaptation import run_adaptation
from dure.services.collaboration.context import Collab
from dure.services.inspection.batches import run_batch
from dure.services.inspection.rescoring import run_rescore
from dure.services.inspection.retraining import run_retraining
from dure.services.inspection.teaching import run_training
from dure.services.maintenance.run_to_failure import run_rul_training
from dure.services.monitoring.runner import CheckRounds
from dure.services.platform.model_files import InspectorCache
from dure.store.session import Store

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0
# The checks lane looks for due live checks this often (a reading that breaks a rule is an
# alert within about this long plus the check's own time).
CHECK_POLL_SECONDS = 0.25
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 60.0
# The niceness of job workers: below requests, so a batch or a training never starves them.
JOB_NICENESS = 10
# Which kinds of job each worker takes.
LANES: dict[str, tuple[JobKind, ...]] = {
    "training": (
        JobKind.TRAIN_INSPECTION_MODEL,
        JobKind.ADAPT_MODEL,
        JobKind.TRAIN_RUL_MODEL,
        JobKind.RETRAIN_MODELS,
    ),
    "inspection": (JobKind.INSPECT_BATCH, JobKind.RESCORE_HISTORY),
    # a parity check scores a few golden images: it never waits behind a training or batch
    "parity": (JobKind.CHECK_PARITY,),
}
# How often the checks lane looks for imported packages whose golden set is due again.
PARITY_SWEEP_S = 600.0
CHECKS_LANE = "checks"  # live checks: not job rows, the pending marks of live_checks
# deliveries to partners' installs that are due again (root-cause answers decided after
# review): a lane of its own, so an unreachable partner never holds back a live check
OUTBOX_LANE = "outbox"
OUTBOX_POLL_SECONDS = 5.0


def yield_cpu_to_requests() -> None:
    """Lower the calling worker thread's CPU priority (Linux: nice is per thread, and
    threads it starts inherit it), so requests are served first when jobs fill the CPU."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), JOB_NICENESS)
    except (AttributeError, OSError) as exc:  # not Linux, or not allowed: run as is
        log.info("job worker keeps normal CPU priority: %s", exc)


@dataclass
class WorkerState:
    """What one worker is doing, for the health report."""

    lane: str
    kinds: tuple[JobKind, ...]
    thread: threading.Thread | None = None
    job_id: str | None = None
    job_started: float | None = None
    last_error: str | None = None
    errors: int = 0
    wake: threading.Event = field(default_factory=threading.Event)

    def as_dict(self) -> dict[str, Any]:
        """JSON form: alive, current job and for how long, the last error outside a job."""
        return {
            "lane": self.lane,
            "kinds": [str(k) for k in self.kinds],
            "alive": bool(self.thread and self.thread.is_alive()),
            "job_id": self.job_id,
            "job_seconds": round(time.monotonic() - self.job_started, 1)
            if self.job_started
            else None,
            "errors": self.errors,
            "last_error": self.last_error,
        }


class JobRunner:
    """Runs queued jobs on one supervised worker thread per lane."""

    def __init__(
        self,
        store: Store,
        work_root: Path,
        cache: InspectorCache,
        outbound: OutboundPolicy = STRICT,
        scale: RayEngine | None = None,
        collab: Collab | None = None,
    ) -> None:
        self.store = store
        self.collab = collab  # what the outbox lane delivers with (None: no outbox lane)
        self.scale = scale  # Ray, for large batches (None: everything in process)
        self.work_root = Path(work_root)
        self.cache = cache
        self.checks = CheckRounds(store, outbound)
        self._parity_swept = -PARITY_SWEEP_S
        self._stop = threading.Event()
        self.workers = {lane: WorkerState(lane, kinds) for lane, kinds in LANES.items()}
        self.workers[CHECKS_LANE] = WorkerState(CHECKS_LANE, ())
        if collab is not None:
            self.workers[OUTBOX_LANE] = WorkerState(OUTBOX_LANE, ())
        self.started = False

    def start(self) -> None:
        """Close jobs (and trainings) a previous process left running, start the workers."""
        with self.store.system() as system:
            closed = system.job_queue.settle_interrupted()
        if closed:
            log.warning("marked %d interrupted job(s) as failed", closed)
        for worker in self.workers.values():
            worker.thread = threading.Thread(
                target=self._loop, args=(worker,), name=f"dure-jobs-{worker.lane}", daemon=True
            )
            worker.thread.start()
        self.started = True

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the workers to stop after their current job."""
        self._stop.set()
        for worker in self.workers.values():
            worker.wake.set()
        for worker in self.workers.values():
            if worker.thread is not None:
                worker.thread.join(timeout)

    def wake(self) -> None:
        """Look for queued jobs now rather than at the next poll."""
        for worker in self.workers.values():
            worker.wake.set()

    def status(self) -> dict[str, Any]:
        """The workers and the queue: how many jobs wait, the oldest for how long."""
        with self.store.system(read_only=True) as system:
            queue = system.job_queue.queued()
        workers = [w.as_dict() for w in self.workers.values()]
        return {
            "running": self.started,
            "healthy": self.started and all(w["alive"] for w in workers),
            "workers": workers,
            "queue": queue,
        }

    def _loop(self, worker: WorkerState) -> None:
        yield_cpu_to_requests()
        backoff = BACKOFF_FIRST_S
        checks = worker.lane == CHECKS_LANE
        outbox = worker.lane == OUTBOX_LANE
        poll = CHECK_POLL_SECONDS if checks else OUTBOX_POLL_SECONDS if outbox else POLL_SECONDS
        while not self._stop.is_set():
            try:
                if checks:
                    ran = self.checks.run_due()
                    self._sweep_parity()
                elif outbox:
                    ran = self.deliver_due() > 0
                else:
                    ran = self.run_next(kinds=worker.kinds, worker=worker)
                backoff = BACKOFF_FIRST_S
            except Exception as exc:  # noqa: BLE001 - the store may be back soon: keep going
                worker.errors += 1
                worker.last_error = f"{type(exc).__name__}: {exc}"[:500]
                log.exception("job worker %s: %s; retrying in %.0f s", worker.lane, exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            if not ran:
                worker.wake.wait(timeout=poll)
                worker.wake.clear()

    def _sweep_parity(self) -> None:
        """Every ``PARITY_SWEEP_S``, queue the parity checks that are due (and wake the
        workers when there are any)."""
        if time.monotonic() - self._parity_swept < PARITY_SWEEP_S:
            return
        self._parity_swept = time.monotonic()
        if parity.queue_due(self.store):
            self.wake()

    def deliver_due(self) -> int:
        """The outbox lane's round: deliver what is due again; how many got through."""
        if self.collab is None:
            return 0
        return root_cause.deliver_due(self.collab)

    def run_next(
        self,
        job_id: str | None = None,
        kinds: tuple[JobKind, ...] | None = None,
        worker: WorkerState | None = None,
    ) -> Job | None:
        """Claim and run the oldest queued job (of ``kinds``), or the queued job ``job_id``.

        Returns the job as claimed, or None when there was nothing to run.
        """
        with self.store.system() as system:
            job = system.job_queue.claim_next(job_id, kinds)
            if job is None:
                return None
            try:
                caller = system.identities.caller_for_user(job.org_id, job.created_by)
            except DureError as exc:
                system.job_queue.fail(job.id, exc.detail)
                return job
        if worker is not None:
            worker.job_id, worker.job_started = job.id, time.monotonic()
        try:
            result = self._run(job, caller)
        except DureError as exc:
            self._finish(job, caller, error=exc.detail)
        except Exception as exc:  # a job must never kill the runner
            log.exception("job %s failed", job.id)
            self._finish(job, caller, error=f"internal error: {type(exc).__name__}: {exc}")
        else:
            self._finish(job, caller, result=result)
        finally:
            if worker is not None:
                worker.job_id, worker.job_started = None, None
        return job

    def _run(self, job: Job, caller: Caller) -> dict[str, Any]:
        if job.kind == JobKind.TRAIN_INSPECTION_MODEL:
            return run_training(self.store, caller, job, self.work_root)
        if job.kind == JobKind.INSPECT_BATCH:
            return run_batch(self.store, caller, job, self.cache, self.scale)
        if job.kind == JobKind.RETRAIN_MODELS:
            return run_retraining(self.store, caller, job, self.work_root, self.scale)
        if job.kind == JobKind.RESCORE_HISTORY:
            return run_rescore(self.store, caller, job, self.cache, self.scale)
        if job.kind == JobKind.ADAPT_MODEL:
            return run_adaptation(self.store, caller, job, self.cache, self.work_root)
        if job.kind == JobKind.TRAIN_RUL_MODEL:
            return run_rul_training(self.store, caller, job)
        if job.kind == JobKind.CHECK_PARITY:
            return parity.run_check(self.store, caller, job, self.cache)
        raise DureError(f"unknown job kind {job.kind!r}")

    def _finish(
        self, job: Job, caller: Caller, result: dict[str, Any] | None = None, error: str = ""
    ) -> None:
        with self.store.session(caller) as s:
            if result is not None:
                s.jobs.succeed(job.id, result)
            else:
                s.jobs.fail(job.id, error)
