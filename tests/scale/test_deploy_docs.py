"""The KubeRay example in docs/deploy holds what Dure needs of a cluster: the pinned Ray,
token authentication from one secret in every pod, a head that computes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "deploy" / "kuberay-raycluster.yaml"


def test_the_kuberay_example_authenticates_every_pod() -> None:
    yaml = pytest.importorskip("yaml")
    (cluster,) = list(yaml.safe_load_all(EXAMPLE.read_text()))
    assert cluster["kind"] == "RayCluster" and cluster["spec"]["rayVersion"].startswith("2.60.")
    head = cluster["spec"]["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0"
    pods = [head["template"]] + [g["template"] for g in cluster["spec"]["workerGroupSpecs"]]
    for pod in pods:
        env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
        assert env["RAY_AUTH_MODE"]["value"] == "token"
        assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "dure-ray-token"
        assert env["RAY_USAGE_STATS_ENABLED"]["value"] == "0"
