"""A supplier with lots, process records, inspections and a trained process-quality model,
whose die runs hot in its last lots (cracks follow), and a ROOT_CAUSE grant to its OEM."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from dure.collab.signing import KeyRing
from dure.domain.grants import GrantScope, ShareGrant
from dure.domain.parts import Lot, ParameterSpec
from dure.domain.records import InspectionRecord, ProcessRecord, Verdict
from dure.domain.users import Caller, Role
from dure.services.collaboration.context import Collab
from dure.services.inspection.records import store_blob
from dure.services.platform.accounts import system_caller
from dure.services.process.quality_models import train_process_model
from dure.store.session import Store
from tests.factories import World, png_bytes

LOTS = [f"RC-L{k:02d}" for k in range(8)]
HOT = {"RC-L06", "RC-L07"}  # the die drifts hot in these
SMALL = "RC-SMALL"  # three parts only: below k
PER_LOT = 10
LOOSE = 8  # parts made outside any lot on one day
LOOSE_DAY = datetime(2026, 1, 30, 6, 0, tzinfo=UTC)


@dataclass
class RootCauseWorld:
    """The test world plus what the root-cause tests look for."""

    world: World
    ctx: Collab
    grant_id: str
    part_id: str
    record_ids: list[str] = field(default_factory=list)
    inspection_ids: list[str] = field(default_factory=list)
    lot_ids: list[str] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    serials: dict[str, list[str]] = field(default_factory=dict)

    def caller(self, company: str, role: Role) -> Caller:
        comp = getattr(self.world, company)
        return Caller(
            org_id=comp.org.id,
            user_id=comp.ids[f"user_{role.value}"],
            role=role,
            org_kind=comp.org.kind,
        )


def build_root_cause_world(store: Store, world: World, home: Path) -> RootCauseWorld:
    """Eight lots of ten parts of supplier A's part (the last two hot), a lot of three,
    the inspections that follow, a process-quality model and A's ROOT_CAUSE grant to the OEM."""
    rng = np.random.default_rng(3)
    sup = world.a.org
    part_id = world.a.ids["part"]
    start = datetime(2026, 1, 10, 6, 0, tzinfo=UTC)
    ctx = Collab(store=store, keys=KeyRing(home / "keys"), public_url="http://x", work_dir=home)
    out = RootCauseWorld(world, ctx, "", part_id)
    with store.session(system_caller(sup)) as s:
        s.parameter_specs.put(
            ParameterSpec(
                org_id=sup.id, part_id=part_id, parameter="die_temp_C", lower=46, upper=70
            )
        )
        sha = store_blob(s, png_bytes(value=90), "image/png", "rc.png")
        for k, code in enumerate([*LOTS, SMALL]):
            lot = s.lots.add(Lot(org_id=sup.id, part_id=part_id, code=code))
            out.lot_ids.append(lot.id)
            n = 3 if code == SMALL else PER_LOT
            out.serials[code] = []
            for i in range(n):
                die = float(rng.normal(66 if code in HOT else 58, 2.0))
                force = float(rng.normal(820, 10))
                serial = f"SN-{code}-{i:02d}"
                at = start + timedelta(days=k, minutes=20 * i)
                rec = s.process_records.add(
                    ProcessRecord(
                        org_id=sup.id,
                        part_id=part_id,
                        recorded_at=at,
                        values={"die_temp_C": die, "press_force_kN": force},
                        units={"die_temp_C": "°C", "press_force_kN": "kN"},
                        lot_id=lot.id,
                        serial=serial,
                    )
                )
                bad = die > 63
                insp = s.inspections.add(
                    InspectionRecord(
                        org_id=sup.id,
                        part_id=part_id,
                        image_sha256=sha,
                        lot_id=lot.id,
                        serial=serial,
                        verdict=Verdict.NG if bad else Verdict.OK,
                        defect_type="crack" if bad else None,
                        score=0.9 if bad else 0.1,
                        taken_at=at + timedelta(minutes=30),
                    )
                )
                out.record_ids.append(rec.id)
                out.inspection_ids.append(insp.id)
                out.values += [die, force]
                out.serials[code].append(serial)
        out.serials["loose"] = []
        for i in range(LOOSE):
            die, serial = float(rng.normal(58, 2.0)), f"SN-LOOSE-{i:02d}"
            rec = s.process_records.add(
                ProcessRecord(
                    org_id=sup.id,
                    part_id=part_id,
                    recorded_at=LOOSE_DAY + timedelta(minutes=30 * i),
                    values={"die_temp_C": die},
                    serial=serial,
                )
            )
            out.record_ids.append(rec.id)
            out.values.append(die)
            out.serials["loose"].append(serial)
        grant = s.grants.grant(
            ShareGrant(
                grantor_org_id=sup.id,
                grantee_org_id=world.oem.org.id,
                scope=GrantScope.ROOT_CAUSE,
                created_by=None,
                note="why were these lots bad",
            )
        )
        out.grant_id = grant.id
    train_process_model(store, out.caller("a", Role.ENGINEER), part_id)
    return out
