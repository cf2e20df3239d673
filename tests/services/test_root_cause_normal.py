"""What a lot's shift in σ is measured against: the control chart when its baseline is
clean of the asked lots, else a robust normal of the rest of the history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dure.domain.parts import Lot
from dure.domain.records import ProcessRecord
from dure.services.collaboration.root_cause_answers import compute_answer
from dure.services.platform.accounts import system_caller
from dure.store.session import Store
from tests.factories import World

PER_LOT = 8
START = datetime(2026, 2, 1, 6, 0, tzinfo=UTC)


def _lots(store: Store, world: World, temps: list[float]) -> list[str]:
    """One lot per mean die temperature (σ 2 °C within a lot), a day apart."""
    rng = np.random.default_rng(11)
    sup, part_id = world.a.org, world.a.ids["part"]
    codes = []
    with store.session(system_caller(sup)) as s:
        for k, mean in enumerate(temps):
            lot = s.lots.add(Lot(org_id=sup.id, part_id=part_id, code=f"N-L{k:02d}"))
            codes.append(lot.code)
            for i in range(PER_LOT):
                s.process_records.add(
                    ProcessRecord(
                        org_id=sup.id,
                        part_id=part_id,
                        recorded_at=START + timedelta(days=k, minutes=10 * i),
                        values={"die_temp_C": float(rng.normal(mean, 2.0))},
                        lot_id=lot.id,
                        serial=f"SN-N{k:02d}-{i}",
                    )
                )
    return codes


def _die(store: Store, world: World, lot: str) -> dict:
    with store.session(system_caller(world.a.org)) as s:
        answer = compute_answer(s, [lot], [])
    return next(p for p in answer["lots"][0]["parameters"] if p["name"] == "die_temp_C")


def test_a_lot_after_a_clean_baseline_is_measured_on_the_control_chart(
    store: Store, world: World
) -> None:
    # 24 lots in control, then a long drift of 16 lots up to +4σ of the within-lot σ
    drift = [58 + 8 * (k + 1) / 16 for k in range(16)]
    codes = _lots(store, world, [58.0] * 24 + drift)
    die = _die(store, world, codes[-1])
    assert die["normal_from"] == "control_chart"
    # the chart's σ within is 2 °C and its centre 58 °C: the last lot sits about +4σ
    assert die["shift_sigma"] == pytest.approx(4.0, abs=1.0)


def test_a_lot_inside_the_baseline_is_measured_on_the_robust_rest_of_the_history(
    store: Store, world: World
) -> None:
    # too few lots for a baseline that leaves the asked lot out: the rest of the history
    # (median, MAD) is normal, and the drifted lots around it move it little
    codes = _lots(store, world, [58.0] * 8 + [62.0, 64.0, 66.0, 68.0])
    die = _die(store, world, codes[-1])
    assert die["normal_from"] == "history"
    with store.session(system_caller(world.a.org)) as s:
        records = [r for r in s.process_records.list_own() if "die_temp_C" in r.values]
    rest = np.array([r.values["die_temp_C"] for r in records if r.serial[:6] != "SN-N11"])
    asked = np.array([r.values["die_temp_C"] for r in records if r.serial[:6] == "SN-N11"])
    diluted = (asked.mean() - rest.mean()) / rest.std(ddof=1)  # what mean ± sd would say
    assert die["shift_sigma"] > 3.3 and die["shift_sigma"] > diluted + 0.5, diluted
