"""Typed dependencies: the install, the authenticated caller, a scoped session, role checks.

The app keeps one ``Install`` (``app.state.install``); this module is the only place that
reads it. Routes ask for what they use: ``SessionDep`` (one transaction as the caller),
``StoreDep`` (use cases that open short transactions themselves), ``InspectorsDep``,
``JobsDep``, ``CollabDep``, ``SettingsDep``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dure.domain.pages import MAX_OFFSET, Page
from dure.domain.users import Caller, Role
from dure.errors import Forbidden, Unauthenticated
from dure.services.collaboration.context import Collab
from dure.services.platform.install import Install, Session, Store
from dure.services.platform.jobs import JobRunner
from dure.services.platform.model_files import InspectorCache
from dure.settings import Settings

bearer = HTTPBearer(auto_error=False, description="an API token from `dure token create`")


def get_install(request: Request) -> Install:
    """The install the app was built with."""
    return request.app.state.install  # type: ignore[no-any-return]


InstallDep = Annotated[Install, Depends(get_install)]


def get_store(install: InstallDep) -> Store:
    """The install's store."""
    return install.store


def get_settings(install: InstallDep) -> Settings:
    """The settings the install was built with."""
    return install.settings


def get_inspectors(install: InstallDep) -> InspectorCache:
    """Loaded inspection models, shared by every request."""
    return install.inspectors


def get_jobs(install: InstallDep) -> JobRunner:
    """The background job runner (to wake it after queueing)."""
    return install.jobs


def get_collab(install: InstallDep) -> Collab:
    """What collaboration between installs needs: keys, public address, Flower."""
    return install.collab


def get_caller(
    install: InstallDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """The caller behind the bearer token; 401 for a missing or bad token."""
    if credentials is None or not credentials.credentials:
        raise Unauthenticated("send an API token as 'Authorization: Bearer <token>'")
    return install.caller_for_token(credentials.credentials)


READING = frozenset({"GET", "HEAD", "OPTIONS"})


def get_session(
    request: Request, install: InstallDep, caller: Annotated[Caller, Depends(get_caller)]
) -> Iterator[Session]:
    """One transaction as the caller; rolled back if the route fails. Requests that only
    read (GET, HEAD) get a read-only session: it never waits for another tenant's write."""
    with install.store.session(caller, read_only=request.method in READING) as session:
        yield session


def require(role: Role) -> Callable[[Caller], Caller]:
    """A dependency that refuses callers below ``role``."""

    def check(caller: Annotated[Caller, Depends(get_caller)]) -> Caller:
        if not caller.can(role):
            raise Forbidden(
                f"this needs the {role.value} role or higher; you are {caller.role.value}"
            )
        return caller

    return check


def page_params(
    limit: Annotated[int, Query(ge=1, le=1000, description="items per page")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="items to skip")] = 0,
) -> Page:
    """Pagination query parameters."""
    return Page(limit=limit, offset=offset)


PageDep = Annotated[Page, Depends(page_params)]
SessionDep = Annotated[Session, Depends(get_session)]
CallerDep = Annotated[Caller, Depends(get_caller)]
StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
InspectorsDep = Annotated[InspectorCache, Depends(get_inspectors)]
JobsDep = Annotated[JobRunner, Depends(get_jobs)]
CollabDep = Annotated[Collab, Depends(get_collab)]
