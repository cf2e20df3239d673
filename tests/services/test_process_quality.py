"""Predicted defects from process records: learned from inspection outcomes (matched by
serial), validated on later records, stored without pickle, alerts naming the causes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dure.domain.alerts import AlertKind
from dure.domain.parts import PartNumber
from dure.domain.records import InspectionRecord, ProcessRecord, Verdict
from dure.errors import StateConflict
from dure.services.inspection.records import store_blob
from dure.services.platform.accounts import create_org, system_caller
from dure.services.process.quality_models import predict_defects, train_process_model
from dure.store.session import Store
from tests.factories import png_bytes

START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def _moulding_shop(store: Store, n: int, inspected: int):  # type: ignore[no-untyped-def]
    """Injection moulding: short shots when melt temperature runs low."""
    with store.system() as s:
        org = create_org(s, "Moulding Co", "supplier", "moulding")
    caller = system_caller(org)
    rng = np.random.default_rng(0)
    with store.session(caller) as s:
        part = s.parts.add(PartNumber(org_id=org.id, number="CAP-7", name="Cap"))
        sha = store_blob(s, png_bytes(), "image/png", "cap.png")
        for i in range(n):
            melt, hold = rng.normal(230, 6), rng.normal(12, 1)
            at = START + timedelta(minutes=3 * i)
            s.process_records.add(
                ProcessRecord(
                    org_id=org.id,
                    part_id=part.id,
                    recorded_at=at,
                    serial=f"C{i:05d}",
                    values={"melt_temp": melt, "hold_pressure": hold, "cycle_s": rng.normal(30, 1)},
                )
            )
            if i < inspected:
                short = melt < 224 and rng.random() < 0.9
                s.inspections.add(
                    InspectionRecord(
                        org_id=org.id,
                        part_id=part.id,
                        image_sha256=sha,
                        serial=f"C{i:05d}",
                        verdict=Verdict.NG if short else Verdict.OK,
                        defect_type="short_shot" if short else None,
                        taken_at=at,
                    )
                )
    return caller, part


def test_learn_then_predict_defects_and_raise_one_alert(store: Store) -> None:
    caller, part = _moulding_shop(store, n=460, inspected=400)
    version = train_process_model(store, caller, part.id)
    card = version.card
    assert card["rows"] == 400 and card["classes"] == ["ok", "short_shot"]
    assert card["accuracy_later_records"] > 0.85
    assert card["defects_caught_later_records"] > 0.7
    assert card["root_causes"][0][0] == "melt_temp"
    predictions, alerts = predict_defects(store, caller, version.id, recent=60)
    assert len(predictions) == 60
    cold = [p for p in predictions if p.p_defect >= 0.5]
    assert cold and all(p.causes[0][0] == "melt_temp" for p in cold)
    assert len(alerts) == 1 and alerts[0].kind is AlertKind.PREDICTED_DEFECT
    assert "short_shot likely" in alerts[0].message and "melt_temp" in alerts[0].message
    with store.session(caller) as s:
        assert s.alerts.list().items[0].count == len(cold)


def test_a_defect_type_first_seen_in_the_latest_records_still_trains(store: Store) -> None:
    caller, part = _moulding_shop(store, n=400, inspected=400)
    with store.session(caller) as s:
        newest = max(s.inspections.list_all(part_id=part.id), key=lambda r: r.taken_at)
        s.inspections.add(
            InspectionRecord(
                org_id=caller.org_id,
                part_id=part.id,
                image_sha256=newest.image_sha256,
                serial=newest.serial,
                verdict=Verdict.NG,
                defect_type="flash",
                taken_at=newest.taken_at + timedelta(seconds=1),
            )
        )
    version = train_process_model(store, caller, part.id)
    assert "flash" in version.card["classes"]
    assert version.card["temperature"] > 0


def test_too_few_outcomes_are_refused_with_the_count(store: Store) -> None:
    caller, part = _moulding_shop(store, n=50, inspected=20)
    with pytest.raises(StateConflict, match="20 process records have an inspected outcome"):
        train_process_model(store, caller, part.id)


def test_train_and_predict_over_http(client, store: Store, world) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(5)
    org, part_id = world.a.org, world.a.ids["part"]
    with store.session(system_caller(org)) as s:
        sha = store_blob(s, png_bytes(), "image/png", "panel.png")
        for i in range(120):
            force = rng.normal(800, 20)
            at = START + timedelta(minutes=i)
            s.process_records.add(
                ProcessRecord(
                    org_id=org.id,
                    part_id=part_id,
                    recorded_at=at,
                    serial=f"H{i}",
                    values={"force": force, "speed": rng.normal(5, 1)},
                )
            )
            s.inspections.add(
                InspectionRecord(
                    org_id=org.id,
                    part_id=part_id,
                    image_sha256=sha,
                    serial=f"H{i}",
                    taken_at=at,
                    verdict=Verdict.NG if force > 815 else Verdict.OK,
                    defect_type="burr" if force > 815 else None,
                )
            )
    made = client.post(f"/api/parts/{part_id}/process-model", headers=world.a.auth("engineer"))
    assert made.status_code == 201, made.text
    assert made.json()["card"]["root_causes"][0][0] == "force"
    scored = client.post(
        f"/api/process-models/{made.json()['id']}/predict",
        params={"recent": 50},
        headers=world.a.auth("operator"),
    )
    assert scored.status_code == 200, scored.text
    body = scored.json()
    assert len(body["predictions"]) == 50
    likely = [p for p in body["predictions"] if p["p_defect"] >= 0.5]
    assert likely and likely[0]["causes"][0]["parameter"] == "force"
    assert body["new_alert_ids"]
    other = client.post(
        f"/api/process-models/{made.json()['id']}/predict", headers=world.b.auth("admin")
    )
    assert other.status_code == 404
