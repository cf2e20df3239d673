"""Saved models as arrays plus ``card.json``: reading the card, checking arrays against it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np


def digest(*arrays: np.ndarray) -> str:
    """SHA-256 of the arrays' float32 bytes, in order."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a, dtype=np.float32).tobytes())
    return h.hexdigest()


def write_card(folder: Path, doc: dict[str, Any]) -> Path:
    """Write ``card.json`` into ``folder`` (created if needed)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "card.json").write_text(json.dumps(doc, indent=2))
    return folder


def read_card(folder: Path, model: str, version: int, what: str) -> dict[str, Any]:
    """The card of a saved ``model`` of format ``version``; ValueError naming ``what`` else."""
    doc: dict[str, Any] = json.loads((Path(folder) / "card.json").read_text())
    if doc.get("model") != model or doc.get("format_version") != version:
        raise ValueError(f"{folder} is not a {what} of format {version}")
    return doc


def load_checked(folder: Path, *names: str, expected: str) -> list[np.ndarray]:
    """Load ``names`` (.npy files) and check them together against the card's digest."""
    arrays = [np.load(Path(folder) / name, allow_pickle=False) for name in names]
    if digest(*arrays) != expected:
        raise ValueError(f"{folder}/{'+'.join(names)} does not match its card (changed or damaged)")
    return [np.ascontiguousarray(a, dtype=np.float32) for a in arrays]
