"""The install acting for itself: the peer gate, the job queue, log-in and token checks,
the connector supervisor. These views are not scoped to a caller, so they live apart from
``Session`` and are never handed to a tenant's use case."""

from __future__ import annotations

from sqlalchemy import Connection

from dure.store.audit_log import AuditLog
from dure.store.repositories.collab import PeerGate
from dure.store.repositories.connectors import ConnectorRoster
from dure.store.repositories.jobs import JobQueue
from dure.store.repositories.live_checks import LiveCheckQueue
from dure.store.repositories.organisations import OrganisationRepository
from dure.store.repositories.root_cause import RootCauseDeliveries
from dure.store.repositories.users import Identities


class SystemSession:
    """One transaction of the install itself (no caller): its system views, and an audit
    log whose events name the organisation they concern."""

    def __init__(self, conn: Connection) -> None:
        self.audit = AuditLog(conn, None)
        self.organisations = OrganisationRepository(conn, None, self.audit)
        self.peers = PeerGate(conn)
        self.job_queue = JobQueue(conn)
        self.live_checks = LiveCheckQueue(conn)
        self.identities = Identities(conn)
        self.connectors = ConnectorRoster(conn)
        self.root_cause_deliveries = RootCauseDeliveries(conn)
