"""Collaboration between installs: partners, shared model packages, KPI reports, rounds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from dure.domain.ids import new_id, utcnow


@dataclass(kw_only=True)
class Partner:
    """Another install's organisation we are linked to: where it is and the key it signs with."""

    org_id: str
    partner_org_id: str
    url: str
    public_pem: str
    fingerprint: str
    inbound_token_hash: str
    inbound_expires_at: datetime
    outbound_token: str
    last_sync_at: datetime | None = None
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)


@dataclass(kw_only=True)
class PartnerInvitation:
    """A one-time code an admin hands to a partner's admin so the two installs can link."""

    org_id: str
    code_hash: str
    expires_at: datetime
    token_days: int = 365
    used_at: datetime | None = None
    used_by_org_id: str | None = None
    created_by: str | None = None
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)


class PackageRole(StrEnum):
    """Whether this install published a package or imported it from a partner."""

    PUBLISHED = "published"
    IMPORTED = "imported"


@dataclass(kw_only=True)
class ModelPackage:
    """A signed model package: the card that was signed and where its model version is."""

    org_id: str
    role: PackageRole
    publisher_org_id: str
    part_number: str
    package_sha256: str
    card: dict[str, Any]
    part_id: str | None = None
    model_version_id: str | None = None
    revoked_at: datetime | None = None
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)
    #: the publisher's package id (the card's ``package_id``); equals ``id`` when published
    origin_id: str = ""
    #: the last deployment-parity check of an imported package (``services.collaboration.parity``)
    parity: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.origin_id:
            self.origin_id = self.id


@dataclass(kw_only=True)
class KpiReport:
    """A supplier's quality aggregates for one part and period; never a record or an image."""

    org_id: str
    part_number: str
    period_start: datetime
    period_end: datetime
    figures: dict[str, Any]
    part_id: str | None = None
    sent_to_org_id: str | None = None
    sent_at: datetime | None = None
    grant_id: str | None = None
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)


class RoundStatus(StrEnum):
    """Where a federated round stands."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(kw_only=True)
class FederatedRound:
    """An OEM's federated training round over its suppliers' data, run with Flower."""

    org_id: str
    base_version_id: str
    settings: dict[str, Any]
    participants: list[dict[str, Any]] = field(default_factory=list)
    outcome: dict[str, Any] = field(default_factory=dict)
    part_id: str | None = None
    status: RoundStatus = RoundStatus.RUNNING
    new_version_id: str | None = None
    finished_at: datetime | None = None
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)
