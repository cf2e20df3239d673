"""The application factory: settings and store in, a FastAPI app out."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from dure import __version__
from dure.api import problems
from dure.api.routes import health, imports, organisations, parts, plant, records, sharing, users
from dure.settings import Settings
from dure.store.session import Store


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    """Build the API around ``store`` (opened from ``settings`` when not given)."""
    app = FastAPI(
        title="Dure",
        version=__version__,
        summary="Manufacturing AI for an OEM and its suppliers: inspection, process, maintenance.",
    )
    app.state.settings = settings
    app.state.store = store or Store.open(settings)
    problems.install(app)

    @app.middleware("http")
    async def _limit_body(request: Request, call_next):  # type: ignore[no-untyped-def]
        length = request.headers.get("content-length")
        # Multipart overhead on top of the largest file we accept.
        if length and length.isdigit() and int(length) > settings.max_upload_bytes + (1 << 20):
            return problems.problem(
                413,
                "Payload too large",
                f"the request body of {int(length):,} bytes is over the limit of "
                f"{settings.max_upload_bytes:,} bytes",
            )
        response: Response = await call_next(request)
        return response

    for module in (health, organisations, users, plant, parts, records, imports, sharing):
        app.include_router(module.router)
    return app
