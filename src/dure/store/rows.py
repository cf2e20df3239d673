"""Conversion between SQL rows and domain dataclasses."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Row, Table

E = TypeVar("E")


def to_entity(entity_type: type[E], row: Row[Any]) -> E:
    """Build a domain object from a row whose columns share the dataclass's field names."""
    mapping = row._mapping
    names = {f.name for f in dataclasses.fields(entity_type)}  # type: ignore[arg-type]
    values = {k: _aware(v) for k, v in mapping.items() if k in names}
    return entity_type(**values)


def to_row(entity: Any, table: Table) -> dict[str, Any]:
    """The column values of a domain object for ``table`` (extra fields are ignored)."""
    data = dataclasses.asdict(entity)
    return {c.name: data[c.name] for c in table.columns if c.name in data}


def _aware(value: Any) -> Any:
    # SQLite hands datetimes back without a zone; everything Dure stores is UTC.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
