"""The install's files are its user's alone: the data folder 0700, the database 0600.

The folder holds password hashes, sealed connector passwords and their key, private
signing keys and every uploaded image; other accounts on the machine see none of it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)
PRIVATE_FOLDERS = ("blobs", "keys", "models", "work")
SQLITE_FILES = ("", "-wal", "-shm", "-journal")


def keep_private(home: Path, sqlite_path: Path | None) -> None:
    """Make ``home`` and its folders 0700 (the blob folder made if absent) and the SQLite
    database files 0600; a file the process does not own is logged, not fatal."""
    (home / "blobs").mkdir(parents=True, exist_ok=True)
    for folder in (home, *(home / name for name in PRIVATE_FOLDERS)):
        if folder.is_dir():
            _chmod(folder, 0o700)
    if sqlite_path is not None:
        for suffix in SQLITE_FILES:
            path = sqlite_path.with_name(sqlite_path.name + suffix)
            if path.exists():
                _chmod(path, 0o600)


def _chmod(path: Path, mode: int) -> None:
    try:
        if path.stat().st_mode & 0o777 != mode:
            os.chmod(path, mode)
    except PermissionError:
        log.warning("cannot make %s private (mode %o): it is not this user's", path, mode)
