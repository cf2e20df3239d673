"""Alerts: an SPC rule broken, a defect predicted, a machine behaving abnormally."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from dure.domain.ids import new_id, utcnow


class AlertKind(StrEnum):
    """What raised the alert."""

    SPC_RULE = "spc_rule"
    PREDICTED_DEFECT = "predicted_defect"
    MACHINE_ANOMALY = "machine_anomaly"
    PARITY = "parity"  # a model scores its golden set differently here (edge box, import)


class AlertStatus(StrEnum):
    """Open until someone acknowledges it; closed when dealt with."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


@dataclass(kw_only=True)
class Alert:
    """One alert; repeats of the same problem (same ``dedup_key``) raise ``count``."""

    org_id: str
    kind: AlertKind
    subject_id: str
    rule: str
    message: str
    severity: str = "warning"
    dedup_key: str = ""
    status: AlertStatus = AlertStatus.OPEN
    count: int = 1
    first_at: datetime = field(default_factory=utcnow)
    last_at: datetime = field(default_factory=utcnow)
    acknowledged_by: str | None = None
    delivery: dict[str, Any] = field(default_factory=dict)
    link: str | None = None
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)

    def __post_init__(self) -> None:
        if not self.dedup_key:
            self.dedup_key = f"{self.kind.value}:{self.subject_id}:{self.rule}"[:300]


@dataclass(kw_only=True)
class AlertTarget:
    """Where an organisation's new alerts are sent: a webhook URL or an MQTT topic
    (``mqtt://host:port/topic``)."""

    org_id: str
    kind: str
    address: str
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)
