"""The store and its unit of work: one transaction, one caller, every repository scoped to it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Connection, Engine

from dure.domain.users import Caller
from dure.settings import Settings
from dure.store.audit_log import AuditLog
from dure.store.blobs import BlobStore
from dure.store.engine import make_engine, migrate
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
from dure.store.repositories.grants import GrantRepository
from dure.store.repositories.jobs import JobRepository
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
from dure.store.repositories.sensor_readings import SensorReadingRepository
from dure.store.repositories.users import TokenRepository, UserRepository, authenticate


@dataclass
class Store:
    """The database engine plus the blob folder."""

    engine: Engine
    blobs: BlobStore

    @classmethod
    def open(cls, settings: Settings, *, upgrade: bool = True) -> Store:
        """Open (and by default migrate) the store that ``settings`` describe."""
        settings.home.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.resolved_database_url)
        if upgrade:
            migrate(engine)
        return cls(engine=engine, blobs=BlobStore(settings.blob_dir))

    @contextmanager
    def session(self, caller: Caller | None) -> Iterator[Session]:
        """One transaction acting as ``caller``; commits on success, rolls back on error."""
        with self.engine.begin() as conn:
            yield Session(conn, caller, self.blobs)

    def caller_for_token(self, secret: str) -> Caller:
        """Resolve a bearer token to its caller (raises Unauthenticated)."""
        with self.engine.begin() as conn:
            return authenticate(conn, secret)


class Session:
    """Repositories bound to one connection and one caller."""

    def __init__(self, conn: Connection, caller: Caller | None, blobs: BlobStore) -> None:
        self.conn = conn
        self._caller = caller
        self.blob_store = blobs
        self.audit = AuditLog(conn, caller)

    @property
    def caller(self) -> Caller:
        """The acting caller; system sessions (no caller) cannot use tenant repositories."""
        if self._caller is None:
            raise RuntimeError("this repository needs a caller; open the session with one")
        return self._caller

    def _scoped(self, repo_type):  # type: ignore[no-untyped-def]
        return repo_type(self.conn, self.caller, self.audit)

    @cached_property
    def organisations(self) -> OrganisationRepository:
        return OrganisationRepository(self.conn, self._caller, self.audit)

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
    def alert_targets(self) -> AlertTargetRepository:
        return self._scoped(AlertTargetRepository)

    @cached_property
    def connectors(self) -> ConnectorRepository:
        return self._scoped(ConnectorRepository)

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
    def jobs(self) -> JobRepository:
        return self._scoped(JobRepository)

    @cached_property
    def blob_index(self) -> BlobIndex:
        return BlobIndex(self.inspections)
