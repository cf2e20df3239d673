"""The labels a labelled image may carry: good, or a code of the caller's defect taxonomy."""

from __future__ import annotations

import re

from dure.domain.pages import Page
from dure.errors import InvalidInput
from dure.store.session import Session

LABEL_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")


def check_label(session: Session, label: str, field: str = "label", good: bool = True) -> None:
    """InvalidInput naming ``field`` unless ``label`` is one of the caller's defect types
    (or ``good``, where ``good`` is allowed)."""
    if good and label == "good":
        return
    known = sorted({d.code for d in session.defect_types.list(Page(limit=1000)).items})
    if label not in known:
        raise InvalidInput(
            field,
            f"{label!r} is not in your defect taxonomy; use {'good or ' if good else ''}one of: "
            + (", ".join(known) or "(none yet: add types with POST /api/defect-types)"),
        )
