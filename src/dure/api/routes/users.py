"""Users of your organisation and API tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dure.api.deps import PageDep, SessionDep
from dure.api.schemas import (
    TokenCreated,
    TokenIn,
    TokenOut,
    UserIn,
    UserOut,
    UserPatch,
    token_out,
)
from dure.domain.users import User
from dure.services.platform.accounts import create_user

router = APIRouter(tags=["users"])


def _user(u: User) -> UserOut:
    return UserOut(**{k: getattr(u, k) for k in UserOut.model_fields})


@router.get("/api/users")
def list_users(session: SessionDep, page: PageDep) -> dict[str, Any]:
    """Users of your organisation."""
    listing = session.users.list(page)
    return {**listing.__dict__, "items": [_user(u) for u in listing.items]}


@router.post("/api/users", status_code=201)
def add_user(body: UserIn, session: SessionDep) -> UserOut:
    """Create a user in your organisation (admins only)."""
    return _user(create_user(session, body.email, body.display_name, body.role, body.password))


@router.get("/api/users/{user_id}")
def get_user(user_id: str, session: SessionDep) -> UserOut:
    """One user of your organisation."""
    return _user(session.users.get(user_id))


@router.patch("/api/users/{user_id}")
def patch_user(user_id: str, body: UserPatch, session: SessionDep) -> UserOut:
    """Change a user's name, role or disabled flag (admins only)."""
    changes = body.model_dump(exclude_none=True)
    return _user(session.users.update_fields(user_id, **changes))


@router.get("/api/tokens")
def list_tokens(session: SessionDep, page: PageDep) -> dict[str, Any]:
    """Your tokens (an admin sees the organisation's); secrets are never shown again."""
    listing = session.tokens.list(page)
    return {**listing.__dict__, "items": [token_out(t) for t in listing.items]}


@router.post("/api/tokens", status_code=201)
def add_token(body: TokenIn, session: SessionDep) -> TokenCreated:
    """Create a token for yourself (or, as admin, for a user of your organisation)."""
    token, secret = session.tokens.issue(body.name, body.user_id, body.expires_at)
    return TokenCreated(**token_out(token).model_dump(), token=secret)


@router.delete("/api/tokens/{token_id}")
def revoke_token(token_id: str, session: SessionDep) -> TokenOut:
    """Revoke a token; it stops working at once."""
    return token_out(session.tokens.revoke(token_id))
