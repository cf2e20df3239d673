"""The demo's recent weeks of visual inspection, made with a really trained model.

For one part of each supplier the demo teaches an inspection model from the supplier's
own good images (the same job a user starts), then inspects a stream of generated parts
at the inspection station over the last ``days`` days: every record has a real score,
verdict, defect type and heat-map. Flagged parts older than two days were reviewed by the
supplier's operator (the truth is known); the newest wait in the review queue. Each
supplier keeps weekly KPI reports and grants the OEM the right to read them, so the OEM's
scorecard has something to show.

The inspected parts are parts the press made: each carries the serial of one of that
day's process records of the part (inspected within three hours of pressing), so the
part's process-quality model can learn from them. How many parts a day are defective
follows the supplier's ``DEFECT_SHARE`` trend (drawn exactly as before the link, so the
review queue and the KPI reports keep their shape); *which* of the day's parts are
defective follows the process: the day's defective parts are its records with the highest
true defect probability (``plant_data.defect_probability``), and a defective part shows
the defect of the driver behind its risk (``plant_data.CAUSE_DEFECT``: a hot die cracks,
lubricant starvation scratches, thin sheet dents; no driver out of its window keeps the
drawn type). The share trend and the process truth disagree on levels (the true rule
gives about 2–4 % a day; Mirae's rise to 16 % comes from its wearing press, which no
process parameter records), so the trend sets how many and the process sets which:
ranking within the day keeps the trend exact and lets the process parameters explain
the defects (Hanul's drifting die heat shows as cracks on its hottest parts).
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
from dure.services.demo.plant_data import CAUSE_DEFECT
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


def user_caller(store: Store, org: Organisation, role: Role) -> Caller:
    """The caller of the organisation's first demo user of ``role``."""
    with store.session(system_caller(org)) as s:
        user = next(u for u in s.users.list_all() if u.role == role)
    return Caller(org_id=org.id, user_id=user.id, role=role, org_kind=org.kind)


def teach_demo_model(store: Store, home: Path, org: Organisation, part_id: str) -> str:
    """Train the part's inspection model now, as the supplier's engineer; its id."""
    engineer = user_caller(store, org, Role.ENGINEER)
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
    process: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Inspect ``per_day`` generated parts a day for ``days`` days before ``end``.

    ``process`` is the truth of the supplier's process records (``plant_data.process_csv``):
    the part's records of each inspected day give the inspected parts their serials and
    decide which of them are defective (see the module docstring). Days without enough
    records of the part inspect parts of unknown history under serials of their own.
    """
    model_id = teach_demo_model(store, home, org, part_id)
    engineer = user_caller(store, org, Role.ENGINEER)
    operator = user_caller(store, org, Role.OPERATOR)
    cache = InspectorCache(store.blobs, home / "models")
    rng = np.random.default_rng(seed)
    first, last = DEFECT_SHARE.get(org.slug, (0.05, 0.05))
    truth: list[dict[str, Any]] = []
    start = end - timedelta(days=days)
    pressed = _pressed_by_day(process or [], part_number, start, days)
    for day in range(days):
        share = first + (last - first) * day / max(days - 1, 1)
        drawn = []  # (label, a uniform draw for its time) per part, drawn as before the link
        for _ in range(per_day):
            label = str(rng.choice(DEFECT_TYPES)) if rng.random() < share else "good"
            drawn.append((label, rng.random()))
        made = _made_parts(drawn, pressed[day], part_number, start + timedelta(days=day))
        for k, (label, taken, serial) in enumerate(made):
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


def _pressed_by_day(
    process: list[dict[str, Any]], part_number: str, start: datetime, days: int
) -> list[list[dict[str, Any]]]:
    """The part's process records (truth rows) of each inspected day, oldest first."""
    out: list[list[dict[str, Any]]] = [[] for _ in range(days)]
    for row in process:
        if row.get("part") != part_number:
            continue
        day = (datetime.fromisoformat(row["at"]) - start) // timedelta(days=1)
        if 0 <= day < days:
            out[day].append(row)
    for rows in out:
        rows.sort(key=lambda r: r["at"])
    return out


def _made_parts(
    drawn: list[tuple[str, float]],
    pressed: list[dict[str, Any]],
    part_number: str,
    day_start: datetime,
) -> list[tuple[str, datetime, str]]:
    """(label, taken at, serial) of a day's inspected parts. With a process record for each
    part: the defective parts are the records of highest true defect probability (their
    defect the one their driver causes), the good parts the others in pressing order, each
    inspected 20 minutes to three hours after it was pressed (so a day's inspections end
    at about 22:00 after the day's start, as before the link). Else parts of unknown
    history at the old times."""
    per_day = len(drawn)
    if len(pressed) < per_day:
        unknown = []
        for k, (label, u) in enumerate(drawn):
            taken = day_start + timedelta(hours=6 + 16 * (k + u) / per_day)
            unknown.append((label, taken, f"{part_number}-{taken:%m%d}-{k:03d}"))
        return unknown
    n_bad = sum(label != "good" for label, _ in drawn)
    riskiest = sorted(pressed, key=lambda r: -r["p_defect"])[:n_bad]
    chosen = {r["serial"] for r in riskiest}
    bad = iter(riskiest)
    good = iter(r for r in pressed if r["serial"] not in chosen)
    out = []
    for label, u in drawn:
        row = next(good) if label == "good" else next(bad)
        if label != "good" and row.get("cause"):
            label = CAUSE_DEFECT[row["cause"]]
        taken = datetime.fromisoformat(row["at"]) + timedelta(minutes=20 + 150 * u)
        out.append((label, taken, str(row["serial"])))
    return out


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
