"""Conversion between SQL rows and domain dataclasses."""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import UTC, datetime
from enum import Enum
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Row, Table

E = TypeVar("E")


def to_entity(entity_type: type[E], row: Row[Any]) -> E:
    """Build a domain object from a row whose columns share the dataclass's field names."""
    mapping = row._mapping
    names = {f.name for f in dataclasses.fields(entity_type)}  # type: ignore[arg-type]
    enums = _enum_fields(entity_type)
    values = {k: _aware(v) for k, v in mapping.items() if k in names}
    for name, enum_type in enums.items():
        if values.get(name) is not None:
            values[name] = enum_type(values[name])
    return entity_type(**values)


@cache
def _enum_fields(entity_type: type) -> dict[str, type[Enum]]:
    out = {}
    for name, hint in typing.get_type_hints(entity_type).items():
        options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        for option in options:
            if isinstance(option, type) and issubclass(option, Enum):
                out[name] = option
    return out


def to_row(entity: Any, table: Table) -> dict[str, Any]:
    """The column values of a domain object for ``table`` (extra fields are ignored)."""
    data = dataclasses.asdict(entity)
    return {c.name: data[c.name] for c in table.columns if c.name in data}


def _aware(value: Any) -> Any:
    # SQLite hands datetimes back without a zone; everything Dure stores is UTC.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
