"""Content-addressed blob folder: sha256-named, de-duplicated, written atomically."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from dure.errors import InvalidInput, NotFound

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobStore:
    """Keeps bytes under ``root/ab/cd/<sha256>``; a blob is never half-written or changed."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_of(self, sha256: str) -> Path:
        """Where the blob named ``sha256`` lives; refuses anything that is not a sha256."""
        if not _SHA256.match(sha256):
            raise InvalidInput("sha256", f"{sha256[:80]!r} is not a 64-character sha256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        """Store ``data`` and return its sha256; storing the same bytes twice writes once."""
        sha256 = hashlib.sha256(data).hexdigest()
        target = self.path_of(sha256)
        if target.exists():
            return sha256
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        fsync_dir(target.parent)
        return sha256

    def get(self, sha256: str) -> bytes:
        """The bytes of a stored blob, checked against their name."""
        path = self.path_of(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"blob {sha256} is not in the blob store") from exc
        if hashlib.sha256(data).hexdigest() != sha256:
            raise NotFound(f"blob {sha256} is damaged on disk (content does not match its name)")
        return data

    def exists(self, sha256: str) -> bool:
        """True when the blob is on disk."""
        return self.path_of(sha256).exists()


def fsync_dir(folder: Path) -> None:
    """Make a rename or new file in ``folder`` durable (flush the folder's entry)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
