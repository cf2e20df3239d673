"""Setting up live checks: which rules watch a channel, machine, part or process parameter,
at what false-alarm rate, learned from how many readings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dure.domain.live_checks import LiveCheck, SubjectKind, checked_settings
from dure.errors import InvalidInput
from dure.store.session import Session


@dataclass(frozen=True)
class CheckView:
    """A live check as people see it: its settings and how its watch is doing."""

    id: str
    subject_kind: str
    subject_id: str
    parameter: str
    enabled: bool
    rules: list[str]
    false_alarm_rate: float
    baseline: int
    status: str  # learning | watching | failing | off
    learned_from: int | None
    checked_at: str | None
    last_error: str | None


def view(check: LiveCheck) -> CheckView:
    """The people-facing view of a check (its bookmark's tail and arrays left out)."""
    state = check.state
    if not check.enabled:
        status = "off"
    elif check.last_error:
        status = "failing"
    elif "learning" in state:
        status = "learning"
    else:
        status = "watching"
    return CheckView(
        id=check.id,
        subject_kind=str(check.subject_kind),
        subject_id=check.subject_id,
        parameter=check.parameter,
        enabled=check.enabled,
        rules=list(check.rules),
        false_alarm_rate=check.false_alarm_rate,
        baseline=check.baseline,
        status=status,
        learned_from=state.get("learning"),
        checked_at=check.checked_at.isoformat() if check.checked_at else None,
        last_error=check.last_error,
    )


def configure_check(
    session: Session,
    subject_kind: str,
    subject_id: str,
    parameter: str = "",
    *,
    enabled: bool | None = None,
    rules: list[str] | None = None,
    false_alarm_rate: float | None = None,
    baseline: int | None = None,
) -> CheckView:
    """Switch a check on or off or change its rules, rate or baseline; the subject must be
    one of the caller's own (another organisation's is refused naming ``subject_id``)."""
    settings: dict[str, Any] = checked_settings(subject_kind, rules, false_alarm_rate, baseline)
    kind = SubjectKind(subject_kind)
    repo = {
        SubjectKind.CHANNEL: session.channels,
        SubjectKind.ASSET: session.assets,
        SubjectKind.PART: session.parts,
        SubjectKind.PARAMETER: session.parts,
    }[kind]
    repo.own(subject_id, "subject_id")
    if kind is SubjectKind.PARAMETER and not parameter.strip():
        raise InvalidInput("parameter", "name the process parameter this check watches")
    if kind is not SubjectKind.PARAMETER and parameter:
        raise InvalidInput("parameter", f"a {kind.value} check has no parameter")
    if enabled is not None:
        settings["enabled"] = enabled
    return view(session.live_checks.configure(kind, subject_id, parameter, settings))


def list_checks(
    session: Session, subject_kind: str | None = None, subject_id: str | None = None
) -> list[CheckView]:
    """The caller's live checks, optionally of one kind or one subject."""
    if subject_kind is not None:
        checked_settings(subject_kind, None, None, None)
    filters = {"subject_kind": subject_kind, "subject_id": subject_id}
    found = session.live_checks.list_own(**{k: v for k, v in filters.items() if v is not None})
    return [view(c) for c in found]
