"""Request and response bodies of the REST API."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from dure.domain.grants import GrantScope
from dure.domain.live_checks import MAX_BASELINE, MIN_BASELINE, RULES, SubjectKind
from dure.domain.records import InspectionRecord
from dure.domain.users import ApiToken

MAX_INT32 = 2**31 - 1
CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"  # tabs and line breaks are text
SPACE = r"\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"  # str.strip's
NO_CONTROL = rf"^[^{CONTROL}]*$"
NOT_BLANK = rf"^[^{CONTROL}]*[^{CONTROL}{SPACE}][^{CONTROL}]*$"
EMAIL = rf"^[^{CONTROL}]*@[^{CONTROL}]*$"
Text = Annotated[str, StringConstraints(pattern=NO_CONTROL)]
"""Text the store keeps: tabs and line breaks are fine, NUL and other control characters
are refused (the store refuses them too, and PostgreSQL cannot hold a NUL)."""
Name = Annotated[str, StringConstraints(pattern=NOT_BLANK)]
RuleCode = Enum(  # type: ignore[misc]
    "RuleCode",
    {c: c for c in dict.fromkeys(c for codes in RULES.values() for c in codes)},
    type=str,
)
"""Every rule code a live check can watch (which ones a subject allows depends on its kind)."""
"""Text that must say something: not empty once its ends are trimmed, no control characters."""


def _iso_only(value: object) -> object:
    """Refuse a bare number where a date and time is wanted (pydantic would read it as
    seconds since 1970; the schema says ISO 8601)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("give an ISO 8601 date and time, not a number")
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return value
        raise ValueError("give an ISO 8601 date and time, not a number")
    return value


Instant = Annotated[datetime, BeforeValidator(_iso_only)]
"""A date and time in ISO 8601, as the schema's date-time format says."""


class Body(BaseModel):
    """Base of request bodies: unknown fields are an error, not silently dropped. Text is
    checked as sent (so its limits are the schema's) and then its ends are trimmed."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _trim(self) -> Self:
        for name, value in self:
            if type(value) is str:  # not a StrEnum's member: it stays what it is
                setattr(self, name, value.strip())
        return self


class OrgIn(Body):
    name: Name = Field(min_length=1, max_length=200)
    kind: str = Field(pattern="^(oem|supplier|operator)$")
    slug: Name = Field(min_length=2, max_length=63)


class SupplierLinkIn(Body):
    oem_id: str
    supplier_id: str


class UserIn(Body):
    email: str = Field(min_length=3, max_length=254, pattern=EMAIL)
    display_name: Name = Field(min_length=1, max_length=200)
    role: str = Field(pattern="^(admin|engineer|operator|viewer)$")
    password: str | None = Field(default=None, min_length=10, max_length=200)


class UserOut(BaseModel):
    id: str
    org_id: str
    email: str
    display_name: str
    role: str
    disabled: bool
    created_at: datetime


class UserPatch(Body):
    display_name: Name | None = Field(default=None, min_length=1, max_length=200)
    role: str | None = Field(default=None, pattern="^(admin|engineer|operator|viewer)$")
    disabled: bool | None = Field(default=None, strict=True)  # 0 and 1 are no answers


class TokenIn(Body):
    name: Name = Field(min_length=1, max_length=200)
    user_id: Text | None = None
    expires_at: Instant | None = None


class TokenOut(BaseModel):
    id: str
    user_id: str
    org_id: str
    name: str
    prefix: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime


class TokenCreated(TokenOut):
    token: str = Field(description="the secret; shown once, store it now")


def token_out(token: ApiToken) -> TokenOut:
    """The public view of a token (never its hash)."""
    return TokenOut(**{k: getattr(token, k) for k in TokenOut.model_fields})


class LoginIn(Body):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=200)


class SiteIn(Body):
    name: Name = Field(min_length=1, max_length=200)


class LineIn(Body):
    site_id: str
    name: Name = Field(min_length=1, max_length=200)


class StationIn(Body):
    line_id: str
    name: Name = Field(min_length=1, max_length=200)
    kind: Text = Field(default="process", max_length=32)


class AssetIn(Body):
    name: Name = Field(min_length=1, max_length=200)
    line_id: Text | None = None
    station_id: Text | None = None
    kind: Text = Field(default="machine", max_length=32)


class ChannelIn(Body):
    name: Name = Field(min_length=1, max_length=200)
    unit: Text = Field(default="", max_length=32)


class ReadingIn(Body):
    time: Instant
    value: float = Field(allow_inf_nan=False, strict=True)  # true and false are no readings


class ReadingsIn(Body):
    readings: list[ReadingIn] = Field(min_length=1, max_length=100_000)


class PartIn(Body):
    number: Name = Field(min_length=1, max_length=100)
    name: Name = Field(min_length=1, max_length=200)
    oem_part_id: Text | None = None


class PartPatch(Body):
    name: Name | None = Field(default=None, min_length=1, max_length=200)


class LotIn(Body):
    part_id: str
    code: Name = Field(min_length=1, max_length=100)
    line_id: Text | None = None
    started_at: Instant | None = None
    quantity: int | None = Field(default=None, ge=0, le=MAX_INT32)  # the store's INTEGER


class DefectTypeIn(Body):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_\-]+$")
    name: Name = Field(min_length=1, max_length=200)
    description: Text = ""
    severity: int = Field(default=2, ge=1, le=3)


class ReviewIn(Body):
    decision: str = Field(pattern="^(accept|reject|relabel)$")
    defect_type: Text | None = Field(default=None, max_length=64)


class ProcessRecordIn(Body):
    part_id: str
    recorded_at: Instant
    values: dict[str, float] = Field(min_length=1)
    units: dict[str, str] = Field(default_factory=dict)
    lot_id: Text | None = None
    serial: Text | None = Field(default=None, max_length=100)
    line_id: Text | None = None


class GrantIn(Body):
    grantee_org_id: str
    scope: GrantScope
    part_id: Text | None = None
    expires_at: Instant | None = None
    note: Text = Field(default="", max_length=1000)
    review_before_send: bool = Field(
        default=False, description="root_cause grants: an admin approves each answer first"
    )


class ImportOut(BaseModel):
    batch_id: str
    filename: str
    already_imported: bool
    rows_total: int
    rows_accepted: int
    rows_rejected: int
    rows_new: int
    errors: list[dict[str, Any]]


class Health(BaseModel):
    status: str = Field(description="ok, or degraded when a background worker is down")
    database: str
    version: str
    jobs: dict[str, Any] | None = Field(
        default=None, description="job workers (alive, current job) and the queue's length"
    )


class InspectionModelIn(Body):
    part_id: str
    name: Name | None = Field(default=None, min_length=1, max_length=200)
    image_size: int = Field(default=256, ge=64, le=1024, multiple_of=32)
    coreset_ratio: float = Field(default=0.1, gt=0, le=1)
    false_alarm_rate: float = Field(default=0.01, gt=0, lt=0.5)
    tile: int | None = Field(
        default=None, ge=64, le=4096, description="judge large images in tiles of this many px"
    )


class InspectionOut(BaseModel):
    """An inspected image: the stored record plus the decision's numbers."""

    record: InspectionRecord
    verdict: str
    score: float
    threshold: float
    defect_type: str | None
    type_confidence: float | None
    heatmap_url: str
    image_url: str


class ConnectorIn(Body):
    name: Name = Field(min_length=1, max_length=200)
    kind: str = Field(pattern="^(mqtt|opcua)$")
    config: dict[str, Any]


class ConnectorTestIn(Body):
    kind: str = Field(pattern="^(mqtt|opcua)$")
    config: dict[str, Any]


class ConnectorChange(Body):
    """Give one or both; an absent field is left as it is (null is not a value here)."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    config: dict[str, Any] = Field(default=None)  # type: ignore[assignment]
    enabled: bool = Field(default=None, strict=True)  # type: ignore[assignment]


class AlertTargetIn(Body):
    kind: str = Field(pattern="^(webhook|mqtt)$")
    address: Text = Field(min_length=8, max_length=500)


class LiveCheckIn(Body):
    """Settings of one live check; what is left out stays as it is."""

    subject_kind: SubjectKind = Field(description="channel, asset, part or parameter")
    subject_id: str = Field(max_length=32, description="the channel's, machine's or part's id")
    parameter: Name | None = Field(
        None, max_length=100, description="the process parameter (parameter checks only)"
    )
    enabled: bool | None = None
    rules: list[RuleCode] | None = Field(
        None, max_length=20, description="rule codes the subject's kind allows (GET …/rules)"
    )
    false_alarm_rate: float | None = Field(
        None, gt=0, lt=0.5, description="per reading, e.g. 0.0001"
    )
    baseline: int | None = Field(
        None, ge=MIN_BASELINE, le=MAX_BASELINE, description="readings the limits are learned from"
    )
