"""The store and its unit of work: one transaction, one caller, every repository scoped to it.

``Store.session(caller)`` is how every use case reaches data: its repositories see only
what the caller may see. ``Store.system()`` is the install acting for itself (peer gate,
job queue, log-in, connector supervisor). Database failures leave here as Dure's own
errors: a store that cannot be reached is ``StoreUnavailable``, a value it cannot hold is
``StoreRefused``, a clash with a stored row is ``Conflict``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError

from dure.domain.users import Caller
from dure.errors import Conflict, DureError, StoreRefused, StoreUnavailable
from dure.settings import Settings
from dure.store.audit_log import AuditLog, write_events
from dure.store.blobs import BlobStore
from dure.store.engine import NO_WAIT, READ_ONLY, make_engine, migrate, sqlite_file
from dure.store.permissions import keep_private
from dure.store.repositories.alerts import AlertRepository, AlertTargetRepository
from dure.store.repositories.catalogue import (
    AuditRepository,
    BlobIndex,
    ImportBatchRepository,
    ModelVersionRepository,
)
from dure.store.repositories.collab import (
    InvitationRepository,
    KpiReportRepository,
    PackageRepository,
    PartnerRepository,
    RoundRepository,
)
from dure.store.repositories.connectors import ConnectorRepository
from dure.store.repositories.edge import EdgeDeviceRepository, EdgePackageRepository
from dure.store.repositories.grants import GrantRepository
from dure.store.repositories.jobs import JobRepository
from dure.store.repositories.live_checks import LiveCheckRepository
from dure.store.repositories.maintenance import MaintenanceEventRepository
from dure.store.repositories.organisations import OrganisationRepository
from dure.store.repositories.parts import (
    DefectTypeRepository,
    LabelledImageRepository,
    LotRepository,
    PartRepository,
)
from dure.store.repositories.plant import (
    AssetRepository,
    LineRepository,
    SensorChannelRepository,
    SiteRepository,
    StationRepository,
)
from dure.store.repositories.records import InspectionRepository, ProcessRecordRepository
from dure.store.repositories.root_cause import RootCauseRepository
from dure.store.repositories.sensor_readings import SensorReadingRepository
from dure.store.repositories.specs import ParameterSpecRepository
from dure.store.repositories.traceability import PartDefectRepository, ShipmentRepository
from dure.store.repositories.users import TokenRepository, UserRepository
from dure.store.secrets import SecretBox
from dure.store.system import SystemSession


@dataclass
class Store:
    """The database engine plus the blob folder."""

    engine: Engine
    blobs: BlobStore
    secrets: SecretBox

    @classmethod
    def open(cls, settings: Settings, *, upgrade: bool = True) -> Store:
        """Open (and by default migrate) the store that ``settings`` describe."""
        settings.home.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.resolved_database_url)
        if upgrade:
            migrate(engine)
        keep_private(settings.home, sqlite_file(settings.resolved_database_url))
        return cls(
            engine=engine, blobs=BlobStore(settings.blob_dir), secrets=SecretBox(settings.key_dir)
        )

    @contextmanager
    def session(self, caller: Caller, *, read_only: bool = False) -> Iterator[Session]:
        """One transaction acting as ``caller``; commits on success, rolls back on error.

        A ``read_only`` session never takes the write lock (SQLite) and refuses writes;
        the audit events of its reads (shared data) are written right after it.
        """
        if caller is None:
            raise TypeError("a session acts as a caller; use Store.system() for the install")
        with _translated():
            if not read_only:
                with self.engine.begin() as conn:
                    yield Session(conn, caller, self.blobs, self.secrets)
                return
            with self._reading() as conn:
                session = Session(conn, caller, self.blobs, self.secrets, read_only=True)
                yield session
            if session.audit.pending:  # reads of shared data: audited before any answer
                with self.engine.begin() as conn:
                    write_events(conn, session.audit.pending)

    @contextmanager
    def system(self, *, read_only: bool = False, wait: bool = True) -> Iterator[SystemSession]:
        """One transaction of the install itself (no caller, no tenant scope); with
        ``wait=False`` a write gives up at once (StoreUnavailable) when the store is busy."""
        with _translated():
            if read_only:
                with self._reading() as conn:
                    yield SystemSession(conn)
            else:
                with self.engine.connect() as conn:
                    conn.execution_options(**{NO_WAIT: not wait})
                    with conn.begin():
                        yield SystemSession(conn)

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn.execution_options(**{READ_ONLY: True})
            with conn.begin():
                yield conn

    def caller_for_token(self, secret: str) -> Caller:
        """Resolve a bearer token to its caller (raises Unauthenticated); reading only,
        but for noting the token's use at most once a minute."""
        with self.system(read_only=True) as system:
            caller, token_id, stale = system.identities.authenticate(secret)
        if stale:
            try:  # best effort: noted on a later request when the store is busy now
                with self.system(wait=False) as system:
                    system.identities.note_use(token_id)
            except StoreUnavailable:
                pass
        return caller

    @property
    def backend(self) -> str:
        """Which database holds the store: sqlite or postgresql."""
        return str(self.engine.dialect.name)

    def describe(self) -> str:
        """Where the store is, for people (the password hidden)."""
        return self.engine.url.render_as_string(hide_password=True)

    def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers."""
        with _translated(), self._reading() as conn:
            conn.execute(text("SELECT 1"))


@contextmanager
def _translated() -> Iterator[None]:
    """Database errors out of the store as Dure's own (raised where they happen)."""
    try:
        yield
    except DureError:
        raise
    except IntegrityError as exc:
        raise Conflict("the request clashes with what is already stored") from exc
    except DBAPIError as exc:
        if isinstance(exc, OperationalError) or exc.connection_invalidated:
            raise StoreUnavailable(f"the store cannot be reached: {_first_line(exc)}") from exc
        if isinstance(exc, DataError):
            raise StoreRefused(_first_line(exc)) from exc
        raise


def _first_line(exc: DBAPIError) -> str:
    text_ = str(exc.orig or exc).splitlines()
    return (text_[0] if text_ else type(exc).__name__)[:300]


class Session:
    """Repositories bound to one connection and one caller."""

    def __init__(
        self,
        conn: Connection,
        caller: Caller,
        blobs: BlobStore,
        secrets: SecretBox,
        read_only: bool = False,
    ) -> None:
        self._conn = conn
        self.caller = caller
        self.blob_store = blobs
        self.secrets = secrets
        self.read_only = read_only
        self.audit = AuditLog(conn, caller, deferred=read_only)

    def _scoped(self, repo_type):  # type: ignore[no-untyped-def]
        return repo_type(self._conn, self.caller, self.audit)

    @cached_property
    def organisations(self) -> OrganisationRepository:
        return OrganisationRepository(self._conn, self.caller, self.audit)

    @cached_property
    def users(self) -> UserRepository:
        return self._scoped(UserRepository)

    @cached_property
    def tokens(self) -> TokenRepository:
        return self._scoped(TokenRepository)

    @cached_property
    def sites(self) -> SiteRepository:
        return self._scoped(SiteRepository)

    @cached_property
    def lines(self) -> LineRepository:
        return self._scoped(LineRepository)

    @cached_property
    def stations(self) -> StationRepository:
        return self._scoped(StationRepository)

    @cached_property
    def assets(self) -> AssetRepository:
        return self._scoped(AssetRepository)

    @cached_property
    def channels(self) -> SensorChannelRepository:
        return self._scoped(SensorChannelRepository)

    @cached_property
    def readings(self) -> SensorReadingRepository:
        return SensorReadingRepository(self.channels)

    @cached_property
    def parts(self) -> PartRepository:
        return self._scoped(PartRepository)

    @cached_property
    def lots(self) -> LotRepository:
        return self._scoped(LotRepository)

    @cached_property
    def parameter_specs(self) -> ParameterSpecRepository:
        return self._scoped(ParameterSpecRepository)

    @cached_property
    def maintenance_events(self) -> MaintenanceEventRepository:
        return self._scoped(MaintenanceEventRepository)

    @cached_property
    def edge_devices(self) -> EdgeDeviceRepository:
        return self._scoped(EdgeDeviceRepository)

    @cached_property
    def edge_packages(self) -> EdgePackageRepository:
        return self._scoped(EdgePackageRepository)

    @cached_property
    def labelled_images(self) -> LabelledImageRepository:
        return self._scoped(LabelledImageRepository)

    @cached_property
    def defect_types(self) -> DefectTypeRepository:
        return self._scoped(DefectTypeRepository)

    @cached_property
    def inspections(self) -> InspectionRepository:
        return self._scoped(InspectionRepository)

    @cached_property
    def process_records(self) -> ProcessRecordRepository:
        return self._scoped(ProcessRecordRepository)

    @cached_property
    def model_versions(self) -> ModelVersionRepository:
        return self._scoped(ModelVersionRepository)

    @cached_property
    def grants(self) -> GrantRepository:
        return self._scoped(GrantRepository)

    @cached_property
    def audit_events(self) -> AuditRepository:
        return self._scoped(AuditRepository)

    @cached_property
    def imports(self) -> ImportBatchRepository:
        return self._scoped(ImportBatchRepository)

    @cached_property
    def alerts(self) -> AlertRepository:
        return self._scoped(AlertRepository)

    @cached_property
    def live_checks(self) -> LiveCheckRepository:
        return self._scoped(LiveCheckRepository)

    @cached_property
    def alert_targets(self) -> AlertTargetRepository:
        return self._scoped(AlertTargetRepository)

    @cached_property
    def connectors(self) -> ConnectorRepository:
        return ConnectorRepository(self._conn, self.caller, self.audit, self.secrets)

    @cached_property
    def partners(self) -> PartnerRepository:
        return self._scoped(PartnerRepository)

    @cached_property
    def invitations(self) -> InvitationRepository:
        return self._scoped(InvitationRepository)

    @cached_property
    def packages(self) -> PackageRepository:
        return self._scoped(PackageRepository)

    @cached_property
    def kpi_reports(self) -> KpiReportRepository:
        return self._scoped(KpiReportRepository)

    @cached_property
    def rounds(self) -> RoundRepository:
        return self._scoped(RoundRepository)

    @cached_property
    def shipments(self) -> ShipmentRepository:
        return self._scoped(ShipmentRepository)

    @cached_property
    def part_defects(self) -> PartDefectRepository:
        return self._scoped(PartDefectRepository)

    @cached_property
    def root_cause(self) -> RootCauseRepository:
        return self._scoped(RootCauseRepository)

    @cached_property
    def jobs(self) -> JobRepository:
        return self._scoped(JobRepository)

    @cached_property
    def blob_index(self) -> BlobIndex:
        return BlobIndex(self.inspections)
