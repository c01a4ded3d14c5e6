"""The offline oracle for one area of a fleet run, fed the blocks the stream sees (pure).

The demo's yardstick (issue 4): "replacement orders cover X % of the meters the oracle decides
``out_of_tolerance``". :func:`area_oracle` lines an area's
:class:`~stream.intervals.IntervalBlock` s up (each meter's energy as
:meth:`stream.area_estimation.AreaRegistry.energy_block` gives it), subtracts the true loss
model of each interval (``truth_areas.csv``'s ``loss_climate_wh``, keyed by the interval's
*end* time; what the model leaves out, unmetered use and the day-to-day weather, enters with
its law, as in the bench's oracle) and puts the batch GLS oracle
(:func:`detectors.oracle.oracle_decisions`) through the same rule and k as the stream. Like
the stream, it starts at the master's first increment.
Reading the files is the caller's business.

**It knows the injected faults** (``truth_faults.csv``) and undoes them in its copy of the
increments (:func:`undo_faults`), so that it judges what the issue asks about, the meters'
metrological errors, rather than the faults: a stuck register's cells become unread (the
balance then guesses them, with their variance); a bypassed meter's increments are divided
by the share it still saw; a reversed prosumer's sign is turned back (a meter without
generation enters the balance gross, which needs no correction); a master's added error is
taken out. A register's step back needs nothing: the assembler already re-anchors the meter
there. A skewed clock's stamps are put back on the grid before the readings are assembled
(:func:`undo_clock_skew`). Outages and comm gaps are left to the bridging, as for the stream.

**It knows how each meter's error moved** (``truth_errors.csv``, :func:`relative_drift`), though
not where it sits: the fleet's lots drift, step and accelerate during the run, and a constant
θ fitted with exact weights turns one big meter's step into a misfit that the whole area
absorbs (on the seed-7 demo, one business meter's −2.9 % step took the oracle's median error
from 0.43 % to 2 % within three days). So it divides each register by its known drift and
estimates only the level: on each day, it decides each meter's error *that day*.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from detectors.conformity import DEFAULT_K
from detectors.oracle import DayEffect, OracleDecisions, oracle_decisions, register_level_var
from meterwatch.errors import DetectorError
from meterwatch.scoring import FaultRecord, Truth
from stream.area_estimation import confirmation_streak
from stream.intervals import AssemblerConfig, IntervalBlock

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class AreaOracle:
    """The oracle's verdicts for one area: ``decisions`` rows are whole days from the start."""

    meter_ids: tuple[str, ...]
    first_end_ts: int  # end of the first interval used
    result: OracleDecisions

    def out_of_tolerance(self, day: int = -1) -> frozenset[str]:
        """Meters the oracle decides ``out_of_tolerance`` on ``day`` (default: the last)."""
        return self._meters(self.result.out_of_tolerance(day))

    def confirmed(self, days: int) -> frozenset[str]:
        """Meters the oracle decides ``out_of_tolerance`` on ``days`` days at some point, with
        no ``conforming`` day between them: the orders it would give under the stream's
        confirmation rule (:func:`stream.area_estimation.confirmation_streak`; every day counts,
        nothing is held)."""
        longest = []
        for column in self.result.decisions.T.tolist():
            streak = best = 0
            for decision in column:
                streak = confirmation_streak(decision, streak, True, held=False)
                best = max(best, streak)
            longest.append(best >= days)
        return self._meters(np.array(longest, dtype=bool))

    def _meters(self, flags: npt.NDArray[np.bool_]) -> frozenset[str]:
        return frozenset(m for m, flag in zip(self.meter_ids, flags.tolist(), strict=True) if flag)


def area_oracle(
    blocks: Sequence[IntervalBlock],
    loss_wh: Mapping[int, float],
    mpe_pct: Mapping[str, float],
    resolution_wh: Mapping[str, float],
    *,
    interval_s: int = 900,
    white_var_wh2: float = 0.0,
    k: float = DEFAULT_K,
    faults: Sequence[FaultRecord] = (),
    master_id: str = "",
    with_generation: Collection[str] = (),
    truth: Truth | None = None,
    weather: tuple[Mapping[int, float], float] | None = None,
) -> AreaOracle:
    """Oracle decisions for the area whose ``blocks`` are given, in time order.

    ``loss_wh`` maps an interval's end (epoch seconds) to the area's true loss model in it;
    ``white_var_wh2`` is the variance of what that model leaves out per interval (the
    unmetered use), and ``weather`` the day-to-day part it leaves out: the loss's change per
    kelvin by interval end, and the weather's sd (one effect per UTC day,
    :class:`detectors.oracle.DayEffect`). ``faults`` of the area are undone first
    (:func:`undo_faults`; ``master_id`` is the area's master meter, ``with_generation`` the
    meters that enter the balance net). With ``truth``, the oracle knows each meter's drift
    (:func:`relative_drift`).
    """
    if not blocks:
        raise DetectorError("no blocks for this area")
    ids = tuple(sorted({m for b in blocks for m in b.meter_ids}))
    col = {m: j for j, m in enumerate(ids)}
    masters, meters, ends = [], [], []
    for block in blocks:
        rows = len(block.master_wh)
        grid = np.full((rows, len(ids)), np.nan)
        grid[:, [col[m] for m in block.meter_ids]] = block.meters_wh
        masters.append(block.master_wh)
        meters.append(grid)
        ends.append(block.start_ts + interval_s * (1 + np.arange(rows)))
    master, consumers, end = np.concatenate(masters), np.vstack(meters), np.concatenate(ends)
    read = np.flatnonzero(~np.isnan(master))
    if not read.size:
        raise DetectorError("the master was never read")
    master, consumers, end = master[read[0] :], consumers[read[0] :], end[read[0] :]
    undo_faults(master, consumers, end - interval_s, ids, faults, master_id=master_id,
                with_generation=with_generation)  # fmt: skip
    known = [loss_wh] if weather is None else [loss_wh, weather[0]]
    missing = [int(t) for t in end if any(int(t) not in series for series in known)]
    if missing:
        raise DetectorError(f"no true loss for {len(missing)} intervals, first ending {missing[0]}")
    day_effect = None
    if weather is not None:
        basis = np.array([weather[0][int(t)] for t in end])
        day_effect = DayEffect(basis, weather[1], day=(end - interval_s) // 86_400)
    try:
        limits = np.array([mpe_pct[m] for m in ids])
        steps = np.array([resolution_wh[m] for m in ids])
    except KeyError as exc:
        raise DetectorError(f"meter {exc.args[0]!r} has no MPE or register resolution") from exc
    level = register_level_var(master, consumers, steps, interval_s=float(interval_s))
    result = oracle_decisions(
        master,
        consumers,
        np.array([loss_wh[int(t)] for t in end]),
        limits,
        intervals_per_day=86_400 // interval_s,
        white_var_wh2=white_var_wh2,
        level_var_wh2=level,
        k=k,
        register_resolution_wh=float(np.median(steps)) if steps.size else 10.0,
        known_drift=None if truth is None else relative_drift(truth, ids, end - interval_s),
        day_effect=day_effect,
    )
    return AreaOracle(meter_ids=ids, first_end_ts=int(end[0]), result=result)


def undo_faults(
    master: FloatArray,
    meters: FloatArray,
    start_ts: npt.NDArray[np.int64],
    meter_ids: Sequence[str],
    faults: Sequence[FaultRecord],
    *,
    master_id: str,
    with_generation: Collection[str],
) -> None:
    """Take the injected ``faults`` out of an area's increments, in place (see the module doc).

    ``start_ts`` is each row's interval start; ``meters`` columns follow ``meter_ids``.
    """
    col = {m: j for j, m in enumerate(meter_ids)}
    for f in faults:
        rows = (start_ts >= f.start_ts) & (start_ts < f.end_ts)
        if f.kind == "master_error" and f.meter_id == master_id:
            master[rows] /= 1.0 + f.magnitude / 100.0
            continue
        j = col.get(f.meter_id)
        if j is None or not rows.any():
            continue
        cells = meters[:, j]  # a view: the column is changed in place
        if f.kind == "stuck_register":
            cells[rows] = np.nan
        elif f.kind == "tamper_bypass" and f.magnitude < 1.0:
            cells[rows] /= 1.0 - f.magnitude
        elif f.kind == "reverse_wiring" and f.meter_id in with_generation:
            cells[rows] *= -1.0


def relative_drift(
    truth: Truth, meter_ids: Sequence[str], start_ts: npt.NDArray[np.int64]
) -> FloatArray:
    """``(1 + ε(t)) / (1 + ε(last day))`` per row (interval start ``start_ts``) and meter, from
    the truth's daily errors; 1 for a meter or day the truth does not have."""
    out = np.ones((len(start_ts), len(meter_ids)))
    col = {m: j for j, m in enumerate(truth.meters)}
    known = np.array([m in col for m in meter_ids], dtype=bool)
    if not len(truth.days) or not known.any():
        return out
    row = np.clip(np.searchsorted(truth.days, start_ts // 86_400), 0, len(truth.days) - 1)
    level = 1.0 + truth.error_pct[:, [col[m] for m in meter_ids if m in col]] / 100.0
    ratio = level[row] / level[-1]
    out[:, known] = np.where(np.isfinite(ratio) & (ratio > 0), ratio, 1.0)
    return out


def undo_clock_skew(
    meters: npt.NDArray[np.str_],
    ts: npt.NDArray[np.int64],
    faults: Sequence[FaultRecord],
    *,
    assembler: AssemblerConfig | None = None,
) -> npt.NDArray[np.int64]:
    """The readings' stamps with each injected clock skew taken out: a reading of a skewed
    meter whose stamp less the skew lands on a boundary (as the ``assembler`` snaps them)
    after the fault began."""
    cfg = assembler or AssemblerConfig()
    out = np.array(ts, dtype=np.int64)
    for f in faults:
        if f.kind != "clock_skew":
            continue
        true_ts = out - round(f.magnitude)
        off_grid = np.abs(true_ts - np.rint(true_ts / cfg.interval_s) * cfg.interval_s)
        on_grid = off_grid <= cfg.snap_tolerance_s
        skewed = (meters == f.meter_id) & (true_ts > f.start_ts) & on_grid
        out[skewed] = true_ts[skewed]
    return out
