"""True metrological errors of every meter over the run (pure numpy, seeded).

- **Initial error per lot:** each production lot has a bias (``lot_bias_sd`` of the class's
  MPE); its meters scatter around it (``meter_sd``), kept within ±0.6·MPE. A share
  ``static_oot_fraction`` of consumer meters starts out of tolerance (1.1–3·MPE).
- **Per-meter drift processes** ``ε(t) = ε₀ + A·g(x)``, ``x = max(t − t₀, 0)/(days − t₀)``:
  ``none`` (g = 0), ``linear`` (g = x), ``step`` (g = 1 after t₀) and ``accelerating``
  (g = x³); ``|A|`` is 0.3–3·MPE, so some drifts cross the MPE within the run and some not.
- **Lot-level defects:** in ``defect_lots`` lots (of at least 20 meters) a share of the
  meters, in whichever area they are, drift together: one onset, one amplitude, one shape.
- **Master meters** keep a static error, uniform in ±``master_error_max_pct`` (a master
  meter fault is injected by :mod:`simulators.faults`).

Errors are in percent: a meter with error ε registers ``(1 + ε/100)`` times the true energy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from detectors.mpe import mpe_pct_array
from simulators.fleet import METER_TYPE, Fleet

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
DRIFT_KINDS = ("none", "linear", "step", "accelerating")


@dataclass(frozen=True)
class MetrologySpec:
    lot_bias_sd: float = 0.1  # of the MPE
    meter_sd: float = 0.12  # of the MPE, around the lot's bias
    static_oot_fraction: float = 0.01
    linear_fraction: float = 0.03
    step_fraction: float = 0.01
    accelerating_fraction: float = 0.01
    defect_lots: int = 1
    defect_share: tuple[float, float] = (0.3, 0.6)
    master_error_max_pct: float = 0.2

    def all_zero(self) -> MetrologySpec:
        """No errors at all: every meter registers the true energy."""
        return MetrologySpec(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, (0.0, 0.0), 0.0)


@dataclass(frozen=True)
class FleetErrors:
    """Per registry row: the parameters of its error trajectory."""

    mpe_pct: FloatArray
    initial_pct: FloatArray
    amplitude_pct: FloatArray
    onset_day: FloatArray
    kind: IntArray  # index into DRIFT_KINDS
    lot_defect: BoolArray
    days: int

    def at(self, t_days: FloatArray, rows: IntArray) -> FloatArray:
        """Errors (percent) at times ``t_days`` (T,) of registry rows ``rows``: (T, len(rows))."""
        t0 = self.onset_day[rows]
        span = np.maximum(self.days - t0, 1e-9)
        x = np.clip((t_days[:, None] - t0) / span, 0.0, None)
        kind = self.kind[rows]
        shape = np.select(
            [kind == 1, kind == 2, kind == 3], [x, (x > 0).astype(float), x**3], default=0.0
        )
        return np.asarray(self.initial_pct[rows] + self.amplitude_pct[rows] * shape, dtype=float)

    def daily_mean(self, rows: IntArray, samples_per_day: int = 96) -> FloatArray:
        """Each day's mean error, shape (days, len(rows))."""
        t = (np.arange(self.days * samples_per_day) + 0.5) / samples_per_day
        per = self.at(t, rows).reshape(self.days, samples_per_day, rows.size)
        return np.asarray(per.mean(axis=1), dtype=float)


def draw_errors(fleet: Fleet, spec: MetrologySpec) -> FleetErrors:
    """Draw every meter's error trajectory; seeded by the fleet's seed."""
    rng = np.random.default_rng([fleet.spec.seed, 0xE4404])
    days = fleet.spec.days
    total = fleet.meter_id.size
    mpe = mpe_pct_array(METER_TYPE, fleet.accuracy_class)
    lots, lot_of = np.unique(fleet.lot, return_inverse=True)
    lot_bias = rng.normal(0.0, 1.0, lots.size)[lot_of] * spec.lot_bias_sd
    initial = np.clip(lot_bias + rng.normal(0.0, spec.meter_sd, total), -0.6, 0.6) * mpe
    consumer = ~fleet.is_master
    sign = np.where(rng.random(total) < 0.55, -1.0, 1.0)
    pick = rng.random(total)
    kind = np.zeros(total, dtype=np.int64)
    edges = np.cumsum([spec.linear_fraction, spec.step_fraction, spec.accelerating_fraction])
    kind[consumer] = np.searchsorted(edges, pick[consumer], side="right") + 1
    kind[kind > 3] = 0
    static = consumer & (kind == 0) & (rng.random(total) < spec.static_oot_fraction)
    initial[static] = sign[static] * rng.uniform(1.1, 3.0, static.sum()) * mpe[static]
    amplitude = np.where(kind > 0, sign * rng.uniform(0.3, 3.0, total) * mpe, 0.0)
    onset = rng.uniform(0.0, 0.6 * days, total)
    lot_defect = np.zeros(total, dtype=bool)
    size = np.bincount(lot_of[consumer], minlength=lots.size)
    big = np.flatnonzero(size >= min(20, size.max()))  # a defect worth the name hits many
    for lot in rng.permutation(big)[: spec.defect_lots]:
        members = np.flatnonzero((lot_of == lot) & consumer)
        share = rng.uniform(*spec.defect_share)
        hit = members[rng.random(members.size) < share]
        lot_defect[hit] = True
        kind[hit] = rng.choice([1, 3])
        onset[hit] = rng.uniform(0.1, 0.5) * days
        amplitude[hit] = rng.choice([-1.0, 1.0]) * rng.uniform(1.5, 3.0) * mpe[hit]
    master = fleet.is_master
    initial[master] = rng.uniform(-1.0, 1.0, master.sum()) * spec.master_error_max_pct
    return FleetErrors(
        mpe_pct=mpe,
        initial_pct=initial,
        amplitude_pct=amplitude,
        onset_day=onset,
        kind=kind,
        lot_defect=lot_defect,
        days=days,
    )
