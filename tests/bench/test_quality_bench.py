"""`dure bench quality` on the real steel-plates-faults data (skipped when absent)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from dure.cli import main


def test_steel_plates_faults_ten_fold(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "quality.json"
    result = CliRunner().invoke(
        main,
        [
            "bench", "quality", "--dataset", "steel-plates-faults",
            "--data-root", str(shared_data), "--out", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["protocol"]["rows"] == 1941 and len(doc["protocol"]["classes"]) == 7
    assert doc["summary"]["accuracy"]["mean"] >= 0.80  # published results: 0.77-0.80
    assert doc["summary"]["macro_f1"]["mean"] >= 0.78
