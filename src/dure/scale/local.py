"""A Ray cluster of several nodes on this one machine (``ray.cluster_utils.Cluster``), for
tests and ``dure bench scale``: a head that computes nothing and ``nodes`` worker nodes.

It runs in a short temporary folder of its own (``RAY_TMPDIR``: Ray's socket paths must stay
under 107 characters; Ray 2.60 crashes when the head is given ``temp_dir``) with a fresh
token, and stops only what it started (``ray.shutdown()``,
``cluster.shutdown()``); the environment is put back afterwards.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dure.scale.cluster import no_usage_stats, ray_module, source_on_worker_path, use_token

RAY_ENV = (
    "RAY_TMPDIR",
    "RAY_AUTH_MODE",
    "RAY_AUTH_TOKEN",
    "RAY_AUTH_TOKEN_PATH",
    "RAY_USAGE_STATS_ENABLED",
    "PYTHONPATH",
)
OBJECT_STORE_MB = 80


@contextmanager
def local_cluster(
    nodes: int = 2, cpus_per_node: int = 1, object_store_mb: int = OBJECT_STORE_MB
) -> Iterator[Any]:
    """A running cluster with this process connected to it as the driver."""
    saved = {name: os.environ.get(name) for name in RAY_ENV}
    folder = tempfile.mkdtemp(dir="/tmp", prefix="r")
    os.environ["RAY_TMPDIR"] = folder
    use_token(secrets.token_hex(32))
    source_on_worker_path()
    no_usage_stats()
    ray = ray_module()
    from ray.cluster_utils import Cluster

    store = object_store_mb * 1024 * 1024
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 0, "object_store_memory": store}
    )
    try:
        for _ in range(nodes):
            cluster.add_node(num_cpus=cpus_per_node, object_store_memory=store)
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
