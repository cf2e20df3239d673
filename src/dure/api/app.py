"""The application factory: settings and store in, a FastAPI app out."""

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
from dure.collab.signing import KeyRing
from dure.services.connector_supervisor import ConnectorSupervisor
from dure.services.jobs import JobRunner
from dure.services.model_files import InspectorCache
from dure.services.partners import Collab
from dure.settings import Settings
from dure.store.session import Store


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    """Build the API around ``store`` (opened from ``settings`` when not given)."""
    store = store or Store.open(settings)
    inspectors = InspectorCache(store.blobs, settings.model_dir)
    runner = JobRunner(store, settings.work_dir, inspectors)
    supervisor = ConnectorSupervisor(store, settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.run_jobs:
            runner.start()
        if settings.run_connectors:
            supervisor.start()
        yield
        runner.stop()
        if settings.run_connectors:
            supervisor.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="Dure",
        version=__version__,
        summary="Manufacturing AI for an OEM and its suppliers: inspection, process, maintenance.",
    )
    app.state.settings = settings
    app.state.store = store
    app.state.inspectors = inspectors
    app.state.jobs = runner
    app.state.collab = Collab(
        store=store,
        keys=KeyRing(settings.key_dir),
        public_url=settings.public_url or "http://127.0.0.1:8000",
        work_dir=settings.work_dir,
        flower={"port": settings.flower_port, "advertise": settings.flower_advertise},
    )
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
