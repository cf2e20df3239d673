"""Secrets kept in the database encrypted, with a key that never enters it.

A connector's broker or server password must be readable by the install (it logs in with
it) but not by whoever gets hold of the database file or a dump of it. ``SecretBox`` seals
such values with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) under a key
kept in the install's ``keys/secrets.key`` (mode 0600, folder 0700), created on first
use. A sealed value is text starting with ``sealed:v1:``; a value stored before sealing
existed is read as it is and sealed when next written.

Losing the key file loses the sealed passwords (they must be entered again): back it up
with the database (``dure backup`` does).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from dure.errors import DureError

PREFIX = "sealed:v1:"
KEY_FILE = "secrets.key"


class SecretKeyMissing(DureError):
    """The key that opens the install's sealed secrets is absent or not the one used: an
    operator must restore it (the store cannot serve this until then)."""

    status = 503


class SecretBox:
    """Seals and opens short secrets with the install's key (made on first use)."""

    def __init__(self, key_dir: Path) -> None:
        self.path = Path(key_dir) / KEY_FILE
        self._fernet: Fernet | None = None
        self._lock = threading.Lock()

    def seal(self, value: str) -> str:
        """``value`` encrypted, as text for a database column (sealed values stay as they are)."""
        if is_sealed(value):
            return value
        return PREFIX + self._key(create=True).encrypt(value.encode()).decode("ascii")

    def open(self, value: str) -> str:
        """The clear text of a sealed value (a value that was never sealed is returned as is)."""
        if not is_sealed(value):
            return value
        try:
            return self._key(create=False).decrypt(value[len(PREFIX) :].encode()).decode()
        except InvalidToken as exc:
            raise SecretKeyMissing(
                f"a stored secret does not open with {self.path}: the key file was replaced; "
                "restore it from backup or enter the password again"
            ) from exc

    def _key(self, create: bool) -> Fernet:
        with self._lock:
            if self._fernet is None:
                if not self.path.exists():
                    if not create:
                        raise SecretKeyMissing(
                            f"{self.path} is missing, so stored passwords cannot be read: "
                            "restore it from backup or enter the passwords again"
                        )
                    _write_new_key(self.path)
                self._fernet = Fernet(self.path.read_bytes().strip())
            return self._fernet


def is_sealed(value: object) -> bool:
    """True for a value sealed by a ``SecretBox``."""
    return isinstance(value, str) and value.startswith(PREFIX)


def _write_new_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(Fernet.generate_key())
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(tmp, path)  # never replaces a key another process made meanwhile
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
