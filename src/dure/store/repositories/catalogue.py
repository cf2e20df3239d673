"""Repositories of model versions, uploaded blobs, import batches and the audit log."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, insert, or_, select
from sqlalchemy.exc import IntegrityError

from dure.domain.audit import AuditEvent
from dure.domain.grants import GrantScope
from dure.domain.ids import utcnow
from dure.domain.imports import ImportBatch
from dure.domain.model_versions import ModelVersion
from dure.domain.users import Role
from dure.errors import NotFound
from dure.store import tables as t
from dure.store.scoped import ScopedRepository


class ModelVersionRepository(ScopedRepository[ModelVersion]):
    """Model versions of the caller, and those an OEM shared for use by grant."""

    table = t.model_versions
    entity = ModelVersion
    resource = "model_version"
    grant_scope = GrantScope.MODEL_USE

    def check_references(self, item: ModelVersion) -> None:
        self.require_own(t.part_numbers, "part_id", item.part_id)

    def next_version(self, name: str) -> int:
        """The next version number of the caller's model ``name`` (1 for a new name)."""
        latest = self.conn.execute(
            select(func.max(t.model_versions.c.version)).where(
                t.model_versions.c.org_id == self.caller.org_id,
                t.model_versions.c.name == name,
            )
        ).scalar()
        return int(latest or 0) + 1


class AuditRepository(ScopedRepository[AuditEvent]):
    """Audit events about the caller's organisation or done by it; admins only."""

    table = t.audit_events
    entity = AuditEvent
    resource = "audit_event"
    order_by = "at"

    def visible(self) -> ColumnElement[bool]:
        me = self.caller.org_id
        return or_(t.audit_events.c.org_id == me, t.audit_events.c.actor_org_id == me)

    def _audit_shared_reads(self, items: list[AuditEvent]) -> None:
        return None


class BlobIndex:
    """Which organisation uploaded which blob; reading a blob needs ownership or a grant."""

    def __init__(self, repo_of_inspections: ScopedRepository) -> None:  # type: ignore[type-arg]
        self._inspections = repo_of_inspections
        self.conn = repo_of_inspections.conn
        self.caller = repo_of_inspections.caller

    def register(self, sha256: str, size: int, media_type: str, filename: str) -> None:
        """Record that the caller's organisation holds this blob (idempotent)."""
        self._inspections.require_write()
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    insert(t.blobs).values(
                        org_id=self.caller.org_id,
                        sha256=sha256,
                        size=size,
                        media_type=media_type,
                        filename=filename,
                        created_at=utcnow(),
                    )
                )
        except IntegrityError:
            return

    def media_type(self, sha256: str) -> str:
        """The media type of a blob the caller may read; NotFound otherwise (and audited)."""
        own = self.conn.execute(
            select(t.blobs.c.media_type).where(
                t.blobs.c.org_id == self.caller.org_id, t.blobs.c.sha256 == sha256
            )
        ).first()
        if own is not None:
            return str(own.media_type)
        insp = t.inspection_records
        shared = self.conn.execute(
            select(insp.c.id)
            .where(self._inspections.visible())
            .where(or_(insp.c.image_sha256 == sha256, insp.c.heatmap_sha256 == sha256))
            .limit(1)
        ).first()
        if shared is None:
            raise NotFound(f"blob {sha256!r} does not exist or is not yours")
        self._inspections.get(shared.id)  # audits the cross-organisation read
        row = self.conn.execute(
            select(t.blobs.c.media_type).where(t.blobs.c.sha256 == sha256).limit(1)
        ).first()
        return str(row.media_type) if row else "application/octet-stream"


class ImportBatchRepository(ScopedRepository[ImportBatch]):
    """Records of imported files; the sha256 of a file makes a second import a no-op."""

    table = t.import_batches
    entity = ImportBatch
    resource = "import_batch"
    write_role = Role.OPERATOR
