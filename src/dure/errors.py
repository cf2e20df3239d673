"""The one error hierarchy of Dure; the API maps it to problem+json in one place.

    DureError
     ├── InvalidInput(field, reason)   bad data from a user: 400/422
     │    ├── PayloadTooLarge           an upload over the size limit: 413
     │    ├── RejectedFile              a file refused whole for its bad rows
     │    └── ModelFileError            a saved model unlike its card (changed, foreign)
     ├── Unauthenticated               no or bad credentials: 401
     ├── Forbidden                     known caller, not allowed: 403
     ├── TooManyAttempts               too many failed log-ins: 429
     ├── NotFound                      absent, or not visible to the caller: 404
     ├── Conflict                      clashes with what is stored: 409
     │    └── StateConflict(field, reason)  not ready, or not of the kind it needs: 409
     ├── NotFittedError                a model used before fit
     ├── StoreUnavailable              the database cannot be reached just now: 503
     └── StoreRefused                  the database cannot hold a value (e.g. NUL in text): 422

Errors are raised where the problem is found; third-party errors are wrapped at
the boundary with ``raise ... from``.
"""

from __future__ import annotations


class DureError(Exception):
    """Base of every error Dure raises on purpose."""

    status = 500
    title = "Internal error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(DureError):
    """Input that cannot be accepted; ``field`` names where the problem is."""

    status = 422
    title = "Invalid input"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


class PayloadTooLarge(InvalidInput):
    """An upload larger than the configured limit."""

    status = 413
    title = "Payload too large"


class Unauthenticated(DureError):
    """Missing, unknown, revoked or expired credentials."""

    status = 401
    title = "Not authenticated"


class Forbidden(DureError):
    """The caller is known but its role does not allow the action."""

    status = 403
    title = "Forbidden"


class TooManyAttempts(DureError):
    """Too many failed log-ins for an account or from an address: wait, then try again."""

    status = 429
    title = "Too many attempts"


class NotFound(DureError):
    """Absent, or outside what the caller may see (the two are not told apart)."""

    status = 404
    title = "Not found"


class Conflict(DureError):
    """The request clashes with what is already stored."""

    status = 409
    title = "Conflict"


class Gone(DureError):
    """What the request names existed but was ended for good (a retired edge box)."""

    status = 410
    title = "Gone"


class StateConflict(Conflict):
    """What the request names is not in a state (or of a kind) that allows it: too few
    readings yet, an untrained model, a model of another task; ``field`` names it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotFittedError(DureError):
    """A model was used before ``fit`` or ``load``."""

    status = 409
    title = "Model not fitted"


class StoreUnavailable(DureError):
    """The store cannot take reads or writes just now (down, unreachable, locked): retry."""

    status = 503
    title = "Store unavailable"


class StoreRefused(DureError):
    """The store refused a value it cannot hold (the rest of the input may be fine);
    ``reason`` is the database's own words."""

    status = 422
    title = "Refused by the store"

    def __init__(self, reason: str) -> None:
        super().__init__(f"the store refused a value: {reason}")
        self.reason = reason


class RejectedFile(InvalidInput):
    """A file refused whole because of bad rows; ``errors`` lists the first of them."""

    def __init__(self, filename: str, summary: str, errors: list[dict[str, object]]) -> None:
        super().__init__(filename, f"file rejected, nothing was stored: {summary}")
        self.errors = errors


class ModelFileError(InvalidInput, ValueError):
    """A saved model folder that is not what its card says (missing, changed or foreign)."""

    def __init__(self, reason: str) -> None:
        super().__init__("model", reason)
