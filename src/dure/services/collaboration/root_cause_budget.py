"""A ROOT_CAUSE grant's request budget and the answers kept for repeats (supplier side).

Every answer describes whole groups of at least k parts, but many answers over data that
change in between (parts added to a lot, more loose parts made on a day) could be
differenced down to single parts. So the supplier's install computes at most N answers
per grant in any 24 hours, and a repeat of a request it answered in the last 24 hours
(the same lots, serials and defect type) gets the kept answer again: it spends nothing
and shows nothing that changed since.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dure.domain.root_cause import BUDGET_WINDOW, RootCauseRequest, RootCauseSide
from dure.domain.times import as_utc
from dure.errors import Forbidden
from dure.store.session import Session


class BudgetUsed(Forbidden):
    """A grant's requests of the last 24 hours are used up; the reason says until when."""


@dataclass(frozen=True)
class Budget:
    """How much of a grant's rolling 24-hour budget is used, and when a request is next
    possible (None while some is left)."""

    limit: int
    used: int
    next_at: datetime | None

    @property
    def left(self) -> int:
        """Requests the grant may still have computed now."""
        return max(0, self.limit - self.used)

    def as_dict(self) -> dict[str, Any]:
        """JSON form for the page."""
        return {"limit": self.limit, "used": self.used, "left": self.left, "next_at": self.next_at}


def budget_of(session: Session, grant_id: str, limit: int, now: datetime) -> Budget:
    """The budget of our grant ``grant_id`` at ``now`` (requests computed in the 24 hours
    before ``now`` count; repeats and refusals for the budget itself do not)."""
    spent = session.root_cause.spent_since(grant_id, now - BUDGET_WINDOW)
    next_at = None
    if len(spent) >= limit:  # the oldest counted request that must leave the window
        next_at = as_utc(spent[len(spent) - limit].created_at) + BUDGET_WINDOW
    return Budget(limit, len(spent), next_at)


def check_budget(session: Session, grant_id: str, limit: int, now: datetime) -> Budget:
    """The budget when a request may still be computed, else BudgetUsed with the reason
    the OEM is told ("budget of N requests per 24 h used; next at HH:MM UTC")."""
    budget = budget_of(session, grant_id, limit, now)
    if budget.left == 0 and budget.next_at is not None:
        raise BudgetUsed(
            f"budget of {limit} requests per 24 h used; next at {budget.next_at:%H:%M} UTC"
        )
    return budget


def _same_question(row: RootCauseRequest, question: dict[str, Any]) -> bool:
    return (
        sorted(row.lots) == sorted(question["lots"])
        and sorted(row.serials) == sorted(question["serials"])
        and (row.defect_type or None) == (question["defect_type"] or None)
    )


def kept_answer(
    session: Session, grant_id: str, oem_org_id: str, question: dict[str, Any], now: datetime
) -> RootCauseRequest | None:
    """Our newest row computed under ``grant_id`` in the last 24 hours for the same lots,
    serials and defect type as ``question`` (where it was found and the note may differ:
    the answer does not depend on them), if any."""
    rows = session.root_cause.spent_since(grant_id, now - BUDGET_WINDOW)
    for row in reversed(rows):
        if (
            row.side is RootCauseSide.ANSWERING
            and row.partner_org_id == oem_org_id
            and _same_question(row, question)
        ):
            return row
    return None


def repeat_text(original: RootCauseRequest, request_id: str) -> str | None:
    """The kept answer of ``original`` under the new request's id (None when it kept no
    answer: a refusal)."""
    if not original.answer_text:
        return None
    doc = json.loads(original.answer_text)
    doc["request_id"] = request_id
    return json.dumps(doc)
