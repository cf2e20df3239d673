"""The Ray engine a Dure install scales out on: connect (or start) once, close at the end.

``DURE_RAY_ADDRESS`` picks it: unset means no engine (everything runs in process),
``local`` starts a Ray on this machine, ``host:port`` or ``ray://host:port`` joins a
running cluster, ``auto`` the cluster this process was started in (``ray job submit``).
Ray 2.60 authenticates every process of a cluster with one token
(``RAY_AUTH_MODE=token``, ``RAY_AUTH_TOKEN``): Dure reads it from ``DURE_RAY_TOKEN_FILE``,
or for ``local`` makes one (``keys/ray.token``, mode 0600) and passes it to the processes
Ray starts through their environment.

Closing is ``ray.shutdown()`` and nothing else: never ``ray stop`` (it kills Ray processes
by name, machine-wide), never a process this code did not start.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dure
from dure.errors import DureError, InvalidInput
from dure.settings import DEFAULT_RAY_MIN_IMAGES, Settings

log = logging.getLogger(__name__)
TOKEN_FILE = "ray.token"
# Ray's shared-memory object store for a Ray that Dure starts: images and results pass
# through it one block at a time, so a small store is plenty (and /dev/shm is often small).
LOCAL_OBJECT_STORE_MB = 200
# Actors of one batch: each asks this much CPU, so that the tasks that feed them can still be
# scheduled on a node whose CPUs the actors would otherwise hold (ray issue 44687).
ACTOR_CPUS = 0.5


class ScaleUnavailable(DureError):
    """Ray is configured but cannot be used (the extra is missing, the cluster unreachable)."""


def ray_module() -> Any:
    """The ``ray`` package, imported on first use (it is the optional extra ``dure[scale]``)."""
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - the extra is installed in tests
        raise ScaleUnavailable(
            "DURE_RAY_ADDRESS is set but Ray is not installed: pip install 'dure[scale]'"
        ) from exc
    return ray


def read_token(path: Path) -> str:
    """The token in ``path`` (one line); the file must be readable by its owner only."""
    path = Path(path)
    try:
        mode = path.stat().st_mode & 0o077
        token = path.read_text().strip()
    except OSError as exc:
        raise InvalidInput("ray_token_file", f"cannot read {path}: {exc.strerror}") from exc
    if mode:
        raise InvalidInput("ray_token_file", f"{path} is readable by others: chmod 600 it")
    if not token or not token.isprintable() or " " in token:
        raise InvalidInput("ray_token_file", f"{path} holds no token (one line, no spaces)")
    return token


def local_token(key_dir: Path) -> Path:
    """The token file of a Ray that Dure starts itself: ``key_dir/ray.token``, made (0600)
    when missing."""
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = key_dir / TOKEN_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    return path


def use_token(token: str) -> None:
    """Turn Ray's token authentication on for this process and every process it starts."""
    os.environ["RAY_AUTH_MODE"] = "token"
    os.environ["RAY_AUTH_TOKEN"] = token
    os.environ.pop("RAY_AUTH_TOKEN_PATH", None)
    if "ray" in sys.modules:  # Ray read its configuration (and may hold a token): again
        from ray._raylet import AuthenticationTokenLoader, Config

        Config.initialize("")
        if not sys.modules["ray"].is_initialized():
            AuthenticationTokenLoader.instance().reset_cache()


def no_usage_stats() -> None:
    """Keep Ray from collecting usage statistics (and Ray Data from querying a Prometheus
    for them): nothing about a site's work leaves it. An operator's own setting wins."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def source_on_worker_path() -> None:
    """Let Ray's worker processes import this Dure even when it runs from a source tree
    (``PYTHONPATH=src``): they start elsewhere, so a relative path would not find it."""
    root = str(Path(dure.__file__).resolve().parents[1])
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    absolute = [str(Path(p).resolve()) for p in parts]
    if root not in absolute:
        os.environ["PYTHONPATH"] = os.pathsep.join([root, *parts])
    else:
        os.environ["PYTHONPATH"] = os.pathsep.join(absolute)


class RayEngine:
    """A connection to a Ray cluster, made on first use and shared by the job threads."""

    def __init__(
        self,
        address: str,
        token_file: Path | None = None,
        min_images: int = DEFAULT_RAY_MIN_IMAGES,
        workers: int | None = None,
        object_store_mb: int = LOCAL_OBJECT_STORE_MB,
    ) -> None:
        self.address = address
        self.token_file = token_file
        self.min_images = min_images
        self.workers = workers
        self.object_store_mb = object_store_mb
        self._lock = threading.Lock()
        self._started_here = False
        self._connected = False

    @classmethod
    def from_settings(cls, settings: Settings) -> RayEngine | None:
        """The engine ``settings`` configure, or None when batches run in process."""
        if settings.ray_address is None:
            return None
        token_file = settings.ray_token_file
        if token_file is None and settings.ray_address == "local":
            token_file = local_token(settings.key_dir)
        return cls(
            settings.ray_address,
            token_file=token_file,
            min_images=settings.ray_min_images,
            workers=settings.ray_workers,
        )

    def uses_ray_for(self, images: int) -> bool:
        """Whether a batch of ``images`` is worth Ray's fixed cost (else: in process)."""
        return images >= self.min_images

    def connect(self) -> Any:
        """Connect to the cluster (or start the local Ray) unless this process already is;
        returns the ``ray`` module."""
        with self._lock:
            if self._connected and ray_module().is_initialized():
                return ray_module()
            if self.token_file is not None:  # before Ray reads its configuration
                use_token(read_token(self.token_file))
            source_on_worker_path()
            no_usage_stats()
            ray = ray_module()
            if ray.is_initialized():  # a caller (a test, `ray job submit`) connected already
                self._connected = True
                return ray
            try:
                if self.address == "local":
                    ray.init(
                        num_cpus=os.cpu_count() or 1,
                        include_dashboard=False,
                        object_store_memory=self.object_store_mb * 1024 * 1024,
                        log_to_driver=False,
                    )
                else:
                    ray.init(address=self.address, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ScaleUnavailable(f"cannot reach Ray at {self.address}: {exc}") from exc
            self._started_here = self._connected = True
            log.info("connected to Ray at %s", self.address)
            return ray

    def pool_size(self) -> int:
        """Actors per batch: the configured number, else one per CPU of the cluster."""
        if self.workers:
            return self.workers
        ray = self.connect()
        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    def close(self) -> None:
        """Disconnect (``ray.shutdown()``) if this engine connected; a Ray it started
        locally stops with it. Never ``ray stop``."""
        with self._lock:
            if self._started_here:
                ray_module().shutdown()
            self._started_here = self._connected = False


@contextmanager
def engine_for(settings: Settings) -> Iterator[RayEngine | None]:
    """The configured engine for the length of a block (closed after it)."""
    engine = RayEngine.from_settings(settings)
    try:
        yield engine
    finally:
        if engine is not None:
            engine.close()
