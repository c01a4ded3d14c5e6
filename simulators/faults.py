"""Injected faults: what can go wrong besides metrological error, drawn per area (seeded).

Each consumer meter gets at most one fault (each kind with its own probability); each area's
master meter may get a master error. Times are rows of the 15-minute base grid: a fault that
starts at row ``s`` acts on intervals ``s, s+1, …`` (the interval after boundary ``s``) and on
boundaries ``s+1, …``; ``end_row`` is exclusive.

================== ============================================ ===========================
kind               effect                                       magnitude
================== ============================================ ===========================
stuck_register     the import register stops advancing for good  0 (energy is lost)
register_backwards the import register steps back once          the step back, Wh
reverse_wiring     consumption is registered as export for good  0
clock_skew         reported timestamps are off, for good         offset, s (|·| < 900)
outage             power cut: no consumption, no readings        duration, h
comm_gap           no readings; the register keeps counting      duration, h
tamper_bypass      part of the load bypasses the meter          bypassed fraction
master_error       the master meter's error shifts, for good     added error, percent
================== ============================================ ===========================
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]
ROWS_PER_HOUR = 4

FAULT_UNITS = {
    "stuck_register": "",
    "register_backwards": "Wh",
    "reverse_wiring": "",
    "clock_skew": "s",
    "outage": "h",
    "comm_gap": "h",
    "tamper_bypass": "fraction",
    "master_error": "pct",
}


@dataclass(frozen=True)
class FaultSpec:
    """Probability of each fault per consumer meter (``master_error``: per area) over the run,
    and the rate at which single readings go missing at random."""

    stuck_register: float = 0.003
    register_backwards: float = 0.003
    reverse_wiring: float = 0.003
    clock_skew: float = 0.005
    outage: float = 0.005
    comm_gap: float = 0.01
    tamper_bypass: float = 0.005
    master_error: float = 0.1
    missing_rate: float = 0.005

    @classmethod
    def none(cls) -> FaultSpec:
        """No faults and no missing readings."""
        return cls(**{f.name: 0.0 for f in fields(cls)})


@dataclass(frozen=True)
class Fault:
    kind: str
    meter_id: str
    start_row: int
    end_row: int  # exclusive
    magnitude: float

    @property
    def unit(self) -> str:
        return FAULT_UNITS[self.kind]


_METER_KINDS = tuple(k for k in FAULT_UNITS if k != "master_error")


def draw_faults(
    rng: np.random.Generator, master_id: str, consumer_ids: StrArray, rows: int, spec: FaultSpec
) -> tuple[Fault, ...]:
    """The faults of one area over ``rows`` base intervals."""
    n = consumer_ids.size
    p = np.array([getattr(spec, k) for k in _METER_KINDS])
    if p.sum() > 1.0:
        p = p / p.sum()
    kind_of = np.searchsorted(np.cumsum(p), rng.random(n), side="right")
    start = rng.integers(rows // 10, max(rows * 8 // 10, rows // 10 + 1), n)
    faults = []
    for j in np.flatnonzero(kind_of < len(_METER_KINDS)):
        kind = _METER_KINDS[kind_of[j]]
        s, end, magnitude = int(start[j]), rows, 0.0
        if kind == "register_backwards":
            magnitude, end = float(rng.integers(1, 21) * 1000), s + 1
        elif kind == "clock_skew":
            magnitude = float(rng.choice([-1, 1]) * rng.integers(120, 841))
        elif kind in ("outage", "comm_gap"):
            longest = 72.0 if kind == "outage" else 120.0
            magnitude = round(float(rng.uniform(4.0, longest)), 2)
            end = min(rows, s + max(1, round(magnitude * ROWS_PER_HOUR)))
        elif kind == "tamper_bypass":
            magnitude = round(float(rng.uniform(0.3, 0.9)), 3)
            end = min(rows, s + int(rng.integers(5, 31)) * 24 * ROWS_PER_HOUR)
        faults.append(Fault(kind, str(consumer_ids[j]), s, end, magnitude))
    if rng.random() < spec.master_error:
        shift = rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 3.0)
        faults.append(
            Fault(
                "master_error",
                master_id,
                int(rng.integers(rows // 10, rows // 2 + 1)),
                rows,
                round(float(shift), 3),
            )
        )
    return tuple(faults)


def _of(faults: tuple[Fault, ...], kind: str, column: dict[str, int]) -> list[tuple[int, Fault]]:
    return [(column[f.meter_id], f) for f in faults if f.kind == kind and f.meter_id in column]


def cut_power(
    faults: tuple[Fault, ...], column: dict[str, int], consumption: FloatArray, pv: FloatArray
) -> None:
    """Outages: no consumption and no generation while the power is off (in place)."""
    for j, f in _of(faults, "outage", column):
        consumption[f.start_row : f.end_row, j] = 0.0
        pv[f.start_row : f.end_row, j] = 0.0


def registered_energy(
    faults: tuple[Fault, ...], column: dict[str, int], import_wh: FloatArray, export_wh: FloatArray
) -> None:
    """Bypass theft and reverse wiring act on the energy the meter sees (in place)."""
    for j, f in _of(faults, "tamper_bypass", column):
        import_wh[f.start_row : f.end_row, j] *= 1.0 - f.magnitude
    for j, f in _of(faults, "reverse_wiring", column):
        swapped = import_wh[f.start_row :, j].copy()
        import_wh[f.start_row :, j] = export_wh[f.start_row :, j]
        export_wh[f.start_row :, j] = swapped


def master_error_shift(faults: tuple[Fault, ...], master_id: str, rows: int) -> FloatArray:
    """The master's added error (percent) per interval."""
    shift = np.zeros(rows)
    for f in faults:
        if f.kind == "master_error" and f.meter_id == master_id:
            shift[f.start_row : f.end_row] += f.magnitude
    return shift


def register_faults(
    faults: tuple[Fault, ...], column: dict[str, int], registers: FloatArray
) -> None:
    """Stuck and backward-stepping import registers, on the boundaries (rows + 1) (in place)."""
    for j, f in _of(faults, "stuck_register", column):
        registers[f.start_row + 1 :, j] = registers[f.start_row, j]
    for j, f in _of(faults, "register_backwards", column):
        registers[f.start_row + 1 :, j] -= f.magnitude


def reporting_faults(
    faults: tuple[Fault, ...], column: dict[str, int], present: BoolArray, ts_offset: IntArray
) -> None:
    """Which boundary readings are sent, and their clock offsets (in place)."""
    for kind in ("outage", "comm_gap"):
        for j, f in _of(faults, kind, column):
            present[f.start_row + 1 : f.end_row + 1, j] = False
    for j, f in _of(faults, "clock_skew", column):
        ts_offset[f.start_row + 1 :, j] = int(f.magnitude)
