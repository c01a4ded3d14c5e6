"""CSV input and output of univariate time series: ``timestamp,value`` in, one score column out.

Input: a header naming a ``timestamp`` and a ``value`` column (any order, any case; other
columns are ignored), then one row per observation. A timestamp is either epoch seconds
(``1700000000`` or ``1700000000.25``) or ISO-8601 (``2024-03-01T12:00:00Z``,
``2024-03-01 12:00:00+01:00``; without an offset it is taken as UTC). An empty or ``NaN``
value is a missing observation. Rows may come in any time order. Blank lines are skipped.

Any other problem raises :class:`~meterwatch.errors.DecodeError` naming the line.

Output: the input's timestamp and value text unchanged, plus the score column, in input order.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

import numpy as np
import numpy.typing as npt

from meterwatch.errors import DecodeError

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Series:
    """One series as read: parsed arrays plus the original text of each row."""

    timestamps: FloatArray  # epoch seconds
    values: FloatArray  # NaN = missing
    timestamp_text: tuple[str, ...]
    value_text: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.timestamps.size)


def parse_timestamp(text: str) -> float:
    """Epoch seconds from epoch-seconds text or ISO-8601; raises ValueError otherwise."""
    stripped = text.strip()
    try:
        seconds = float(stripped)
    except ValueError:
        iso = stripped[:-1] + "+00:00" if stripped.endswith(("Z", "z")) else stripped
        moment = datetime.fromisoformat(iso)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    if not math.isfinite(seconds):
        raise ValueError("not a finite number")
    return seconds


def _parse_value(text: str) -> float:
    stripped = text.strip()
    if not stripped:
        return math.nan
    value = float(stripped)
    if math.isinf(value):
        raise ValueError("infinite value")
    return value


def read_series(source: TextIO, *, name: str = "input") -> Series:
    """Read a ``timestamp,value`` CSV; ``name`` prefixes error messages."""
    reader = csv.reader(source)
    header: list[str] | None = None
    ts_col = val_col = -1
    stamps: list[float] = []
    values: list[float] = []
    ts_text: list[str] = []
    val_text: list[str] = []
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in row]
            if "timestamp" not in header or "value" not in header:
                raise DecodeError(
                    f"{name} line {line}: the header must name 'timestamp' and 'value' "
                    f"columns, got {row}"
                )
            ts_col, val_col = header.index("timestamp"), header.index("value")
            continue
        if len(row) != len(header):
            raise DecodeError(
                f"{name} line {line}: expected {len(header)} fields like the header, got {len(row)}"
            )
        try:
            stamp = parse_timestamp(row[ts_col])
        except ValueError as exc:
            raise DecodeError(
                f"{name} line {line}: bad timestamp {row[ts_col]!r} "
                "(want epoch seconds or ISO-8601)"
            ) from exc
        try:
            value = _parse_value(row[val_col])
        except ValueError as exc:
            raise DecodeError(f"{name} line {line}: bad value {row[val_col]!r}") from exc
        stamps.append(stamp)
        values.append(value)
        ts_text.append(row[ts_col])
        val_text.append(row[val_col])
    if header is None:
        raise DecodeError(f"{name}: empty file, expected a 'timestamp,value' header")
    return Series(
        np.array(stamps, dtype=np.float64),
        np.array(values, dtype=np.float64),
        tuple(ts_text),
        tuple(val_text),
    )


def write_scored(
    sink: TextIO, series: Series, scores: Iterable[float], *, column: str = "anomaly_score"
) -> None:
    """Write ``timestamp,value,<column>``; a NaN score (missing value) is written empty."""
    writer = csv.writer(sink, lineterminator="\n")
    writer.writerow(["timestamp", "value", column])
    for stamp, value, score in zip(series.timestamp_text, series.value_text, scores, strict=True):
        writer.writerow([stamp, value, "" if math.isnan(score) else repr(float(score))])
