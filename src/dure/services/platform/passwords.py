"""What makes a password acceptable, and how it is kept: scrypt, salted.

The policy follows NIST SP 800-63B: a length floor and a list of passwords attackers try
first, no composition rules. The list holds the most common passwords of public breach
corpora and the shapes people fall back on (one character repeated, a run of keys).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import cache

from dure.errors import InvalidInput

MIN_LENGTH = 10
MAX_LENGTH = 200
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}

COMMON = frozenset(
    """
    123456789 1234567890 12345678 password password1 password12 password123 passw0rd
    qwerty123 qwertyuiop 1q2w3e4r5t 1qaz2wsx3edc qazwsxedc asdfghjkl zxcvbnm123 iloveyou
    iloveyou1 princess1 sunshine1 football1 baseball1 welcome1 welcome123 admin12345
    administrator letmein123 monkey1234 dragon1234 master1234 superman1 trustno1 abc1234567
    abcdefghij 0987654321 1111111111 0000000000 1234512345 1234554321 1122334455
    qwerty1234 password2024 password2025 password2026 changeme123 secret1234 default123
    samsung123 hyundai123 korea12345 seoul12345 admin@123 p@ssw0rd p@ssword1 q1w2e3r4t5
    zaq12wsxcde 147258369 987654321 123123123 111222333 asdf123456 aaaaaaaaaa
    """.split()
)
_RUNS = ("0123456789", "1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "abcdefghijklmnop")


def check_password(password: str, email: str = "") -> None:
    """InvalidInput naming ``password`` unless it is long and not an obvious guess."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput("password", f"use at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InvalidInput("password", f"use at most {MAX_LENGTH} characters")
    lowered = password.lower()
    if lowered in COMMON or len(set(lowered)) <= 2:
        raise InvalidInput("password", "this is one of the first passwords attackers try")
    if any(lowered in run or lowered in run[::-1] for run in _RUNS):
        raise InvalidInput("password", "a run of keys is one of the first passwords tried")
    local = email.split("@", 1)[0].lower()
    if len(local) >= 4 and local in lowered:
        raise InvalidInput("password", "do not build the password from the e-mail address")


def hash_password(password: str, email: str = "") -> str:
    """A salted scrypt hash of an acceptable ``password`` in ``scrypt$salt$hash`` form."""
    check_password(password, email)
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    """True when ``password`` matches a hash made by ``hash_password``.

    Without a stored hash the work is done against a fixed one all the same, so an
    unknown e-mail costs the same time as a wrong password.
    """
    if not stored or not stored.startswith("scrypt$"):
        stored = _stand_in()
        known = False
    else:
        known = True
    _, salt, digest = stored.split("$")
    check = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **_SCRYPT)
    return hmac.compare_digest(check.hex(), digest) and known


@cache
def _stand_in() -> str:
    salt = b"dure-stand-in-16"
    digest = hashlib.scrypt(b"no user has this password", salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"
