"""Users, their roles, and the API tokens that act for them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from dure.domain.ids import new_id, utcnow


class Role(StrEnum):
    """What a user may do inside their own organisation, from most to least."""

    ADMIN = "admin"
    ENGINEER = "engineer"
    OPERATOR = "operator"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        """Higher rank includes every right of the lower ones."""
        return {"viewer": 0, "operator": 1, "engineer": 2, "admin": 3}[self.value]

    def allows(self, needed: Role) -> bool:
        """True when this role has at least the rights of ``needed``."""
        return self.rank >= needed.rank


@dataclass(kw_only=True)
class User:
    """A person (or a machine account) belonging to exactly one organisation."""

    org_id: str
    email: str
    display_name: str
    role: Role
    password_hash: str | None = None
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)
    disabled: bool = False


@dataclass(kw_only=True)
class ApiToken:
    """A bearer token for a user; only its hash is stored."""

    user_id: str
    org_id: str
    name: str
    token_hash: str
    prefix: str
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)
    last_used_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Caller:
    """Who is acting: the tenant scope every repository is built around."""

    org_id: str
    user_id: str | None
    role: Role
    org_kind: str = "supplier"
    # when the token the caller came with expires (None: no expiry, or no token)
    token_expires_at: datetime | None = None

    def can(self, needed: Role) -> bool:
        """True when the caller's role is at least ``needed``."""
        return self.role.allows(needed)
