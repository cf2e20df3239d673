"""Repository of background jobs: queued by a caller, advanced by the job runner."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, select, update

from dure.domain.ids import utcnow
from dure.domain.jobs import Job, JobKind, JobStatus
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

    def fail_interrupted(self) -> int:
        """Mark every running job as failed: the process running it stopped before it
        finished, and so do the models those jobs were training (they can be trained again).
        Called when the job runner starts (queued jobs stay queued and run)."""
        trainings = select(t.jobs.c.subject_id).where(
            t.jobs.c.status == JobStatus.RUNNING.value,
            t.jobs.c.kind == JobKind.TRAIN_INSPECTION_MODEL.value,
        )
        self._conn.execute(
            update(t.model_versions)
            .where(
                t.model_versions.c.id.in_(trainings),
                t.model_versions.c.status.in_(("queued", "training")),
            )
            .values(status="failed")
        )
        result = self._conn.execute(
            update(t.jobs)
            .where(t.jobs.c.status == JobStatus.RUNNING.value)
            .values(
                status=JobStatus.FAILED.value,
                message="failed",
                error="interrupted: the server stopped before the job finished; start it again",
                finished_at=utcnow(),
            )
        )
        return int(result.rowcount or 0)

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
                .values(status=JobStatus.RUNNING.value, started_at=now, message="started")
            )
            if claimed.rowcount == 1:
                return dataclasses.replace(
                    job, status=JobStatus.RUNNING, started_at=now, message="started"
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
