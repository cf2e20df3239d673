"""Liveness and who-am-I."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from dure import __version__
from dure.api.deps import CallerDep, InstallDep, SessionDep, StoreDep
from dure.api.schemas import Health, LoginIn, TokenCreated, token_out
from dure.services.platform.accounts import log_in

router = APIRouter(tags=["health"])


@router.get(
    "/api/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "a job worker is down"}},
)
def health(install: InstallDep, response: Response) -> Health:
    """Is the server up, its database reachable and its job workers alive? No token needed.

    503 when the database does not answer or a worker that should run is dead."""
    install.store.ping()
    jobs = install.jobs.status() if install.settings.run_jobs else None
    status = "ok"
    if jobs is not None and jobs["running"] and not jobs["healthy"]:
        status = "degraded"
        response.status_code = 503
    return Health(status=status, database=install.store.backend, version=__version__, jobs=jobs)


@router.post("/api/auth/login", status_code=201)
def login(body: LoginIn, store: StoreDep, request: Request) -> TokenCreated:
    """Exchange an e-mail and password for a token that lasts 12 hours. Failed log-ins are
    counted per account and per address: past the limit the answer is 429 for a while."""
    address = request.client.host if request.client else ""
    token, secret = log_in(store, body.email, body.password, address)
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
