"""A local multi-node Ray cluster for the scale-out tests: a head with no CPUs and two
1-CPU worker nodes, in a temporary folder of its own, with token authentication on.

The fixture stops only what it started (``ray.shutdown()``, ``cluster.shutdown()``) and
puts the environment back; never ``ray stop``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

from dure.scale.cluster import source_on_worker_path, use_token

OBJECT_STORE_BYTES = 80 * 1024 * 1024
RAY_ENV = ("RAY_TMPDIR", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "PYTHONPATH")


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    """The running cluster (``ray.cluster_utils.Cluster``), this process connected to it."""
    ray = pytest.importorskip("ray", reason="needs the extra dure[scale]")
    from ray.cluster_utils import Cluster

    saved = {name: os.environ.get(name) for name in RAY_ENV}
    # short: Ray's socket paths live under it and must stay under 107 characters
    folder = tempfile.mkdtemp(dir="/tmp", prefix="r")
    os.environ["RAY_TMPDIR"] = folder
    use_token(secrets.token_hex(32))
    source_on_worker_path()
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "object_store_memory": OBJECT_STORE_BYTES},
    )
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=1, object_store_memory=OBJECT_STORE_BYTES)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(folder, ignore_errors=True)


def worker_node_ids(cluster: Any) -> set[str]:
    """The ids of the cluster's worker nodes (the head computes nothing)."""
    return {node.node_id for node in cluster.worker_nodes}
