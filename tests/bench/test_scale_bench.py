"""`dure bench scale`: the JSON it writes has the agreed shape (figures are not asserted:
the machines that run the tests are shared and noisy)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dure.cli import main

RUN_KEYS = {"runner", "nodes", "images_per_s", "cpu_seconds", "identical_to_local"}


@pytest.mark.ray
@pytest.mark.slow
def test_bench_scale_writes_summary_and_runs(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="needs the extra dure[scale]")
    out = tmp_path / "scale.json"
    result = CliRunner().invoke(
        main, ["bench", "scale", "--images", "32", "--simulate-to", "16", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    summary = report["summary"]
    assert summary["ray_start_seconds"] > 0 and summary["ray_memory_mb"] > 0
    assert {"cpu_count", "per_image_ms_local", "crossover_images"} <= set(summary)
    runs = report["runs"]
    assert [(r["runner"], r["nodes"]) for r in runs] == [("local", 1), ("ray", 1), ("ray", 2)]
    for run in runs:
        assert RUN_KEYS <= set(run)
        assert run["images_per_s"] > 0 and run["cpu_seconds"] > 0
        assert run["identical_to_local"] is True
    assert sum(runs[2]["images_by_node"]) == 32
    simulated = report["simulated_scaling"]
    assert "simulated" in simulated["label"] and "not measured" in simulated["label"]
    assert [p["workers"] for p in simulated["points"]] == [1, 2, 4, 8, 16]


def test_bench_scale_refuses_bad_counts() -> None:
    result = CliRunner().invoke(main, ["bench", "scale", "--nodes", "1,x"])
    assert result.exit_code != 0 and "--nodes" in result.output
