"""Reviewing flagged parts: the queue, and decisions that become training data."""

from __future__ import annotations

from typing import Any

from dure.domain.records import InspectionRecord, ReviewDecision
from dure.errors import InvalidInput
from dure.services.imports.labels import check_label
from dure.store.session import Session

MAX_QUEUE = 500


def review_queue(session: Session, line_id: str | None = None, limit: int = 50) -> dict[str, Any]:
    """The caller's flagged (NG or unsure) parts nobody has reviewed yet, oldest first.

    With them: how many wait in all, each model's threshold, and the defect taxonomy.
    """
    if not 1 <= limit <= MAX_QUEUE:
        raise InvalidInput("limit", f"between 1 and {MAX_QUEUE}")
    if line_id is not None:
        session.lines.get(line_id)  # 404 for a line that is not ours
    items, waiting = session.inspections.awaiting_review(line_id, limit)
    thresholds: dict[str, float] = {}
    for version_id in {i.model_version_id for i in items if i.model_version_id}:
        value = (session.model_versions.get(version_id).card.get("threshold") or {}).get("value")
        if isinstance(value, int | float):
            thresholds[version_id] = float(value)
    return {
        "items": items,
        "waiting": waiting,
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
