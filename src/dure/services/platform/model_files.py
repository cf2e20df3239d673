"""Trained models as blobs: a saved model's folder packed into one tar, unpacked and loaded."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from dure.errors import ModelFileError
from dure.models.contract import Model
from dure.models.registry import load_model
from dure.models.vision.inspector import Inspector
from dure.store.blobs import BlobStore

MEDIA_TYPE = "application/x-tar"


def pack_folder(folder: Path) -> bytes:
    """The files of ``folder`` as an uncompressed tar with fixed times and owners."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(folder)))
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with path.open("rb") as fh:
                tar.addfile(info, fh)
    return out.getvalue()


def unpack_to(data: bytes, folder: Path) -> Path:
    """Unpack a tar written by ``pack_folder`` into ``folder`` atomically (all or nothing)."""
    folder = Path(folder)
    if folder.is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".unpack-"))
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
            tar.extractall(staging, filter="data")  # refuses absolute paths and links out
        os.replace(staging, folder)
    except tarfile.TarError as exc:  # not a tar at all, or a damaged one
        shutil.rmtree(staging, ignore_errors=True)
        raise ModelFileError(f"the stored model is not a readable model archive: {exc}") from exc
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not folder.is_dir():  # another process won the race: theirs is as good
            raise
    return folder


def model_bytes(model: Model, work_dir: Path | None = None) -> bytes:
    """A fitted model saved (arrays and card) and packed as one tar."""
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_dir) as folder:
        model.save(Path(folder))
        return pack_folder(Path(folder))


def model_from_bytes(data: bytes) -> Model:
    """The model a tar written by ``model_bytes`` holds (every file checked by its card)."""
    with tempfile.TemporaryDirectory() as folder:
        return load_model(unpack_to(data, Path(folder) / "model"))


class InspectorCache:
    """Loaded inspectors by blob hash, the most recently used few kept in memory."""

    def __init__(self, blobs: BlobStore, root: Path, size: int = 4) -> None:
        self.blobs = blobs
        self.root = Path(root)
        self.size = size
        self._loaded: OrderedDict[str, Inspector] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, sha256: str) -> Inspector:
        """The inspector stored as blob ``sha256`` (verified by the blob store on read)."""
        with self._lock:
            if sha256 in self._loaded:
                self._loaded.move_to_end(sha256)
                return self._loaded[sha256]
        folder = self.root / sha256
        if not folder.is_dir():
            unpack_to(self.blobs.get(sha256), folder)
        inspector = Inspector.load(folder)
        with self._lock:
            self._loaded[sha256] = inspector
            while len(self._loaded) > self.size:
                self._loaded.popitem(last=False)
        return inspector
