"""Reviewing flagged parts: the queue, and decisions that become training data."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, or_, select

from dure.domain.records import InspectionRecord, ReviewDecision, Verdict
from dure.errors import InvalidInput
from dure.services.imports import check_label
from dure.store import tables as t
from dure.store.rows import to_entity
from dure.store.session import Session


def review_queue(session: Session, line_id: str | None = None, limit: int = 50) -> dict[str, Any]:
    """The caller's flagged (NG or unsure) parts nobody has reviewed yet, oldest first.

    With them: how many wait in all, each model's threshold, and the defect taxonomy.
    """
    if not 1 <= limit <= 500:
        raise InvalidInput("limit", "between 1 and 500")
    table = t.inspection_records
    where = and_(
        table.c.org_id == session.caller.org_id,
        table.c.review_decision.is_(None),
        or_(table.c.verdict == Verdict.NG, table.c.verdict == Verdict.UNSURE),
    )
    if line_id is not None:
        session.lines.get(line_id)  # 404 for a line that is not ours
        stations = select(t.stations.c.id).where(t.stations.c.line_id == line_id)
        where = and_(where, table.c.station_id.in_(stations))
    rows = session.conn.execute(
        select(table).where(where).order_by(table.c.taken_at, table.c.id).limit(limit)
    ).all()
    waiting = session.conn.execute(select(func.count()).select_from(table).where(where))
    items = [to_entity(InspectionRecord, r) for r in rows]
    thresholds: dict[str, float] = {}
    for version_id in {i.model_version_id for i in items if i.model_version_id}:
        value = (session.model_versions.get(version_id).card.get("threshold") or {}).get("value")
        if isinstance(value, int | float):
            thresholds[version_id] = float(value)
    return {
        "items": items,
        "waiting": int(waiting.scalar_one()),
        "thresholds": thresholds,
        "defect_types": [d.code for d in session.defect_types.list_all()],
    }


def review_inspection(
    session: Session, inspection_id: str, decision: ReviewDecision, defect_type: str | None
) -> InspectionRecord:
    """Store a reviewer's decision; the image joins its part's labelled images for retraining.

    Accepted parts count as good, rejected ones as their (possibly relabelled) defect type;
    both are held out, so they move the next training's threshold.
    """
    if defect_type:
        check_label(session, defect_type, "defect_type", good=False)
    record = session.inspections.review(inspection_id, decision, defect_type)
    if decision is ReviewDecision.ACCEPT:
        label = "good"
    else:
        label = record.defect_type or "defect"
    session.labelled_images.keep_reviewed(record.part_id, record.image_sha256, record.id, label)
    return record
