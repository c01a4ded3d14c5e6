"""Decoding of MQTT payloads into :class:`ReadingFrame` columns, with typed rejections.

Topic layout (DESIGN.md, "Wire formats"): ``meters/{utility}/{area}/{device}/{format}``.
JSON v1 payload::

    {"v":1,"device":"...","readings":[{"meter":"000012345678","ts":"2026-11-26T00:15:00Z",
      "import_wh":123456789,"export_wh":0,"voltage_v":229.8,"current_a":3.2,"flags":0}]}

A fault of the whole payload raises :class:`RejectedPayload`. Faulty readings inside an
otherwise good payload are removed from the frame and reported as :class:`Rejection` s, one per
reason, so the caller can dead-letter them while the good readings go on. Validation is
column-wise with numpy; Python only walks the list once to pull the columns out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from meterwatch.dlt645 import decode_dlt645_payload
from meterwatch.domain import METER_ID_DIGITS, MeterTopic, ReadingFrame, is_valid_entity_id
from meterwatch.errors import RejectedPayload
from meterwatch.json_payload import load_json_object

FORMATS: Final = ("json", "dlt645")
_EPOCH_2000: Final = 946_684_800


class Reason(StrEnum):
    """Why input went to the dead-letter topic."""

    BAD_TOPIC = "bad_topic"
    OVERSIZED = "oversized_payload"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    BAD_SCHEMA = "bad_schema"
    UNSUPPORTED_VERSION = "unsupported_version"
    DEVICE_MISMATCH = "device_mismatch"
    BAD_METER_ID = "bad_meter_id"
    BAD_TIMESTAMP = "bad_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"
    NEGATIVE_VALUE = "negative_value"
    ABSURD_VALUE = "absurd_value"


@dataclass(frozen=True)
class PayloadLimits:
    """What counts as absurd. Defaults are generous for household and transformer meters."""

    max_bytes: int = 1 << 20
    max_readings: int = 10_000
    max_future_s: int = 300
    max_register_wh: int = 10**11  # 100 GWh: far above any LV transformer's register
    max_voltage_v: float = 1_000.0
    max_current_a: float = 10_000.0


@dataclass(frozen=True)
class Rejection:
    """Readings of one payload refused for one reason (indices into its ``readings``)."""

    reason: str  # a Reason, or a Dlt645Reason for dlt645 payloads
    indices: tuple[int, ...]
    detail: str


@dataclass(frozen=True)
class DecodedPayload:
    frame: ReadingFrame
    rejections: tuple[Rejection, ...]


def parse_topic(topic: str) -> MeterTopic:
    """Split ``meters/{utility}/{area}/{device}/{format}``; raise on anything else."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != "meters":
        raise RejectedPayload(
            Reason.BAD_TOPIC, f"{topic!r} is not meters/utility/area/device/format"
        )
    _, utility, area, device, fmt = parts
    if not all(is_valid_entity_id(p) for p in (utility, area, device)):
        raise RejectedPayload(
            Reason.BAD_TOPIC, f"{topic!r} has an invalid utility, area or device id"
        )
    if fmt not in FORMATS:
        raise RejectedPayload(Reason.BAD_TOPIC, f"unknown payload format {fmt!r}")
    return MeterTopic(utility, area, device, fmt)


def decode_json_v1(
    topic: MeterTopic, payload: bytes, received_at: int, limits: PayloadLimits | None = None
) -> DecodedPayload:
    """Decode one JSON v1 payload; ``received_at`` (epoch s) bounds future timestamps."""
    limits = limits or PayloadLimits()
    doc = load_json_object(payload, limits.max_bytes)
    version = doc.get("v")
    if type(version) is not int:
        raise RejectedPayload(Reason.BAD_SCHEMA, "field 'v' missing or not an integer")
    if version != 1:
        raise RejectedPayload(Reason.UNSUPPORTED_VERSION, f"v={version}")
    if doc.get("device") != topic.device:
        raise RejectedPayload(
            Reason.DEVICE_MISMATCH,
            f"payload device {doc.get('device')!r} != topic {topic.device!r}",
        )
    readings = doc.get("readings")
    if not isinstance(readings, list) or not readings:
        raise RejectedPayload(Reason.BAD_SCHEMA, "'readings' must be a non-empty list")
    if len(readings) > limits.max_readings:
        raise RejectedPayload(Reason.OVERSIZED, f"{len(readings)} readings > {limits.max_readings}")
    return readings_to_frame(topic, readings, received_at, limits)


def readings_to_frame(
    topic: MeterTopic, readings: list[Any], received_at: int, limits: PayloadLimits
) -> DecodedPayload:
    """Validate reading rows column-wise and build a frame of the good ones."""
    n = len(readings)
    bad = _BadMask(n)
    rows = [r if isinstance(r, dict) else {} for r in readings]
    bad.add(
        Reason.BAD_SCHEMA, np.array([not isinstance(r, dict) for r in readings]), "not an object"
    )

    meters = [r.get("meter") for r in rows]
    meter_ok = np.array(
        [type(m) is str and len(m) == METER_ID_DIGITS and m.isdigit() for m in meters]
    )
    bad.add(Reason.BAD_METER_ID, ~meter_ok, f"meter must be {METER_ID_DIGITS} decimal digits")

    ts, ts_ok = _timestamps([r.get("ts") for r in rows])
    bad.add(
        Reason.BAD_TIMESTAMP,
        ~ts_ok | (ts_ok & (ts < _EPOCH_2000)),
        "ts missing, unparsable or before 2000",
    )
    bad.add(
        Reason.FUTURE_TIMESTAMP,
        ts_ok & (ts > received_at + limits.max_future_s),
        "ts in the future",
    )

    import_wh = _integers(bad, rows, "import_wh", required=True, limit=limits.max_register_wh)
    export_wh = _integers(bad, rows, "export_wh", required=False, limit=limits.max_register_wh)
    flags = _integers(bad, rows, "flags", required=False, limit=2**31 - 1)
    voltage = _floats(bad, rows, "voltage_v", lo=0.0, hi=limits.max_voltage_v)
    current = _floats(bad, rows, "current_a", lo=-limits.max_current_a, hi=limits.max_current_a)

    frame = ReadingFrame(
        utility=topic.utility,
        area=topic.area,
        meter=np.array([m if type(m) is str else "" for m in meters], dtype=f"<U{METER_ID_DIGITS}"),
        ts=ts,
        import_wh=import_wh,
        export_wh=export_wh,
        voltage_v=voltage,
        current_a=current,
        flags=flags,
    ).select(~bad.any)
    return DecodedPayload(frame=frame, rejections=bad.rejections())


class _BadMask:
    """Collects per-reading faults; a reading is reported under its first reason only."""

    def __init__(self, n: int) -> None:
        self.any = np.zeros(n, dtype=bool)
        self._by_reason: dict[Reason, tuple[npt.NDArray[np.bool_], str]] = {}

    def add(self, reason: Reason, mask: npt.NDArray[np.bool_], detail: str) -> None:
        new = mask & ~self.any
        if not new.any():
            return
        self.any |= new
        old, old_detail = self._by_reason.get(reason, (np.zeros_like(new), detail))
        self._by_reason[reason] = (old | new, old_detail)

    def rejections(self) -> tuple[Rejection, ...]:
        return tuple(
            Rejection(reason, tuple(int(i) for i in np.flatnonzero(mask)), detail)
            for reason, (mask, detail) in self._by_reason.items()
        )


def _timestamps(values: list[Any]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """ISO-8601 strings (UTC 'Z' or an offset) or integer epoch seconds -> epoch seconds."""
    if all(type(v) is str and len(v) == 20 and v[19] == "Z" for v in values):
        try:  # fast path: every value is YYYY-MM-DDTHH:MM:SSZ
            parsed = np.array([v[:19] for v in values], dtype="datetime64[s]")
            return parsed.astype(np.int64), np.ones(len(values), dtype=bool)
        except ValueError:
            pass
    out = np.zeros(len(values), dtype=np.int64)
    ok = np.zeros(len(values), dtype=bool)
    for i, v in enumerate(values):
        if type(v) is int:
            out[i], ok[i] = v, True
        elif type(v) is str:
            try:
                dt = datetime.fromisoformat(v)
            except ValueError:
                continue
            if dt.tzinfo is not None:
                out[i], ok[i] = int(dt.timestamp()), True
    return out, ok


def _integers(
    bad: _BadMask, rows: list[dict[str, Any]], key: str, *, required: bool, limit: int
) -> npt.NDArray[np.int64]:
    raw = [r.get(key) for r in rows]
    typed = np.array(
        [
            type(v) is int or (type(v) is float and v.is_integer()) or (v is None and not required)
            for v in raw
        ]
    )
    bad.add(Reason.BAD_SCHEMA, ~typed, f"{key} missing or not an integer")
    values = np.array(
        [
            v if t and v is not None and abs(v) <= 2**62 else 0
            for v, t in zip(raw, typed, strict=True)
        ],
        dtype=np.int64,
    )
    bad.add(Reason.NEGATIVE_VALUE, values < 0, f"{key} is negative")
    bad.add(Reason.ABSURD_VALUE, values > limit, f"{key} above {limit}")
    return values


def _floats(
    bad: _BadMask, rows: list[dict[str, Any]], key: str, *, lo: float, hi: float
) -> npt.NDArray[np.float64]:
    raw = [r.get(key) for r in rows]
    typed = np.array([v is None or type(v) in (int, float) for v in raw])
    bad.add(Reason.BAD_SCHEMA, ~typed, f"{key} not a number")
    values = np.array(
        [float(v) if t and v is not None else np.nan for v, t in zip(raw, typed, strict=True)]
    )
    with np.errstate(invalid="ignore"):
        if lo >= 0:
            bad.add(Reason.NEGATIVE_VALUE, values < lo, f"{key} is negative")
        bad.add(
            Reason.ABSURD_VALUE,
            (values > hi) | (values < lo) | np.isinf(values),
            f"{key} outside [{lo}, {hi}]",
        )
    return values


@dataclass(frozen=True)
class DeadLetter:
    """A refused payload (or part of one) on its way to ``meterwatch.readings.dlq``."""

    payload: bytes
    reason: str
    detail: str
    source_topic: str
    received_at: int
    indices: tuple[int, ...] = ()

    def headers(self) -> list[tuple[str, bytes]]:
        """Kafka headers: why, from where and when (DESIGN.md, "Wire formats")."""
        received = datetime.fromtimestamp(self.received_at, tz=UTC).isoformat()
        headers = [
            ("reason", self.reason.encode()),
            ("detail", self.detail.encode()[:1000]),
            ("source_topic", self.source_topic.encode()),
            ("received_at", received.encode()),
        ]
        if self.indices:
            headers.append(("reading_indices", ",".join(map(str, self.indices)).encode()))
        return headers


def decode_payload(
    topic: str, payload: bytes, received_at: int, limits: PayloadLimits | None = None
) -> tuple[ReadingFrame | None, list[DeadLetter]]:
    """Decode any supported payload; never raises for bad input.

    Returns the frame of good readings (None when nothing was usable) and the dead letters.
    """
    limits = limits or PayloadLimits()
    try:
        parsed = parse_topic(topic)
        if parsed.format == "json":
            decoded = decode_json_v1(parsed, payload, received_at, limits)
        else:
            decoded = decode_dlt645(parsed, payload, received_at, limits)
    except RejectedPayload as exc:
        return None, [DeadLetter(payload, exc.reason, exc.detail, topic, received_at)]
    letters = [
        DeadLetter(payload, r.reason, r.detail, topic, received_at, r.indices)
        for r in decoded.rejections
    ]
    return (decoded.frame if len(decoded.frame) else None), letters


def decode_dlt645(
    topic: MeterTopic, payload: bytes, received_at: int, limits: PayloadLimits
) -> DecodedPayload:
    """``{"ts": ..., "frames": ["68...16", ...]}``: DL/T 645-2007 reply frames, hex.

    A bad frame is refused on its own (its index in ``frames`` is the rejection's index);
    readings stamped in the future are refused like JSON ones.
    """
    batch = decode_dlt645_payload(
        payload, max_bytes=limits.max_bytes, max_frames=limits.max_readings
    )
    rejections = [Rejection(r.reason, (), r.detail) for r in batch.rejections]
    frame = batch.to_frame(topic.utility, topic.area)
    future = frame.ts > received_at + limits.max_future_s
    if future.any():
        meters = ", ".join(frame.meter[future].tolist())
        rejections.append(Rejection(Reason.FUTURE_TIMESTAMP, (), f"meters {meters}"))
        frame = frame.select(~future)
    return DecodedPayload(frame, tuple(rejections))
