"""Domain types of the shared kernel.

The unit of work downstream of the MQTT bridge is the :class:`ReadingFrame`: many readings of
one area, stored column-wise in numpy arrays, so that every stage handles thousands of readings
per Python call instead of one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from meterwatch.errors import DecodeError, MeterwatchError

METER_ID_DIGITS: Final = 12
_ID_PATTERN: Final = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

# Kafka topics (DESIGN.md, "Data flow").
TOPIC_READINGS: Final = "meterwatch.readings"
TOPIC_READINGS_DLQ: Final = "meterwatch.readings.dlq"
TOPIC_ESTIMATES: Final = "meterwatch.estimates"
TOPIC_EVENTS: Final = "meterwatch.events"

# The meter registry file (``meterwatch registry import``, the simulators' registry.csv, the
# stream's registry): one row per meter, exactly these columns, is_master 0/1, has_generation
# 0/1 or empty for "not known" (a PV or other generator behind the meter, so it may export).
# Files written before has_generation existed (the first twelve columns only) are read as
# "not known" for every meter.
REGISTRY_COLUMNS: Final = (
    "meter_id", "utility_id", "utility_name", "area_id", "area_name", "meter_type",
    "accuracy_class", "manufacturer", "model", "production_batch", "install_date", "is_master",
    "has_generation",
)  # fmt: skip
REGISTRY_OPTIONAL_COLUMNS: Final = ("has_generation",)

MeterArray = npt.NDArray[np.str_]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def has_generation(value: str) -> bool | None:
    """The registry's ``has_generation``: 0/1 (also true/false, yes/no), empty for not known."""
    flag = value.strip().lower()
    if not flag:
        return None
    if flag in ("1", "true", "yes"):
        return True
    if flag in ("0", "false", "no"):
        return False
    raise MeterwatchError(f"has_generation {value!r} is not 0/1 (or empty for not known)")


def is_valid_entity_id(value: str) -> bool:
    """Utility, area and device ids: 1-64 characters of ``[A-Za-z0-9_.-]``."""
    return bool(_ID_PATTERN.match(value))


@dataclass(frozen=True)
class MeterTopic:
    """The parts of an MQTT topic ``meters/{utility}/{area}/{device}/{format}``."""

    utility: str
    area: str
    device: str
    format: str


@dataclass(frozen=True, eq=False)
class ReadingFrame:
    """Many readings of one area, column-wise.

    ``ts`` is epoch seconds (UTC). Registers are cumulative watt-hours. ``voltage_v`` and
    ``current_a`` are NaN where the meter did not report them.
    """

    utility: str
    area: str
    meter: MeterArray
    ts: IntArray
    import_wh: IntArray
    export_wh: IntArray
    voltage_v: FloatArray
    current_a: FloatArray
    flags: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        n = len(self.meter)
        if len(self.flags) == 0 and n:
            object.__setattr__(self, "flags", np.zeros(n, dtype=np.int64))
        columns = (self.ts, self.import_wh, self.export_wh, self.voltage_v, self.current_a)
        if any(len(c) != n for c in (*columns, self.flags)):
            raise DecodeError(f"frame columns of area {self.area!r} differ in length")

    def __len__(self) -> int:
        return len(self.meter)

    @property
    def area_key(self) -> str:
        """``utility/area``: area ids are unique only within their utility. The Kafka key of
        every readings message and the stream's state key."""
        return f"{self.utility}/{self.area}"

    @classmethod
    def empty(cls, utility: str, area: str) -> ReadingFrame:
        return cls(
            utility=utility,
            area=area,
            meter=np.zeros(0, dtype=f"<U{METER_ID_DIGITS}"),
            ts=np.zeros(0, dtype=np.int64),
            import_wh=np.zeros(0, dtype=np.int64),
            export_wh=np.zeros(0, dtype=np.int64),
            voltage_v=np.zeros(0, dtype=np.float64),
            current_a=np.zeros(0, dtype=np.float64),
        )

    @classmethod
    def concat(cls, frames: list[ReadingFrame]) -> ReadingFrame:
        """Join frames of the same area into one."""
        if not frames:
            raise DecodeError("cannot concatenate zero frames")
        first = frames[0]
        if any(f.area != first.area or f.utility != first.utility for f in frames):
            raise DecodeError("cannot concatenate frames of different areas")
        if len(frames) == 1:
            return first
        return cls(
            utility=first.utility,
            area=first.area,
            meter=np.concatenate([f.meter for f in frames]),
            ts=np.concatenate([f.ts for f in frames]),
            import_wh=np.concatenate([f.import_wh for f in frames]),
            export_wh=np.concatenate([f.export_wh for f in frames]),
            voltage_v=np.concatenate([f.voltage_v for f in frames]),
            current_a=np.concatenate([f.current_a for f in frames]),
            flags=np.concatenate([f.flags for f in frames]),
        )

    def select(self, index: slice | npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> ReadingFrame:
        """The readings at ``index`` (a slice, a boolean mask or positions)."""
        return ReadingFrame(
            utility=self.utility,
            area=self.area,
            meter=self.meter[index],
            ts=self.ts[index],
            import_wh=self.import_wh[index],
            export_wh=self.export_wh[index],
            voltage_v=self.voltage_v[index],
            current_a=self.current_a[index],
            flags=self.flags[index],
        )

    def equals(self, other: ReadingFrame) -> bool:
        """Column-wise equality (NaN equals NaN)."""
        return (
            self.utility == other.utility
            and self.area == other.area
            and np.array_equal(self.meter, other.meter)
            and np.array_equal(self.ts, other.ts)
            and np.array_equal(self.import_wh, other.import_wh)
            and np.array_equal(self.export_wh, other.export_wh)
            and np.array_equal(self.voltage_v, other.voltage_v, equal_nan=True)
            and np.array_equal(self.current_a, other.current_a, equal_nan=True)
            and np.array_equal(self.flags, other.flags)
        )
