"""Liveness and who-am-I."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dure import __version__
from dure.api.deps import CallerDep, SessionDep, StoreDep
from dure.api.schemas import Health, LoginIn, TokenCreated, token_out
from dure.services.platform.accounts import log_in

router = APIRouter(tags=["health"])


@router.get("/api/health", response_model=Health)
def health(store: StoreDep) -> Health:
    """Is the server up and its database reachable? No token needed."""
    store.ping()
    return Health(status="ok", database=store.backend, version=__version__)


@router.post("/api/auth/login", status_code=201)
def login(body: LoginIn, store: StoreDep) -> TokenCreated:
    """Exchange an e-mail and password for a token that lasts 12 hours."""
    token, secret = log_in(store, body.email, body.password)
    return TokenCreated(**token_out(token).model_dump(), token=secret)


@router.get("/api/me")
def me(caller: CallerDep, session: SessionDep) -> dict[str, Any]:
    """The caller's user, role and organisation."""
    org = session.organisations.get(caller.org_id)
    user = session.users.get(caller.user_id) if caller.user_id else None
    return {
        "user": {"id": user.id, "email": user.email, "display_name": user.display_name}
        if user
        else None,
        "role": caller.role.value,
        "organisation": {"id": org.id, "name": org.name, "kind": org.kind, "slug": org.slug},
    }
