"""Sensor-reading files: columns asset, channel, time, value (and optional unit)."""

from __future__ import annotations

from dataclasses import dataclass

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
    table = read_table(data, filename)
    check_columns(table, filename, REQUIRED, OPTIONAL)
    n = table.num_rows
    if n == 0:
        raise InvalidInput("file", f"{filename}: the file has a header but no rows")
    errors = RowErrors(n)
    asset = text_column(table, "asset")
    channel = text_column(table, "channel")
    unit = text_column(table, "unit") if "unit" in table.column_names else pa.array([""] * n)
    for name, col in (("asset", asset), ("channel", channel)):
        empty = np.asarray(pc.equal(pc.utf8_trim_whitespace(col), "").fill_null(True))
        errors.add(np.flatnonzero(empty), filename, name, lambda i, c=name: f"{c} is empty")
    ts_us = parse_times(table, "time", filename, errors)
    values = parse_numbers(table, "value", filename, errors)
    pairs, pair_index = _pair_codes(asset, channel, unit, filename, errors)
    _mark_duplicates(pair_index, ts_us, filename, errors)
    return ParsedReadings(filename, pairs, pair_index, ts_us, values, errors)


def _pair_codes(
    asset: pa.Array, channel: pa.Array, unit: pa.Array, filename: str, errors: RowErrors
) -> tuple[list[tuple[str, str, str]], np.ndarray]:
    key = pc.binary_join_element_wise(asset, channel, "\x1f")
    encoded = key.dictionary_encode()
    codes = np.asarray(encoded.indices).astype(np.int32)
    pairs: list[tuple[str, str, str]] = []
    units = unit.to_numpy(zero_copy_only=False)
    first_row = np.full(len(encoded.dictionary), -1, dtype=np.int64)
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    first_row[sorted_codes[starts]] = order[starts]
    for code, text in enumerate(encoded.dictionary.to_pylist()):
        a, c = text.split("\x1f", 1)
        pairs.append((a.strip(), c.strip(), str(units[first_row[code]]).strip()))
    # The same channel must not change its unit inside one file.
    if len(units) and any(units):
        unit_codes = np.asarray(unit.dictionary_encode().indices)
        first_unit = unit_codes[first_row[codes]]
        clash = np.flatnonzero(first_unit != unit_codes)
        errors.add(
            clash, filename, "unit",
            lambda i: f"unit {units[i]!r} differs from {pairs[codes[i]][2]!r} earlier in the file",
        )
    return pairs, codes


def _mark_duplicates(
    pair_index: np.ndarray, ts_us: np.ndarray, filename: str, errors: RowErrors
) -> None:
    order = np.lexsort((ts_us, pair_index))
    same = (pair_index[order][1:] == pair_index[order][:-1]) & (ts_us[order][1:] == ts_us[order][:-1])
    dup_rows = order[1:][same]
    first_of = {int(order[1:][k]): int(order[:-1][k]) for k in np.flatnonzero(same)[:50].tolist()}
    errors.add(
        np.sort(dup_rows), filename, "time",
        lambda i: "duplicate reading: same asset, channel and time as row "
        f"{first_of.get(i, -2) + 1}",
    )
