"""The application factory: settings (and optionally a store) in, a FastAPI app out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import Response

from dure import __version__
from dure.api import problems, web
from dure.api.routes import (
    alerts,
    collab,
    connectors,
    dashboard,
    health,
    imports,
    inspection_models,
    organisations,
    parts,
    peer,
    plant,
    process_quality,
    records,
    sharing,
    users,
)
from dure.services.platform.install import Install, Store
from dure.settings import Settings


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    """Build the API of the install ``settings`` describe (around ``store`` when given)."""
    install = Install.open(settings, store)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        install.start()
        yield
        install.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="Dure",
        version=__version__,
        summary="Manufacturing AI for an OEM and its suppliers: inspection, process, maintenance.",
    )
    app.state.install = install  # read only by api.deps.get_install
    problems.install(app)

    @app.middleware("http")
    async def _limit_body(request: Request, call_next):  # type: ignore[no-untyped-def]
        length = request.headers.get("content-length")
        many = request.url.path.endswith(("/images", "/inspect-batch"))
        limit = (
            max(settings.max_batch_bytes, settings.max_upload_bytes)
            if many
            else (settings.max_upload_bytes)
        )
        # Multipart overhead on top of the largest upload we accept.
        if length and length.isdigit() and int(length) > limit + (1 << 20):
            return problems.problem(
                413,
                "Payload too large",
                f"the request body of {int(length):,} bytes is over the limit of {limit:,} bytes",
            )
        response: Response = await call_next(request)
        return response

    for module in (
        health,
        organisations,
        users,
        plant,
        parts,
        records,
        imports,
        sharing,
        inspection_models,
        connectors,
        alerts,
        process_quality,
        collab,
        peer,
        dashboard,
    ):
        app.include_router(module.router)
    web.install(app, settings.dashboard_dir)  # last: it answers every other path
    return app
