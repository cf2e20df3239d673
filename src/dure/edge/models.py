"""Model packages on the edge box: verified against the pinned site key, kept on disk,
loaded into an :class:`OnnxInspector`.

``home/models/<package_id>/package.dmp`` holds the signed package as it came (verified again
on every load, so a file changed on disk is refused); a folder appears whole or not at all
(written as ``.<id>.tmp``, fsynced, renamed). ``home/models/current`` names the package in
use (tmp + rename); the runtime switches when it changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dure.collab.packages import PackageRefused, VerifiedPackage, verify_package
from dure.edge.fsio import fsync_dir, write_atomic
from dure.edge.identity import EdgeIdentity
from dure.edge.parity import check_package

log = logging.getLogger("dure.edge.models")

EDGE_FORMAT = "dure-edge/1"
PACKAGE_FILE = "package.dmp"
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class ActiveModel:
    """The inspector in use and the package it came from (recorded on every result)."""

    package_id: str
    model_version_id: str | None
    inspector: Any  # an OnnxInspector: inspect(images, names) -> list[EdgeFinding]
    parity: dict[str, Any] | None = None  # its golden set scored here (None: it has none)


def verify_edge_package(data: bytes, identity: EdgeIdentity) -> VerifiedPackage:
    """Check a package's signature against the site key pinned at enrolment, and that it
    is an edge package; PackageRefused (naming why) otherwise."""
    verified = verify_package(data, {identity.org_id: identity.site_public_pem.encode()})
    card = verified.card
    if card.get("edge_format") != EDGE_FORMAT and card.get("kind") != "edge-inspector":
        raise PackageRefused(
            f"package {card.get('package_id')!r} is not an edge package "
            f"(edge_format {card.get('edge_format')!r}, expected {EDGE_FORMAT!r})"
        )
    if not _SAFE_ID.match(str(card.get("package_id", ""))):
        raise PackageRefused(f"package id {card.get('package_id')!r} is not a plain name")
    return verified


def load_inspector(bundle: bytes, threads: int = 1) -> Any:
    """An OnnxInspector from an edge bundle (onnxruntime only, no torch)."""
    from dure.models.vision.onnx_inspector import OnnxInspector

    return OnnxInspector.from_bundle(bundle, threads=threads)


class ModelShelf:
    """The packages installed under ``folder`` and the pointer to the one in use."""

    def __init__(self, folder: Path, identity: EdgeIdentity, tidy: bool = True) -> None:
        """The shelf in ``folder``; ``tidy`` (the box itself, at start) removes installs a
        crash cut short; `dure edge load` beside a running box passes False, as those may
        be the box's installs in flight."""
        self.folder = Path(folder)
        self.identity = identity
        self.folder.mkdir(parents=True, exist_ok=True)
        if tidy:
            for leftover in self.folder.glob(".*.tmp"):  # an install a crash cut short
                shutil.rmtree(leftover, ignore_errors=True)
            (self.folder / "current.tmp").unlink(missing_ok=True)

    def install(
        self, data: bytes, make_current: bool = True, assignment: int | None = None
    ) -> VerifiedPackage:
        """Verify and keep a package; with ``make_current`` point the runtime at it, with
        the site's ``assignment`` number (None: keep the one recorded, as for a package
        loaded from a file) written in the same ``current`` file, in one rename."""
        verified = verify_edge_package(data, self.identity)
        package_id = verified.card["package_id"]
        final = self.folder / package_id
        if not (final / PACKAGE_FILE).exists():
            tmp = self.folder / f".{package_id}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            write_atomic(tmp / PACKAGE_FILE, data)
            write_atomic(tmp / "card.json", json.dumps(verified.card, indent=2).encode())
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
            fsync_dir(self.folder)
        if make_current:
            self.point(package_id, assignment)
        return verified

    def point(self, package_id: str, assignment: int | None = None) -> None:
        """Make ``package_id`` current with ``assignment`` (None: the recorded one), both in
        one file written atomically."""
        number = self.assignment() if assignment is None else assignment
        write_atomic(self.folder / "current", f"{package_id}\n{number}\n".encode())

    def _pointer_lines(self) -> list[str]:
        path = self.folder / "current"
        return path.read_text().split() if path.exists() else []

    def current(self) -> str | None:
        """The package id in use, or None before the first model."""
        lines = self._pointer_lines()
        return lines[0] if lines else None

    def assignment(self) -> int:
        """The site's assignment number of the package in use (0: none recorded)."""
        lines = self._pointer_lines()
        try:
            return int(lines[1]) if len(lines) > 1 else 0
        except ValueError:
            return 0

    def has(self, package_id: str) -> bool:
        """True when the package is installed."""
        return (self.folder / package_id / PACKAGE_FILE).exists()

    def package_bytes(self, package_id: str) -> bytes:
        """The installed package's bytes as they came."""
        return (self.folder / package_id / PACKAGE_FILE).read_bytes()

    def load(self, package_id: str, threads: int = 1) -> ActiveModel:
        """Verify an installed package again, build its inspector and check it against the
        package's golden set (kept as ``parity.json`` beside the package)."""
        data = (self.folder / package_id / PACKAGE_FILE).read_bytes()
        verified = verify_edge_package(data, self.identity)
        inspector = load_inspector(verified.model, threads=threads)
        parity = check_package(verified, inspector)
        if parity is not None:
            write_atomic(self.folder / package_id / "parity.json", json.dumps(parity).encode())
        return ActiveModel(package_id, verified.card.get("model_version_id"), inspector, parity)

    @staticmethod
    def sha256(data: bytes) -> str:
        """The SHA-256 of package bytes (the site's pointer names it)."""
        return hashlib.sha256(data).hexdigest()
