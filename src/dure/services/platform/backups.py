"""Backups of an install and their restore: the database, the blob, model and key folders.

A backup is a folder (mode 0700, every file 0600: it holds the organisations' private
signing keys)::

    manifest.json      format, backend, schema revision, created time, sha256 of each file
    database.sqlite    SQLite's online backup (safe while the server runs), or
    database.pgdump    pg_dump --format=custom of the configured PostgreSQL database
    blobs/ models/ keys/

The database is copied first, the folders after it: blobs are written before the rows
naming them, so every blob the copied rows name is in the backup. A restore checks the
whole backup (manifest, every checksum, backend, schema revision, an install already in
use) before it changes anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import dure
from dure.domain.ids import utcnow
from dure.errors import Conflict, InvalidInput
from dure.settings import Settings
from dure.store.dumps import (
    DUMP_FILES,
    backend_of,
    dump_database,
    dump_revision,
    holds_data,
    known_revision,
    load_database,
)

FORMAT = "dure-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FOLDERS = ("blobs", "models", "keys")


@dataclass(frozen=True)
class BackupSummary:
    """What a backup holds, as written or restored."""

    path: Path
    backend: str
    revision: str
    files: int
    bytes: int


def create_backup(settings: Settings, dest: Path) -> BackupSummary:
    """Write a backup of the install ``settings`` describe into the new folder ``dest``."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InvalidInput("DEST", f"{dest} exists and is not an empty folder: give a new one")
    dest.mkdir(parents=True, exist_ok=True)
    os.chmod(dest, 0o700)
    url = settings.resolved_database_url
    try:
        dump, revision = dump_database(url, dest)
        for name, source in _folders(settings).items():
            if source.is_dir():
                ignore = shutil.ignore_patterns(".incoming-*", "*.tmp")
                shutil.copytree(source, dest / name, ignore=ignore)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)  # no half backup left to be mistaken
        raise
    _lock_down(dest)
    files = {
        str(PurePosixPath(path.relative_to(dest))): {
            "sha256": _sha256(path),
            "bytes": path.stat().st_size,
        }
        for path in sorted(dest.rglob("*"))
        if path.is_file()
    }
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "backend": backend_of(url),
        "alembic_revision": revision,
        "created_at": utcnow().isoformat(),
        "dure_version": dure.__version__,
        "database": dump.name,
        "files": files,
    }
    tmp = dest / f".{MANIFEST}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(manifest, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, dest / MANIFEST)  # last: a backup without a manifest is unfinished
    return _summary(dest, manifest)


def restore_backup(settings: Settings, src: Path, *, force: bool = False) -> BackupSummary:
    """Replace the install ``settings`` describe by the backup in ``src``. Refuses, changing
    nothing, a damaged or foreign backup, and an install in use unless ``force``."""
    manifest = check_backup(settings, src)
    url = settings.resolved_database_url
    folders = _folders(settings)
    in_use = [str(p) for p in folders.values() if p.is_dir() and any(p.rglob("*"))]
    if holds_data(url):
        in_use.insert(0, "the database")
    if in_use and not force:
        raise Conflict(
            f"this install already holds data ({', '.join(in_use)}): restoring replaces it; "
            "give --force to overwrite it"
        )
    staged: dict[str, Path] = {}
    try:
        for name, target in folders.items():
            staged[name] = target.parent / f".restoring-{name}"
            shutil.rmtree(staged[name], ignore_errors=True)
            if (src / name).is_dir():
                shutil.copytree(src / name, staged[name])
            else:
                staged[name].mkdir(parents=True)
        load_database(url, src / manifest["database"])
    except BaseException:
        for path in staged.values():
            shutil.rmtree(path, ignore_errors=True)
        raise
    for name, target in folders.items():
        replaced = target.parent / f".replaced-{name}"
        if target.exists():
            os.replace(target, replaced)
        os.replace(staged[name], target)
        shutil.rmtree(replaced, ignore_errors=True)
    _lock_down(folders["keys"])
    return _summary(src, manifest)


def check_backup(settings: Settings, src: Path) -> dict[str, Any]:
    """The backup's manifest once every check passed: format, backend, schema revision
    this code knows, and each file present, unchanged and listed."""
    manifest = _read_manifest(src)
    backend = backend_of(settings.resolved_database_url)
    if manifest["backend"] != backend:
        raise InvalidInput(
            "backend",
            f"the backup holds a {manifest['backend']} database and this install uses "
            f"{backend}: restore it into an install with the same backend",
        )
    revision = manifest["alembic_revision"]
    if not known_revision(revision):
        raise InvalidInput(
            "alembic_revision",
            f"the backup's schema revision {revision!r} is newer than this Dure knows: "
            "upgrade Dure, then restore",
        )
    listed: dict[str, dict[str, Any]] = manifest["files"]
    if manifest.get("database") != DUMP_FILES[backend] or DUMP_FILES[backend] not in listed:
        raise InvalidInput(MANIFEST, f"names no {DUMP_FILES[backend]}: not a whole backup")
    present = {str(PurePosixPath(p.relative_to(src))) for p in src.rglob("*") if p.is_file()} - {
        MANIFEST
    }
    unlisted = sorted(present - set(listed))
    if unlisted:
        raise InvalidInput(unlisted[0], "is in the backup folder but not in its manifest")
    for name, entry in sorted(listed.items()):
        path = src / name
        if not _allowed(name) or not path.is_file():
            raise InvalidInput(name, "listed in the manifest but missing from the backup")
        if _sha256(path) != entry.get("sha256"):
            raise InvalidInput(name, "its checksum does not match the manifest: damaged")
    recorded = dump_revision(backend, src / DUMP_FILES[backend])
    if recorded is not None and recorded != revision:
        raise InvalidInput(
            DUMP_FILES[backend], f"holds schema {recorded}, the manifest says {revision}"
        )
    return manifest


def _read_manifest(src: Path) -> dict[str, Any]:
    path = src / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise InvalidInput(str(path), "missing: not a Dure backup, or an unfinished one") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(str(path), f"not readable JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InvalidInput(str(path), f"not a {FORMAT} manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise InvalidInput(
            "format_version",
            f"backup format {manifest.get('format_version')!r}; this Dure reads {FORMAT_VERSION}",
        )
    for key in ("backend", "alembic_revision", "database", "files"):
        if key not in manifest:
            raise InvalidInput(str(path), f"has no {key!r}")
    if not isinstance(manifest["files"], dict):
        raise InvalidInput(str(path), "'files' must map file names to checksums")
    return manifest


def _allowed(name: str) -> bool:
    parts = PurePosixPath(name).parts
    if not parts or ".." in parts or PurePosixPath(name).is_absolute():
        return False
    return name in DUMP_FILES.values() or (len(parts) > 1 and parts[0] in FOLDERS)


def _folders(settings: Settings) -> dict[str, Path]:
    return {"blobs": settings.blob_dir, "models": settings.model_dir, "keys": settings.key_dir}


def _lock_down(root: Path) -> None:
    """Folders 0700, files 0600: a backup and the key folder hold private keys."""
    if not root.is_dir():
        return
    os.chmod(root, 0o700)
    for path in root.rglob("*"):
        os.chmod(path, 0o700 if path.is_dir() else 0o600)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _summary(root: Path, manifest: dict[str, Any]) -> BackupSummary:
    files = manifest["files"]
    return BackupSummary(
        path=root,
        backend=manifest["backend"],
        revision=manifest["alembic_revision"],
        files=len(files),
        bytes=sum(int(f.get("bytes", 0)) for f in files.values()),
    )
