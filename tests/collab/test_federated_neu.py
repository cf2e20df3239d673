"""Federated learning on a non-IID NEU-DET split, with real Flower processes.

The federated head must reach 98% of the pooled model's accuracy and clearly beat each
supplier's local-only model (`dure bench federated` prints the full comparison).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dure.bench.federated import run_federated_bench
from dure.collab.flower import flower_python

pytestmark = [pytest.mark.data, pytest.mark.slow]


def test_federated_reaches_pooled_quality(shared_data: Path, tmp_path: Path) -> None:
    try:
        flower_python()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(str(exc))
    result = run_federated_bench(shared_data, rounds=30, dp_noises=(0.3,))
    pooled = result["pooled_accuracy"]
    fedavg = result["federated"]["fedavg"]["accuracy"]
    fedprox = result["federated"]["fedprox"]["accuracy"]
    assert pooled >= 0.97, pooled
    assert fedavg >= 0.98 * pooled, result["federated"]
    assert fedprox >= 0.98 * pooled, result["federated"]
    assert max(result["local_only_accuracy"]) <= fedprox - 0.1, result["local_only_accuracy"]
