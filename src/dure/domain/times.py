"""Times as Dure keeps them: integer microseconds since the epoch, UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a time without a zone (as SQLite gives them back) is taken as UTC."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def to_us(moment: datetime) -> int:
    """Exact microseconds since the epoch of a zone-aware time (no float rounding)."""
    return (moment - EPOCH) // _MICROSECOND


def from_us(ts_us: int) -> datetime:
    """The zone-aware UTC time of a microsecond timestamp."""
    return EPOCH + timedelta(microseconds=ts_us)


def iso_us(ts_us: int) -> str:
    """A microsecond timestamp as ISO 8601 to the second, UTC; the raw number if out of range."""
    try:
        return from_us(ts_us).isoformat(timespec="seconds")
    except OverflowError:
        return f"{ts_us} µs"
