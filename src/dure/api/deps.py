"""Typed dependencies: the store, the authenticated caller, a scoped session, role checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dure.domain.users import Caller, Role
from dure.errors import Forbidden, Unauthenticated
from dure.settings import Settings
from dure.store.scoped import Page
from dure.store.session import Session, Store

bearer = HTTPBearer(auto_error=False, description="an API token from `dure token create`")


def get_store(request: Request) -> Store:
    """The store the app was built with."""
    return request.app.state.store  # type: ignore[no-any-return]


def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    return request.app.state.settings  # type: ignore[no-any-return]


def get_caller(
    store: Annotated[Store, Depends(get_store)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """The caller behind the bearer token; 401 for a missing or bad token."""
    if credentials is None or not credentials.credentials:
        raise Unauthenticated("send an API token as 'Authorization: Bearer <token>'")
    return store.caller_for_token(credentials.credentials)


def get_session(
    store: Annotated[Store, Depends(get_store)], caller: Annotated[Caller, Depends(get_caller)]
) -> Iterator[Session]:
    """One transaction as the caller; rolled back if the route fails."""
    with store.session(caller) as session:
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
    offset: Annotated[int, Query(ge=0, description="items to skip")] = 0,
) -> Page:
    """Pagination query parameters."""
    return Page(limit=limit, offset=offset)


PageDep = Annotated[Page, Depends(page_params)]
SessionDep = Annotated[Session, Depends(get_session)]
CallerDep = Annotated[Caller, Depends(get_caller)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
