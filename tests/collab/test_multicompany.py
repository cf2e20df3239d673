"""The multi-company test bed: four installs as processes, every crossing byte recorded.

Runs `dure.bench.testbed.run_testbed` (also `dure testbed`) and checks what it shows:
nothing but model updates, packages, grants and KPI aggregates crossed; every attack was
refused with its own reason and an audit event.
"""

from __future__ import annotations

import json

import pytest

from dure.bench.testbed import run_testbed
from dure.collab.flower import flower_python

pytestmark = [pytest.mark.multicompany, pytest.mark.slow]


@pytest.fixture(scope="module")
def cycle(tmp_path_factory: pytest.TempPathFactory) -> dict:
    try:
        flower_python()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(str(exc))
    out = tmp_path_factory.mktemp("testbed")
    result = run_testbed(out)
    print(json.dumps(result["crossed"], indent=1))
    return result


def test_no_image_pixel_or_process_record_crossed(cycle: dict) -> None:
    crossed = cycle["crossed"]
    assert crossed["forbidden_found"] == []
    assert crossed["total_bytes"] > 0
    requests = {k for link in crossed["links"].values() for k in link["requests"]}
    assert "POST /peer/v1/kpi-reports" in requests
    assert "GET /peer/v1/packages/{id}" in requests
    assert "POST /peer/v1/federated-rounds" in requests
    assert crossed["links"]["flower"]["bytes_to"] > 0  # model updates went to the OEM


def test_the_cycle_went_round(cycle: dict) -> None:
    assert set(cycle["adapted"]) == {"daesung", "mirae", "hanul"}
    for adapted in cycle["adapted"].values():
        assert adapted["base"] and "false_alarm_rate" in adapted["after"]
    ranked = cycle["scorecard"]["suppliers"]
    assert len(ranked) == 3 and [r["rank"] for r in ranked] == [1, 2, 3]
    assert all(r["inspected"] == 24 for r in ranked)
    round_ = cycle["federated_round"]
    assert round_["new_version_id"] and all(p["joined"] for p in round_["participants"])
    assert all(len(v) == 1 for v in cycle["v2_imported"].values())  # v2 reached each supplier


def test_attacks_refused_and_audited(cycle: dict) -> None:
    refused = cycle["refusals"]
    assert refused["wrong_signer"]["status"] == 422
    assert "signed by someone else" in refused["wrong_signer"]["detail"]
    assert refused["tampered"]["status"] == 422
    assert "content differs from what was signed" in refused["tampered"]["detail"]
    assert refused["revoked_grant"]["status"] == 403
    assert refused["replayed"]["first"] == 200 and refused["replayed"]["status"] == 401
    assert "replayed" in refused["replayed"]["detail"]
    assert refused["expired_token"]["status"] == 502
    assert "expired" in refused["expired_token"]["detail"]
    oem_reasons = " | ".join(e["reason"] or "" for e in refused["audit_oem"])
    assert "replayed" in oem_reasons and "expired" in oem_reasons
    sup_reasons = " | ".join(e["reason"] or "" for e in refused["audit_supplier"])
    assert "someone else" in sup_reasons and "KPI_REPORTS" in sup_reasons
    assert "tampered" in sup_reasons
