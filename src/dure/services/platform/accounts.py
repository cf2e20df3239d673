"""Setting up organisations, users and tokens (used by the CLI and the demo world)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from dure.domain.organisations import Organisation, OrgKind
from dure.domain.users import ApiToken, Caller, Role, User
from dure.errors import InvalidInput, Unauthenticated
from dure.store.session import Session, Store
from dure.store.system import SystemSession


def system_caller(org: Organisation) -> Caller:
    """The caller the command line acts as inside one organisation: its administrator."""
    return Caller(org_id=org.id, user_id=None, role=Role.ADMIN, org_kind=org.kind)


def create_org(session: Session | SystemSession, name: str, kind: str, slug: str) -> Organisation:
    """Create an organisation of ``kind`` oem, supplier or operator (an operator's admin, or
    the install itself)."""
    try:
        org_kind = OrgKind(kind)
    except ValueError as exc:
        raise InvalidInput("kind", f"{kind!r}: use one of oem, supplier, operator") from exc
    return session.organisations.add(Organisation(name=name, kind=org_kind, slug=slug))


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password`` in ``scrypt$salt$hash`` form."""
    if len(password) < 8:
        raise InvalidInput("password", "use at least 8 characters")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    """True when ``password`` matches a hash made by ``hash_password``."""
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt, digest = stored.split("$")
    check = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1)
    return hmac.compare_digest(check.hex(), digest)


def create_user(
    session: Session, email: str, display_name: str, role: str, password: str | None = None
) -> User:
    """Create a user in the session caller's organisation."""
    try:
        user_role = Role(role)
    except ValueError as exc:
        raise InvalidInput(
            "role", f"{role!r}: use one of admin, engineer, operator, viewer"
        ) from exc
    user = User(
        org_id=session.caller.org_id,
        email=email.strip().lower(),
        display_name=display_name,
        role=user_role,
        password_hash=hash_password(password) if password else None,
    )
    return session.users.add(user)


def create_token(
    session: Session, user: User, name: str, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Issue an API token for ``user``; the secret is returned once and never stored."""
    return session.tokens.issue(name, user_id=user.id, expires_at=expires_at)


LOGIN_HOURS = 12


def log_in(store: Store, email: str, password: str) -> tuple[ApiToken, str]:
    """A 12-hour token for a user's e-mail and password; the same answer for any mismatch."""
    with store.system() as system:
        user = system.identities.user_by_email(email)
        kind = system.identities.org_kind(user.org_id) if user else None
    if user is None or user.disabled or not verify_password(password, user.password_hash):
        raise Unauthenticated("wrong e-mail or password")
    caller = Caller(org_id=user.org_id, user_id=user.id, role=Role(user.role), org_kind=kind)
    with store.session(caller) as s:
        expires = datetime.now(UTC) + timedelta(hours=LOGIN_HOURS)
        token, secret = s.tokens.issue("log-in", expires_at=expires)
        s.audit.record("log_in", "user", user.id)
    return token, secret
