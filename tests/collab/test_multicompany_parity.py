"""Deployment parity between separate installs, over real HTTP.

Hanbit (the OEM), Daesung and Hanul run as three `dure up` processes with their own data
folders. Hanbit teaches a model and publishes it with a golden set; both suppliers link,
get a MODEL_USE grant, sync and import it, and their installs check parity at once. Hanul's
install resizes images with another filter than Hanbit's (a changed pre-processing step,
put into its process by a ``sitecustomize`` shim: no code path of Dure knows about it).
Each supplier sends a KPI report; Hanbit's scorecard must show Daesung ✓ and Hanul ✗ with
the pre-processing named as the likely cause, and no supplier image may have crossed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from dure.bench.testbed import (
    PART,
    Install,
    _finished,
    _images,
    _serve,
    _setup,
    _upload,
    _wait,
    _wait_up,
    crossing_report,
    stop_installs,
)
from dure.ports import free_port

pytestmark = [pytest.mark.multicompany, pytest.mark.slow]

IMAGE_SIDE = 128  # the images' size
MODEL_SIDE = 96  # the model's input: every image is resized on the way in

SHIM = '''"""Test shim: this install's image pipeline resizes with another filter."""
from PIL import Image

Image.BILINEAR = Image.Resampling.NEAREST
'''


def _shimmed_path(folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(SHIM)
    inherited = [
        os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p
    ]
    return os.pathsep.join([str(folder), *inherited])


def _parity_job(sup: Install) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        jobs = sup.call("GET", "/api/jobs?kind=check_parity")["items"]
        return _finished(jobs[0]) if jobs else None

    return _wait(done, f"{sup.slug}'s parity check", timeout=300)


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("paritybed")
    oem = Install("hanbit", "Hanbit Appliances", "oem", out / "hanbit", free_port(), free_port())
    clean = Install(
        "daesung", "Daesung Press", "supplier", out / "daesung", free_port(), free_port()
    )
    changed = Install(
        "hanul", "Hanul Stamping", "supplier", out / "hanul", free_port(), free_port()
    )
    installs = [oem, clean, changed]
    steps: dict[str, Any] = {}
    try:
        for install in installs:
            _setup(install)
            env = {}
            if install is changed:
                env = {"PYTHONPATH": _shimmed_path(out / "shim")}
            _serve(install, env, out)
        for install in installs:
            _wait_up(install)
        for k, install in enumerate(installs):
            install.part_id = install.call(
                "POST", "/api/parts", json={"number": PART[0], "name": PART[1]}
            )["id"]
            good = _images(1000 * (k + 1), "good", 16 if install is oem else 8, IMAGE_SIDE)
            _upload(install, good, "good", "good")
        model = oem.call(
            "POST",
            "/api/inspection-models",
            json={"part_id": oem.part_id, "image_size": MODEL_SIDE},
        )
        job = oem.call("POST", f"/api/inspection-models/{model['id']}/train")
        _wait(lambda: _finished(oem.call("GET", f"/api/jobs/{job['id']}")), "training")
        v1 = oem.call("GET", f"/api/inspection-models/{model['id']}")
        assert v1["status"] == "ready", v1
        for sup in (clean, changed):
            invitation = oem.call("POST", "/api/partners/invitations", json={})
            sup.call("POST", "/api/partners", json={"invitation": invitation["invitation"]})
            oem.call(
                "POST",
                "/api/grants",
                json={"grantee_org_id": sup.org_id, "scope": "model_use", "part_id": oem.part_id},
            )
            sup.call(
                "POST",
                "/api/grants",
                json={"grantee_org_id": oem.org_id, "scope": "kpi_reports", "part_id": sup.part_id},
            )
        images = oem.call("GET", f"/api/parts/{oem.part_id}/images?limit=4")["items"]
        package = oem.call(
            "POST",
            f"/api/model-versions/{v1['id']}/publish",
            json={"golden_image_ids": [i["id"] for i in images]},
        )
        steps["golden"] = package["card"]["golden"]
        for sup in (clean, changed):
            partner = sup.call("GET", "/api/partners")[0]["id"]
            synced = sup.call("POST", f"/api/partners/{partner}/sync")
            assert len(synced["imported"]) == 1, synced
            steps.setdefault("jobs", {})[sup.slug] = _parity_job(sup)
            steps.setdefault("packages", {})[sup.slug] = sup.call("GET", "/api/packages")["items"]
            sup.call(
                "POST",
                "/api/kpi-reports",
                json={
                    "part_id": sup.part_id,
                    "period_start": "2026-11-01T00:00:00Z",
                    "period_end": "2026-11-30T00:00:00Z",
                    "send_to": oem.org_id,
                },
            )
        steps["scorecard"] = oem.call("GET", f"/api/scorecard?part_id={oem.part_id}")
    finally:
        stop_installs(installs)
    # the suppliers' images must not have crossed (the OEM chose to share its golden set)
    suppliers = [clean, changed]
    steps["crossed"] = crossing_report([i.tap.tap for i in installs if i.tap], suppliers)
    return steps


def test_multicompany_parity_each_supplier_checked_its_import(bed: dict[str, Any]) -> None:
    assert len(bed["golden"]["images"]) == 4
    assert bed["jobs"]["daesung"]["status"] == "succeeded"
    assert bed["jobs"]["daesung"]["result"]["status"] == "ok"
    assert bed["jobs"]["daesung"]["result"]["max_score_drift"] <= 1e-4
    hanul = bed["jobs"]["hanul"]["result"]
    assert hanul["status"] == "mismatch"
    assert "pre-processing differs" in hanul["cause"]
    kept = [p for p in bed["packages"]["hanul"] if p["role"] == "imported"][0]
    assert kept["parity"]["status"] == "mismatch"
    assert kept["parity"]["differing"]  # which golden images differ, and by how much
    assert all(abs(i["score_drift"]) >= 0 for i in kept["parity"]["per_image"])


def test_multicompany_parity_shows_on_the_oem_scorecard(bed: dict[str, Any]) -> None:
    rows = {r["supplier"]: r for r in bed["scorecard"]["suppliers"]}
    assert rows["Daesung Press"]["parity"]["status"] == "ok"
    assert rows["Hanul Stamping"]["parity"]["status"] == "mismatch"
    assert rows["Hanul Stamping"]["parity"]["max_score_drift"] > 1e-4
    assert "pre-processing" in rows["Hanul Stamping"]["parity"]["cause"]


def test_multicompany_parity_no_supplier_image_crossed(bed: dict[str, Any]) -> None:
    found = [f for f in bed["crossed"]["forbidden_found"] if f.startswith("pixels")]
    assert found == []
    requests = {k for link in bed["crossed"]["links"].values() for k in link["requests"]}
    assert "POST /peer/v1/kpi-reports" in requests
