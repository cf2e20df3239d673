"""The demo's recent weeks of visual inspection, made with a really trained model.

For one part of each supplier the demo teaches an inspection model from the supplier's
own good images (the same job a user starts), then inspects a stream of generated parts
at the inspection station over the last ``days`` days: every record has a real score,
verdict, defect type and heat-map. Flagged parts older than two days were reviewed by the
supplier's operator (the truth is known); the newest wait in the review queue. Each
supplier keeps weekly KPI reports and grants the OEM the right to read them, so the OEM's
scorecard has something to show.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from dure.domain.grants import GrantScope, ShareGrant
from dure.domain.organisations import Organisation
from dure.domain.records import ReviewDecision, Verdict
from dure.domain.users import Caller, Role
from dure.services.collaboration.kpi_reports import compute_report
from dure.services.demo.sheet_metal import DEFECT_TYPES, sheet_image
from dure.services.inspection.inspect import inspect_image
from dure.services.inspection.records import ImageLimits, Placement
from dure.services.inspection.reviews import review_inspection
from dure.services.inspection.teaching import (
    TrainingSettings,
    create_inspection_model,
    queue_training,
)
from dure.services.platform.accounts import system_caller
from dure.services.platform.jobs import JobRunner
from dure.services.platform.model_files import InspectorCache
from dure.store.session import Store

# Share of defective parts per supplier at the start and at the end of the window.
DEFECT_SHARE = {"daesung": (0.04, 0.05), "mirae": (0.04, 0.16), "hanul": (0.08, 0.10)}
UNREVIEWED_DAYS = 2
LIMITS = ImageLimits(max_bytes=8 << 20, max_pixels=4_000_000)


def _png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def _user_caller(store: Store, org: Organisation, role: Role) -> Caller:
    with store.session(system_caller(org)) as s:
        user = next(u for u in s.users.list_all() if u.role == role)
    return Caller(org_id=org.id, user_id=user.id, role=role, org_kind=org.kind)


def teach_demo_model(store: Store, home: Path, org: Organisation, part_id: str) -> str:
    """Train the part's inspection model now, as the supplier's engineer; its id."""
    engineer = _user_caller(store, org, Role.ENGINEER)
    with store.session(engineer) as s:
        model = create_inspection_model(
            s, part_id, settings=TrainingSettings(image_size=128, coreset_ratio=0.25)
        )
        job = queue_training(s, model.id)
    runner = JobRunner(store, home / "work", InspectorCache(store.blobs, home / "models"))
    runner.run_next(job.id)
    with store.session(engineer) as s:
        done = s.jobs.get(job.id)
    if done.status != "succeeded":
        raise RuntimeError(f"the demo model of {org.slug} did not train: {done.error}")
    return model.id


def inspection_history(
    store: Store,
    home: Path,
    org: Organisation,
    oem: Organisation,
    part_id: str,
    part_number: str,
    station_id: str,
    end: datetime,
    days: int,
    per_day: int,
    seed: int,
) -> dict[str, Any]:
    """Inspect ``per_day`` generated parts a day for ``days`` days before ``end``."""
    model_id = teach_demo_model(store, home, org, part_id)
    engineer = _user_caller(store, org, Role.ENGINEER)
    operator = _user_caller(store, org, Role.OPERATOR)
    cache = InspectorCache(store.blobs, home / "models")
    rng = np.random.default_rng(seed)
    first, last = DEFECT_SHARE.get(org.slug, (0.05, 0.05))
    truth: list[dict[str, Any]] = []
    start = end - timedelta(days=days)
    for day in range(days):
        share = first + (last - first) * day / max(days - 1, 1)
        for k in range(per_day):
            label = str(rng.choice(DEFECT_TYPES)) if rng.random() < share else "good"
            taken = start + timedelta(days=day, hours=6 + 16 * (k + rng.random()) / per_day)
            serial = f"{part_number}-{taken:%m%d}-{k:03d}"
            pixels = sheet_image(seed * 100_000 + day * 1000 + k, label).pixels
            outcome = inspect_image(
                store,
                cache,
                engineer,
                model_id,
                _png(pixels),
                f"{serial}.png",
                LIMITS,
                Placement(part_id=part_id, station_id=station_id, taken_at=taken),
                serial,
            )
            record = outcome.record
            flagged = record.verdict in (Verdict.NG, Verdict.UNSURE)
            if flagged and taken < end - timedelta(days=UNREVIEWED_DAYS):
                decision = ReviewDecision.ACCEPT if label == "good" else ReviewDecision.REJECT
                if label != "good" and record.defect_type not in (None, label):
                    decision = ReviewDecision.RELABEL
                with store.session(operator) as s:
                    review_inspection(s, record.id, decision, None if label == "good" else label)
            truth.append({"serial": serial, "label": label, "verdict": str(record.verdict)})
    _weekly_reports(store, org, oem, part_id, end, days)
    return {"model_id": model_id, "inspected": truth}


def _weekly_reports(
    store: Store, org: Organisation, oem: Organisation, part_id: str, end: datetime, days: int
) -> None:
    """KPI reports of each full or partial week, and the OEM's grant to read them."""
    admin = system_caller(org)
    with store.session(admin) as s:
        cursor = end - timedelta(days=days)
        while cursor < end:
            stop = min(cursor + timedelta(days=7), end)
            s.kpi_reports.add(
                compute_report(
                    s,
                    part_id,
                    cursor,
                    stop,
                    [{"name": "press_force_kN", "lsl": 740.0, "usl": 900.0}],
                )
            )
            cursor = stop
        s.grants.grant(
            ShareGrant(
                grantor_org_id=org.id,
                grantee_org_id=oem.id,
                scope=GrantScope.KPI_REPORTS,
                created_by=None,
                part_id=part_id,
                note="weekly KPI reports of the door panel for Hanbit's scorecard",
            )
        )
