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

**Skewed clocks.** A concentrator polls its meters on the grid, but a meter whose own clock is
off stamps the reading with its own time (DL/T 645 and DLMS replies carry the meter's time), so
every reading lands the same number of seconds off the grid and none snaps. Left alone, such a
meter is never read again and its whole consumption becomes a guess. So each meter has a learned
clock offset, subtracted from its stamps before snapping: when a block closes, a meter whose
readings in it (at least ``offset_min_readings``) sat off the grid by one amount (spread at most
``offset_spread_s``, beyond ``offset_min_s``) has that amount added to its offset. Its next
blocks are read on the grid again (the data-quality rules still report the skew). The offset
changes only when a block closes and held readings are kept raw, so frames cut differently
still give the same blocks. The stamps tell the offset only modulo one interval (664 s slow
looks like 236 s fast); :meth:`IntervalAssembler.shift_clock` moves a meter by whole intervals
once the area's balance has said where it belongs (:mod:`detectors.alignment`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from meterwatch.errors import DetectorError

FloatArray = npt.NDArray[np.float64]
_VERSION = 3  # 2: readings ahead of the open block are kept (``pending``); 3: clock offsets


@dataclass(frozen=True)
class AssemblerConfig:
    interval_s: int = 900
    block_intervals: int = 96
    snap_tolerance_s: int = 120  # a reading this close to a boundary is that boundary's
    grace_s: int = 3_600  # how long data may trail a block's end before the block closes
    offset_min_readings: int = 8  # readings of one block that may teach a meter's clock offset
    offset_spread_s: float = 30.0  # how far apart their distances from the grid may lie
    offset_min_s: float = 60.0  # a common distance from the grid beyond this is an offset


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
        self._offset = np.zeros(1)  # learned clock offset per column, s
        self._skew = np.zeros((3, 1))  # open block: readings, Σ and Σ² of their distance off grid
        self._ready: tuple[IntervalBlock, ...] = ()
        self._late = 0
        # readings for blocks after the open one, as they came: column, ts, register
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
        new_stamps = np.asarray(ts, dtype=np.int64)
        if not (len(meters) == len(new_stamps) == len(np.asarray(import_wh))):
            raise DetectorError("meter, ts and import_wh differ in length")
        self._add_columns(meters)
        held_cols, held_stamps, held_registers = self._pending
        cols = np.concatenate([held_cols, [self._col[m] for m in meters]]).astype(np.int64)
        stamps = np.concatenate([held_stamps, new_stamps])
        registers = np.concatenate([held_registers, np.asarray(import_wh, dtype=np.float64)])
        if self._block_start is None and len(stamps):
            # the first block holds the first reading on the grid (any, if none is)
            grid = np.rint(stamps / cfg.interval_s).astype(np.int64)
            on = np.abs(stamps - grid * cfg.interval_s) <= cfg.snap_tolerance_s
            first = int(grid[on].min() if on.any() else grid.min())
            self._block_start = first - first % cfg.block_intervals
        closed: list[IntervalBlock] = []
        latest = int(new_stamps.max()) if len(new_stamps) else 0
        while self._block_start is not None:
            corrected = stamps - self._offset[cols]
            boundary = np.rint(corrected / cfg.interval_s).astype(np.int64)
            off_grid = corrected - boundary * cfg.interval_s
            on_grid = np.abs(off_grid) <= cfg.snap_tolerance_s
            offset = boundary - self._block_start - 1  # boundary k of the block -> column k-1
            inside = (offset >= 0) & (offset < cfg.block_intervals)
            self._observe_skew(cols[inside], off_grid[inside])
            anchor = on_grid & (offset == -1) & np.isnan(self._last[cols])  # a first register
            self._last[cols[anchor]] = registers[anchor]
            self._late += int((on_grid & (offset < 0) & ~anchor).sum())
            placed = on_grid & inside
            self._regs[cols[placed], offset[placed]] = registers[placed]
            ahead = offset >= cfg.block_intervals
            stamps, registers, cols = stamps[ahead], registers[ahead], cols[ahead]
            block_end_ts = (self._block_start + cfg.block_intervals) * cfg.interval_s
            if latest < block_end_ts + cfg.grace_s:
                break
            closed.append(self._close())
        self._pending = (cols, stamps, registers)
        self._ready = tuple(closed)

    @property
    def clock_offsets_s(self) -> dict[str, float]:
        """The clock offsets learned so far, by meter (meters without one are left out)."""
        return {m: float(o) for m, o in zip(self._meters, self._offset, strict=True) if o}

    def shift_clock(self, meter: str, intervals: int) -> None:
        """Move a meter's readings ``intervals`` boundaries later from the open block on (its
        learned offset is only known modulo one interval; :mod:`detectors.alignment` tells
        which). Registers already placed in the open block move with it, so the block comes
        out as if the offset had held all along, however the readings were cut into frames: one
        pushed past the block's end is held for the next, one pushed before its start is late
        (or anchors a meter not read yet)."""
        if meter not in self._col or not intervals:
            return
        assert self._block_start is not None  # a meter has a column once a block is open
        j, cfg = self._col[meter], self._config
        self._offset[j] -= intervals * cfg.interval_s
        row = self._regs[j].copy()
        moved = np.full_like(row, np.nan)
        size = len(row)
        if intervals > 0:
            moved[intervals:] = row[: size - intervals]
            out, first_boundary = row[size - intervals :], size + 1
        else:
            moved[: size + intervals] = row[-intervals:]
            out, first_boundary = row[:-intervals], intervals + 1
        self._regs[j] = moved
        boundaries = self._block_start + first_boundary + np.arange(len(out))
        kept = ~np.isnan(out)
        if intervals > 0:  # into the next block: held with a stamp that places them there
            stamps = boundaries[kept] * cfg.interval_s + self._offset[j]
            cols, held, regs = self._pending
            self._pending = (
                np.concatenate([cols, np.full(int(kept.sum()), j)]).astype(np.int64),
                np.concatenate([held, np.rint(stamps)]).astype(np.int64),
                np.concatenate([regs, out[kept]]),
            )
        elif kept.any():  # into the closed block
            if np.isnan(self._last[j]) and kept[-1] and boundaries[-1] == self._block_start:
                self._last[j] = out[-1]
                self._late += int(kept.sum()) - 1
            else:
                self._late += int(kept.sum())

    def _observe_skew(self, cols: npt.NDArray[np.int64], off_grid: FloatArray) -> None:
        n = len(self._meters)
        self._skew += np.stack(
            [
                np.bincount(cols, minlength=n),
                np.bincount(cols, off_grid, minlength=n),
                np.bincount(cols, off_grid**2, minlength=n),
            ]
        )

    def _learn_offsets(self) -> None:
        """At a block's close: a meter read off the grid by one amount has its offset moved."""
        cfg = self._config
        count, total, squares = self._skew
        enough = count >= max(cfg.offset_min_readings, 1)
        mean = np.divide(total, count, out=np.zeros_like(total), where=enough)
        square = np.divide(squares, count, out=np.zeros_like(total), where=enough)
        spread = np.sqrt(np.maximum(square - mean**2, 0.0))
        moved = enough & (spread <= cfg.offset_spread_s) & (np.abs(mean) > cfg.offset_min_s)
        self._offset[moved] += np.rint(mean[moved])
        self._skew[:] = 0.0

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
        self._offset = np.concatenate([self._offset, np.zeros(len(new))])
        self._skew = np.hstack([self._skew, np.zeros((3, len(new)))])

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
        self._learn_offsets()
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
            "offset": self._offset.tolist(),
            "skew": self._skew.tolist(),
        }

    @classmethod
    def restore(cls, state: dict[str, Any]) -> IntervalAssembler:
        version = state.get("version")
        if state.get("kind") != "interval_assembler" or version not in (1, 2, _VERSION):
            raise DetectorError("not an interval-assembler snapshot of a known version")
        # version 1 dropped readings ahead of the open block, so it has none held; version 2
        # held them snapped (a boundary, not a ts) and knew no clock offsets
        held_cols, held_at, held_registers = state.get("pending", ([], [], []))
        meters = list(state["meters"])
        obj = cls(meters[0], AssemblerConfig(**state["config"]))
        interval_s = obj.config.interval_s
        obj._meters = meters
        obj._col = {m: i for i, m in enumerate(meters)}
        obj._block_start = state["block_start"]
        obj._regs = np.array(state["regs"], dtype=np.float64).reshape(len(meters), -1)
        obj._last = np.array(state["last"], dtype=np.float64)
        obj._late = int(state["late"])
        held_ts = np.array(held_at, dtype=np.int64) * (interval_s if version == 2 else 1)
        obj._pending = (
            np.array(held_cols, dtype=np.int64),
            held_ts,
            np.array(held_registers, dtype=np.float64),
        )
        obj._offset = np.array(state.get("offset", [0.0] * len(meters)), dtype=np.float64)
        obj._skew = np.array(state.get("skew", [[0.0] * len(meters)] * 3), dtype=np.float64)
        return obj
