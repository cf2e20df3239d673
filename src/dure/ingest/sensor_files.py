"""Sensor-reading files: columns asset, channel, time, value (and optional unit)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from dure.errors import InvalidInput
from dure.ingest.tables_in import (
    RowErrors,
    check_columns,
    parse_numbers,
    parse_times,
    read_table,
    read_typed,
    text_column,
)

REQUIRED = ["asset", "channel", "time", "value"]
OPTIONAL = ["unit"]


@dataclass
class ParsedReadings:
    """A sensor file as columns; ``pairs[pair_index[i]]`` is row i's (asset, channel, unit)."""

    filename: str
    pairs: list[tuple[str, str, str]]
    pair_index: np.ndarray
    ts_us: np.ndarray
    values: np.ndarray
    errors: RowErrors

    def __len__(self) -> int:
        return int(self.ts_us.shape[0])

    def keep(self, mask: np.ndarray) -> ParsedReadings:
        """Only the rows where ``mask`` is true."""
        return ParsedReadings(
            self.filename,
            self.pairs,
            self.pair_index[mask],
            self.ts_us[mask],
            self.values[mask],
            self.errors,
        )


def parse_sensor_file(data: bytes, filename: str) -> ParsedReadings:
    """Check and convert a sensor file; bad rows are marked in ``errors``, not dropped."""
    table = read_typed(data, filename, TYPED) or read_table(data, filename)
    check_columns(table, filename, REQUIRED, OPTIONAL)
    n = table.num_rows
    if n == 0:
        raise InvalidInput("file", f"{filename}: the file has a header but no rows")
    errors = RowErrors(n)
    asset = _codes(table, "asset")
    channel = _codes(table, "channel")
    unit = _codes(table, "unit") if "unit" in table.column_names else None
    for name, col in (("asset", asset), ("channel", channel)):
        blank = [i for i, v in enumerate(col.dictionary.to_pylist()) if not v.strip()]
        empty = np.isin(np.asarray(col.indices.fill_null(-1)), blank) | np.asarray(
            col.indices.is_null()
        )
        errors.add(np.flatnonzero(empty), filename, name, lambda i, c=name: f"{c} is empty")
    ts_us = parse_times(table, "time", filename, errors)
    values = parse_numbers(table, "value", filename, errors)
    pairs, pair_index = _pair_codes(asset, channel, unit, filename, errors)
    _mark_duplicates(pair_index, ts_us, filename, errors)
    return ParsedReadings(filename, pairs, pair_index, ts_us, values, errors)


TYPED = {
    "asset": pa.dictionary(pa.int32(), pa.string()),
    "channel": pa.dictionary(pa.int32(), pa.string()),
    "unit": pa.dictionary(pa.int32(), pa.string()),
    "time": pa.timestamp("us", tz="UTC"),
    "value": pa.float64(),
}


def _codes(table: pa.Table, name: str) -> pa.DictionaryArray:
    col = table.column(name).combine_chunks()
    if pa.types.is_dictionary(col.type):
        return col
    return text_column(table, name).fill_null("").dictionary_encode()


def _pair_codes(
    asset: pa.DictionaryArray,
    channel: pa.DictionaryArray,
    unit: pa.DictionaryArray | None,
    filename: str,
    errors: RowErrors,
) -> tuple[list[tuple[str, str, str]], np.ndarray]:
    a_idx = np.asarray(asset.indices.fill_null(0)).astype(np.int64)
    c_idx = np.asarray(channel.indices.fill_null(0)).astype(np.int64)
    combined = a_idx * max(len(channel.dictionary), 1) + c_idx
    _, first_row, codes = np.unique(combined, return_index=True, return_inverse=True)
    codes = codes.astype(np.int32)
    a_names, c_names = asset.dictionary.to_pylist(), channel.dictionary.to_pylist()
    u_idx = np.asarray(unit.indices.fill_null(-1)) if unit is not None else None
    u_names = unit.dictionary.to_pylist() if unit is not None else []
    pairs = []
    for row in first_row.tolist():
        u = u_names[u_idx[row]] if u_idx is not None and u_idx[row] >= 0 else ""
        pairs.append((a_names[a_idx[row]].strip(), c_names[c_idx[row]].strip(), u.strip()))
    # The same channel must not change its unit inside one file.
    if u_idx is not None:
        clash = np.flatnonzero(u_idx[first_row[codes]] != u_idx)
        errors.add(
            clash,
            filename,
            "unit",
            lambda i: (
                f"unit {u_names[u_idx[i]] if u_idx[i] >= 0 else ''!r} differs from "
                f"{pairs[codes[i]][2]!r} earlier in the file"
            ),
        )
    return pairs, codes


def _mark_duplicates(
    pair_index: np.ndarray, ts_us: np.ndarray, filename: str, errors: RowErrors
) -> None:
    order = np.lexsort((ts_us, pair_index))
    same = (pair_index[order][1:] == pair_index[order][:-1]) & (
        ts_us[order][1:] == ts_us[order][:-1]
    )
    dup_rows = order[1:][same]
    first_of = {int(order[1:][k]): int(order[:-1][k]) for k in np.flatnonzero(same)[:50].tolist()}
    errors.add(
        np.sort(dup_rows),
        filename,
        "time",
        lambda i: (
            f"duplicate reading: same asset, channel and time as row {first_of.get(i, -2) + 1}"
        ),
    )
