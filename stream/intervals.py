"""Assembling aligned interval increments of one area from its readings (pure, no Faust).

Meters report cumulative registers at (roughly) the interval boundaries. The assembler snaps
each reading to its boundary, keeps the register per meter and boundary, and once the data's
own clock has passed the end of a block (a day by default) plus a grace period, it closes the
block and hands out the increments the energy-balance estimator takes:

- ``inc[t] = reg[t+1] − (last register read before)``: a reading after a gap carries the whole
  span since the meter was last read, and the missing increments before it are NaN (the
  estimator's bridging convention, :mod:`detectors.bridging`). The last register carries over
  from block to block.
- A register that went backwards is not an increment: NaN, and the meter is re-anchored there.
  (The data-quality rules report it.)
- Readings for a block already closed are late: counted, not used (the registers still bridge
  the gap for the estimator).
- Readings for a block after the open one (the first hour of a day, while the previous day
  waits out its grace) are held until their block opens, so how the readings are cut into
  frames does not change any block: the stream, fed small frames, and ``meterwatch analyze``,
  fed whole days, assemble the same increments.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from meterwatch.errors import DetectorError

FloatArray = npt.NDArray[np.float64]
_VERSION = 2  # 2: readings ahead of the open block are kept (``pending``)


@dataclass(frozen=True)
class AssemblerConfig:
    interval_s: int = 900
    block_intervals: int = 96
    snap_tolerance_s: int = 120  # a reading this close to a boundary is that boundary's
    grace_s: int = 3_600  # how long data may trail a block's end before the block closes


@dataclass(frozen=True)
class IntervalBlock:
    """Increments of one closed block: ``master_wh`` (T,), ``meters_wh`` (T, n), NaN = unread."""

    start_ts: int
    meter_ids: tuple[str, ...]
    master_wh: FloatArray
    meters_wh: FloatArray


class IntervalAssembler:
    """Per-area interval assembly; ``master`` is the area's summary meter id."""

    def __init__(self, master: str, config: AssemblerConfig | None = None) -> None:
        self._config = config or AssemblerConfig()
        self._master = master
        self._meters: list[str] = [master]  # column 0 is the master
        self._col: dict[str, int] = {master: 0}
        self._block_start: int | None = None  # boundary index of the open block's start
        self._regs = np.full((1, self._config.block_intervals), np.nan)  # boundaries 1..T
        self._last = np.full(1, np.nan)  # last register read before the open block
        self._ready: tuple[IntervalBlock, ...] = ()
        self._late = 0
        # readings for blocks after the open one: column, boundary, register
        self._pending = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))

    @property
    def config(self) -> AssemblerConfig:
        return self._config

    @property
    def ready(self) -> tuple[IntervalBlock, ...]:
        """Blocks closed by the last :meth:`update`, oldest first."""
        return self._ready

    @property
    def late_readings(self) -> int:
        """Readings that arrived after their block had closed, since the start."""
        return self._late

    def update(self, meter: npt.ArrayLike, ts: npt.ArrayLike, import_wh: npt.ArrayLike) -> None:
        cfg = self._config
        meters = np.asarray(meter).astype(str)
        stamps = np.asarray(ts, dtype=np.int64)
        registers = np.asarray(import_wh, dtype=np.float64)
        if not (len(meters) == len(stamps) == len(registers)):
            raise DetectorError("meter, ts and import_wh differ in length")
        boundary = np.rint(stamps / cfg.interval_s).astype(np.int64)
        on_grid = np.abs(stamps - boundary * cfg.interval_s) <= cfg.snap_tolerance_s
        meters, boundary, registers = meters[on_grid], boundary[on_grid], registers[on_grid]
        closed: list[IntervalBlock] = []
        if self._block_start is None and len(boundary):
            first = int(boundary.min())
            self._block_start = first - first % cfg.block_intervals
        if self._block_start is None:
            self._ready = ()
            return
        self._add_columns(meters)
        held_cols, held_boundary, held_registers = self._pending
        cols = np.concatenate([held_cols, [self._col[m] for m in meters]]).astype(np.int64)
        boundary = np.concatenate([held_boundary, boundary])
        registers = np.concatenate([held_registers, registers])
        latest = int(stamps.max()) if len(stamps) else 0
        while True:
            offset = boundary - self._block_start - 1  # boundary k of the block -> column k-1
            anchor = (offset == -1) & np.isnan(self._last[cols])  # a meter's first register
            self._last[cols[anchor]] = registers[anchor]
            late = offset < 0
            self._late += int((late & ~anchor).sum())
            inside = (offset >= 0) & (offset < cfg.block_intervals)
            self._regs[cols[inside], offset[inside]] = registers[inside]
            ahead = offset >= cfg.block_intervals
            boundary, registers, cols = boundary[ahead], registers[ahead], cols[ahead]
            block_end_ts = (self._block_start + cfg.block_intervals) * cfg.interval_s
            if latest < block_end_ts + cfg.grace_s:
                break
            closed.append(self._close())
        self._pending = (cols, boundary, registers)
        self._ready = tuple(closed)

    def _add_columns(self, meters: npt.NDArray[np.str_]) -> None:
        new = [m for m in np.unique(meters).tolist() if m not in self._col]
        if not new:
            return
        for m in new:
            self._col[m] = len(self._meters)
            self._meters.append(m)
        pad = np.full((len(new), self._regs.shape[1]), np.nan)
        self._regs = np.vstack([self._regs, pad])
        self._last = np.concatenate([self._last, np.full(len(new), np.nan)])

    def _close(self) -> IntervalBlock:
        assert self._block_start is not None
        regs = self._regs
        increments = np.full(regs.shape, np.nan)
        last = self._last.copy()
        for t in range(regs.shape[1]):  # one step per interval, vectorised over meters
            read = ~np.isnan(regs[:, t])
            step = regs[:, t] - last
            good = read & ~np.isnan(last) & (step >= 0)
            increments[good, t] = step[good]
            last = np.where(read, regs[:, t], last)
        block = IntervalBlock(
            start_ts=self._block_start * self._config.interval_s,
            meter_ids=tuple(self._meters[1:]),
            master_wh=increments[0].copy(),
            meters_wh=increments[1:].T.copy(),
        )
        self._last = last
        self._regs = np.full(regs.shape, np.nan)
        self._block_start += self._config.block_intervals
        return block

    def snapshot(self) -> dict[str, Any]:
        return {
            "kind": "interval_assembler",
            "version": _VERSION,
            "config": asdict(self._config),
            "meters": list(self._meters),
            "block_start": self._block_start,
            "regs": [[None if np.isnan(v) else float(v) for v in row] for row in self._regs],
            "last": [None if np.isnan(v) else float(v) for v in self._last],
            "late": self._late,
            "pending": [arr.tolist() for arr in self._pending],
        }

    @classmethod
    def restore(cls, state: dict[str, Any]) -> IntervalAssembler:
        if state.get("kind") != "interval_assembler" or state.get("version") not in (1, _VERSION):
            raise DetectorError("not an interval-assembler snapshot of a known version")
        # version 1 dropped readings ahead of the open block, so it has none held
        held_cols, held_boundary, held_registers = state.get("pending", ([], [], []))
        meters = list(state["meters"])
        obj = cls(meters[0], AssemblerConfig(**state["config"]))
        obj._meters = meters
        obj._col = {m: i for i, m in enumerate(meters)}
        obj._block_start = state["block_start"]
        obj._regs = np.array(state["regs"], dtype=np.float64).reshape(len(meters), -1)
        obj._last = np.array(state["last"], dtype=np.float64)
        obj._late = int(state["late"])
        obj._pending = (
            np.array(held_cols, dtype=np.int64),
            np.array(held_boundary, dtype=np.int64),
            np.array(held_registers, dtype=np.float64),
        )
        return obj
