"""PostgreSQL binary COPY encoding of reading frames, built with numpy (no Python per row).

Binary COPY (PostgreSQL docs, "COPY", "Binary Format"): an 11-byte signature, two int32 header
words, then per tuple an int16 field count and per field an int32 length (-1 = NULL) followed
by the value in network byte order; an int16 -1 ends the stream. Every reading column is fixed
width within a frame except the nullable ``voltage_v``/``current_a``, so each frame is encoded
as up to four structured arrays, one per NULL pattern.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from meterwatch.domain import METER_ID_DIGITS, ReadingFrame

SIGNATURE: Final = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER: Final = b"\xff\xff"
READING_COLUMNS: Final = (
    "meter_id", "ts", "utility_id", "area_id", "import_wh", "export_wh", "voltage_v",
    "current_a", "flags",
)  # fmt: skip
_PG_EPOCH_S: Final = 946_684_800  # 2000-01-01T00:00:00Z in Unix seconds


def encode_readings(frames: list[ReadingFrame]) -> bytes:
    """The whole binary COPY stream for ``READING_COLUMNS`` of these frames."""
    parts = [SIGNATURE]
    for frame in frames:
        parts.extend(_encode_frame(frame))
    parts.append(TRAILER)
    return b"".join(parts)


def _encode_frame(frame: ReadingFrame) -> list[bytes]:
    utility, area = frame.utility.encode(), frame.area.encode()
    has_v = ~np.isnan(frame.voltage_v)
    has_c = ~np.isnan(frame.current_a)
    out = []
    for with_v in (True, False):
        for with_c in (True, False):
            mask = (has_v == with_v) & (has_c == with_c)
            if mask.any():
                out.append(_encode_rows(frame, mask, utility, area, with_v, with_c))
    return out


def _encode_rows(
    frame: ReadingFrame,
    mask: np.ndarray,
    utility: bytes,
    area: bytes,
    with_v: bool,
    with_c: bool,
) -> bytes:
    fields: list[tuple[str, str]] = [
        ("nf", ">i2"),
        ("l0", ">i4"), ("meter", f"S{METER_ID_DIGITS}"),
        ("l1", ">i4"), ("ts", ">i8"),
        ("l2", ">i4"), ("utility", f"S{len(utility)}"),
        ("l3", ">i4"), ("area", f"S{len(area)}"),
        ("l4", ">i4"), ("import", ">i8"),
        ("l5", ">i4"), ("export", ">i8"),
        ("l6", ">i4"),
    ]  # fmt: skip
    if with_v:
        fields.append(("voltage", ">f8"))
    fields.append(("l7", ">i4"))
    if with_c:
        fields.append(("current", ">f8"))
    fields += [("l8", ">i4"), ("flags", ">i4")]
    rows = np.empty(int(mask.sum()), dtype=np.dtype(fields))
    rows["nf"] = len(READING_COLUMNS)
    rows["l0"], rows["meter"] = METER_ID_DIGITS, frame.meter[mask].astype(f"S{METER_ID_DIGITS}")
    rows["l1"], rows["ts"] = 8, (frame.ts[mask] - _PG_EPOCH_S) * 1_000_000
    rows["l2"], rows["utility"] = len(utility), utility
    rows["l3"], rows["area"] = len(area), area
    rows["l4"], rows["import"] = 8, frame.import_wh[mask]
    rows["l5"], rows["export"] = 8, frame.export_wh[mask]
    rows["l6"] = 8 if with_v else -1
    if with_v:
        rows["voltage"] = frame.voltage_v[mask]
    rows["l7"] = 8 if with_c else -1
    if with_c:
        rows["current"] = frame.current_a[mask]
    rows["l8"], rows["flags"] = 4, frame.flags[mask]
    return rows.tobytes()
