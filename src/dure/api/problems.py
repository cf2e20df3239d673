"""The one place Dure errors become RFC 9457 ``application/problem+json`` answers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dure.errors import DureError, InvalidInput, RejectedFile, StateConflict

log = logging.getLogger("dure.api")

MEDIA_TYPE = "application/problem+json"
MAX_DETAIL = 2000  # characters of a problem's detail
MAX_LISTED = 50  # problems listed under "errors"; the rest are counted


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    """A problem+json response; its detail and error list are capped, so no answer about
    a bad input can grow with the input."""
    if len(detail) > MAX_DETAIL:
        detail = detail[:MAX_DETAIL] + f"… ({len(detail) - MAX_DETAIL:,} more characters)"
    errors = extra.get("errors")
    if isinstance(errors, list) and len(errors) > MAX_LISTED:
        extra = {
            **extra,
            "errors": errors[:MAX_LISTED],
            "errors_not_listed": len(errors) - MAX_LISTED,
        }
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE)


def install(app: FastAPI, methods_at: Callable[[str], list[str]]) -> None:
    """Register the handlers that turn every error into problem+json; ``methods_at(path)``
    names the methods a 405's Allow header lists."""

    @app.exception_handler(DureError)
    async def _dure(_: Request, exc: DureError) -> JSONResponse:
        extra: dict[str, Any] = {}
        if isinstance(exc, InvalidInput | StateConflict):
            extra["field"] = exc.field
        if isinstance(exc, RejectedFile):
            extra["errors"] = exc.errors
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        response = problem(exc.status, exc.title, exc.detail, **extra)
        if headers:
            response.headers.update(headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
                "reason": e.get("msg"),
            }
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"field": "", "reason": "invalid request"}
        return problem(
            422,
            "Invalid input",
            f"{first['field']}: {first['reason']}",
            field=first["field"],
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        response = problem(exc.status_code, detail, detail)
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code == 405:  # Allow names every route's methods at this path, not one's
            response.headers["Allow"] = ", ".join(methods_at(request.url.path))
        return response

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        # The cause goes to the server's log; the caller learns only that it failed.
        log.exception("internal error on %s %s", request.method, request.url.path)
        return problem(
            500, "Internal error", "the server failed to answer this request; it is logged"
        )
