"""Repositories of alerts (de-duplicated while open) and of where alerts are sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from dure.domain.alerts import Alert, AlertStatus, AlertTarget
from dure.domain.ids import utcnow
from dure.domain.times import as_utc
from dure.domain.users import Role
from dure.store import tables as t
from dure.store.rows import to_entity
from dure.store.scoped import ScopedRepository


class AlertRepository(ScopedRepository[Alert]):
    """The caller's alerts; raising the same open problem again counts it, not a new row."""

    table = t.alerts
    entity = Alert
    resource = "alert"
    write_role = Role.OPERATOR

    def raise_or_count(self, alert: Alert) -> tuple[Alert, bool]:
        """Store a new alert, or count a repeat of an open/acknowledged one with the same
        key (newest message kept); returns the alert and whether it is new."""
        row = self.conn.execute(
            select(t.alerts).where(
                t.alerts.c.org_id == self.caller.org_id,
                t.alerts.c.dedup_key == alert.dedup_key,
                t.alerts.c.status != AlertStatus.CLOSED.value,
            )
        ).first()
        if row is None:
            return self.add(alert), True
        self.conn.execute(
            update(t.alerts)
            .where(t.alerts.c.id == row.id)
            .values(count=t.alerts.c.count + 1, last_at=utcnow(), message=alert.message)
        )
        return self.get(row.id), False

    def set_status(self, alert_id: str, status: AlertStatus) -> Alert:
        """Acknowledge or close an alert (operators and up)."""
        changes: dict[str, Any] = {"status": status}
        if status is AlertStatus.ACKNOWLEDGED:
            changes["acknowledged_by"] = self.caller.user_id
        return self.update_fields(alert_id, **changes)

    def record_delivery(self, alert_id: str, delivery: dict[str, Any]) -> None:
        """Where the alert was sent and with what result (not audited)."""
        self.conn.execute(
            update(t.alerts)
            .where(t.alerts.c.id == alert_id, t.alerts.c.org_id == self.caller.org_id)
            .values(delivery=delivery)
        )

    def open_subjects(self) -> list[str]:
        """The subject (machine, channel, part) of each of the caller's alerts not closed."""
        return list(
            self.conn.execute(
                select(t.alerts.c.subject_id).where(
                    t.alerts.c.org_id == self.caller.org_id,
                    t.alerts.c.status != AlertStatus.CLOSED.value,
                )
            ).scalars()
        )

    def changed_since(self, moment: datetime, limit: int = 100) -> list[Alert]:
        """The caller's alerts raised or repeated after ``moment``, oldest change first."""
        rows = self.conn.execute(
            select(t.alerts)
            .where(t.alerts.c.org_id == self.caller.org_id, t.alerts.c.last_at > as_utc(moment))
            .order_by(t.alerts.c.last_at, t.alerts.c.id)
            .limit(limit)
        ).all()
        return [to_entity(Alert, r) for r in rows]

    def open_count(self) -> int:
        """How many alerts are open."""
        rows = self.conn.execute(
            select(t.alerts.c.id).where(
                t.alerts.c.org_id == self.caller.org_id,
                t.alerts.c.status == AlertStatus.OPEN.value,
            )
        ).all()
        return len(rows)


class AlertTargetRepository(ScopedRepository[AlertTarget]):
    """Where the caller's organisation sends new alerts (admins configure them)."""

    table = t.alert_targets
    entity = AlertTarget
    resource = "alert_target"
    write_role = Role.ADMIN

    def all(self) -> list[AlertTarget]:
        """Every target of the caller's organisation."""
        rows = self.conn.execute(
            select(t.alert_targets).where(t.alert_targets.c.org_id == self.caller.org_id)
        ).all()
        return [to_entity(AlertTarget, r) for r in rows]
