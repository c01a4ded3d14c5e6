"""DL/T 645-2007 frames: the codec and the decoder of ``dlt645`` MQTT payloads.

A frame on the wire (DL/T 645-2007, clause 7)::

    [FE x 0..4]  68  A0..A5  68  C  L  DATA (L bytes, each +33H)  CS  16

- ``A0..A5``: the meter address, 12 BCD digits, lowest two digits (A0) first.
- ``C``: the control code. D7 = 1 when the meter sends, D6 = 1 for an abnormal (error) reply,
  D5 = 1 when more frames follow, D4..D0 the function (10001b = read data). So a read request
  is 11H, its normal reply 91H (B1H with more to follow) and its error reply D1H.
- ``CS``: the sum, mod 256, of every byte from the first 68H through the last data byte.
- In a read reply, ``DATA`` is the data identifier DI0 DI1 DI2 DI3 followed by the value in
  BCD, low byte first. An error reply carries one error word (ERR).

The data identifiers and their value formats are data: ``meterwatch/data/dlt645_ids.csv``.
Faulty input raises :class:`RejectedPayload` with a :class:`Dlt645Reason`. This module depends
only on :mod:`meterwatch.domain` and :mod:`meterwatch.errors`, so the generic payload decoder
can import it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any, Final

import numpy as np

from meterwatch.dlt645_ids import (
    DI_CURRENT_A,
    DI_DATE,
    DI_EXPORT_ENERGY,
    DI_IMPORT_ENERGY,
    DI_TIME,
    DI_VOLTAGE_A,
    IDENTIFIERS,
    DataIdentifier,
    Dlt645Reason,
    Dlt645Value,
    bcd_digits,
    decode_value,
    encode_value,
)
from meterwatch.domain import METER_ID_DIGITS, ReadingFrame
from meterwatch.errors import CodecError, RejectedPayload
from meterwatch.json_payload import load_json_object

__all__ = [
    "DI_CURRENT_A",
    "DI_DATE",
    "DI_EXPORT_ENERGY",
    "DI_IMPORT_ENERGY",
    "DI_TIME",
    "DI_VOLTAGE_A",
    "IDENTIFIERS",
    "READ_DATA",
    "READ_ERROR_REPLY",
    "READ_REPLY",
    "READ_REPLY_MORE",
    "DataIdentifier",
    "Dlt645Batch",
    "Dlt645Frame",
    "Dlt645Reading",
    "Dlt645Reason",
    "Dlt645Value",
    "decode_dlt645_payload",
    "decode_frame",
    "encode_error_reply",
    "encode_frame",
    "encode_read_reply",
    "encode_read_request",
]

START: Final = 0x68
END: Final = 0x16
PREAMBLE: Final = 0xFE
MAX_PREAMBLE: Final = 4
DATA_OFFSET: Final = 0x33
_HEADER_LEN: Final = 10  # 68 A0..A5 68 C L

FROM_METER: Final = 0x80  # control D7: sent by the meter (slave)
ABNORMAL: Final = 0x40  # control D6: abnormal (error) reply
MORE_FOLLOWS: Final = 0x20  # control D5: more frames follow
READ_DATA: Final = 0x11
READ_REPLY: Final = READ_DATA | FROM_METER
READ_REPLY_MORE: Final = READ_REPLY | MORE_FOLLOWS
READ_ERROR_REPLY: Final = READ_REPLY | ABNORMAL
_READ_REPLIES: Final = (READ_REPLY, READ_REPLY_MORE)

# The bits of the error word ERR, D0 first (DL/T 645-2007, error information word; D7 is
# reserved). Recalled from the standard; D0 and D1 agree with public examples.
ERROR_BITS: Final = (
    "other_error",
    "no_requested_data",
    "unauthorized",
    "baud_rate_unchangeable",
    "too_many_year_zones",
    "too_many_day_periods",
    "too_many_tariffs",
)


@dataclass(frozen=True)
class Dlt645Frame:
    """A decoded frame. ``data`` is the data field with the 33H offset removed.

    ``di`` is set for read requests and read replies; ``value`` (energy in Wh as ``int``,
    volts and amps as ``float``, ``date`` or ``time``) for read replies; ``error_word`` for
    error replies.
    """

    address: str
    control: int
    data: bytes
    di: int | None = None
    value: Dlt645Value | None = None
    error_word: int | None = None

    @property
    def is_error_reply(self) -> bool:
        return self.control & (FROM_METER | ABNORMAL) == FROM_METER | ABNORMAL

    @property
    def errors(self) -> tuple[str, ...]:
        """Names of the bits set in the error word."""
        word = self.error_word or 0
        return tuple(name for bit, name in enumerate(ERROR_BITS) if word >> bit & 1)


def encode_frame(address: str, control: int, data: bytes, *, preamble: int = 0) -> bytes:
    """Build a frame; ``data`` is given plain and sent +33H. ``preamble`` FE bytes lead."""
    if not 0 <= control <= 0xFF:
        raise CodecError(f"control code {control} is not one byte")
    if len(data) > 0xFF:
        raise CodecError(f"data field of {len(data)} bytes does not fit the length byte")
    if not 0 <= preamble <= MAX_PREAMBLE:
        raise CodecError(f"preamble of {preamble} bytes; 0..{MAX_PREAMBLE} allowed")
    if not (len(address) == METER_ID_DIGITS and address.isascii() and address.isdigit()):
        raise CodecError(f"address {address!r} is not {METER_ID_DIGITS} decimal digits")
    body = bytes(
        [START, *bytes.fromhex(address)[::-1], START, control, len(data)]
        + [(b + DATA_OFFSET) & 0xFF for b in data]
    )
    return bytes([PREAMBLE] * preamble) + body + bytes([sum(body) & 0xFF, END])


def encode_read_request(address: str, di: int, *, preamble: int = 0) -> bytes:
    """The master's read-data request (11H) for one data identifier."""
    return encode_frame(address, READ_DATA, _di_bytes(di), preamble=preamble)


def encode_read_reply(address: str, di: int, value: Dlt645Value, *, preamble: int = 0) -> bytes:
    """A meter's normal read reply (91H) carrying ``value`` for ``di``.

    Energy is given in Wh and sent in the identifier's resolution, truncated like the meter's
    own register (0.01 kWh: 123456789 Wh is sent as 123456.78 kWh). Volts and amps are rounded.
    """
    identifier = IDENTIFIERS.get(di)
    if identifier is None:
        raise CodecError(f"no value format for data identifier {di:08X}")
    data = _di_bytes(di) + encode_value(identifier, value)
    return encode_frame(address, READ_REPLY, data, preamble=preamble)


def encode_error_reply(address: str, error_word: int, *, preamble: int = 0) -> bytes:
    """A meter's abnormal reply (D1H) to a read, with error word ``error_word``."""
    if not 0 <= error_word <= 0xFF:
        raise CodecError(f"error word {error_word} is not one byte")
    return encode_frame(address, READ_ERROR_REPLY, bytes([error_word]), preamble=preamble)


def decode_frame(raw: bytes) -> Dlt645Frame:
    """Check and decode one frame, preamble allowed. Raises :class:`RejectedPayload`."""
    skip = 0
    while skip < min(len(raw), MAX_PREAMBLE) and raw[skip] == PREAMBLE:
        skip += 1
    frame = raw[skip:]
    if not frame:
        raise RejectedPayload(Dlt645Reason.TRUNCATED_FRAME, "no bytes after the preamble")
    if frame[0] != START:
        raise RejectedPayload(Dlt645Reason.BAD_START, f"byte {skip} is {frame[0]:02X}, not 68")
    if len(frame) < _HEADER_LEN:
        raise RejectedPayload(Dlt645Reason.TRUNCATED_FRAME, f"{len(frame)}-byte header")
    if frame[7] != START:
        raise RejectedPayload(Dlt645Reason.BAD_START, f"second start is {frame[7]:02X}, not 68")
    size = _HEADER_LEN + frame[9] + 2
    if len(frame) < size:
        raise RejectedPayload(Dlt645Reason.TRUNCATED_FRAME, f"{len(frame)} of {size} bytes")
    if len(frame) > size:
        raise RejectedPayload(Dlt645Reason.TRAILING_BYTES, f"{len(frame) - size} after the end")
    if frame[-1] != END:
        raise RejectedPayload(Dlt645Reason.BAD_END, f"last byte is {frame[-1]:02X}, not 16")
    checksum = sum(frame[:-2]) & 0xFF
    if checksum != frame[-2]:
        raise RejectedPayload(
            Dlt645Reason.BAD_CHECKSUM, f"sent {frame[-2]:02X}, computed {checksum:02X}"
        )
    address = bcd_digits(frame[1:7][::-1], "address")
    control = frame[8]
    data = bytes((b - DATA_OFFSET) & 0xFF for b in frame[_HEADER_LEN:-2])
    if control in _READ_REPLIES:
        if len(data) < 4:
            raise RejectedPayload(Dlt645Reason.BAD_LENGTH, f"{len(data)}-byte read reply")
        di = int.from_bytes(data[:4], "little")
        identifier = IDENTIFIERS.get(di)
        if identifier is None:
            raise RejectedPayload(Dlt645Reason.UNKNOWN_IDENTIFIER, f"DI {di:08X}")
        return Dlt645Frame(address, control, data, di, decode_value(identifier, data[4:]))
    if control & (FROM_METER | ABNORMAL) == FROM_METER | ABNORMAL:
        if len(data) != 1:
            raise RejectedPayload(Dlt645Reason.BAD_LENGTH, f"{len(data)}-byte error reply")
        return Dlt645Frame(address, control, data, error_word=data[0])
    if control == READ_DATA and len(data) >= 4:
        return Dlt645Frame(address, control, data, di=int.from_bytes(data[:4], "little"))
    return Dlt645Frame(address, control, data)


def _di_bytes(di: int) -> bytes:
    if not 0 <= di <= 0xFFFFFFFF:
        raise CodecError(f"data identifier {di} is not four bytes")
    return di.to_bytes(4, "little")


@dataclass(frozen=True)
class Dlt645Reading:
    """One meter's values from one payload. ``ts`` is UTC.

    ``meter_clock`` says whether ``ts`` came from the meter's own date and time frames
    (read in ``meter_clock_tz``) or, lacking either, from the payload's ``ts``.
    """

    meter: str
    ts: datetime
    import_wh: int
    export_wh: int | None
    voltage_v: float | None
    current_a: float | None
    meter_clock: bool


@dataclass(frozen=True)
class Dlt645Batch:
    """The readings of one ``dlt645`` payload and the frames refused, one error each."""

    ts: datetime
    readings: tuple[Dlt645Reading, ...]
    rejections: tuple[RejectedPayload, ...]

    def to_frame(self, utility: str, area: str) -> ReadingFrame:
        """The readings as one column-wise frame (missing export 0, missing V/A NaN)."""
        rows = self.readings
        return ReadingFrame(
            utility=utility,
            area=area,
            meter=np.array([r.meter for r in rows], dtype=f"<U{METER_ID_DIGITS}"),
            ts=np.array([int(r.ts.timestamp()) for r in rows], dtype=np.int64),
            import_wh=np.array([r.import_wh for r in rows], dtype=np.int64),
            export_wh=np.array([r.export_wh or 0 for r in rows], dtype=np.int64),
            voltage_v=np.array([_nan_if_none(r.voltage_v) for r in rows], dtype=np.float64),
            current_a=np.array([_nan_if_none(r.current_a) for r in rows], dtype=np.float64),
        )


def decode_dlt645_payload(
    payload: bytes,
    *,
    meter_clock_tz: tzinfo = UTC,
    max_bytes: int = 1 << 20,
    max_frames: int = 10_000,
) -> Dlt645Batch:
    """Decode ``{"ts": ..., "frames": ["68...16", ...]}`` into one reading per meter.

    Frames are hex strings (whitespace between bytes allowed) of read replies; they are grouped
    by meter address. A bad frame is reported in ``rejections`` and the others still count; so
    is a second frame of the same meter and identifier, and a meter without an energy frame.
    ``ts`` is the meter's own clock when it sent both date and time, else the payload's.
    A bad payload raises :class:`RejectedPayload`.
    """
    doc = load_json_object(payload, max_bytes)
    payload_ts = _payload_ts(doc.get("ts"))
    frames = doc.get("frames")
    if not isinstance(frames, list):
        raise RejectedPayload(Dlt645Reason.BAD_SCHEMA, "'frames' must be a list of hex strings")
    if len(frames) > max_frames:
        raise RejectedPayload(Dlt645Reason.OVERSIZED, f"{len(frames)} frames > {max_frames}")
    by_meter: dict[str, dict[str, Dlt645Value]] = {}
    rejections: list[RejectedPayload] = []
    for index, text in enumerate(frames):
        try:
            address, identifier, value = _read_reply(text)
            values = by_meter.setdefault(address, {})
            if identifier.reading_field in values:
                raise RejectedPayload(
                    Dlt645Reason.DUPLICATE_IDENTIFIER, f"meter {address}, {identifier.name}"
                )
            values[identifier.reading_field] = value
        except RejectedPayload as exc:
            rejections.append(RejectedPayload(exc.reason, f"frames[{index}]: {exc.detail}"))
    readings = []
    for address, values in by_meter.items():
        energy = values.get("import_wh")
        if not isinstance(energy, int):
            rejections.append(
                RejectedPayload(
                    Dlt645Reason.MISSING_ENERGY, f"meter {address} sent {sorted(values)} only"
                )
            )
            continue
        day, clock = values.get("clock_date"), values.get("clock_time")
        ts, meter_clock = payload_ts, False
        if isinstance(day, date) and isinstance(clock, time):
            ts = datetime.combine(day, clock, tzinfo=meter_clock_tz).astimezone(UTC)
            meter_clock = True
        export = values.get("export_wh")
        readings.append(
            Dlt645Reading(
                meter=address,
                ts=ts,
                import_wh=energy,
                export_wh=export if isinstance(export, int) else None,
                voltage_v=_float_or_none(values.get("voltage_v")),
                current_a=_float_or_none(values.get("current_a")),
                meter_clock=meter_clock,
            )
        )
    return Dlt645Batch(payload_ts, tuple(readings), tuple(rejections))


def _read_reply(text: Any) -> tuple[str, DataIdentifier, Dlt645Value]:
    if not isinstance(text, str):
        raise RejectedPayload(Dlt645Reason.BAD_HEX, f"{type(text).__name__}, not a hex string")
    try:
        raw = bytes.fromhex(text)
    except ValueError as exc:
        raise RejectedPayload(Dlt645Reason.BAD_HEX, str(exc)) from exc
    frame = decode_frame(raw)
    if frame.is_error_reply:
        raise RejectedPayload(
            Dlt645Reason.ERROR_REPLY,
            f"meter {frame.address} error word {frame.error_word:02X} {list(frame.errors)}",
        )
    if frame.control not in _READ_REPLIES or frame.di is None or frame.value is None:
        raise RejectedPayload(
            Dlt645Reason.UNSUPPORTED_CONTROL, f"control {frame.control:02X} is not a read reply"
        )
    return frame.address, IDENTIFIERS[frame.di], frame.value


def _payload_ts(value: Any) -> datetime:
    """ISO 8601 with a zone (``Z`` or an offset), or integer epoch seconds, as UTC."""
    ts = None
    try:
        if type(value) is int:
            ts = datetime.fromtimestamp(value, UTC)
        elif isinstance(value, str):
            ts = datetime.fromisoformat(value)
    except (ValueError, OverflowError, OSError):
        ts = None
    if ts is None or ts.tzinfo is None:
        raise RejectedPayload(
            Dlt645Reason.BAD_TIMESTAMP, f"payload ts {value!r} is not a zoned time"
        )
    return ts.astimezone(UTC)


def _float_or_none(value: Dlt645Value | None) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _nan_if_none(value: float | None) -> float:
    return math.nan if value is None else value
