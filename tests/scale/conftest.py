"""A local multi-node Ray cluster for the scale-out tests: a head with no CPUs and two
1-CPU worker nodes (``dure.scale.local.local_cluster``: its own temporary folder, token
authentication on, and it stops only what it started)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    """The running cluster (``ray.cluster_utils.Cluster``), this process connected to it."""
    pytest.importorskip("ray", reason="needs the extra dure[scale]")
    from dure.scale.local import local_cluster

    with local_cluster(nodes=2) as cluster:
        yield cluster


def worker_node_ids(cluster: Any) -> set[str]:
    """The ids of the cluster's worker nodes (the head computes nothing)."""
    return {node.node_id for node in cluster.worker_nodes}
