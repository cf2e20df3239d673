"""Process-record files: one row per part or lot, declared parameter columns with units."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dure.errors import InvalidInput
from dure.ingest.tables_in import (
    RowErrors,
    check_columns,
    parse_numbers,
    parse_times,
    read_table,
    text_column,
)

KEY_COLUMNS = ["part", "time"]
OPTIONAL_KEYS = ["lot", "serial", "line"]
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Parameter:
    """A declared process parameter: its unit and, optionally, the plausible range."""

    name: str
    unit: str
    min: float | None = None
    max: float | None = None
    required: bool = True


@dataclass(frozen=True)
class ProcessSchema:
    """The declared parameters of process-record files."""

    parameters: tuple[Parameter, ...]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProcessSchema:
        """Read ``{"parameters": {"name": {"unit": "kN", "min": 0, "max": 900}, ...}}``."""
        params = data.get("parameters") if isinstance(data, dict) else None
        if not isinstance(params, dict) or not params:
            raise InvalidInput("schema.parameters", "declare at least one parameter with its unit")
        out = []
        for name, spec in params.items():
            where = f"schema.parameters.{name}"
            if not _NAME.match(name) or name in KEY_COLUMNS + OPTIONAL_KEYS:
                raise InvalidInput(where, "use letters, digits and _ (not a key column name)")
            if not isinstance(spec, dict) or not isinstance(spec.get("unit"), str):
                raise InvalidInput(where, 'give the unit, e.g. {"unit": "kN"}')
            lo, hi = spec.get("min"), spec.get("max")
            for bound_name, bound in (("min", lo), ("max", hi)):
                if bound is not None and not isinstance(bound, int | float):
                    raise InvalidInput(f"{where}.{bound_name}", f"{bound!r} is not a number")
            if lo is not None and hi is not None and lo > hi:
                raise InvalidInput(where, f"min {lo} is above max {hi}")
            out.append(Parameter(name, spec["unit"], lo, hi, bool(spec.get("required", True))))
        return cls(tuple(out))

    @classmethod
    def from_json(cls, text: str, source: str = "schema") -> ProcessSchema:
        """Parse a schema from JSON text; ``source`` names the file in errors."""
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise InvalidInput(source, f"not valid JSON (line {exc.lineno}: {exc.msg})") from exc

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the schema."""
        return {
            "parameters": {
                p.name: {"unit": p.unit, "min": p.min, "max": p.max, "required": p.required}
                for p in self.parameters
            }
        }

    @property
    def units(self) -> dict[str, str]:
        """Parameter name to unit."""
        return {p.name: p.unit for p in self.parameters}


@dataclass
class ParsedProcessRows:
    """A process file as rows ready to store, plus the errors found."""

    filename: str
    part: list[str]
    lot: list[str | None]
    serial: list[str | None]
    line: list[str | None]
    ts_us: np.ndarray
    values: dict[str, np.ndarray]
    errors: RowErrors
    units: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.part)

    def row_values(self, i: int) -> dict[str, float]:
        """The parameter values of row ``i`` (missing optional ones left out)."""
        return {k: float(v[i]) for k, v in self.values.items() if not math.isnan(v[i])}


def parse_process_file(data: bytes, filename: str, schema: ProcessSchema) -> ParsedProcessRows:
    """Check a process-record file against ``schema``; bad rows are marked, not dropped."""
    table = read_table(data, filename)
    check_columns(
        table,
        filename,
        KEY_COLUMNS + [p.name for p in schema.parameters if p.required],
        OPTIONAL_KEYS + [p.name for p in schema.parameters if not p.required],
    )
    n = table.num_rows
    if n == 0:
        raise InvalidInput("file", f"{filename}: the file has a header but no rows")
    errors = RowErrors(n)
    part = _texts(table, "part", n)
    empty = np.flatnonzero(np.asarray([not p.strip() for p in part]))
    errors.add(empty, filename, "part", lambda i: "part number is empty")
    ts_us = parse_times(table, "time", filename, errors)
    values: dict[str, np.ndarray] = {}
    for p in schema.parameters:
        if p.name not in table.column_names:
            values[p.name] = np.full(n, math.nan)
            continue
        col = parse_numbers(table, p.name, filename, errors, required=p.required)
        values[p.name] = col
        _check_range(p, col, filename, errors)
    rows = ParsedProcessRows(
        filename,
        part,
        _optional(table, "lot", n),
        _optional(table, "serial", n),
        _optional(table, "line", n),
        ts_us,
        values,
        errors,
        schema.units,
    )
    _mark_duplicate_keys(rows)
    return rows


def _texts(table: pa.Table, name: str, n: int) -> list[str]:
    return [s.strip() for s in text_column(table, name).to_pylist()]


def _optional(table: pa.Table, name: str, n: int) -> list[str | None]:
    if name not in table.column_names:
        return [None] * n
    return [s.strip() or None for s in pc.fill_null(text_column(table, name), "").to_pylist()]


def _check_range(p: Parameter, col: np.ndarray, filename: str, errors: RowErrors) -> None:
    with np.errstate(invalid="ignore"):
        low = col < p.min if p.min is not None else np.zeros(col.shape, bool)
        high = col > p.max if p.max is not None else np.zeros(col.shape, bool)
    errors.add(
        np.flatnonzero(low),
        filename,
        p.name,
        lambda i: f"{col[i]} {p.unit} is below the declared minimum {p.min}",
    )
    errors.add(
        np.flatnonzero(high),
        filename,
        p.name,
        lambda i: f"{col[i]} {p.unit} is above the declared maximum {p.max}",
    )


def _mark_duplicate_keys(rows: ParsedProcessRows) -> None:
    seen: dict[tuple[object, ...], int] = {}
    dups: list[int] = []
    first: dict[int, int] = {}
    for i in range(len(rows)):
        key = (rows.part[i], rows.lot[i], rows.serial[i], int(rows.ts_us[i]))
        if key in seen:
            dups.append(i)
            first[i] = seen[key]
        else:
            seen[key] = i
    rows.errors.add(
        np.asarray(dups, dtype=np.int64),
        rows.filename,
        "time",
        lambda i: f"duplicate key: same part, lot, serial and time as row {first[i] + 1}",
    )
