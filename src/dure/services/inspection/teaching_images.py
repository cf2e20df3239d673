"""Teaching images picked from a part's own inspections (no upload needed)."""

from __future__ import annotations

from dure.domain.parts import LabelledImage
from dure.errors import InvalidInput
from dure.services.imports.labels import check_label
from dure.store.session import Session

MAX_PICKS = 500


def label_inspections(
    session: Session, part_id: str, inspection_ids: list[str], label: str, split: str = "train"
) -> list[LabelledImage]:
    """Make the images of the caller's inspections of ``part_id`` labelled images of it.

    Every id is checked before anything is stored: one foreign, unknown or other-part id
    refuses the whole pick, naming it. Images already labelled for the part are skipped.
    """
    if not inspection_ids:
        raise InvalidInput("inspection_ids", "pick at least one inspection")
    if len(inspection_ids) > MAX_PICKS:
        raise InvalidInput("inspection_ids", f"at most {MAX_PICKS} at a time")
    if split not in ("train", "test"):
        raise InvalidInput("split", "train or test")
    check_label(session, label)
    session.parts.get(part_id)
    records = []
    for k, record_id in enumerate(inspection_ids):
        record = session.inspections.get(record_id)
        if record.org_id != session.caller.org_id or record.part_id != part_id:
            raise InvalidInput(
                f"inspection_ids.{k}", f"{record_id!r} is not your inspection of this part"
            )
        records.append(record)
    have = {i.image_sha256 for i in session.labelled_images.list_all(part_id=part_id)}
    added = []
    for record in records:
        if record.image_sha256 in have:
            continue
        have.add(record.image_sha256)
        added.append(
            session.labelled_images.add(
                LabelledImage(
                    org_id=session.caller.org_id,
                    part_id=part_id,
                    image_sha256=record.image_sha256,
                    split=split,
                    label=label,
                    source_name=f"inspection-{record.id}",
                )
            )
        )
    return added
