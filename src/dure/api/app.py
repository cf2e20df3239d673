"""The application factory: settings (and optionally a store) in, a FastAPI app out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from dure import __version__
from dure.api import openapi, problems, web
from dure.api.guard import RequestGuard
from dure.api.routes import (
    alerts,
    collab,
    connectors,
    dashboard,
    edge,
    events,
    health,
    imports,
    inspection_models,
    live_checks,
    machines,
    maintenance,
    organisations,
    parts,
    peer,
    peer_traceability,
    plant,
    process_quality,
    process_spc,
    records,
    root_cause,
    sharing,
    traceability,
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
        docs_url="/docs" if settings.api_docs else None,
        redoc_url="/redoc" if settings.api_docs else None,
        openapi_url="/openapi.json" if settings.api_docs else None,
    )
    app.state.install = install  # read only by api.deps.get_install
    problems.install(app, lambda path: openapi.methods_at(app, path))

    app.add_middleware(RequestGuard, settings=settings, authenticate=install.caller_for_token)

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
        live_checks,
        machines,
        maintenance,
        process_quality,
        process_spc,
        collab,
        root_cause,
        peer,
        peer_traceability,
        traceability,
        dashboard,
        events,
        edge,
    ):
        app.include_router(module.router)
    web.install(app, settings.dashboard_dir)  # last: it answers every other path
    openapi.install(app)
    return app
