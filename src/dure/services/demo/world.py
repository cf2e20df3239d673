"""Builds the demo world into a store: Hanbit Appliances and three sheet-metal suppliers."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from dure.domain.grants import GrantScope, ShareGrant
from dure.domain.organisations import Organisation
from dure.domain.parts import DefectType, LabelledImage, Lot, ParameterSpec, PartNumber
from dure.domain.plant import Asset, Line, Site, Station
from dure.domain.users import Role
from dure.errors import NotFound, StateConflict
from dure.ingest.process_files import ProcessSchema
from dure.services.demo.inspection_history import inspection_history, user_caller
from dure.services.demo.plant_data import (
    DEFECT_DRIVERS,
    PROCESS_SCHEMA,
    PROCESS_SPECS,
    process_csv,
    sensor_csv,
)
from dure.services.demo.root_cause_story import SUPPLIER as ROOT_CAUSE_SUPPLIER
from dure.services.demo.root_cause_story import root_cause_story
from dure.services.demo.shared_model import (
    SHARED_WITH,
    publish_oem_model,
    share_with,
    take_shared_model,
)
from dure.services.demo.sheet_metal import DEFECT_TYPES, sheet_image
from dure.services.demo.traceability import SUPPLIER as SHIPPING_SUPPLIER
from dure.services.demo.traceability import ship_and_find_cracks
from dure.services.imports.files import import_process_file, import_sensor_file
from dure.services.inspection.records import store_blob
from dure.services.platform.accounts import create_org, create_token, create_user, system_caller
from dure.services.process.quality_models import train_process_model
from dure.store.session import Store

OEM = ("Hanbit Appliances", "hanbit")
SUPPLIERS = (("Daesung Press", "daesung"), ("Mirae Metal", "mirae"), ("Hanul Stamping", "hanul"))
OEM_PARTS = (("HB-DOOR-01", "Refrigerator door outer panel"), ("HB-SIDE-02", "Washer side panel"))
DEGRADING = "mirae"  # this supplier's press wears out towards the end of the 30 days
DEMO_PASSWORD = "dure-demo-1234"


@dataclass(frozen=True)
class DemoSummary:
    """What the demo build made, and where its tokens and ground truth are written."""

    created: bool
    tokens_file: Path
    ground_truth_file: Path
    seconds: float


def build_demo(
    store: Store,
    home: Path,
    seed: int = 7,
    days: int = 30,
    images_per_supplier: int = 40,
    end: datetime | None = None,
    history_days: int = 14,
    parts_per_day: int = 12,
) -> DemoSummary:
    """Create the demo world once (a second call changes nothing); deterministic by ``seed``.

    With ``history_days``, each supplier's door panel gets a trained inspection model and
    ``parts_per_day`` inspected parts a day for that many days (see inspection_history):
    parts the press made (their serials are the door panel's process records of the day,
    so the door panel gets at least ``parts_per_day`` records a day), and a trained
    process-quality model learnt from them, so the Process page shows root causes and
    setpoint advice from the start.
    """
    started = time.perf_counter()
    tokens_file, truth_file = home / "demo-tokens.json", home / "demo-ground-truth.json"
    with store.system() as s:
        try:
            s.organisations.get_by_slug(OEM[1])
            return DemoSummary(False, tokens_file, truth_file, time.perf_counter() - started)
        except NotFound:
            pass
    end = end or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    rng = np.random.default_rng(seed)
    tokens: dict[str, dict[str, str]] = {}
    truth: dict[str, object] = {
        "seed": seed,
        "start": start.isoformat(),
        "days": days,
        "defect_drivers": list(DEFECT_DRIVERS),
        "suppliers": {},
    }
    with store.system() as s:
        operator = create_org(s, "Dure AI Centre", "operator", "dure-centre")
        oem = create_org(s, OEM[0], "oem", OEM[1])
        suppliers = [create_org(s, name, "supplier", slug) for name, slug in SUPPLIERS]
        for sup in suppliers:
            s.organisations.link(oem.id, sup.id)
    tokens["dure-centre"] = _people(store, operator)
    tokens["hanbit"] = _people(store, oem)
    oem_parts = _oem_catalogue(store, oem)
    shared = None
    if history_days:  # Hanbit's base model, shared with Hanul on this install
        shared = publish_oem_model(store, home, oem, oem_parts[0], seed * 100 + 99)
        truth["shared_model"] = {"golden_images": shared["golden_images"], "with": SHARED_WITH}
    for i, sup in enumerate(suppliers):
        tokens[sup.slug] = _people(store, sup)
        world = _supplier_world(
            store,
            sup,
            oem,
            oem_parts,
            rng,
            start,
            days,
            images_per_supplier,
            seed * 100 + i,
            _process_per_day(len(oem_parts), parts_per_day if history_days else 0),
        )
        part = world.pop("part")  # ids are random: not part of the (seeded) ground truth
        if shared is not None and sup.slug == SHARED_WITH:
            share_with(store, oem, sup, oem_parts[0])
            taken = take_shared_model(store, home, sup, str(shared["package_id"]))
            world["shared_model"] = {"parity": taken["parity"], "adapted": True}
        if history_days:
            world["inspections"] = inspection_history(
                store,
                home,
                sup,
                oem,
                part["id"],
                part["number"],
                part["station_id"],
                end,
                history_days,
                parts_per_day,
                seed * 100 + i,
                world["process"],  # type: ignore[arg-type]
            )
            world["process_model"] = _train_process_model(store, sup, part["id"])
        if sup.slug == SHIPPING_SUPPLIER:  # Hanul ships to Hanbit, which finds cracks
            world["traceability"] = ship_and_find_cracks(
                store,
                sup,
                oem,
                part,
                start,
                days,
                world["process"],  # type: ignore[arg-type]
            )
        truth["suppliers"][sup.slug] = world  # type: ignore[index]
        if sup.slug == ROOT_CAUSE_SUPPLIER:
            truth["root_cause"] = root_cause_story(store, home, oem, sup)
    home.mkdir(parents=True, exist_ok=True)
    tokens_file.write_text(json.dumps(tokens, indent=2))
    tokens_file.chmod(0o600)
    truth_file.write_text(json.dumps(truth, indent=1))
    return DemoSummary(True, tokens_file, truth_file, time.perf_counter() - started)


def _process_per_day(n_parts: int, inspected_per_day: int) -> int:
    """Process records a day over all parts: ten, or enough for each part to have the
    inspected parts of a day among them."""
    return max(10, n_parts * inspected_per_day)


def _train_process_model(store: Store, org: Organisation, part_id: str) -> dict[str, object]:
    """Train the part's process-quality model as the supplier's engineer would (the Process
    page's Train button); its rows and top root causes, or why it could not be trained."""
    engineer = user_caller(store, org, Role.ENGINEER)
    try:
        version = train_process_model(store, engineer, part_id, name="door panel quality")
    except StateConflict as why:
        return {"trained": False, "why": str(why)}
    return {
        "trained": True,
        "rows": version.card["rows"],
        "root_causes": [name for name, _ in version.card["root_causes"]],
    }


def _people(store: Store, org: Organisation) -> dict[str, str]:
    out = {}
    with store.session(system_caller(org)) as s:
        for role in ("admin", "engineer", "operator", "viewer"):
            user = create_user(
                s, f"{role}@{org.slug}.example", f"{org.name} {role}", role, DEMO_PASSWORD
            )
            _, secret = create_token(s, user, "demo")
            out[role] = secret
    return out


def _oem_catalogue(store: Store, oem: Organisation) -> list[PartNumber]:
    with store.session(system_caller(oem)) as s:
        for sev, code in enumerate(DEFECT_TYPES):
            s.defect_types.add(
                DefectType(
                    org_id=oem.id,
                    code=code,
                    name=code.capitalize(),
                    severity=3 if code in ("crack", "rust") else 2 - sev % 2,
                )
            )
        return [s.parts.add(PartNumber(org_id=oem.id, number=n, name=d)) for n, d in OEM_PARTS]


def _supplier_world(
    store: Store,
    sup: Organisation,
    oem: Organisation,
    oem_parts: list[PartNumber],
    rng: np.random.Generator,
    start: datetime,
    days: int,
    n_images: int,
    img_seed: int,
    process_per_day: int,
) -> dict[str, object]:
    with store.session(system_caller(sup)) as s:
        site = s.sites.add(Site(org_id=sup.id, name=f"{sup.name} plant 1"))
        line = s.lines.add(Line(org_id=sup.id, site_id=site.id, name="Press line 1"))
        stations = [
            s.stations.add(Station(org_id=sup.id, line_id=line.id, name=n, kind=k))
            for n, k in (
                ("Blanking", "process"),
                ("Press 800t", "process"),
                ("Visual inspection", "inspection"),
            )
        ]
        s.assets.add(
            Asset(
                org_id=sup.id,
                name="press-800t",
                line_id=line.id,
                station_id=stations[1].id,
                kind="press",
            )
        )
        parts = [
            s.parts.add(
                PartNumber(
                    org_id=sup.id,
                    number=f"{sup.slug.upper()}-{op.number}",
                    name=op.name,
                    oem_part_id=op.id,
                )
            )
            for op in oem_parts
        ]
        for p in parts:
            for name, (lower, upper) in PROCESS_SPECS.items():
                s.parameter_specs.put(
                    ParameterSpec(
                        org_id=sup.id, part_id=p.id, parameter=name, lower=lower, upper=upper
                    )
                )
        lot_codes = [[f"{p.number}-L{d:02d}" for d in range(days)] for p in parts]
        for p, codes in zip(parts, lot_codes, strict=True):
            for d, code in enumerate(codes):
                s.lots.add(
                    Lot(
                        org_id=sup.id,
                        part_id=p.id,
                        code=code,
                        line_id=line.id,
                        started_at=start + timedelta(days=d, hours=6),
                        quantity=400,
                    )
                )
        drift = 12.0 if sup.slug == "hanul" else 0.0
        data, process_truth = process_csv(
            rng,
            start,
            days,
            [p.number for p in parts],
            line.name,
            lot_codes,
            process_per_day,
            drift,
        )
        import_process_file(s, data, "demo-process.csv", ProcessSchema.from_dict(PROCESS_SCHEMA))
        fails = days + 1.0 if sup.slug == DEGRADING else None
        import_sensor_file(
            s, sensor_csv(rng, "press-800t", start, days, 10, fails), "demo-sensors.csv"
        )
        images = _images(s, sup, parts[0], n_images, img_seed)
        if sup.slug == "daesung":  # one supplier shares its inspection results with the OEM
            s.grants.grant(
                ShareGrant(
                    grantor_org_id=sup.id,
                    grantee_org_id=oem.id,
                    scope=GrantScope.INSPECTION_RECORDS,
                    created_by=None,
                    part_id=parts[0].id,
                    note="incoming quality for HB-DOOR-01",
                )
            )
    return {
        "part": {"id": parts[0].id, "number": parts[0].number, "station_id": stations[2].id},
        "process": process_truth,
        "press_fails_at": (start + timedelta(days=fails)).isoformat() if fails else None,
        "die_temp_drift_C": drift,
        "images": images,
    }


def _images(s, sup, part, n, seed):  # type: ignore[no-untyped-def]
    labels = ["good"] * (n - n // 4) + [DEFECT_TYPES[k % 5] for k in range(n // 4)]
    truth = []
    for k, label in enumerate(labels):
        img = sheet_image(seed * 1000 + k, label)
        data, mask = img.png(), img.mask_png()
        sha = store_blob(s, data, "image/png", f"{sup.slug}-{k:03d}.png")
        mask_sha = store_blob(s, mask, "image/png", f"{sup.slug}-{k:03d}_mask.png")
        split = "train" if label == "good" and k < n // 2 else "test"
        s.labelled_images.add(
            LabelledImage(
                org_id=sup.id,
                part_id=part.id,
                image_sha256=sha,
                mask_sha256=mask_sha,
                split=split,
                label=label,
                source_name=f"{sup.slug}-{k:03d}.png",
            )
        )
        truth.append({"sha256": sha, "label": label, "split": split, "mask_sha256": mask_sha})
    return truth
