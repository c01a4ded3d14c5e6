"""A small built-in fleet for the walking skeleton's demo and tests (pure: no I/O).

Devices are concentrators, each reading ``meters_per_device`` meters of one area every
``interval_s`` and publishing one JSON v1 payload per interval. Registers are cumulative and
never decrease, except for the meters listed in ``decreasing`` whose register steps back once.
The real fleet simulator (faults, ground truth, DL/T 645) replaces this.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np


@dataclass(frozen=True)
class DemoFleet:
    utilities: int = 2
    areas_per_utility: int = 5
    devices_per_area: int = 2
    meters_per_device: int = 50
    intervals: int = 96
    interval_s: int = 900
    start_s: int = 1_795_651_200  # 2026-11-26T00:00:00Z
    seed: int = 7
    meter_base: int = 0  # added to every meter number: keeps fleets of different runs apart
    utility_prefix: str = "utility"
    decreasing: tuple[str, ...] = field(default=())

    @property
    def devices(self) -> int:
        return self.utilities * self.areas_per_utility * self.devices_per_area

    @property
    def readings(self) -> int:
        return self.devices * self.meters_per_device * self.intervals

    def meter_id(self, device_index: int, meter_index: int) -> str:
        return f"{self.meter_base + device_index * self.meters_per_device + meter_index + 1:012d}"

    def payloads(self) -> Iterator[tuple[str, bytes]]:
        """(topic, payload) in time order: every device's payload of interval 0, then 1, ..."""
        rng = np.random.default_rng(self.seed)
        shape = (self.devices, self.meters_per_device, self.intervals)
        increments = rng.gamma(2.0, 60.0, size=shape).round().astype(np.int64)  # Wh / 15 min
        registers = rng.integers(1_000_000, 50_000_000, size=shape[:2])[..., None] + np.cumsum(
            increments, axis=2
        )
        voltage = np.round(rng.normal(230.0, 3.0, size=shape), 1)
        current = np.round(increments * 4 / voltage, 2)  # average A over the quarter-hour
        ids = [
            [self.meter_id(d, m) for m in range(self.meters_per_device)]
            for d in range(self.devices)
        ]
        for d, m in self._decreasing_positions():
            registers[d, m, self.intervals // 2 :] -= 5_000  # the register steps back once
        for t in range(self.intervals):
            ts = datetime.fromtimestamp(self.start_s + t * self.interval_s, tz=UTC)
            stamp = ts.strftime("%Y-%m-%dT%H:%M:%SZ")
            for d in range(self.devices):
                topic = self._topic(d)
                device = topic.split("/")[3]
                readings = [
                    {
                        "meter": ids[d][m],
                        "ts": stamp,
                        "import_wh": int(registers[d, m, t]),
                        "export_wh": 0,
                        "voltage_v": float(voltage[d, m, t]),
                        "current_a": float(current[d, m, t]),
                        "flags": 0,
                    }
                    for m in range(self.meters_per_device)
                ]
                doc = {"v": 1, "device": device, "readings": readings}
                yield topic, json.dumps(doc, separators=(",", ":")).encode()

    def _topic(self, device_index: int) -> str:
        per_utility = self.areas_per_utility * self.devices_per_area
        u = device_index // per_utility
        a = (device_index % per_utility) // self.devices_per_area
        utility = f"{self.utility_prefix}-{u + 1}"
        return f"meters/{utility}/area-{u + 1}-{a + 1}/conc-{device_index + 1:04d}/json"

    def _decreasing_positions(self) -> list[tuple[int, int]]:
        wanted = set(self.decreasing)
        return [
            (d, m)
            for d in range(self.devices)
            for m in range(self.meters_per_device)
            if self.meter_id(d, m) in wanted
        ]


# Each bad case of the walking skeleton's issue, as (topic, payload, expected DLQ reason).
def bad_payloads(utility: str = "utility-1") -> list[tuple[str, bytes, str]]:
    good = {"meter": "000099999999", "ts": "2026-11-26T00:15:00Z", "import_wh": 1000}

    def doc(**reading: object) -> bytes:
        return json.dumps({"v": 1, "device": "bad-1", "readings": [{**good, **reading}]}).encode()

    topic = f"meters/{utility}/area-bad/bad-1/json"
    return [
        (topic, b"\xff\xfe not utf-8 \x80", "not_utf8"),
        (topic, b"{not json", "not_json"),
        (topic, json.dumps({"v": 1, "device": "bad-1"}).encode(), "bad_schema"),
        (topic, doc(import_wh="12"), "bad_schema"),
        (topic, doc(import_wh=-1), "negative_value"),
        (topic, doc(import_wh=10**15), "absurd_value"),
        (topic, doc(voltage_v=99_999.0), "absurd_value"),
        (topic, doc(ts="2099-01-01T00:00:00Z"), "future_timestamp"),
        (
            topic,
            b'{"v":1,"device":"bad-1","readings":[' + b" " * (2 << 20) + b"]}",
            "oversized_payload",
        ),
        (f"meters/{utility}/area-bad/json", doc(), "bad_topic"),
        (f"meters/{utility}/area-bad/bad-1/xml", doc(), "bad_topic"),
        (topic, doc(meter="12345"), "bad_meter_id"),
        (topic, doc(meter="00001234567X"), "bad_meter_id"),
    ]
