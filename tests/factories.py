"""Builders of small, fully known worlds for tests."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from PIL import Image

from dure.domain.alerts import AlertKind
from dure.domain.grants import GrantScope, ShareGrant
from dure.domain.jobs import Job, JobKind, JobStatus
from dure.domain.model_versions import ModelVersion
from dure.domain.organisations import Organisation
from dure.domain.parts import DefectType, LabelledImage, Lot, PartNumber
from dure.domain.plant import Asset, Line, SensorChannel, Site, Station
from dure.domain.records import InspectionRecord, ProcessRecord
from dure.services.alerts.raising import raise_alert
from dure.services.imports.files import import_sensor_file
from dure.services.inspection.records import store_blob
from dure.services.live.connectors import save_connector
from dure.services.maintenance.events import record_event
from dure.services.platform.accounts import create_org, create_token, create_user, system_caller
from dure.services.traceability.shipments import record_shipment
from dure.store.repositories.sensor_readings import ReadingColumns
from dure.store.session import Store


def png_bytes(size: int = 32, value: int = 128) -> bytes:
    """A small valid grey PNG."""
    buf = io.BytesIO()
    Image.new("L", (size, size), value).save(buf, format="PNG")
    return buf.getvalue()


@dataclass
class Company:
    """One organisation of the test world with its tokens and the ids of its records."""

    org: Organisation
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def auth(self, role: str = "admin") -> dict[str, str]:
        """Authorization header for the user of ``role``."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@dataclass
class World:
    """An OEM, supplier A (shares inspections of its part with the OEM) and supplier B."""

    oem: Company
    a: Company
    b: Company


def _people(store: Store, org: Organisation) -> tuple[dict[str, str], dict[str, str]]:
    tokens, ids = {}, {}
    with store.session(system_caller(org)) as s:
        for role in ("admin", "engineer", "operator", "viewer"):
            user = create_user(s, f"{role}@{org.slug}.test", f"{org.slug} {role}", role)
            token, tokens[role] = create_token(s, user, "test")
            ids[f"user_{role}"] = user.id
            ids[f"token_{role}"] = token.id
    return tokens, ids


def _supplier_data(store: Store, org: Organisation, oem_part: PartNumber) -> dict[str, str]:
    now = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    with store.session(system_caller(org)) as s:
        site = s.sites.add(Site(org_id=org.id, name="Plant"))
        line = s.lines.add(Line(org_id=org.id, site_id=site.id, name="Press line"))
        station = s.stations.add(Station(org_id=org.id, line_id=line.id, name="Camera"))
        asset = s.assets.add(Asset(org_id=org.id, name="press", line_id=line.id))
        channel = s.channels.add(
            SensorChannel(org_id=org.id, asset_id=asset.id, name="vib", unit="mm/s")
        )
        part = s.parts.add(
            PartNumber(
                org_id=org.id, number=f"{org.slug}-P1", name="Panel", oem_part_id=oem_part.id
            )
        )
        lot = s.lots.add(
            Lot(org_id=org.id, part_id=part.id, code=f"{org.slug}-L1", line_id=line.id)
        )
        data = png_bytes(value=100 if org.slug == "sup-a" else 150)
        sha = store_blob(s, data, "image/png", "part.png")
        insp = s.inspections.add(
            InspectionRecord(
                org_id=org.id,
                part_id=part.id,
                image_sha256=sha,
                lot_id=lot.id,
                station_id=station.id,
                serial="S1",
            )
        )
        rec = s.process_records.add(
            ProcessRecord(
                org_id=org.id,
                part_id=part.id,
                recorded_at=now,
                values={"force": 800.0},
                units={"force": "kN"},
                lot_id=lot.id,
                serial="S1",
            )
        )
        img = s.labelled_images.add(
            LabelledImage(
                org_id=org.id, part_id=part.id, image_sha256=sha, split="train", label="good"
            )
        )
        s.readings.insert(
            ReadingColumns(
                [channel.id],
                np.zeros(3, np.int32),
                np.array([1, 2, 3], np.int64) * 10**6,
                np.ones(3),
            )
        )
        dt = s.defect_types.add(DefectType(org_id=org.id, code=f"{org.slug}-burr", name="Burr"))
        mv = s.model_versions.add(
            ModelVersion(
                org_id=org.id, name="panel-inspector", version=1, task="anomaly", part_id=part.id
            )
        )
        batch = import_sensor_file(
            s, b"asset,channel,time,value\npress,vib,2026-01-02T00:00:00Z,1\n", "first.csv"
        ).batch
        job = s.jobs.add(
            Job(
                org_id=org.id,
                kind=JobKind.INSPECT_BATCH,
                subject_id=mv.id,
                status=JobStatus.SUCCEEDED,
                progress=1.0,
            )
        )
        connector = save_connector(
            s,
            "press-line",
            "mqtt",
            {
                "host": "127.0.0.1",
                "client_id": f"dure-{org.slug}",
                "password": "broker-secret",
                "username": "dure",
                "topics": [{"filter": "plant/+/data", "asset_level": 1}],
            },
        )
        event = record_event(s, asset.id, "repair", now, "new bearing")
        alert, _ = raise_alert(
            s, AlertKind.SPC_RULE, channel.id, "WE1 one point beyond 3 sigma", "vib: 9.1 > 7.2"
        )
        return {
            "alert": alert.id,
            "maintenance_event": event.id,
            "connector": connector.id,
            "job": job.id,
            "site": site.id,
            "line": line.id,
            "station": station.id,
            "asset": asset.id,
            "channel": channel.id,
            "part": part.id,
            "lot": lot.id,
            "inspection": insp.id,
            "process_record": rec.id,
            "blob": sha,
            "labelled_image": img.id,
            "defect_type": dt.id,
            "model_version": mv.id,
            "import_batch": batch.id,
        }


def build_world(store: Store) -> World:
    """Create the world; supplier A grants the OEM its inspection records of its part."""
    with store.system() as s:
        oem = create_org(s, "OEM Co", "oem", "oem-co")
        a = create_org(s, "Supplier A", "supplier", "sup-a")
        b = create_org(s, "Supplier B", "supplier", "sup-b")
        s.organisations.link(oem.id, a.id)
        s.organisations.link(oem.id, b.id)
    companies = {}
    for org in (oem, a, b):
        tokens, ids = _people(store, org)
        companies[org.slug] = Company(org, tokens, ids)
    with store.session(system_caller(oem)) as s:
        oem_part = s.parts.add(PartNumber(org_id=oem.id, number="OEM-P1", name="Door"))
        s.defect_types.add(DefectType(org_id=oem.id, code="scratch", name="Scratch"))
    companies["oem-co"].ids["part"] = oem_part.id
    for org in (a, b):
        companies[org.slug].ids.update(_supplier_data(store, org, oem_part))
    for org in (a, b):
        with store.session(system_caller(org)) as s:
            grant = s.grants.grant(
                ShareGrant(
                    grantor_org_id=org.id,
                    grantee_org_id=oem.id,
                    scope=GrantScope.INSPECTION_RECORDS,
                    created_by=None,
                    part_id=companies[org.slug].ids["part"] if org is a else None,
                    note="test",
                )
            )
            companies[org.slug].ids["grant"] = grant.id
            if org is b:
                s.grants.revoke(grant.id)  # B's grant exists but is revoked
    with store.session(system_caller(a)) as s:  # A shipped its lot to the OEM and said so
        shipment = record_shipment(
            s,
            oem_org_id=oem.id,
            shipment_no="A-SHIP-1",
            part_id=companies[a.slug].ids["part"],
            lots=[{"code": "sup-a-L1", "quantity": 10, "serials": ["S1", "S2"]}],
            shipped_at=datetime(2026, 1, 6, 8, 0, tzinfo=UTC),
        )
        s.shipments.mark_sent(shipment.id)
        companies[a.slug].ids["shipment"] = shipment.id
    return World(companies["oem-co"], companies["sup-a"], companies["sup-b"])
