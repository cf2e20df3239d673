"""Pages of a listing: how many items, from where, and where the next page starts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from dure.errors import InvalidInput

E = TypeVar("E")
MAX_OFFSET = 1_000_000_000


@dataclass(frozen=True)
class Page:
    """A window on a listing: at most ``limit`` items after skipping ``offset``."""

    limit: int = 50
    offset: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= 1000:
            raise InvalidInput("limit", f"must be between 1 and 1000, got {self.limit}")
        if not 0 <= self.offset <= MAX_OFFSET:
            raise InvalidInput("offset", f"must be between 0 and {MAX_OFFSET:,}, got {self.offset}")


@dataclass(frozen=True)
class Listing(Generic[E]):
    """One page of results and where the next page starts (None when this is the last)."""

    items: list[E]
    limit: int
    offset: int
    next_offset: int | None
