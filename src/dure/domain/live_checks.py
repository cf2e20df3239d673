"""Checks on live data: what is watched (a sensor channel, a machine, a process parameter),
with which rules, and how far the watch has read.

A ``LiveCheck`` row is both the configuration a person sets (on/off, rules, target false
alarm rate, baseline length) and the watch's own bookmark (``state``: learned limits, the
last reading checked, the tail the run rules need). Writing readings or process records
marks the rows of what they touch as ``pending``; the job runner's checks lane runs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from dure.domain.ids import new_id, utcnow
from dure.errors import InvalidInput


class SubjectKind(StrEnum):
    """What a live check watches."""

    CHANNEL = "channel"  # one sensor channel: SPC run rules and its anomaly score
    ASSET = "asset"  # a machine: its channels' usual relation (on a schedule)
    PART = "part"  # a part number's process records: parameter SPC and predicted defects
    PARAMETER = "parameter"  # one process parameter of a part (configuration only)


# Rule codes a person can switch on, per kind of subject. The SPC codes are those of
# ``models.spc.rules.RULES_BY_CODE`` (a test keeps the two lists the same).
SPC_RULES = (
    "WE1",
    "WE2",
    "WE3",
    "WE4",
    "N2",
    "N3",
    "N4",
    "N7",
    "N8",
)
RULES: dict[SubjectKind, tuple[str, ...]] = {
    SubjectKind.CHANNEL: (*SPC_RULES, "anomaly"),
    SubjectKind.ASSET: ("cross_channel",),
    SubjectKind.PART: ("spc", "predicted_defect"),
    SubjectKind.PARAMETER: SPC_RULES,
}
DEFAULT_RULES: dict[SubjectKind, tuple[str, ...]] = {
    # sensors sampled often, with daily cycles: runs rules (WE2-4) fire on the cycle itself,
    # so a channel watches its limits and its anomaly score unless told otherwise
    SubjectKind.CHANNEL: ("WE1", "anomaly"),
    SubjectKind.ASSET: ("cross_channel",),
    SubjectKind.PART: ("spc", "predicted_defect"),
    SubjectKind.PARAMETER: ("WE1", "WE2", "WE3", "WE4"),
}
# Per reading: a 1 Hz channel at 1e-4 raises a false alert about once in three hours.
DEFAULT_FALSE_ALARM_RATE: dict[SubjectKind, float] = {
    SubjectKind.CHANNEL: 1e-4,
    SubjectKind.ASSET: 1e-4,
    SubjectKind.PART: 0.0027,  # textbook 3-sigma limits of process control charts
    SubjectKind.PARAMETER: 0.0027,
}
DEFAULT_BASELINE = 200
MIN_BASELINE = 20
MAX_BASELINE = 100_000


@dataclass(kw_only=True)
class LiveCheck:
    """One watched subject of an organisation: its configuration and its bookmark."""

    org_id: str
    subject_kind: SubjectKind
    subject_id: str
    parameter: str = ""
    enabled: bool = True
    rules: list[str] = field(default_factory=list)
    false_alarm_rate: float = 0.0
    baseline: int = DEFAULT_BASELINE
    pending: bool = False
    pending_since: datetime | None = None
    late_from_us: int | None = None
    checked_at: datetime | None = None
    state: dict[str, Any] = field(default_factory=dict)
    last_error: str | None = None
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)

    def __post_init__(self) -> None:
        kind = SubjectKind(self.subject_kind)
        if not self.rules:
            self.rules = list(DEFAULT_RULES[kind])
        if not self.false_alarm_rate:
            self.false_alarm_rate = DEFAULT_FALSE_ALARM_RATE[kind]


def checked_settings(
    kind: str, rules: list[str] | None, false_alarm_rate: float | None, baseline: int | None
) -> dict[str, Any]:
    """A check's settings as given, each refused naming its field when it cannot be used."""
    try:
        subject_kind = SubjectKind(kind)
    except ValueError:
        raise InvalidInput(
            "subject_kind", f"{kind!r}: use one of {', '.join(k.value for k in SubjectKind)}"
        ) from None
    out: dict[str, Any] = {}
    if rules is not None:
        known = RULES[subject_kind]
        unknown = [r for r in rules if r not in known]
        if unknown:
            raise InvalidInput(
                "rules",
                f"unknown rule {unknown[0]!r} for a {subject_kind.value}: use {', '.join(known)}",
            )
        out["rules"] = sorted(set(rules), key=known.index)
    if false_alarm_rate is not None:
        if not 0 < false_alarm_rate < 0.5:
            raise InvalidInput("false_alarm_rate", "give a rate between 0 and 0.5, e.g. 0.001")
        out["false_alarm_rate"] = float(false_alarm_rate)
    if baseline is not None:
        if not MIN_BASELINE <= baseline <= MAX_BASELINE:
            raise InvalidInput(
                "baseline", f"give between {MIN_BASELINE} and {MAX_BASELINE} readings"
            )
        out["baseline"] = int(baseline)
    return out
