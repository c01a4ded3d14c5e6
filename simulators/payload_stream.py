"""Simulated readings -> MQTT messages, as field devices send them (pure: no I/O).

Topic ``meters/{utility}/{area}/{device}/{format}`` (DESIGN.md, "Wire formats"). At every
interval boundary each concentrator sends one payload with the readings of its meters and
each direct meter one payload with its own, a few seconds after the boundary (uniform
jitter per device and interval). A device sends either

- **JSON v1** ``{"v":1,"device":…,"readings":[{"meter","ts","import_wh",…}]}``, or
- **dlt645** ``{"ts": <device clock>, "frames": [hex, …]}``: per meter six DL/T 645-2007 read
  replies (forward and reverse active energy, phase A voltage and current, the meter's date
  and time, so the reading time is the meter's own clock, read as UTC). Frames of devices with
  an odd index carry the FE FE FE FE wake-up preamble that real concentrators forward.

The frames are built column-wise with numpy (BCD digits, +33H, checksum); the tests check
them against :func:`meterwatch.dlt645.encode_read_reply` byte for byte. Readings are never
stamped after the message that carries them, and a skewed meter clock shows in its ``ts``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from meterwatch.dlt645 import (
    DI_CURRENT_A,
    DI_DATE,
    DI_EXPORT_ENERGY,
    DI_IMPORT_ENERGY,
    DI_TIME,
    DI_VOLTAGE_A,
    READ_REPLY,
)
from meterwatch.errors import CodecError
from simulators.readings import AreaRun, FleetRun

IntArray = npt.NDArray[np.int64]
StrArray = npt.NDArray[np.str_]
U8Array = npt.NDArray[np.uint8]
PREAMBLE_HEX = "fefefefe"


@dataclass(frozen=True)
class Message:
    publish_s: float  # simulated time at which the device sends it, epoch s
    topic: str
    payload: bytes
    readings: int


@dataclass(frozen=True)
class Columns:
    """The readings one message carries."""

    meter: StrArray
    ts: IntArray  # epoch s, as the meter's clock has it
    import_wh: IntArray
    export_wh: IntArray
    voltage_v: npt.NDArray[np.floating]
    current_a: npt.NDArray[np.floating]


def iso_utc(ts: IntArray) -> StrArray:
    """Epoch seconds -> ``YYYY-MM-DDTHH:MM:SSZ``, vectorised."""
    text = np.datetime_as_string(np.asarray(ts, dtype="datetime64[s]"), unit="s")
    return np.asarray(np.strings.add(text, "Z"))


def json_rows(c: Columns) -> list[dict[str, Any]]:
    """The JSON v1 reading objects of ``c``."""
    return [
        {"meter": m, "ts": t, "import_wh": i, "export_wh": e, "voltage_v": v, "current_a": a,
         "flags": 0}
        for m, t, i, e, v, a in zip(
            c.meter.tolist(), iso_utc(c.ts).tolist(), c.import_wh.tolist(), c.export_wh.tolist(),
            np.round(c.voltage_v.astype(np.float64), 1).tolist(),
            np.round(c.current_a.astype(np.float64), 3).tolist(), strict=True,
        )
    ]  # fmt: skip


def json_payload(device: str, c: Columns) -> bytes:
    return _json_document(device, json_rows(c))


def _json_document(device: str, rows: list[dict[str, Any]]) -> bytes:
    doc = {"v": 1, "device": device, "readings": rows}
    return json.dumps(doc, separators=(",", ":")).encode()


def _bcd(numbers: IntArray, nbytes: int) -> U8Array:
    """Non-negative integers as packed BCD, low byte first: shape (n, nbytes)."""
    pairs = numbers[:, None] // (100 ** np.arange(nbytes, dtype=np.int64)) % 100
    return ((pairs // 10) << 4 | pairs % 10).astype(np.uint8)


def reply_frames(address: StrArray, di: int, value: U8Array) -> list[str]:
    """DL/T 645-2007 normal read replies (91H) for ``di``, one per address, as hex."""
    n, length = value.shape
    addr = _bcd(address.astype(np.int64), 6)
    data = np.hstack([np.tile(np.frombuffer(di.to_bytes(4, "little"), np.uint8), (n, 1)), value])
    body = np.hstack([
        np.full((n, 1), 0x68), addr, np.full((n, 1), 0x68), np.full((n, 1), READ_REPLY),
        np.full((n, 1), 4 + length), (data.astype(np.int64) + 0x33) % 256,
    ])  # fmt: skip
    frame = np.hstack([body, body.sum(axis=1, keepdims=True) % 256, np.full((n, 1), 0x16)])
    text = frame.astype(np.uint8).tobytes().hex()
    width = 2 * frame.shape[1]
    return [text[i * width : (i + 1) * width] for i in range(n)]


def _energy(wh: IntArray) -> U8Array:
    if (wh < 0).any() or (wh >= 10**9).any():
        raise CodecError("DL/T 645 energy registers carry 0 .. 999999.99 kWh")
    return _bcd(wh // 10, 4)


def _current(amps: npt.NDArray[np.floating]) -> U8Array:
    number = np.round(np.abs(amps.astype(np.float64)) * 1000).astype(np.int64)
    if (number >= 800_000).any():
        raise CodecError("DL/T 645 phase current carries at most 799.999 A")
    out = _bcd(number, 3)
    out[:, 2] |= np.where((amps < 0) & (number > 0), 0x80, 0).astype(np.uint8)
    return out


def _date(ts: IntArray) -> U8Array:
    day = np.asarray(ts, dtype="datetime64[s]").astype("datetime64[D]")
    month = day.astype("datetime64[M]")
    year = month.astype("datetime64[Y]").astype(np.int64) + 1970
    weekday = (day.astype(np.int64) + 4) % 7  # 1970-01-01 was a Thursday; 0 = Sunday
    parts = [
        weekday,
        (day - month).astype(np.int64) + 1,
        month.astype(np.int64) % 12 + 1,
        year - 2000,
    ]
    return np.hstack([_bcd(p, 1) for p in parts])


def _time(ts: IntArray) -> U8Array:
    return np.hstack([_bcd(ts % 60, 1), _bcd(ts // 60 % 60, 1), _bcd(ts // 3600 % 24, 1)])


def dlt645_frames(c: Columns) -> list[list[str]]:
    """Per identifier (energy in and out, voltage, current, date, time), one frame a meter."""
    voltage = np.round(c.voltage_v.astype(np.float64) * 10).astype(np.int64)
    return [
        reply_frames(c.meter, DI_IMPORT_ENERGY, _energy(c.import_wh)),
        reply_frames(c.meter, DI_EXPORT_ENERGY, _energy(c.export_wh)),
        reply_frames(c.meter, DI_VOLTAGE_A, _bcd(voltage, 2)),
        reply_frames(c.meter, DI_CURRENT_A, _current(c.current_a)),
        reply_frames(c.meter, DI_DATE, _date(c.ts)),
        reply_frames(c.meter, DI_TIME, _time(c.ts)),
    ]


def dlt645_payload(device_ts: int, c: Columns, *, preamble: bool = False) -> bytes:
    frames = dlt645_frames(c)
    return _dlt645_document(device_ts, [f for di in frames for f in di], preamble)


def _dlt645_document(device_ts: int, frames: list[str], preamble: bool) -> bytes:
    if preamble:
        frames = [PREAMBLE_HEX + f for f in frames]
    doc = {"ts": str(iso_utc(np.array([device_ts]))[0]), "frames": frames}
    return json.dumps(doc, separators=(",", ":")).encode()


@dataclass(frozen=True)
class _AreaDevices:
    """An area's columns grouped by device, and the devices' ids and formats."""

    order: IntArray  # the area's columns, sorted by device
    device_of: IntArray  # the (local) device of each column in ``order``
    ids: list[str]
    dlt645: npt.NDArray[np.bool_]
    preamble: list[bool]

    @classmethod
    def of(cls, run: FleetRun, area: int, area_run: AreaRun) -> _AreaDevices:
        fleet = run.fleet
        devices = np.flatnonzero(fleet.device_area == area)
        local = np.searchsorted(devices, fleet.device_index[area_run.rows])
        order = np.argsort(local, kind="stable")
        return cls(
            order=order,
            device_of=local[order],
            ids=fleet.device_id[devices].tolist(),
            dlt645=fleet.device_format[devices] == "dlt645",
            preamble=(devices % 2 == 1).tolist(),
        )


def area_columns(a: AreaRun, k: int, cols: IntArray) -> Columns:
    """The readings of columns ``cols`` at boundary ``k`` (all of them sent)."""
    return Columns(
        meter=a.meter_id[cols],
        ts=a.ts[k] + a.ts_offset_s[k, cols].astype(np.int64),
        import_wh=a.import_wh[k, cols],
        export_wh=a.export_wh[k, cols],
        voltage_v=a.voltage_v[k, cols],
        current_a=a.current_a[k, cols],
    )


def _area_messages(
    a: AreaRun, k: int, devs: _AreaDevices, delays: npt.NDArray[np.float64]
) -> list[Message]:
    """One area's messages of boundary ``k``: the area is encoded at once, then split."""
    sent = a.present[k, devs.order]
    cols, device = devs.order[sent], devs.device_of[sent]
    on_dlt = devs.dlt645[device]
    messages = []
    for part, is_dlt in ((~on_dlt, False), (on_dlt, True)):
        if not part.any():
            continue
        c = area_columns(a, k, cols[part])
        owner = device[part]
        cuts = np.flatnonzero(np.diff(owner)) + 1
        bounds = zip(np.r_[0, cuts].tolist(), np.r_[cuts, owner.size].tolist(), strict=True)
        rows = [] if is_dlt else json_rows(c)
        frames = dlt645_frames(c) if is_dlt else []
        for lo, hi in bounds:
            d = int(owner[lo])
            send = float(a.ts[k]) + float(delays[d])
            if is_dlt:
                device_ts = max(int(send), int(c.ts[lo:hi].max()))
                payload = _dlt645_document(device_ts, [f for di in frames for f in di[lo:hi]],
                                           devs.preamble[d])  # fmt: skip
            else:
                payload = _json_document(devs.ids[d], rows[lo:hi])
            fmt = "dlt645" if is_dlt else "json"
            topic = f"meters/{a.utility}/{a.area}/{devs.ids[d]}/{fmt}"
            messages.append(Message(send, topic, payload, hi - lo))
    return messages


def fleet_messages(run: FleetRun, *, jitter_s: float = 5.0) -> Iterator[Message]:
    """Every device's message of every boundary, in the order of simulated send time."""
    rng = np.random.default_rng([run.fleet.spec.seed, 0x5E4D])
    per_area = [_AreaDevices.of(run, i, a) for i, a in enumerate(run.areas)]
    for k in range(run.areas[0].ts.size):
        batch = []
        for a, devs in zip(run.areas, per_area, strict=True):
            delays = rng.uniform(0.0, jitter_s, len(devs.ids))
            batch.extend(_area_messages(a, k, devs, delays))
        batch.sort(key=lambda m: m.publish_s)
        yield from batch


def message_count(run: FleetRun) -> int:
    """How many messages :func:`fleet_messages` yields (for progress bars)."""
    fleet = run.fleet
    total = 0
    for a in run.areas:
        device_of = fleet.device_index[a.rows]
        sent = np.zeros((a.ts.size, fleet.device_id.size), dtype=bool)
        rows, cols = np.nonzero(a.present)
        sent[rows, device_of[cols]] = True
        total += int(sent.sum())
    return total
