"""Setting up organisations, users and tokens (used by the CLI and the demo world)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dure.domain.ids import utcnow
from dure.domain.organisations import Organisation, OrgKind
from dure.domain.users import ApiToken, Caller, Role, User
from dure.errors import InvalidInput, TooManyAttempts, Unauthenticated
from dure.services.platform.passwords import hash_password, verify_password
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
        password_hash=hash_password(password, email) if password else None,
    )
    return session.users.add(user)


def create_token(
    session: Session, user: User, name: str, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Issue an API token for ``user``; the secret is returned once and never stored."""
    return session.tokens.issue(name, user_id=user.id, expires_at=expires_at)


LOGIN_HOURS = 12
# Guessing is slowed per account and per address: past these many failed log-ins within
# the window, log-in waits until the oldest failure leaves the window.
LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20


def log_in(store: Store, email: str, password: str, address: str = "") -> tuple[ApiToken, str]:
    """A 12-hour token for a user's e-mail and password; the same answer, in the same
    time, for an unknown e-mail and a wrong password. Failed log-ins are counted per
    account and per address (and audited under the account's organisation); past the
    limit the answer is 429 until the window has passed."""
    now = utcnow()
    with store.system(read_only=True) as system:
        by_email, by_address = system.identities.login_failures(email, address, now - LOGIN_WINDOW)
        user = system.identities.user_by_email(email)
        kind = system.identities.org_kind(user.org_id) if user else None
    if by_email >= MAX_FAILURES_PER_ACCOUNT or by_address >= MAX_FAILURES_PER_ADDRESS:
        with store.system() as system:
            system.identities.note_login_failure(email, address, LOGIN_WINDOW * 4)
            if user is not None:
                system.audit.record(
                    "log_in_refused", "user", user.id, org_id=user.org_id,
                    detail={"address": address, "why": "too many failed log-ins"},
                )  # fmt: skip
        minutes = int(LOGIN_WINDOW.total_seconds() // 60)
        raise TooManyAttempts(
            f"too many failed log-ins for this account or from this address; try again in "
            f"{minutes} minutes"
        )
    good = verify_password(password, user.password_hash if user else None)
    if user is None or user.disabled or not good:
        with store.system() as system:
            system.identities.note_login_failure(email, address, LOGIN_WINDOW * 4)
            if user is not None:
                system.audit.record(
                    "log_in_failed", "user", user.id, org_id=user.org_id,
                    detail={"address": address},
                )  # fmt: skip
        raise Unauthenticated("wrong e-mail or password")
    caller = Caller(org_id=user.org_id, user_id=user.id, role=Role(user.role), org_kind=kind)
    with store.session(caller) as s:
        expires = datetime.now(UTC) + timedelta(hours=LOGIN_HOURS)
        token, secret = s.tokens.issue("log-in", expires_at=expires)
        s.audit.record("log_in", "user", user.id, detail={"address": address})
    with store.system() as system:
        system.identities.forget_login_failures(email)
    return token, secret
