"""Reading CSV and Parquet files into columns, with errors that name file, row and column."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from dure.errors import InvalidInput

MAX_REPORTED_ERRORS = 50
# A table is refused before it is parsed when its header would cost more than a file
# should: a million-column header once took 17 GB to parse.
MAX_COLUMNS = 1000
MAX_HEADER_BYTES = 64 << 10


@dataclass(frozen=True)
class RowError:
    """One bad cell: the file, its 1-based data row (header not counted), column and why."""

    file: str
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}, row {self.row}, column {self.column!r}: {self.reason}"

    def as_dict(self) -> dict[str, object]:
        """Plain form for JSON answers and the import ledger."""
        return {"file": self.file, "row": self.row, "column": self.column, "reason": self.reason}


@dataclass
class RowErrors:
    """Bad rows found while checking a file: a mask over rows plus the first messages."""

    n_rows: int
    bad: np.ndarray = field(init=False)
    messages: list[RowError] = field(default_factory=list)
    count: int = 0

    def __post_init__(self) -> None:
        self.bad = np.zeros(self.n_rows, dtype=bool)

    def add(self, rows: np.ndarray, file: str, column: str, reason_of: object) -> None:
        """Mark ``rows`` (0-based) bad; ``reason_of(i)`` explains row ``i``."""
        for i in rows.tolist():
            if not self.bad[i]:
                self.count += 1
            self.bad[i] = True
            if len(self.messages) < MAX_REPORTED_ERRORS:
                self.messages.append(RowError(file, i + 1, column, reason_of(i)))  # type: ignore[operator]

    def summary(self) -> str:
        """A message naming the first problems and how many rows are bad in all."""
        first = "; ".join(str(m) for m in self.messages[:5])
        more = f" (and {self.count - 5} more bad rows)" if self.count > 5 else ""
        return f"{self.count} bad rows: {first}{more}"


def read_table(data: bytes, filename: str) -> pa.Table:
    """Parse CSV or Parquet bytes into a table of strings (CSV) or typed columns (Parquet)."""
    suffix = Path(filename).suffix.lower()
    if suffix in {".parquet", ".pq"}:
        try:
            width = len(pq.read_schema(io.BytesIO(data)).names)
            if width > MAX_COLUMNS:
                raise InvalidInput(
                    "header", f"{filename}: {width:,} columns; at most {MAX_COLUMNS:,} are read"
                )
            return pq.read_table(io.BytesIO(data))
        except (pa.ArrowException, OSError) as exc:
            raise InvalidInput(
                "file", f"{filename}: not a readable Parquet file ({_arrow_reason(exc)})"
            ) from exc
    if suffix not in {".csv", ".txt", ".tsv"}:
        raise InvalidInput(
            "file", f"{filename}: use a .csv or .parquet file, not {suffix or 'no extension'}"
        )
    if not data.strip():
        raise InvalidInput("file", f"{filename}: the file is empty")
    delimiter = "\t" if suffix == ".tsv" else ","
    try:
        names = _header_names(data, delimiter)
        return pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid as exc:
        raise InvalidInput("file", f"{filename}: malformed CSV ({_arrow_reason(exc)})") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput("file", f"{filename}: not UTF-8 text ({exc.reason})") from exc


def read_typed(data: bytes, filename: str, types: dict[str, pa.DataType]) -> pa.Table | None:
    """Fast path: a clean CSV parsed straight into typed columns; None if anything is off.

    Any surprise (a bad cell, a time without an offset, an unexpected column) returns
    None, and the caller takes the slower string path that names every bad cell.
    """
    if Path(filename).suffix.lower() != ".csv" or not data.strip():
        return None
    try:
        names = _header_names(data, ",")
    except InvalidInput:
        return None
    if any(n not in types for n in names):
        return None
    try:
        return pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(block_size=1 << 24),
            convert_options=pacsv.ConvertOptions(
                column_types={n: types[n] for n in names},
                null_values=[""],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
        return None


def _header_names(data: bytes, delimiter: str) -> list[str]:
    end = data.find(b"\n", 0, MAX_HEADER_BYTES + 1)
    if end < 0 and len(data) > MAX_HEADER_BYTES:
        raise InvalidInput("header", f"the header row is longer than {MAX_HEADER_BYTES // 1024} KB")
    first = data[: end if end >= 0 else len(data)].decode("utf-8-sig").strip("\r")
    if first.count(delimiter) >= MAX_COLUMNS:
        raise InvalidInput(
            "header",
            f"{first.count(delimiter) + 1:,} columns; at most {MAX_COLUMNS:,} are read",
        )
    names = [n.strip().strip('"') for n in first.split(delimiter)]
    seen: set[str] = set()
    for n in names:
        if not n:
            raise InvalidInput("header", "a column in the header row has no name")
        if n in seen:
            raise InvalidInput("header", f"column {n!r} appears twice in the header row")
        seen.add(n)
    return names


def _arrow_reason(exc: Exception) -> str:
    text = str(exc).replace("CSV parse error: ", "")
    return text.splitlines()[0][:300]


def check_columns(table: pa.Table, filename: str, required: list[str], optional: list[str]) -> None:
    """Refuse a file missing a required column or carrying one that is not declared."""
    names = [n.lstrip("\ufeff") for n in table.column_names]
    missing = [c for c in required if c not in names]
    if missing:
        raise InvalidInput(
            "columns", f"{filename}: missing column(s) {missing}; the file has {names}"
        )
    unknown = [c for c in names if c not in required and c not in optional]
    if unknown:
        raise InvalidInput(
            "columns",
            f"{filename}: unknown column(s) {unknown}; declared columns are {required + optional}",
        )


def text_column(table: pa.Table, name: str) -> pa.Array:
    """A column as strings, whatever its stored type."""
    col = table.column(name).combine_chunks()
    return col if pa.types.is_string(col.type) else pc.cast(col, pa.string())


def parse_times(table: pa.Table, name: str, filename: str, errors: RowErrors) -> np.ndarray:
    """ISO 8601 times (offset, 'Z', or naive meaning UTC) to int64 microseconds since epoch."""
    col = table.column(name).combine_chunks()
    if pa.types.is_timestamp(col.type):
        if col.type.tz is None:
            col = pc.assume_timezone(col, "UTC")
        us = pc.cast(col, pa.timestamp("us", tz="UTC")).cast(pa.int64())
        values = us.to_numpy(zero_copy_only=False)
        nulls = np.asarray(pc.is_null(us))
        errors.add(np.flatnonzero(nulls), filename, name, lambda i: "missing time")
        return np.where(nulls, 0, values).astype(np.int64)
    text = text_column(table, name)
    for target in (pa.timestamp("us", tz="UTC"), pa.timestamp("us")):
        try:
            return np.asarray(pc.cast(text, target).cast(pa.int64())).astype(np.int64)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return _parse_times_slowly(text.to_pylist(), filename, name, errors)


def _parse_times_slowly(
    texts: list[str], filename: str, name: str, errors: RowErrors
) -> np.ndarray:
    out = np.zeros(len(texts), dtype=np.int64)
    bad: list[int] = []
    reasons: dict[int, str] = {}
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for i, text in enumerate(texts):
        try:
            moment = datetime.fromisoformat(text.strip())
        except (ValueError, AttributeError):
            bad.append(i)
            reasons[i] = f"{text!r} is not an ISO 8601 time such as 2024-05-01T08:30:00+09:00"
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        delta = moment - epoch
        out[i] = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    errors.add(np.asarray(bad, dtype=np.int64), filename, name, lambda i: reasons[i])
    return out


def parse_numbers(
    table: pa.Table, name: str, filename: str, errors: RowErrors, *, required: bool = True
) -> np.ndarray:
    """A column as finite float64; empty, non-numeric, NaN and infinite cells are row errors."""
    col = table.column(name).combine_chunks()
    if pa.types.is_floating(col.type) or pa.types.is_integer(col.type):
        values = np.asarray(pc.cast(col, pa.float64()).fill_null(math.nan))
        texts = None
    else:
        text = text_column(table, name)
        try:
            values = np.asarray(
                pc.cast(pc.if_else(pc.equal(text, ""), None, text), pa.float64()).fill_null(
                    math.nan
                )
            )
            texts = None
        except pa.ArrowInvalid:
            texts = text.to_pylist()
            values = np.array([_float_or_nan(s) for s in texts], dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        cells = (
            texts if texts is not None else text_column(table, name).take(pa.array(bad)).to_pylist()
        )
        shown = dict(
            zip(
                bad.tolist(),
                cells if texts is None else [texts[i] for i in bad.tolist()],
                strict=True,
            )
        )
        if required:
            errors.add(bad, filename, name, lambda i: _number_reason(shown[i]))
        else:
            really_bad = np.asarray(
                [i for i in bad.tolist() if str(shown[i]).strip() != ""], dtype=np.int64
            )
            errors.add(really_bad, filename, name, lambda i: _number_reason(shown[i]))
    return values


def _float_or_nan(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _number_reason(cell: object) -> str:
    text = "" if cell is None else str(cell)
    if text.strip() == "":
        return "empty; a number is required"
    try:
        value = float(text)
    except ValueError:
        return f"{text!r} is not a number"
    return f"{value} is not a finite number"
