"""DL/T 645-2007 data identifiers, their value formats, and the reasons a frame is refused.

The table itself is data, ``meterwatch/data/dlt645_ids.csv``, with its source and how sure each
row is. Values are packed BCD, low byte first on the wire:

- ``unsigned_bcd`` / ``signed_bcd``: a number with ``decimals`` implied decimal places; in
  ``signed_bcd`` the top bit of the last (most significant) byte is the sign. Energy (kWh) is
  returned as ``int`` Wh, everything else as ``float``.
- ``date_week``: YY MM DD WW (sent WW first), WW = 0 for Sunday; years are 20YY.
- ``time_hms``: hh mm ss (sent ss first), the meter's local clock.

Use these through :mod:`meterwatch.dlt645`, which re-exports the public names.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Final, TypeAlias

from meterwatch.errors import CodecError, RejectedPayload

# Data identifiers (DI3 DI2 DI1 DI0 as one number); each must be a row of dlt645_ids.csv.
DI_IMPORT_ENERGY: Final = 0x00010000
DI_EXPORT_ENERGY: Final = 0x00020000
DI_VOLTAGE_A: Final = 0x02010100
DI_CURRENT_A: Final = 0x02020100
DI_DATE: Final = 0x04000101
DI_TIME: Final = 0x04000102


Dlt645Value: TypeAlias = int | float | date | time


class Dlt645Reason(StrEnum):
    """Why input was refused; the ``reason`` of its :class:`RejectedPayload`.

    The first five concern a whole payload and use the same strings as
    :class:`meterwatch.payloads.Reason`, so dead-letter counts agree across formats.
    """

    OVERSIZED = "oversized_payload"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    BAD_SCHEMA = "bad_schema"
    BAD_TIMESTAMP = "bad_timestamp"
    BAD_HEX = "bad_hex"
    BAD_START = "bad_start"
    BAD_END = "bad_end"
    TRUNCATED_FRAME = "truncated_frame"
    TRAILING_BYTES = "trailing_bytes"
    BAD_CHECKSUM = "bad_checksum"
    BAD_BCD = "bad_bcd"
    BAD_LENGTH = "bad_length"
    BAD_VALUE = "bad_value"
    UNKNOWN_IDENTIFIER = "unknown_identifier"
    ERROR_REPLY = "error_reply"
    UNSUPPORTED_CONTROL = "unsupported_control"
    DUPLICATE_IDENTIFIER = "duplicate_identifier"
    MISSING_ENERGY = "missing_energy"


@dataclass(frozen=True)
class DataIdentifier:
    """One row of ``dlt645_ids.csv``: where a value goes and how it is encoded."""

    di: int
    reading_field: str
    kind: str  # unsigned_bcd | signed_bcd | date_week | time_hms
    length: int
    decimals: int
    unit: str
    verified: bool
    name: str


def _load_identifiers() -> Mapping[int, DataIdentifier]:
    text = (Path(__file__).parent / "data" / "dlt645_ids.csv").read_text("utf-8")
    rows = csv.DictReader(line for line in io.StringIO(text) if not line.startswith("#"))
    table = {
        int(row["di"], 16): DataIdentifier(
            di=int(row["di"], 16),
            reading_field=row["field"],
            kind=row["kind"],
            length=int(row["length"]),
            decimals=int(row["decimals"]),
            unit=row["unit"],
            verified=row["verified"] == "yes",
            name=row["name"],
        )
        for row in rows
    }
    return MappingProxyType(table)


IDENTIFIERS: Final = _load_identifiers()


def bcd_digits(value: bytes, what: str) -> str:
    """Packed BCD, most significant byte first, as a digit string."""
    digits = value.hex()
    if not digits.isdigit():
        raise RejectedPayload(Dlt645Reason.BAD_BCD, f"{what} {digits.upper()} is not BCD")
    return digits


def bcd_bytes(numbers: list[int]) -> bytes:
    """Numbers 0..99 as one packed BCD byte each."""
    return bytes((n // 10) << 4 | n % 10 for n in numbers)


def decode_value(identifier: DataIdentifier, raw: bytes) -> Dlt645Value:
    """The typed value of ``raw`` (33H already removed); raises :class:`RejectedPayload`."""
    if len(raw) != identifier.length:
        raise RejectedPayload(
            Dlt645Reason.BAD_LENGTH,
            f"{identifier.name}: {len(raw)} value bytes, expected {identifier.length}",
        )
    if identifier.kind in ("date_week", "time_hms"):
        parts = [int(bcd_digits(bytes([b]), identifier.name)) for b in raw]
        try:
            if identifier.kind == "time_hms":
                second, minute, hour = parts
                return time(hour, minute, second)
            week, day, month, year = parts
            if week > 6:
                raise ValueError(f"weekday {week}")
            return date(2000 + year, month, day)
        except ValueError as exc:
            raise RejectedPayload(Dlt645Reason.BAD_VALUE, f"{identifier.name}: {exc}") from exc
    negative = identifier.kind == "signed_bcd" and bool(raw[-1] & 0x80)
    if identifier.kind == "signed_bcd":
        raw = raw[:-1] + bytes([raw[-1] & 0x7F])
    number = int(bcd_digits(raw[::-1], identifier.name))
    if identifier.unit == "kWh":
        wh: int = number * 10 ** (3 - identifier.decimals)
        return -wh if negative else wh
    magnitude: float = number / 10**identifier.decimals
    return -magnitude if negative and number else magnitude


def encode_value(identifier: DataIdentifier, value: Dlt645Value) -> bytes:
    """The plain value bytes for ``value``; raises :class:`CodecError` if it cannot be sent."""
    name = identifier.name
    if identifier.kind == "date_week":
        if type(value) is not date or not 2000 <= value.year <= 2099:
            raise CodecError(f"{name} needs a date in 2000..2099, got {value!r}")
        weekday = (value.weekday() + 1) % 7  # 0 = Sunday
        return bcd_bytes([weekday, value.day, value.month, value.year - 2000])
    if identifier.kind == "time_hms":
        if not isinstance(value, time):
            raise CodecError(f"{name} needs a time, got {value!r}")
        return bcd_bytes([value.second, value.minute, value.hour])
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CodecError(f"{name} needs a finite number, got {value!r}")
    if identifier.unit == "kWh":
        if not isinstance(value, int):
            raise CodecError(f"{name} needs whole watt-hours, got {value!r}")
        number = abs(value) // 10 ** (3 - identifier.decimals)
    else:
        number = round(abs(value) * 10**identifier.decimals)
    signed = identifier.kind == "signed_bcd"
    digits = 2 * identifier.length
    limit = 8 * 10 ** (digits - 1) if signed else 10**digits
    if number >= limit or (value < 0 and not signed):
        raise CodecError(f"{name} cannot carry {value!r}")
    encoded = bytearray(bytes.fromhex(f"{number:0{digits}d}")[::-1])
    if value < 0 and number:
        encoded[-1] |= 0x80
    return bytes(encoded)
