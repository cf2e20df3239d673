"""The install: one Dure server's settings, store and long-lived helpers, built once.

``dure up`` and the API factory open one ``Install`` from ``Settings``; routes reach its
parts through typed dependencies (``api/deps.py``), never through global state. Use cases
take the part they need: a ``Session`` (one transaction as one caller), the ``Store``
(for work that opens several short transactions), the inspector cache, the collaboration
context.
"""

from __future__ import annotations

from dataclasses import dataclass

from dure.collab.outbound import OutboundPolicy
from dure.collab.signing import KeyRing
from dure.domain.users import Caller
from dure.scale.cluster import RayEngine
from dure.services.collaboration.context import Collab
from dure.services.live.supervisor import ConnectorSupervisor
from dure.services.platform.jobs import JobRunner
from dure.services.platform.model_files import InspectorCache
from dure.settings import Settings
from dure.store.session import Session, Store

__all__ = ["Install", "Session", "Store"]


@dataclass
class Install:
    """Everything one running Dure server holds for its lifetime."""

    settings: Settings
    store: Store
    inspectors: InspectorCache
    jobs: JobRunner
    connectors: ConnectorSupervisor
    collab: Collab
    outbound: OutboundPolicy

    @classmethod
    def open(cls, settings: Settings, store: Store | None = None) -> Install:
        """Build the install ``settings`` describe (the store opened and migrated unless
        one is given); nothing runs until ``start``."""
        store = store or Store.open(settings)
        inspectors = InspectorCache(store.blobs, settings.model_dir)
        outbound = OutboundPolicy.from_settings(
            settings.allow_private_addresses, settings.outbound_networks
        )
        collab = Collab(
            store=store,
            keys=KeyRing(settings.key_dir),
            public_url=settings.public_url or "http://127.0.0.1:8000",
            work_dir=settings.work_dir,
            flower={
                "port": settings.flower_port,
                "advertise": settings.flower_advertise,
                "python": settings.flower_python,
            },
            outbound=outbound,
            root_cause_min_group=settings.root_cause_min_group,
            root_cause_requests_per_day=settings.root_cause_requests_per_day,
        )
        return cls(
            settings=settings,
            store=store,
            inspectors=inspectors,
            jobs=JobRunner(
                store,
                settings.work_dir,
                inspectors,
                outbound,
                scale=RayEngine.from_settings(settings),
                collab=collab,
            ),
            connectors=ConnectorSupervisor(store, settings),
            collab=collab,
            outbound=outbound,
        )

    def start(self) -> None:
        """Start the background workers the settings ask for (jobs, live connectors)."""
        if self.settings.run_jobs:
            self.jobs.start()
        if self.settings.run_connectors:
            self.connectors.start()

    def stop(self) -> None:
        """Stop the background workers (each finishes what it is doing first)."""
        self.jobs.stop()
        if self.jobs.scale is not None:
            self.jobs.scale.close()
        if self.settings.run_connectors:
            self.connectors.stop()

    def caller_for_token(self, secret: str) -> Caller:
        """The caller behind a bearer token (Unauthenticated for a bad one)."""
        return self.store.caller_for_token(secret)
