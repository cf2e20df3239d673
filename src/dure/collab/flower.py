"""Starting the Flower agent (``flower_agent.py``) under its own interpreter.

Flower 1.41 pins old FastAPI and Ray, so it lives in ``.venv-flower`` beside the main
environment (``make install`` builds it) or wherever ``DURE_FLOWER_PYTHON`` points.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dure.errors import DureError

AGENT = Path(__file__).with_name("flower_agent.py")


class FlowerMissing(DureError):
    """The federated agent's environment is not installed."""

    status = 503


def flower_python(configured: Path | None = None) -> Path:
    """The interpreter that has flwr: ``configured`` (``DURE_FLOWER_PYTHON`` through the
    settings) or ``.venv-flower`` beside this ``.venv``."""
    path = configured or Path(sys.prefix).parent / ".venv-flower/bin/python"
    if not path.exists():
        raise FlowerMissing(
            f"no Flower environment at {path}: run `make install` (it builds .venv-flower) "
            "or set DURE_FLOWER_PYTHON to a Python with flwr==1.41.0"
        )
    return path


@dataclass(frozen=True)
class RoundSettings:
    """How a federated round trains: strategy, rounds, local epochs, privacy."""

    rounds: int = 30
    strategy: str = "fedprox"
    mu: float = 0.1
    epochs: int = 2
    lr: float = 0.5
    l2: float = 1e-4
    dp_noise: float = 0.0
    dp_clip: float = 1.0

    def check(self) -> None:
        """InvalidInput naming the setting that is out of range."""
        from dure.errors import InvalidInput

        if self.strategy not in ("fedavg", "fedprox"):
            raise InvalidInput("strategy", "fedavg or fedprox")
        if not 1 <= self.rounds <= 500:
            raise InvalidInput("rounds", "between 1 and 500")
        if not 1 <= self.epochs <= 50:
            raise InvalidInput("epochs", "between 1 and 50")
        if self.mu < 0 or self.dp_noise < 0 or self.dp_clip <= 0 or self.lr <= 0:
            raise InvalidInput("settings", "mu and dp_noise ≥ 0; dp_clip and lr > 0")


def start_server(
    address: str,
    initial: Path,
    out: Path,
    clients: int,
    settings: RoundSettings,
    log: Path,
    python: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start the aggregating server; it exits after the last round, writing ``out``."""
    args = [
        str(flower_python(python)),
        str(AGENT),
        "server",
        "--address",
        address,
        "--initial",
        str(initial),
        "--out",
        str(out),
        "--clients",
        str(clients),
        "--rounds",
        str(settings.rounds),
        "--strategy",
        settings.strategy,
        "--mu",
        str(settings.mu),
        "--dp-noise",
        str(settings.dp_noise),
        "--dp-clip",
        str(settings.dp_clip),
    ]
    return subprocess.Popen(args, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def start_client(
    address: str,
    data: Path,
    settings: RoundSettings,
    log: Path,
    seed: int = 0,
    python: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a supplier's client; it trains on ``data`` (which never leaves) each round."""
    args = [
        str(flower_python(python)),
        str(AGENT),
        "client",
        "--address",
        address,
        "--data",
        str(data),
        "--epochs",
        str(settings.epochs),
        "--lr",
        str(settings.lr),
        "--l2",
        str(settings.l2),
        "--seed",
        str(seed),
    ]
    return subprocess.Popen(args, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def write_head(path: Path, coef: np.ndarray, intercept: np.ndarray) -> Path:
    """The head's weights as the agent reads them."""
    np.savez(path, w=coef.astype(np.float32), b=intercept.astype(np.float32))
    return path


def write_local_data(path: Path, x: np.ndarray, y: np.ndarray) -> Path:
    """A site's training rows for its own client process (stays on its disk)."""
    np.savez(path, x=x.astype(np.float32), y=y.astype(np.int64))
    return path
