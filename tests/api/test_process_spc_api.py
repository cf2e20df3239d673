"""Process SPC over HTTP: charts per parameter, spec limits, and the Process page's view
with root causes and setpoint advice; scoped to the caller's organisation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from dure.domain.records import InspectionRecord, ProcessRecord, Verdict
from dure.services.inspection.records import store_blob
from dure.services.platform.accounts import system_caller
from dure.store.session import Store
from tests.factories import World, png_bytes

START = datetime(2026, 2, 2, 6, 0, tzinfo=UTC)


def _records(store: Store, world: World, n: int = 160) -> None:
    """Supplier A's part: force drifts up after record 120; force over 815 kN makes burrs."""
    rng = np.random.default_rng(5)
    org, part_id = world.a.org, world.a.ids["part"]
    with store.session(system_caller(org)) as s:
        sha = store_blob(s, png_bytes(), "image/png", "panel.png")
        for i in range(n):
            force = rng.normal(800, 10) + (0.6 * (i - 120) if i >= 120 else 0.0)
            at = START + timedelta(minutes=10 * i)
            s.process_records.add(
                ProcessRecord(
                    org_id=org.id,
                    part_id=part_id,
                    recorded_at=at,
                    serial=f"H{i}",
                    values={"force": force, "speed": rng.normal(5, 0.2)},
                    units={"force": "kN", "speed": "m/s"},
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


def test_charts_specs_and_the_process_view(client, store: Store, world: World) -> None:  # type: ignore[no-untyped-def]
    _records(store, world)
    part_id = world.a.ids["part"]
    engineer = world.a.auth("engineer")
    put = client.put(
        f"/api/parts/{part_id}/process-specs/force",
        json={"lower": 760, "upper": 840},
        headers=engineer,
    )
    assert put.status_code == 200, put.text
    assert put.json()["lower"] == 760 and put.json()["upper"] == 840

    charts = client.get(
        f"/api/parts/{part_id}/process-charts", params={"parameter": "force"}, headers=engineer
    )
    assert charts.status_code == 200, charts.text
    (force,) = charts.json()["charts"]
    assert force["parameter"] == "force" and force["unit"] == "kN"
    # the factory's one record of this part has a lot; the 160 new ones do not: I-MR
    assert force["kind"] == "i-mr" and force["baseline"] == 50
    assert len(force["values"]) == len(force["times"]) == len(force["ucl"]) == 161
    late = [v for v in force["violations"] if v["index"] >= 121]
    assert late and {"rule", "name", "index", "time", "value"} <= set(late[0])
    assert force["violations_by_rule"]["WE1"]
    cpk = force["capability"]["cpk"]
    assert cpk["lower"] < cpk["value"] < cpk["upper"]
    assert force["capability"]["upper_spec"] == 840

    trained = client.post(f"/api/parts/{part_id}/process-model", headers=engineer)
    assert trained.status_code == 201, trained.text
    view = client.get("/api/dashboard/process", params={"part_id": part_id}, headers=engineer)
    assert view.status_code == 200, view.text
    body = view.json()
    assert body["part"]["id"] == part_id and body["parameters"] == ["force", "speed"]
    assert body["specs"] == {"force": {"lower": 760, "upper": 840}}
    assert [c["parameter"] for c in body["charts"]] == ["force", "speed"]
    defects = body["defects"]
    assert defects["model_id"] == trained.json()["id"]
    assert defects["causes"][0]["parameter"] == "force"
    assert defects["causes"][0]["contribution"] > defects["causes"][1]["contribution"]
    (move,) = [m for m in defects["moves"] if m["parameter"] == "force"]
    assert move["limits_from"] == "spec" and 760 <= move["advised"] <= 840
    assert move["advised"] < 815  # back below where burrs start
    assert defects["gain"] > 0
    assert defects["defect_rate_after"] < defects["defect_rate_before"]

    # with no part named, the view picks the first part that has process records
    first = client.get("/api/dashboard/process", headers=engineer).json()
    assert first["part"]["id"] == part_id


def test_another_organisations_part_and_unknown_names(client, store: Store, world: World) -> None:  # type: ignore[no-untyped-def]
    _records(store, world, n=40)
    part_id, other = world.a.ids["part"], world.b.ids["part"]
    engineer = world.a.auth("engineer")
    for path in (
        f"/api/parts/{other}/process-charts",
        f"/api/dashboard/process?part_id={other}",
        f"/api/parts/{other}/process-specs",
    ):
        assert client.get(path, headers=engineer).status_code == 404, path
    refused = client.put(
        f"/api/parts/{other}/process-specs/force", json={"lower": 1}, headers=engineer
    )
    assert refused.status_code == 404
    for path in (f"/api/parts/{part_id}/process-charts", "/api/dashboard/process"):
        bad = client.get(path, params={"parameter": "forse", "part_id": part_id}, headers=engineer)
        assert bad.status_code == 422, bad.text
        assert bad.json()["field"] == "parameter" and "forse" in bad.json()["detail"]
    crossed = client.put(
        f"/api/parts/{part_id}/process-specs/force",
        json={"lower": 900, "upper": 800},
        headers=engineer,
    )
    assert crossed.status_code == 422 and crossed.json()["field"] == "upper"
    operator = client.put(
        f"/api/parts/{part_id}/process-specs/force",
        json={"lower": 700},
        headers=world.a.auth("operator"),
    )
    assert operator.status_code == 403
    # without a trained model the view says so (no causes, no advice)
    view = client.get("/api/dashboard/process", params={"part_id": part_id}, headers=engineer)
    assert view.status_code == 200 and view.json()["defects"] is None
