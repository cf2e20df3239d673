"""`dure bench scale`: the JSON it writes has the agreed shape (figures are not asserted:
the machines that run the tests are shared and noisy)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dure.cli import main
from dure.cli.bench import bench_scale

RUN_KEYS = {"runner", "nodes", "images_per_s", "cpu_seconds", "identical_to_local"}


@pytest.mark.ray
@pytest.mark.slow
def test_bench_scale_writes_summary_and_runs(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="needs the extra dure[scale]")
    out = tmp_path / "scale.json"
    # by default runs on a 1- and a 2-node cluster; the 2-node one alone here (each cluster
    # costs a start and three Ray Data runs, about a minute on a loaded 2-core machine)
    assert {p.name: p.default for p in bench_scale.params}["nodes"] == "1,2"
    result = CliRunner().invoke(
        main,
        ["bench", "scale", "--images", "32", "--nodes", "2", "--simulate-to", "16"]
        + ["--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    summary = report["summary"]
    assert summary["ray_start_seconds"] > 0 and summary["ray_memory_mb"] > 0
    assert {"cpu_count", "per_image_ms_local", "crossover_images"} <= set(summary)
    runs = report["runs"]
    assert [(r["runner"], r["nodes"]) for r in runs] == [("local", 1), ("ray", 2)]
    for run in runs:
        assert RUN_KEYS <= set(run)
        assert run["images_per_s"] > 0 and run["cpu_seconds"] > 0
        assert run["identical_to_local"] is True
    assert sum(runs[1]["images_by_node"]) == 32 and len(runs[1]["images_by_node"]) == 2
    simulated = report["simulated_scaling"]
    assert "simulated" in simulated["label"] and "not measured" in simulated["label"]
    assert [p["workers"] for p in simulated["points"]] == [1, 2, 4, 8, 16]


def test_bench_scale_refuses_bad_counts() -> None:
    result = CliRunner().invoke(main, ["bench", "scale", "--nodes", "1,x"])
    assert result.exit_code != 0 and "--nodes" in result.output
