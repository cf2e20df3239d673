"""A hostile supplier install's KPI reports (which carry parity since issue 18), over real
HTTP: figures with NaN, or parity of another shape, are refused naming the field, and the
OEM's scorecard keeps loading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dure.settings import Settings
from dure.store.session import Store
from tests.collab.peer_attacker import Attacker, link_attacker
from tests.factories import World


@pytest.fixture
def mallory(
    settings: Settings, store: Store, client: TestClient, world: World, tmp_path: Path
) -> Attacker:
    """A supplier install linked to the world's OEM, with a KPI_REPORTS grant to it."""
    mallory = link_attacker(settings, store, client, world.oem.org, tmp_path / "mk", "supplier")
    grant = {
        "id": "g" * 32,
        "grantor_org_id": mallory.org.id,
        "grantee_org_id": world.oem.org.id,
        "scope": "kpi_reports",
        "part_number": "OEM-P1",
    }
    r = mallory.post("/peer/v1/grants", grant)
    assert r.status_code == 200, r.text
    return mallory


def _report(n: int, figures: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"{n:032d}",
        "part_number": "OEM-P1",
        "period_start": f"2026-11-{n + 1:02d}T00:00:00+00:00",
        "period_end": f"2026-11-{n + 2:02d}T00:00:00+00:00",
        "figures": figures,
    }


HONEST = {
    "inspected": 400,
    "defective": 2,
    "defects_by_type": {"crack": 2},
    "ppm": 5000.0,
    "first_pass_yield": 0.995,
    "drift": {"psi": 0.02, "flag": False},
    "parity": {
        "status": "mismatch",
        "max_score_drift": 0.3,
        "models": [{"status": "mismatch", "cause": "the input differs", "max_map_drift": 1e9}],
    },
}
BAD: list[tuple[str, dict[str, Any], str]] = [
    ("parity_text", {"parity": "ok"}, "figures.parity"),
    ("parity_models_text", {"parity": {"models": ["m"]}}, "figures.parity.models[0]"),
    ("drift_nan", {"parity": {"max_score_drift": float("nan")}}, "figures.parity.max_score_drift"),
    ("ppm_text", {"ppm": "low"}, "figures.ppm"),
    ("ppm_inf", {"ppm": float("inf")}, "figures.ppm"),
    ("deep", {"extra": [[[[[[[[[[1]]]]]]]]]]}, "figures.extra"),
    ("defects_text", {"defects_by_type": ["crack"]}, "figures.defects_by_type"),
]


def test_an_honest_report_reaches_the_scorecard(
    mallory: Attacker, client: TestClient, world: World
) -> None:
    r = mallory.post("/peer/v1/kpi-reports", _report(1, HONEST))
    assert r.status_code == 201, r.text
    card = client.get("/api/scorecard", headers=world.oem.auth("viewer"))
    assert card.status_code == 200, card.text
    (row,) = [s for s in card.json()["suppliers"] if s["supplier_org_id"] == mallory.org.id]
    assert row["parity"]["status"] == "mismatch" and row["parity"]["cause"] == "the input differs"


@pytest.mark.parametrize(("name", "change", "field"), BAD, ids=[b[0] for b in BAD])
def test_a_malformed_report_is_refused_and_the_scorecard_still_loads(
    mallory: Attacker, client: TestClient, world: World, name: str, change: dict, field: str
) -> None:
    r = mallory.post("/peer/v1/kpi-reports", _report(2, {**HONEST, **change}))
    assert r.status_code == 422, r.text
    assert r.json()["field"].startswith(field), r.json()
    card = client.get("/api/scorecard", headers=world.oem.auth("viewer"))
    assert card.status_code == 200, card.text
    assert all(s["supplier_org_id"] != mallory.org.id for s in card.json()["suppliers"])
