"""Repository of background jobs: queued by a caller, advanced by the job runner."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from dure.domain.ids import utcnow
from dure.domain.jobs import MAX_ATTEMPTS, RESUMABLE_KINDS, Job, JobKind, JobStatus
from dure.domain.times import as_utc
from dure.store import tables as t
from dure.store.rows import to_entity
from dure.store.scoped import ScopedRepository


class JobRepository(ScopedRepository[Job]):
    """The caller's jobs; progress and outcome are written by whoever runs the job."""

    table = t.jobs
    entity = Job
    resource = "job"

    def report(self, job_id: str, progress: float, message: str) -> None:
        """Record how far a running job has got (0 to 1); not audited, it is frequent."""
        self.conn.execute(
            update(t.jobs)
            .where(t.jobs.c.id == job_id, t.jobs.c.org_id == self.caller.org_id)
            .values(progress=min(max(float(progress), 0.0), 1.0), message=message[:500])
        )

    def succeed(self, job_id: str, result: dict[str, Any], message: str = "done") -> Job:
        """Mark a job as succeeded with its result."""
        return self._advance(
            job_id,
            status=JobStatus.SUCCEEDED,
            progress=1.0,
            message=message[:500],
            result=result,
            finished_at=utcnow(),
        )

    def fail(self, job_id: str, error: str) -> Job:
        """Mark a job as failed with the reason a user can act on."""
        return self._advance(
            job_id,
            status=JobStatus.FAILED,
            message="failed",
            error=error[:4000],
            finished_at=utcnow(),
        )

    def with_key(self, key: str) -> Job | None:
        """The caller's job sent with idempotency key ``key``, if there is one."""
        row = self.conn.execute(
            select(t.jobs).where(
                t.jobs.c.org_id == self.caller.org_id, t.jobs.c.idempotency_key == key
            )
        ).first()
        return None if row is None else to_entity(Job, row)

    def retry(self, job_id: str) -> Job:
        """Queue a failed job again (it was sent again): it goes on where it stopped."""
        return self._advance(
            job_id,
            status=JobStatus.QUEUED,
            progress=0.0,
            message="sent again; goes on where it stopped",
            error=None,
            finished_at=None,
            attempts=0,
        )

    def _advance(self, job_id: str, **changes: Any) -> Job:
        # Progress is the runner's business, not the caller's role: no write-role check.
        current = self.get(job_id)
        self.conn.execute(
            update(t.jobs)
            .where(t.jobs.c.id == job_id, t.jobs.c.org_id == self.caller.org_id)
            .values(**{k: (v.value if isinstance(v, JobStatus) else v) for k, v in changes.items()})
        )
        status = changes.get("status")
        if status is not None:
            self.audit.record("update", self.resource, job_id, detail={"status": str(status)})
        return dataclasses.replace(current, **changes)


class JobQueue:
    """The queue of every organisation's jobs, as the job runner sees it (a system view)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def settle_interrupted(self) -> int:
        """Settle the jobs that were running when a process stopped, and return how many.

        A resumable job (a batch, whose records are written chunk by chunk) is queued
        again to go on where it stopped, unless it has been started ``MAX_ATTEMPTS``
        times. The others are marked failed, and so are the models they were training
        (they can be trained again). Called when the job runner starts (queued jobs stay
        queued and run)."""
        running = t.jobs.c.status == JobStatus.RUNNING.value
        resumable = and_(
            t.jobs.c.kind.in_([k.value for k in RESUMABLE_KINDS]),
            t.jobs.c.attempts < MAX_ATTEMPTS,
        )
        resumed = self._conn.execute(
            update(t.jobs)
            .where(running, resumable)
            .values(
                status=JobStatus.QUEUED.value,
                message="interrupted by a stopped server; goes on where it stopped",
            )
        )
        trainings = select(t.jobs.c.subject_id).where(
            running, t.jobs.c.kind == JobKind.TRAIN_INSPECTION_MODEL.value
        )
        models = set(self._conn.scalars(trainings))
        retrainings = select(t.jobs.c.params).where(
            running, t.jobs.c.kind == JobKind.RETRAIN_MODELS.value
        )
        for params in self._conn.scalars(retrainings):
            models.update((params or {}).get("model_ids", []))
        if models:
            self._conn.execute(
                update(t.model_versions)
                .where(
                    t.model_versions.c.id.in_(sorted(models)),
                    t.model_versions.c.status.in_(("queued", "training")),
                )
                .values(status="failed")
            )
        failed = self._conn.execute(
            update(t.jobs)
            .where(running)
            .values(
                status=JobStatus.FAILED.value,
                message="failed",
                error="interrupted: the server stopped before the job finished; start it again",
                finished_at=utcnow(),
            )
        )
        return int(resumed.rowcount or 0) + int(failed.rowcount or 0)

    def claim_next(
        self, job_id: str | None = None, kinds: Sequence[JobKind] | None = None
    ) -> Job | None:
        """Take the oldest queued job (of ``kinds``, or the queued job ``job_id``) and mark
        it running.

        Returns None when there is no such queued job. The status check in the UPDATE
        makes the claim safe between several workers.
        """
        while True:
            query = select(t.jobs).where(t.jobs.c.status == JobStatus.QUEUED.value)
            if job_id is not None:
                query = query.where(t.jobs.c.id == job_id)
            if kinds is not None:
                query = query.where(t.jobs.c.kind.in_([JobKind(k).value for k in kinds]))
            row = self._conn.execute(
                query.order_by(t.jobs.c.created_at, t.jobs.c.id).limit(1)
            ).first()
            if row is None:
                return None
            job = to_entity(Job, row)
            now = utcnow()
            claimed = self._conn.execute(
                update(t.jobs)
                .where(t.jobs.c.id == job.id, t.jobs.c.status == JobStatus.QUEUED.value)
                .values(
                    status=JobStatus.RUNNING.value,
                    started_at=now,
                    message="started",
                    attempts=t.jobs.c.attempts + 1,
                )
            )
            if claimed.rowcount == 1:
                return dataclasses.replace(
                    job,
                    status=JobStatus.RUNNING,
                    started_at=now,
                    message="started",
                    attempts=job.attempts + 1,
                )

    def queued(self) -> dict[str, Any]:
        """How many jobs wait, by kind, and how long the oldest has waited (seconds)."""
        rows = self._conn.execute(
            select(t.jobs.c.kind, func.count(), func.min(t.jobs.c.created_at))
            .where(t.jobs.c.status == JobStatus.QUEUED.value)
            .group_by(t.jobs.c.kind)
        ).all()
        oldest = min((as_utc(r[2]) for r in rows if r[2] is not None), default=None)
        return {
            "queued": int(sum(r[1] for r in rows)),
            "by_kind": {str(r[0]): int(r[1]) for r in rows},
            "oldest_queued_s": round((utcnow() - oldest).total_seconds(), 1) if oldest else None,
        }

    def fail(self, job_id: str, reason: str) -> None:
        """Mark one job failed without a caller (when the job's user can no longer act)."""
        self._conn.execute(
            update(t.jobs)
            .where(t.jobs.c.id == job_id)
            .values(
                status=JobStatus.FAILED.value,
                message="failed",
                error=reason[:4000],
                finished_at=utcnow(),
            )
        )
