"""The one place Dure errors become RFC 9457 ``application/problem+json`` answers."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dure.errors import DureError, InvalidInput, RejectedFile

MEDIA_TYPE = "application/problem+json"


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    """A problem+json response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""

    @app.exception_handler(DureError)
    async def _dure(_: Request, exc: DureError) -> JSONResponse:
        extra: dict[str, Any] = {}
        if isinstance(exc, InvalidInput):
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
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        return problem(exc.status_code, detail, detail)
