"""Live checks: what watches each channel, machine, part and process parameter."""

from __future__ import annotations

from fastapi import APIRouter, Query

from dure.api.deps import SessionDep
from dure.api.schemas import LiveCheckIn
from dure.domain.live_checks import RULES, SubjectKind
from dure.services.monitoring.configs import CheckView, configure_check, list_checks

router = APIRouter(tags=["live checks"])


@router.get("/api/live-checks")
def get_live_checks(
    session: SessionDep,
    subject_kind: SubjectKind | None = None,
    subject_id: str | None = Query(None, max_length=32),
) -> list[CheckView]:
    """Your live checks with their settings and how each watch is doing."""
    return list_checks(session, subject_kind.value if subject_kind else None, subject_id)


@router.get("/api/live-checks/rules")
def get_rules() -> dict[str, list[str]]:
    """The rule codes each kind of check can watch."""
    return {kind.value: list(codes) for kind, codes in RULES.items()}


@router.put("/api/live-checks")
def put_live_check(body: LiveCheckIn, session: SessionDep) -> CheckView:
    """Set a check's rules, false-alarm rate, baseline, or switch it off (engineers)."""
    return configure_check(
        session,
        body.subject_kind.value,
        body.subject_id,
        body.parameter or "",
        enabled=body.enabled,
        rules=None if body.rules is None else [r.value for r in body.rules],
        false_alarm_rate=body.false_alarm_rate,
        baseline=body.baseline,
    )
