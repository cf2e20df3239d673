"""Live checks: their configuration (the caller's), the pending marks that writes of
readings and process records leave, and the checks lane's view of what is due."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, or_, select, update
from sqlalchemy.exc import IntegrityError

from dure.domain.ids import new_id, utcnow
from dure.domain.live_checks import LiveCheck, SubjectKind
from dure.domain.users import Role
from dure.store import tables as t
from dure.store.rows import to_entity
from dure.store.scoped import ScopedRepository

_CHECKS = t.live_checks
# A mark newer than (run start - margin) keeps a check pending: see LiveCheckQueue.settle.
SETTLE_MARGIN = timedelta(seconds=1)


class LiveCheckRepository(ScopedRepository[LiveCheck]):
    """The caller's live checks; engineers change their settings."""

    table = _CHECKS
    entity = LiveCheck
    resource = "live_check"
    write_role = Role.ENGINEER

    def find(self, kind: SubjectKind, subject_id: str, parameter: str = "") -> LiveCheck | None:
        """The caller's check of one subject, if one exists."""
        row = self.conn.execute(
            select(_CHECKS).where(
                _CHECKS.c.org_id == self.caller.org_id,
                _CHECKS.c.subject_kind == kind.value,
                _CHECKS.c.subject_id == subject_id,
                _CHECKS.c.parameter == parameter,
            )
        ).first()
        return None if row is None else to_entity(LiveCheck, row)

    def configure(
        self, kind: SubjectKind, subject_id: str, parameter: str, settings: dict[str, Any]
    ) -> LiveCheck:
        """Set a check's settings (creating the check when it has none yet); a change of
        rules or baseline forgets what the check had learned, so it learns again."""
        self.require_write()
        current = self.find(kind, subject_id, parameter)
        if current is None:
            item = LiveCheck(
                org_id=self.caller.org_id,
                subject_kind=kind,
                subject_id=subject_id,
                parameter=parameter,
                **settings,
            )
            return self.add(item)
        relearn = any(
            k in settings and settings[k] != getattr(current, k)
            for k in ("baseline", "false_alarm_rate")
        )
        changes = dict(settings)
        if relearn:
            changes["state"] = {}
        return self.update_fields(current.id, **changes) if changes else current

    def mark_pending(self, kind: SubjectKind, subject_ids: Iterable[str]) -> None:
        """Say new data of these subjects waits to be checked (creating their checks with
        the default settings the first time)."""
        mark_pending(self.conn, self.caller.org_id, kind, subject_ids)


def mark_pending(
    conn: Connection,
    org_id: str,
    kind: SubjectKind,
    subject_ids: Iterable[str],
    oldest_us: dict[str, int] | None = None,
) -> None:
    """Mark the checks of ``subject_ids`` pending in this transaction (a subject without a
    check gets one with default settings; a clash with a concurrent writer is harmless).

    ``oldest_us`` gives, per subject, the oldest reading time just written: the check
    keeps the oldest such time until it runs, so it can tell a late reading."""
    ids = sorted(set(subject_ids))
    if not ids:
        return
    now = utcnow()
    c = _CHECKS.c
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        where = and_(
            c.org_id == org_id,
            c.subject_kind == kind.value,
            c.subject_id.in_(chunk),
            c.parameter == "",
        )
        known = set(conn.execute(select(c.subject_id).where(where)).scalars())
        if oldest_us:
            for subject_id in chunk:
                if subject_id not in known or subject_id not in oldest_us:
                    continue
                oldest = int(oldest_us[subject_id])
                conn.execute(
                    update(_CHECKS)
                    .where(where, c.subject_id == subject_id)
                    .values(
                        pending=True,
                        pending_since=now,
                        late_from_us=case(
                            (c.late_from_us.is_(None), oldest),
                            (c.late_from_us > oldest, oldest),
                            else_=c.late_from_us,
                        ),
                    )
                )
        else:
            conn.execute(update(_CHECKS).where(where).values(pending=True, pending_since=now))
        for subject_id in chunk:
            if subject_id in known:
                continue
            fresh = LiveCheck(org_id=org_id, subject_kind=kind, subject_id=subject_id)
            row = {col.name: getattr(fresh, col.name) for col in _CHECKS.columns}
            row.update(pending=True, pending_since=now, id=new_id(), created_at=now)
            try:
                with conn.begin_nested():
                    conn.execute(_CHECKS.insert().values(**row))
            except IntegrityError:  # another writer created it at the same moment
                conn.execute(
                    update(_CHECKS)
                    .where(where, c.subject_id == subject_id)
                    .values(pending=True, pending_since=now)
                )


class LiveCheckQueue:
    """Every organisation's live checks as the checks lane sees them (a system view)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def due(self, limit: int, asset_every: timedelta) -> list[LiveCheck]:
        """Enabled checks to run now, oldest mark first: pending channels and parts, and
        machines whose cross-channel check is older than ``asset_every``."""
        c = _CHECKS.c
        stale = utcnow() - asset_every
        query = (
            select(_CHECKS)
            .where(
                c.enabled.is_(True),
                or_(
                    and_(c.pending.is_(True), c.subject_kind != SubjectKind.ASSET.value),
                    and_(
                        c.subject_kind == SubjectKind.ASSET.value,
                        or_(c.checked_at.is_(None), c.checked_at < stale),
                    ),
                ),
            )
            .order_by(c.pending_since, c.id)
            .limit(limit)
        )
        return [to_entity(LiveCheck, r) for r in self._conn.execute(query).all()]

    def settle(
        self, check: LiveCheck, state: dict[str, Any], error: str | None, started: datetime
    ) -> None:
        """Keep a run's bookmark. The pending mark goes only when the newest mark is older
        than the run's start by a margin (a write marked just before the run may not have
        been visible to it yet; such a check simply runs again)."""
        c = _CHECKS.c
        self._conn.execute(
            update(_CHECKS)
            .where(c.id == check.id)
            .values(state=state, last_error=error[:2000] if error else None, checked_at=utcnow())
        )
        self._conn.execute(
            update(_CHECKS)
            .where(c.id == check.id, c.pending_since < started - SETTLE_MARGIN)
            .values(pending=False, pending_since=None, late_from_us=None)
        )

    def touch(self, check_id: str) -> None:
        """Keep a check pending (its run stopped with more data waiting)."""
        self._conn.execute(
            update(_CHECKS)
            .where(_CHECKS.c.id == check_id)
            .values(pending=True, pending_since=utcnow())
        )

    def ensure_assets(self) -> None:
        """Give every machine with two or more channels a cross-channel check."""
        ch = t.sensor_channels.c
        rows = self._conn.execute(select(ch.org_id, ch.asset_id)).all()
        counts: dict[tuple[str, str], int] = {}
        for row in rows:
            counts[(row.org_id, row.asset_id)] = counts.get((row.org_id, row.asset_id), 0) + 1
        known = {
            (r.org_id, r.subject_id)
            for r in self._conn.execute(
                select(_CHECKS.c.org_id, _CHECKS.c.subject_id).where(
                    _CHECKS.c.subject_kind == SubjectKind.ASSET.value
                )
            ).all()
        }
        for (org_id, asset_id), n in counts.items():
            if n >= 2 and (org_id, asset_id) not in known:
                fresh = LiveCheck(
                    org_id=org_id, subject_kind=SubjectKind.ASSET, subject_id=asset_id
                )
                row = {col.name: getattr(fresh, col.name) for col in _CHECKS.columns}
                try:
                    with self._conn.begin_nested():
                        self._conn.execute(_CHECKS.insert().values(**row))
                except IntegrityError:
                    pass
