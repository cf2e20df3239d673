"""Users and API tokens; tokens are stored as sha256 hashes only."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Connection, delete, func, insert, select, update

from dure.domain.ids import utcnow
from dure.domain.users import ApiToken, Caller, Role, User
from dure.errors import Conflict, Forbidden, InvalidInput, Unauthenticated
from dure.store.rows import to_entity
from dure.store.scoped import ScopedRepository
from dure.store.tables import api_tokens, login_failures, organisations, users

TOKEN_PREFIX = "dure_"
DEFAULT_TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 3 * 365


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


class UserRepository(ScopedRepository[User]):
    """Users of the caller's organisation; only admins create or change them, and the last
    admin of an organisation can be neither demoted nor disabled."""

    table = users
    entity = User
    resource = "user"
    write_role = Role.ADMIN

    def update_fields(self, entity_id: str, **changes: object) -> User:
        """Change a user; refused when it would leave the organisation without an admin."""
        current = self.get(entity_id)
        demoted = "role" in changes and Role(str(changes["role"])) is not Role.ADMIN
        disabled = bool(changes.get("disabled"))
        if Role(current.role) is Role.ADMIN and (demoted or disabled) and not current.disabled:
            admins = self.conn.execute(
                select(func.count()).where(
                    users.c.org_id == self.caller.org_id,
                    users.c.role == Role.ADMIN.value,
                    users.c.disabled.is_(False),
                )
            ).scalar_one()
            if admins <= 1:
                raise Conflict(
                    f"{current.email} is the organisation's last admin: make another user an "
                    "admin first"
                )
        return super().update_fields(entity_id, **changes)

    def add(self, item: User) -> User:
        if "@" not in item.email or len(item.email) > 254:
            raise InvalidInput("email", f"{item.email!r} is not an e-mail address")
        try:
            Role(item.role)
        except ValueError as exc:
            raise InvalidInput(
                "role", f"{item.role!r}: use one of {[r.value for r in Role]}"
            ) from exc
        return super().add(item)

    def own_by_email(self, email: str) -> User | None:
        """The user of the caller's organisation with this e-mail address."""
        row = self.conn.execute(
            select(users).where(
                users.c.email == email.strip().lower(), users.c.org_id == self.caller.org_id
            )
        ).first()
        return None if row is None else to_entity(User, row)


class TokenRepository(ScopedRepository[ApiToken]):
    """API tokens: each user sees and revokes their own; admins see their organisation's."""

    table = api_tokens
    entity = ApiToken
    resource = "token"
    write_role = Role.VIEWER

    def visible(self) -> ColumnElement[bool]:
        own_org = api_tokens.c.org_id == self.caller.org_id
        if self.caller.can(Role.ADMIN):
            return own_org
        return own_org & (api_tokens.c.user_id == self.caller.user_id)

    def issue(
        self, name: str, user_id: str | None = None, expires_at: datetime | None = None
    ) -> tuple[ApiToken, str]:
        """Create a token for ``user_id`` (default: the caller); returns it and its secret once.

        Without ``expires_at`` it lasts ``DEFAULT_TOKEN_DAYS`` (or as long as the creating
        token, when that ends sooner); it may not last longer than
        ``MAX_TOKEN_DAYS``, nor longer than the token the caller came with (a 12-hour log-in
        cannot mint a permanent token)."""
        now = utcnow()
        limit = self.caller.token_expires_at
        if expires_at is None:
            expires_at = now + timedelta(days=DEFAULT_TOKEN_DAYS)
            expires_at = min(expires_at, limit) if limit is not None else expires_at
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        if expires_at <= now:
            raise InvalidInput("expires_at", "lies in the past: give a time to come")
        if expires_at > now + timedelta(days=MAX_TOKEN_DAYS):
            raise InvalidInput("expires_at", f"a token lasts at most {MAX_TOKEN_DAYS} days")
        if limit is not None and expires_at > limit:
            raise InvalidInput(
                "expires_at",
                f"a token cannot outlive the one creating it (yours expires "
                f"{limit:%Y-%m-%d %H:%M} UTC); log in with a longer-lived token or ask an admin",
            )
        user_id = user_id or self.caller.user_id
        if user_id is None:
            raise InvalidInput("user_id", "say which user the token is for")
        if user_id != self.caller.user_id and not self.caller.can(Role.ADMIN):
            raise Forbidden("only an admin may create tokens for other users")
        self.require_own(users, "user_id", user_id)
        if not name.strip():
            raise InvalidInput("name", "give the token a name, e.g. 'line-3 camera'")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken(
            user_id=user_id,
            org_id=self.caller.org_id,
            name=name,
            token_hash=hash_token(secret),
            prefix=secret[:12],
            expires_at=expires_at,
        )
        return self.add(token), secret

    def revoke(self, token_id: str) -> ApiToken:
        """Revoke one visible token; it stops working at once."""
        return self.update_fields(token_id, revoked_at=utcnow())


def _authenticate(conn: Connection, secret: str) -> tuple[Caller, str, bool]:
    """The caller a bearer token stands for, the token's id, and whether its last use is
    over a minute old; raises Unauthenticated for any bad token."""
    row = conn.execute(
        select(api_tokens, users.c.role, users.c.disabled, organisations.c.kind)
        .join(users, users.c.id == api_tokens.c.user_id)
        .join(organisations, organisations.c.id == api_tokens.c.org_id)
        .where(api_tokens.c.token_hash == hash_token(secret))
    ).first()
    if row is None:
        raise Unauthenticated("the API token is not known; create one with `dure token create`")
    token = to_entity(ApiToken, row)
    now = utcnow()
    if token.revoked_at is not None:
        raise Unauthenticated(f"the API token {token.prefix}… was revoked")
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthenticated(
            f"the API token {token.prefix}… expired at {token.expires_at:%Y-%m-%d %H:%M} UTC"
        )
    if row.disabled:
        raise Unauthenticated("the user of this API token is disabled")
    # Use is noted at most once a minute, so that reading does not turn every request into a write.
    stale = token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1)
    caller = Caller(
        org_id=token.org_id,
        user_id=token.user_id,
        role=Role(row.role),
        org_kind=row.kind,
        token_expires_at=token.expires_at,
    )
    return caller, token.id, stale


def _caller_for_user(conn: Connection, org_id: str, user_id: str | None) -> Caller:
    """The caller a background job acts as: its user with today's role, or the org's system.

    A job queued by a user who has since been disabled, or moved to another organisation,
    is refused rather than run with rights the user no longer holds.
    """
    org = conn.execute(select(organisations.c.kind).where(organisations.c.id == org_id)).first()
    if org is None:
        raise Unauthenticated(f"organisation {org_id!r} no longer exists")
    if user_id is None:
        return Caller(org_id=org_id, user_id=None, role=Role.ADMIN, org_kind=org.kind)
    row = conn.execute(
        select(users.c.role, users.c.disabled).where(
            users.c.id == user_id, users.c.org_id == org_id
        )
    ).first()
    if row is None or row.disabled:
        raise Unauthenticated(f"user {user_id!r} of the job is disabled or gone")
    return Caller(org_id=org_id, user_id=user_id, role=Role(row.role), org_kind=org.kind)


class Identities:
    """Who a token, a job or a log-in stands for (a system view: it runs before there is a
    caller)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def authenticate(self, secret: str) -> tuple[Caller, str, bool]:
        """The caller a bearer token stands for, the token's id and whether its use should
        be noted (``note_use``); Unauthenticated for any bad token."""
        return _authenticate(self._conn, secret)

    def note_use(self, token_id: str) -> None:
        """Record that a token was used just now."""
        self._conn.execute(
            update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=utcnow())
        )

    def caller_for_user(self, org_id: str, user_id: str | None) -> Caller:
        """The caller a background job acts as: its user with today's role, or the org's
        system (see ``_caller_for_user``)."""
        return _caller_for_user(self._conn, org_id, user_id)

    def user_by_email(self, email: str) -> User | None:
        """The user with this e-mail address (lower-cased), on any organisation."""
        row = self._conn.execute(
            select(users).where(users.c.email == email.strip().lower())
        ).first()
        return None if row is None else to_entity(User, row)

    def login_failures(self, email: str, address: str, since: datetime) -> tuple[int, int]:
        """Failed log-ins since ``since``: for this e-mail, and from this address."""
        f = login_failures.c
        by_email = self._conn.execute(
            select(func.count()).where(f.email == email.strip().lower(), f.at >= since)
        ).scalar_one()
        by_address = self._conn.execute(
            select(func.count()).where(f.address == address, f.at >= since)
        ).scalar_one()
        return int(by_email), int(by_address)

    def note_login_failure(self, email: str, address: str, keep: timedelta) -> None:
        """Remember a failed log-in (those older than ``keep`` are forgotten)."""
        now = utcnow()
        self._conn.execute(delete(login_failures).where(login_failures.c.at < now - keep))
        self._conn.execute(
            insert(login_failures).values(
                email=email.strip().lower()[:254], address=address[:64], at=now
            )
        )

    def forget_login_failures(self, email: str) -> None:
        """A successful log-in clears the account's failures."""
        self._conn.execute(
            delete(login_failures).where(login_failures.c.email == email.strip().lower())
        )

    def org_kind(self, org_id: str) -> str | None:
        """The kind (oem, supplier, operator) of an organisation, None if it is unknown."""
        return self._conn.execute(
            select(organisations.c.kind).where(organisations.c.id == org_id)
        ).scalar()
