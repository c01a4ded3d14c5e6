"""Per-meter error estimation from one area's energy balance, with GUM uncertainty.

Model, per interval t: ``E_master(t) = Σ_i θ_i·e_i(t) + L(t) + noise``, ``θ_i = 1/(1+ε_i)``.

**Loss.** ``L(t) = a·s + (b + b_c·cos h_t + b_s·sin h_t + δ_day)·S_t²/s``, ``S_t = Σ_i e_i(t)``,
``s`` the area's reference load per interval (mean master increment of the first block),
``h_t`` the time of day. ``a·s`` is the fixed loss (transformer no-load loss, meter and
concentrator self-consumption: constant power, so constant energy per interval). The rest is
the load loss, I²R with I ∝ P, so energy ``∝ P²·Δt ∝ S²`` per interval; its resistance
follows conductor temperature, hence a daily harmonic and a per-day random effect ``δ_day``
(prior ``N(0, loss_day_sd²)``, marginalised out exactly when its day ends) for the weather.
There is deliberately no term linear in S: it would be confounded with a common scaling of
all θ. Unmetered use, phase imbalance and the like are not modelled.

**Noise.** Registers are quantised and read with clock jitter, which act on the *cumulative*
register at each boundary: their effect on an increment is ``u_t − u_{t−1}``, with ``σ_u²``
known from the resolutions (:mod:`detectors.gls`). The rest (unmetered use, what the loss
model misses) is taken as white; its level is learned online from the marginal likelihood of
each block's a-priori residuals summed per hour (hours that hold a guess left out: its error
is heavy-tailed), whose covariance holds the parameters' uncertainty, the registers and the
day's loss effect (the weather, fitted only as its day goes by) by its prior; the posterior
median over ``white_window_days`` (30) with a log-normal prior around
``white_noise_fraction`` of the reference load (:mod:`detectors.noise_level`). Until
2026-11-28 the level was read from each 2-hour run's own residual (the median of
``R²/(k·σ² + o)``, floored at that fraction): on 200-meter areas the θ's uncertainty filled
those runs' variance, so it sat on its floor, or rose with whatever a day's runs shared; on
the bench's first 30 areas day-30 detection against the oracle went from 0.683 to 0.952 with
this level (``bench/RESULTS.md``). The one-step-ahead check (below) still reads 2-hour runs;
``white_without_day_effect`` (on) takes one loss effect per day out of them first, so the
weather is not taken for over-confidence. When the level rises, the information gathered so
far is scaled down as if its rows had been weighted for it. Rows are whitened with the exact
Cholesky recursion of this tridiagonal covariance (carried across blocks), which makes the
estimator generalised least squares, and the attenuation that quantisation noise in the
regressors causes is removed (corrected least squares). That noise is in the load-loss
columns too, which are built from the meters' sum: there it is multiplied by the varying
load (``∂L/∂S = 2S/s``), so it does not telescope, and left alone it biased every θ̂ of an
area the same way (ε̂ −0.4 % at day 30 on the bench): the loss coefficient was attenuated
and the missing loss taken by a common rise of θ. Its whitened moments are removed as well
(:func:`detectors.gls.scaled_noise_moments`).

**Estimation.** Block-recursive least squares in information form with forgetting factor
``λ = 1 − 1/(memory_days·intervals_per_day)`` per interval, regularised by a prior
``θ ~ N(1, prior_sd²)`` (and a weak zero-mean prior on the loss terms) that is never
forgotten. Each block is robustified before it is added: a-priori residuals are
Huber-winsorised at ``huber_c`` times their predictive standard deviation (noise plus
parameter uncertainty): bad master readings, bursts of theft, wrong imputations.

**Gaps** (:mod:`detectors.bridging`): a NaN increment means the register was not read and
the next value carries the whole span. A meter's span total is spread evenly over its rows,
the master's along the meters' total. The guess's error sits on the unread boundaries (a
Brownian bridge, variance ``split_cv²·var_i·j(k−j)/k``, ``var_i`` the meter's variance of
one-interval increments), so it enters the level noise; rows are kept rather than merged,
because with 200 meters and 2 % independent loss almost no interval has every meter. An
unread *master* boundary gets so large a variance (``(10·s)²``) that its span is in effect
one exact equation: any guess of the master's split errs with the meters' own variation. A
span still open when a block ends is guessed from the meter's mean (unknown cells, variance
``var_i`` each); the guess is kept as a debt and subtracted from the value that finally
closes the span, so every total stays exact and nothing is held back between blocks.

**Guessed levels.** The error of a guess over a long open span is not independent from cell
to cell: an outage or a week away makes every guessed cell wrong *the same way* (the guess is
the mean, the truth 0). Modelled as independent, such rows pull the meter's θ (and its
neighbours') hard, and the reading that closes the span carries the whole error into one
row, where winsorising stops it. So a meter's guessed cells in a block share a level
nuisance: they enter the balance as ``(θ_i + η_i)·g_t``, ``η_i ~ N(0, (guess_level_sd·θ̂_i)²)``
(sd 1: the level may be off by all of the guess), added to the block's parameters and
marginalised out exactly (Schur) at its end, like the per-day loss effect. The rows then
teach θ only what does not depend on the guess's level. A level is added where it outweighs
the cells' own spread (``r·(sd·mean_i)² ≥ var_i`` over r > 1 cells; one cell's error is its
own, already in its variance), so blocks without long guesses are processed as before.
The level also moves within the block: each hour (``guess_shape_rows`` 4) of such a meter's
guess adds a deviation of the same prior (a nuisance correcting no debt). A household's use
runs above or below its mean for hours (away, the evening peak), and the whitened balance
weighs such a run as a misfit that neighbours' θ must explain: with one level per block, a
fleet area's register stuck for its last 37 days took the 99 bystanders' MAE from 0.44 %
(no fault) to 2.01 %; with hourly levels 0.73 %, and 0.66 % with its true use as the guess
(``simulators`` fleet, seed 12, area 0, as shipped otherwise). A bridged span of more than one
segment is a guess of the same kind: its total is exact, but the even split is not how the
household used it over those hours, so its cells get the same hourly deviations (and no
level: the total is known). A fleet meter's 92-hour comm gap closed with its last 79 rows
split evenly; a small healthy neighbour (true error 0.3 %) jumped from −1.1 % to +14.7 % in
that block, stayed near +15 % for weeks and was ordered out; with the deviations it stays
between −1.1 % and +3.4 % to the end of the run, +0.7 % at the end (seed 12, every fault
kind, area 1-02, 2026-11-28).
*Settlement*: before marginalising, the block's joint posterior (θ, loss terms, levels)
estimates each open span's level, ``η̂_i ± s_i``; the debt becomes the guess as the balance
corrected it, ``G_i·(1 + η̂_i/θ̂_i)``, with variance ``(G_i·s_i/θ̂_i)²`` (summed over the
blocks the span stays open). The closing value thus repays only what the balance says was
used, not the guess the level absorbed (an outage's debt is ≈ 0). What the correction may
still miss is one amount spread over the rows the closing value is split on, so it is a
level nuisance there too (prior sd = that variance's root) and does not land in one row.
Alternatives considered: a nuisance kept alive until the span closes (exact, but parameters
and snapshot state that outlive a block), and writing the debt off (dropping the closing
value's information on every gap).

**Breaks** (:mod:`detectors.breaks`). Before a block is added, its a-priori residuals are
tested for a step of one identifiable meter's θ by at least ``break_min_change`` (30 %: a
bypass, reversed wiring, a swapped meter; metrological drift is slower by orders of magnitude)
at ``break_z`` standard uncertainties. Such a meter is re-opened: its parameter is marginalised
out of the information (what its past data said about the others stays) and its prior becomes
the break's estimate with sd ``break_prior_sd`` (θ has left 1: a reversed meter's is −1). Its
rows before the break, and the whitening's carried row (a cumulative of the past rows), are
taken at the old θ (moved to the master's side), and the block is winsorised around the model
*with* the step. So it follows its new θ within the block instead of dragging its neighbours
along for weeks. A meter with θ < 0 counts the other way round in the load-loss regressor
``S_t``: a reversed meter's consumption still loads the lines. The block's guessed levels
(above) are fitted jointly with each candidate step, so an outage's guess, off by one amount
throughout, is not taken for a neighbour's step; nor is a step of the master's own error (the
whole model scaled) that explains the block as well. Only a step an installation can take counts
(:func:`detectors.breaks.plausible_step`: θ up, its sign flipped, or back towards 1). A meter
never re-opened and within ``break_min_change`` of θ = 1 may also take a smaller step, of its
*error*: ``|δ|`` from ``error_step_min`` to ``error_step_max`` (2-10 %), a component failing
rather than an installation; it is re-opened the same way. The
break is reported (:attr:`AreaErrorEstimator.breaks`); ``detect_breaks`` turns this off.
A step found within the last ``break_late_rows`` (32: 8 h) of a block that could be the
master's is left to the next block, with the master unread from its row on
(:class:`detectors.breaks.Deferred`): the next block sees it from its first row, and
nothing is learned from the rows meanwhile. A step of the master's own error by
``master_step_min`` (1 %) or more, at the same ``z``, is left to the next block the same way
wherever it starts; when that block finds it again from its first
row, of a size the two agree on within 3 standard uncertainties, it is taken as what it is,
at the size both weigh in on (inverse-variance mean): the master's readings from there on,
and in every later block, are divided by ``master_scale`` (the product of ``1 + step`` over
its steps), so no θ has to follow it. Each step's variance (``(step/z)²``) joins the
master's Type B uncertainty: an estimate corrected by it is no better known than the step.
In a fleet's area whose master stepped by −2.26 %, the first block measured −2.27 %, the
confirming block −2.72 % (z 9.4), and together −2.42 % (before the re-opened meters' steps
were fitted with the master's, after which that step was not found at all:
:mod:`detectors.breaks`). It is reported
(:attr:`AreaErrorEstimator.master_steps`).

**Uncertainty (GUM).** ``C = max(1, s², r)·M⁻¹``, ``M`` the posterior information, ``s²`` the
Birge ratio (whitened residual variance per effective interval) and ``r`` the one-step-ahead
check of :mod:`detectors.noise_level` (neither may shrink the model's variance);
``u(ε) = u(θ)/θ²``, combined in quadrature with the master meter's Type B
``master_uncertainty_pct``. A meter is ``identifiable`` when the data has cut its prior
variance to at most ``identifiable_variance_ratio`` of it: tiny consumption and collinear
profiles (two meters with one profile leave their difference to the prior) are not.

**Master meter** (:mod:`detectors.master_meter`). The median ε̂ of identifiable meters
estimates the common shift a master error causes (after its steps). Beyond
``master_tolerance_pct`` with guard
``master_guard_k``, ``master_suspect`` is set and, if ``recentre_on_master_suspect``, errors
are reported relative to that median (whose uncertainty replaces the master's Type B term).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

from detectors._snapshot import check_version, floats_in, floats_out
from detectors.breaks import Break, Deferred, find_break
from detectors.bridging import (
    ANCHORED,
    NEW,
    UNKNOWN,
    fill_area,
    open_debts,
    settle_debts,
    typical_increments,
)
from detectors.gls import (
    WhiteningCarry,
    lower_inverse,
    scaled_noise_moments,
    start_carry,
    whiten,
)
from detectors.guess_levels import level_nuisances, marginalise_levels
from detectors.master_meter import common_shift
from detectors.noise_level import NoiseLevel
from meterwatch.errors import DetectorError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
_KIND, _VERSION = "area_error_estimator", 8  # v4: debts' variance; v5: breaks; v6: loss EIV
# v7: master steps; v8: the white level's likelihoods
_EIV_LOSS = 3  # the load-loss columns whose register noise is corrected: b, b_c, b_s
_LOSS_TERMS = 5  # a, b, b_c, b_s, δ_day
_RUNS_PER_DAY = 12  # the one-step-ahead check reads residuals summed over 2-hour runs


@dataclass(frozen=True)
class EstimatorConfig:
    """Hyperparameters of :class:`AreaErrorEstimator` (energies in Wh, errors in percent)."""

    intervals_per_day: int = 96
    memory_days: float = 90.0
    prior_sd: float = 0.1
    loss_prior_sd: float = 0.2
    loss_day_sd: float = 0.003
    register_resolution_wh: float = 10.0
    master_resolution_wh: float = 1.0
    clock_jitter_s: float = 3.0
    master_clock_jitter_s: float = 0.5
    master_uncertainty_pct: float = 0.2 / math.sqrt(3.0)
    white_noise_fraction: float = 7e-4
    white_without_day_effect: bool = True
    white_window_days: float = 30.0
    noise_window_days: float = 14.0
    split_cv: float = 0.5
    guess_level_sd: float = 1.0
    guess_shape_rows: int = 4
    huber_c: float = 3.0
    detect_breaks: bool = True
    break_min_change: float = 0.3
    break_z: float = 8.0
    break_prior_sd: float = 2.0
    error_step_min: float = 0.02
    error_step_max: float = 0.1
    master_step_min: float = 0.01
    break_late_rows: int = 32
    identifiable_variance_ratio: float = 0.25
    min_meters_common: int = 20
    master_tolerance_pct: float = 0.2
    master_guard_k: float = 3.0
    recentre_on_master_suspect: bool = True

    @property
    def forgetting(self) -> float:
        return 1.0 - 1.0 / (self.memory_days * self.intervals_per_day)


def _through(increments: FloatArray, theta: FloatArray) -> FloatArray:
    """The energy through the area per row: the meters' increments summed, a meter whose θ is
    negative (registering backwards) counted the other way round."""
    if (theta >= 0).all():
        return np.asarray(increments.sum(axis=1), dtype=np.float64)
    return np.asarray(increments @ np.where(theta < 0, -1.0, 1.0), dtype=np.float64)


def _away_from_zero(theta: FloatArray) -> FloatArray:
    """θ̂ with |θ̂| ≥ 1e-3, sign kept (θ < 0 is a meter registering backwards)."""
    return np.where(theta < 0, np.minimum(theta, -1e-3), np.maximum(theta, 1e-3))


def _readonly(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    view = a.view()
    view.flags.writeable = False
    return view


class AreaErrorEstimator:
    """Streaming estimate of every consumer meter's error in one area; see the module doc."""

    def __init__(
        self, meter_ids: list[str] | tuple[str, ...], config: EstimatorConfig | None = None
    ) -> None:
        ids = list(meter_ids)
        if len(set(ids)) != len(ids):
            raise DetectorError("meter ids must be unique")
        self.config = config or EstimatorConfig()
        self._ids: list[str] = ids
        n, intervals = len(ids), self.config.intervals_per_day
        width = n + _LOSS_TERMS + 1
        self._info = np.zeros((width, width))  # data information of [θ…, loss…, y]
        self._n_eff = 0.0
        self._s_ref = math.nan
        self._noise = NoiseLevel(
            round(self.config.noise_window_days * _RUNS_PER_DAY),
            max(1, intervals // _RUNS_PER_DAY),
            sum_rows=max(1, intervals // 24),  # the level's likelihood reads hourly sums
            window_rows=round(self.config.white_window_days * intervals),
            check_without_day_effect=self.config.white_without_day_effect,
        )
        self._clock = 0  # interval of the day of the next row to process
        self._tau = np.zeros(n)  # forgotten sums of each meter's whitened regressor noise
        # the same for the load-loss columns: with each meter's (first n) and among themselves
        self._loss_eiv = np.zeros((_EIV_LOSS, n + _EIV_LOSS))
        self._carry = start_carry(width, n)
        self._stats = np.zeros((3, n + 1))  # forgotten count, sum, sum² of [master, meters]
        self._states = np.full(n + 1, ANCHORED, dtype=np.int64)  # the first block follows a read
        # energy guessed for spans still open, their rows, and the variance of the guess's
        # level after the balance has corrected it (see _marginalise_levels)
        self._debt = np.zeros((3, n + 1))
        self._residuals = np.zeros(0)
        self._model = np.zeros(0)
        self._breaks: list[tuple[str, Break]] = []
        self._prior_mean = np.ones(n)  # after a break: the θ it measured
        self._prior_sd = np.full(n, self.config.prior_sd)  # after a break: break_prior_sd
        self._master_steps: list[Break] = []
        self._master_scale = 1.0  # the master's readings are divided by this (its steps)
        self._master_step_var = 0.0  # the steps' relative variances, summed
        # a step left to this block to confirm: rows before the block, its change and variance if
        # it looked like the master's (else inf)
        self._master_seen: tuple[int, float, float] = (0, 0.0, math.inf)
        self._refresh()

    # ------------------------------------------------------------------ results
    @property
    def meter_ids(self) -> tuple[str, ...]:
        return tuple(self._ids)

    @property
    def errors_pct(self) -> FloatArray:
        return _readonly(self._errors)

    @property
    def uncertainty_pct(self) -> FloatArray:
        return _readonly(self._uncert)

    @property
    def identifiable(self) -> BoolArray:
        return _readonly(self._ident)

    @property
    def loss_fixed_wh(self) -> float:
        """Estimated fixed loss per interval."""
        return float(self._x[-_LOSS_TERMS] * self._s_ref)

    @property
    def loss_load_wh(self) -> float:
        """Estimated load loss per interval at the reference load (daily mean)."""
        return float(self._x[1 - _LOSS_TERMS] * self._s_ref)

    @property
    def reference_load_wh(self) -> float:
        return self._s_ref

    @property
    def balance_residuals_wh(self) -> FloatArray:
        """Master minus modelled balance for each interval of the last processed block."""
        return _readonly(self._residuals)

    @property
    def balance_model_wh(self) -> FloatArray:
        """What the model makes of the master's increment (the meters' sum and the loss) for
        each interval of the last processed block, whether or not the master was read."""
        return _readonly(self._model)

    @property
    def birge_ratio(self) -> float:
        """Whitened residual variance per interval; above 1 the noise model is too optimistic
        (uncertainties are then widened by its square root)."""
        return self._birge

    @property
    def white_noise_var_wh2(self) -> float:
        """White-noise variance per interval used for the last block (learned online, its
        prior's median ``white_noise_fraction`` of the reference load;
        :mod:`detectors.noise_level`)."""
        return self._noise.white

    @property
    def common_error_pct(self) -> float:
        """Median ε̂ of identifiable meters (≈ −master error); NaN with too few meters."""
        return self._common

    @property
    def master_suspect(self) -> bool:
        return self._suspect

    @property
    def breaks(self) -> tuple[tuple[str, Break], ...]:
        """The meters whose θ broke in the last block (``Break.row``: its first row with the
        new θ), each re-opened: what was learned of it is forgotten, what its data told about
        the others is kept (:mod:`detectors.breaks`)."""
        return tuple(self._breaks)

    @property
    def master_steps(self) -> tuple[Break, ...]:
        """Steps of the master's error taken in the last block (``Break.change``: relative;
        ``Break.row``: where it was first seen, a row of the block before, counted back from
        this block's first as negative); its readings are divided by :attr:`master_scale`
        from this block on."""
        return tuple(self._master_steps)

    @property
    def master_scale(self) -> float:
        """What the master reads now per unit it read before its steps (1: no step found)."""
        return self._master_scale

    # ------------------------------------------------------------------ update
    def update(
        self, master_wh: npt.ArrayLike, meters_wh: npt.ArrayLike, start_interval: int | None = None
    ) -> None:
        """Add one block of increments: master (T,), meters (T, n); NaN = not read.

        The first block is taken to start right after a reading of every register. A meter
        added later (``add_meter``, ``replace_meter``) has had no reading: its leading NaNs
        are unknown and its first value is its own interval's increment. ``start_interval``
        is the interval of the day (0 starts at midnight) of the block's first row; by
        default rows continue where the previous block ended.
        """
        master = np.asarray(master_wh, dtype=np.float64) / self._master_scale
        meters = np.asarray(meters_wh, dtype=np.float64)
        n = len(self._ids)
        if master.ndim != 1 or meters.shape != (master.shape[0], n):
            raise DetectorError(
                f"expected master (T,) and meters (T, {n}); got {master.shape} and {meters.shape}"
            )
        if np.isinf(master).any() or np.isinf(meters).any():
            raise DetectorError("increments must be finite or NaN")
        if start_interval is not None:
            self._clock = start_interval % self.config.intervals_per_day
        self._breaks, self._master_steps = [], []
        rows, settled = settle_debts(
            np.column_stack([master, meters]), self._debt[0], self._debt[1] > 0
        )
        owed_rows = np.where(settled, self._debt[1], 0.0)
        owed_var = np.where(settled, self._debt[2], 0.0)
        self._debt[:, settled] = 0.0
        phi = None
        if np.isnan(rows).all():  # nothing was read: only the debts and the clock move on
            self._debt[1] += len(rows) * (self._states == ANCHORED)
            self._clock = (self._clock + len(rows)) % self.config.intervals_per_day
        elif len(rows):
            phi = self._process(rows, owed_rows, owed_var)
        self._states[~np.isnan(rows).all(axis=0)] = ANCHORED
        self._refresh()
        if phi is not None:  # in the master's readings (times its scale)
            self._model = self._master_scale * (phi @ self._x)
            self._residuals = self._master_scale * rows[:, 0] - self._model

    def _process(
        self, rows: FloatArray, owed_rows: FloatArray, owed_var: FloatArray, defer: bool = True
    ) -> FloatArray:
        """Fill, robustify, whiten and add one block of rows; returns its regressors. A step
        that the block cannot place (:class:`~detectors.breaks.Deferred`) is left to the next
        one: the block is processed again with the master unread from the step's row on."""
        cfg, n = self.config, len(self._ids)
        seen = self._master_seen if defer else (0, 0.0, math.inf)  # a step left to this block
        if defer:
            self._master_seen = (0, 0.0, math.inf)
        p, t_len = n + _LOSS_TERMS, len(rows)
        single = ~np.isnan(rows)
        single[1:] &= single[:-1]
        first = (~np.isnan(rows)).argmax(axis=0)
        single[first, np.arange(n + 1)] &= owed_rows == 0  # a settled debt spans many rows
        mean, var = typical_increments(self._stats, rows, single)
        filled, kind, bridge = fill_area(rows, mean, self._states)
        guess, run = open_debts(rows, filled)
        owes = (run > 0) & (self._states == ANCHORED)  # a new meter's leading gap is no debt
        stats = cfg.forgetting**t_len * self._stats + np.stack(
            [
                single.sum(axis=0),
                np.where(single, rows, 0.0).sum(axis=0),
                np.where(single, rows**2, 0.0).sum(axis=0),
            ]
        )
        if math.isnan(self._s_ref):
            ref = float(np.mean(filled[:, 0]))
            self._s_ref = ref if ref > 0 else max(float(filled[:, 1:].sum(axis=1).mean()), 1.0)
        theta2 = np.concatenate(([1.0], self._x[:n] ** 2))
        base_level = self._level_var(mean)
        split = cfg.split_cv**2 * var
        split[0] = var[0] = (10.0 * self._s_ref) ** 2  # unread master boundary: merge its span
        unknown = np.where(kind == UNKNOWN, var, 0.0)
        unknown[first, np.arange(n + 1)] += owed_rows * var  # a settled debt's guessing error
        level = base_level + bridge @ (theta2 * split)
        unmodelled = unknown @ theta2
        phi = np.empty((t_len, p + 1))
        phi[:, :n] = filled[:, 1:]
        phi[:, n] = self._s_ref
        through = _through(filled[:, 1:], self._x[:n])
        clock = self._clock + np.arange(t_len)
        hour = 2 * np.pi * clock / cfg.intervals_per_day
        shape = np.stack([np.ones(t_len), np.cos(hour), np.sin(hour), np.ones(t_len)], axis=1)
        phi[:, n + 1 : p] = (through**2 / self._s_ref)[:, None] * shape
        pred = phi[:, :p] @ self._x
        par_var = self._birge * ((phi[:, :p] @ self._chol_inv.T) ** 2).sum(axis=1)
        read = (bridge[:, 1:] == 0) & (kind[:, 1:] != UNKNOWN)  # imputed errors are Berkson
        nuisance, levels, level_sd = level_nuisances(
            kind, filled, mean, var, first, owed_var,
            np.abs(_away_from_zero(self._x[:n])), cfg.guess_level_sd, cfg.guess_shape_rows,
            bridge=bridge[:, 1:],
        )  # fmt: skip
        centre = pred  # the model the block is winsorised around
        if cfg.detect_breaks:
            stepped = self._break(
                phi, filled, read, pred, self._noise.white + unmodelled + level + par_var, levels,
                late_rows=cfg.break_late_rows if defer else 0, seen=seen,
            )  # fmt: skip
            if isinstance(stepped, Deferred):
                if defer and not np.isnan(rows[-1, 0]):
                    rows = rows.copy()
                    rows[stepped.row :, 0] = np.nan
                    phi = self._process(rows, owed_rows, owed_var, defer=False)
                    self._debt[:, 0] = 0.0  # they were read: its next value is its own
                    return phi
                stepped = None
            if stepped is not None:
                centre = stepped
                pred = phi[:, :p] @ self._x
                par_var = self._birge * ((phi[:, :p] @ self._chol_inv.T) ** 2).sum(axis=1)
        self._stats, self._clock = stats, int(clock[-1] + 1) % cfg.intervals_per_day
        level_pred = levels**2 @ level_sd**2  # their prior variance in each row's balance
        level_prev = np.concatenate(
            ([self._carry.level if self._carry.alpha > 0 else level[0]], level[:-1])
        )
        known = phi[:, :p].copy()  # today's loss effect stays in the residual: its prior is
        known[:, p - 1] = 0.0  # far wider than a day's weather, and would hide the noise
        discount = self._noise.observe(
            filled[:, 0] - centre,  # pred unless a break re-opened a meter
            known,
            self._chol_inv,
            level,
            level_prev,
            unmodelled + self._noise.run_length * level_pred,  # it adds up within a run
            median_level=(cfg.white_noise_fraction * self._s_ref) ** 2,
            day_effect=(phi[:, p - 1], clock // cfg.intervals_per_day, cfg.loss_day_sd),
        )
        if discount != 1.0:  # the history was weighted for a smaller white noise
            self._info *= discount
            self._tau *= discount
            self._loss_eiv *= discount
        white = self._noise.white + unmodelled
        limit = cfg.huber_c * np.sqrt(white + level + level_prev + par_var + level_pred)
        phi[:, p] = centre + np.clip(filled[:, 0] - centre, -limit, limit)
        step = cfg.register_resolution_wh
        # a meter using less than one register step per interval barely ticks
        quant = step**2 / 12.0 * np.minimum(1.0, np.abs(mean[1:]) / max(step, 1e-12))
        days = self._days(clock)
        decay = np.zeros((len(days), t_len))  # forgetting within each day's rows
        for i, (lo, hi) in enumerate(days):
            decay[i, lo:hi] = cfg.forgetting ** np.arange(hi - lo - 1, -1, -1, dtype=np.float64)
        k = nuisance.size
        aug, carry = phi, self._carry
        if k:  # [θ…, loss…, level nuisances…, y]; the carried row knows no nuisance
            aug = np.hstack([phi[:, :p], levels, phi[:, p:]])
            carry = replace(carry, row=np.concatenate([carry.row[:p], np.zeros(k), carry.row[p:]]))
            keep = np.r_[0:p, p + k]
            info = np.zeros((p + k + 1, p + k + 1))
            info[np.ix_(keep, keep)] = self._info
            self._info = info
        # the load-loss columns' share of the meters' register noise (errors in variables)
        loss_eiv = scaled_noise_moments(
            white,
            level,
            quant * read,
            (2.0 * through / self._s_ref)[:, None] * shape[:, :_EIV_LOSS],
            np.where(self._x[:n] < 0, -1.0, 1.0),
            carry,
            decay,
        )
        z, tau, carry = whiten(
            aug,
            white,
            level,
            quant * read,
            carry,
            restart=(p - 1, clock % cfg.intervals_per_day == 0),
            tau_weights=decay,
        )
        self._accumulate(z, tau, clock, days, decay, loss_eiv)
        self._debt[:2] += np.where(owes, np.stack([guess, run]), 0.0)
        if k:
            carry.row = carry.row[keep]
            self._marginalise_levels(nuisance, level_sd, guess, owes)
        self._carry = carry
        return phi[:, :p]

    def _break(
        self,
        phi: FloatArray,
        filled: FloatArray,
        read: BoolArray,
        pred: FloatArray,
        var: FloatArray,
        levels: FloatArray,
        late_rows: int,
        seen: tuple[int, float, float],
    ) -> FloatArray | Deferred | None:
        """Re-open the meter whose θ broke in this block, if one did (see :meth:`breaks`), or
        rescale the master's readings if its error stepped; the model with the step, to
        winsorise the block around, or None.

        In place in ``filled``, ``phi``, ``read`` and the whitening carry: its rows before the
        break are taken at its old θ (moved to the master's side), so they do not bias the new
        one (the carried whitened row is a cumulative of past rows, so it is moved too); and if θ
        changed sign (wiring reversed), the load-loss columns from the break on count its
        energy the other way round.
        """
        cfg, n = self.config, len(self._ids)
        p = n + _LOSS_TERMS
        theta_var = self._birge * (self._chol_inv[:, :n] ** 2).sum(axis=0)
        unsure = ~self._ident & ~self._never_broken()  # re-opened, not known again yet
        found = find_break(  # only a θ that was known can break: identifiable meters
            phi[:, :n], read & self._ident, filled[:, 0] - pred, var, theta_var,
            min_change=cfg.break_min_change, z=cfg.break_z, nuisance=levels, common=pred,
            theta=self._x[:n], steady=self._steady(),
            error_step=(cfg.error_step_min, cfg.error_step_max),
            master_step_min=cfg.master_step_min, late_rows=late_rows,
            unsure=np.where(read[:, unsure], phi[:, :n][:, unsure], 0.0),
        )  # fmt: skip
        if found is None:
            return None
        step = found.found if isinstance(found, Deferred) else found
        own = (step.change / step.z) ** 2  # its variance
        back, first, first_var = seen
        # the master's step is taken when the next block finds it from its first row, of a size
        # the two agree on within 3 standard uncertainties (the size both weigh in on)
        agree = abs(step.change - first) <= 3.0 * math.sqrt(own + first_var)
        if step.master and not isinstance(found, Deferred) and step.row == 0 and back and agree:
            both = 1.0 / (1.0 / own + 1.0 / first_var)  # the variance of the two weighed
            change = both * (step.change / own + first / first_var)
            filled[:, 0] /= 1.0 + change  # the master's readings, as before the step
            self._master_scale *= 1.0 + change
            self._master_step_var += both
            self._master_steps.append(
                replace(step, row=-back, change=change, z=abs(change) / math.sqrt(both))
            )
            return np.asarray(phi[:, :p] @ self._x)
        if isinstance(found, Deferred) or step.master:  # seen once: the next block confirms
            self._master_seen = (
                len(filled) - step.row,
                step.change,
                own if step.master else math.inf,
            )
            return Deferred(step)
        j, before, after = found.meter, slice(0, found.row), slice(found.row, None)
        x_old = self._x.copy()
        if (x_old[j] + found.change < 0) != (x_old[j] < 0):
            total = _through(filled[after, 1:], x_old[:n])
            flipped = total - 2.0 * np.sign(x_old[j] or 1.0) * filled[after, j + 1]
            ratio = np.divide(flipped**2, total**2, out=np.ones_like(total), where=total != 0)
            phi[after, n + 1 : p] *= ratio[:, None]
        filled[before, 0] -= x_old[j] * phi[before, j]
        phi[before, j] = 0.0
        read[before, j] = False
        carried = self._carry.row  # the whitened past carries registers: the same move there
        carried[p] -= x_old[j] * carried[j]
        carried[j] = 0.0
        centre = phi[:, :p] @ x_old
        centre[after] += found.change * phi[after, j]
        self._schur(j)
        self._tau[j] = 0.0
        self._loss_eiv[:, j] = 0.0
        # θ has left 1: it starts again from the break's estimate, with a wide prior
        self._prior_mean[j] = x_old[j] + found.change
        self._prior_sd[j] = cfg.break_prior_sd
        self._breaks.append((self._ids[j], found))
        self._refresh()
        return centre

    def _never_broken(self) -> BoolArray:
        return np.asarray(self._prior_sd == self.config.prior_sd)

    def _steady(self) -> BoolArray:
        """Meters that may take a step of their error: never re-opened, θ near 1."""
        near = np.abs(self._x[: len(self._ids)] - 1.0) < self.config.break_min_change
        return np.asarray(self._never_broken() & near)

    def _marginalise_levels(
        self, meters: npt.NDArray[np.intp], sd: FloatArray, guess: FloatArray, owes: BoolArray
    ) -> None:
        """Marginalise the block's level nuisances and correct the debts of the meters whose
        span is still open.

        A meter's guessed cells are ``θ_i·g_t + η_i·g_t`` in the balance: ``η_i/θ_i`` is the
        relative error of the guess's level. The joint posterior of θ, the loss terms and the
        levels (all data so far, priors added, Birge-scaled) gives ``η̂_i ± s_i``; the energy the
        closing value must repay is the guess as the balance corrected it,
        ``G_i·(1 + η̂_i/θ̂_i)``, and ``(G_i·s_i/θ̂_i)²`` travels with the debt.
        """
        debts = np.flatnonzero(meters >= 0)
        debts = debts[owes[meters[debts] + 1]]
        mean, prior = self._prior()
        self._info, eta, eta_var = marginalise_levels(
            self._info, sd, debts, mean, prior, self._birge
        )
        cols = meters[debts] + 1
        theta, g = _away_from_zero(self._x[cols - 1]), guess[cols]
        self._debt[0, cols] += g * eta / theta
        self._debt[2, cols] += g**2 * eta_var / theta**2

    def _level_var(self, mean: FloatArray) -> float:
        """Per-boundary variance of the balance's register noise (quantisation, jitter)."""
        cfg = self.config
        theta2 = self._x[: len(self._ids)] ** 2
        seconds = 86_400.0 / cfg.intervals_per_day
        quant = float(theta2.sum()) * cfg.register_resolution_wh**2 / 12.0
        jitter = float(theta2 @ mean[1:] ** 2) * (cfg.clock_jitter_s / seconds) ** 2
        master = cfg.master_resolution_wh**2 / 12.0
        return float(quant + jitter + master + (mean[0] * cfg.master_clock_jitter_s / seconds) ** 2)

    def _days(self, clock: npt.NDArray[np.int64]) -> list[tuple[int, int]]:
        """The block's rows split at the ends of days: (first, past-the-last) per part."""
        ends = np.flatnonzero((clock + 1) % self.config.intervals_per_day == 0) + 1
        t_len = len(clock)
        bounds = [0, *ends.tolist()] + ([t_len] if not ends.size or ends[-1] != t_len else [])
        return list(pairwise(bounds))

    def _accumulate(
        self,
        z: FloatArray,
        tau: FloatArray,
        clock: npt.NDArray[np.int64],
        days: list[tuple[int, int]],
        decay: FloatArray,
        loss_eiv: tuple[FloatArray, FloatArray],
    ) -> None:
        """Forget, add the whitened rows day by day, and close each finished day; ``tau``,
        ``decay`` and ``loss_eiv`` (:func:`detectors.gls.scaled_noise_moments` of the
        load-loss columns) hold one row per part of ``days``."""
        lam, per_day = self.config.forgetting, self.config.intervals_per_day
        cross, among = loss_eiv
        for i, (lo, hi) in enumerate(days):
            zw = z[lo:hi] * np.sqrt(decay[i, lo:hi])[:, None]
            self._info *= lam ** (hi - lo)
            self._info += zw.T @ zw
            moments = np.hstack([cross[i], among[i]])
            self._loss_eiv = lam ** (hi - lo) * self._loss_eiv + moments
            self._tau = lam ** (hi - lo) * self._tau + tau[i]
            self._n_eff = lam ** (hi - lo) * self._n_eff + float(decay[i, lo:hi].sum())
            if (clock[hi - 1] + 1) % per_day == 0:
                self._schur(len(self._ids) + _LOSS_TERMS - 1)

    # ------------------------------------------------------------------ meters joining/leaving
    def add_meter(self, meter_id: str) -> None:
        """A meter joins the area; it starts from the prior."""
        if meter_id in self._ids:
            raise DetectorError(f"meter {meter_id!r} is already in the area")
        self._insert(len(self._ids), meter_id)
        self._refresh()

    def remove_meter(self, meter_id: str) -> None:
        """A meter leaves; what its data said about the others is kept (marginalised)."""
        i = self._index(meter_id)
        self._marginalise(i)
        self._delete(i)
        self._refresh()

    def replace_meter(self, meter_id: str) -> None:
        """A new meter in the same place (same id) starts from the prior."""
        i = self._index(meter_id)
        self._marginalise(i)
        self._delete(i)
        self._insert(i, meter_id)
        self._refresh()

    def write_off(self, meter_ids: Iterable[str], master: bool = False) -> None:
        """Forget the open spans of these meters' registers (and the master's): their next
        value is that row's own increment, not the energy since their last read, and until
        then their cells are guessed like a new meter's. For readings that measure nothing (a
        stuck register): the register difference that closes such a span is not the span's
        energy, and subtracting the span's guess from it would put days of energy into one
        row."""
        cols = [self._index(m) + 1 for m in meter_ids] + ([0] if master else [])
        self._debt[:, cols] = 0.0
        self._states[cols] = NEW

    def _index(self, meter_id: str) -> int:
        try:
            return self._ids.index(meter_id)
        except ValueError:
            raise DetectorError(f"unknown meter {meter_id!r}") from None

    def _schur(self, j: int) -> None:
        """Marginalise parameter j (its prior added first) out of the information, in place;
        its row and column are left at zero."""
        mean, prec = self._prior()
        info, y = self._info, len(self._info) - 1
        info[j, j] += prec[j]
        info[j, y] += prec[j] * mean[j]
        info[y, j] += prec[j] * mean[j]
        info[y, y] += prec[j] * mean[j] ** 2
        info -= np.outer(info[:, j], info[j, :]) / info[j, j]
        info[j, :] = 0.0
        info[:, j] = 0.0

    def _marginalise(self, j: int) -> None:
        self._schur(j)
        self._info = np.delete(np.delete(self._info, j, axis=0), j, axis=1)

    def _delete(self, i: int) -> None:
        del self._ids[i]
        self._tau = np.delete(self._tau, i)
        self._loss_eiv = np.delete(self._loss_eiv, i, axis=1)
        self._prior_sd = np.delete(self._prior_sd, i)
        self._prior_mean = np.delete(self._prior_mean, i)
        c = self._carry
        c.row, c.reg_level = np.delete(c.row, i), np.delete(c.reg_level, i)
        c.reg_cov, c.reg_var = np.delete(c.reg_cov, i), np.delete(c.reg_var, i)
        self._stats = np.delete(self._stats, i + 1, axis=1)
        self._states = np.delete(self._states, i + 1)
        self._debt = np.delete(self._debt, i + 1, axis=1)

    def _insert(self, i: int, meter_id: str) -> None:
        self._ids.insert(i, meter_id)
        self._info = np.insert(np.insert(self._info, i, 0.0, axis=0), i, 0.0, axis=1)
        self._tau = np.insert(self._tau, i, 0.0)
        self._loss_eiv = np.insert(self._loss_eiv, i, 0.0, axis=1)
        self._prior_sd = np.insert(self._prior_sd, i, self.config.prior_sd)
        self._prior_mean = np.insert(self._prior_mean, i, 1.0)
        c = self._carry
        c.row, c.reg_level = np.insert(c.row, i, 0.0), np.insert(c.reg_level, i, 0.0)
        c.reg_cov, c.reg_var = np.insert(c.reg_cov, i, 0.0), np.insert(c.reg_var, i, 0.0)
        self._stats = np.insert(self._stats, i + 1, 0.0, axis=1)
        self._states = np.insert(self._states, i + 1, NEW)
        self._debt = np.insert(self._debt, i + 1, 0.0, axis=1)

    # ------------------------------------------------------------------ derived results
    def _prior(self) -> tuple[FloatArray, FloatArray]:
        n, cfg = len(self._ids), self.config
        mean = np.zeros(n + _LOSS_TERMS)
        mean[:n] = self._prior_mean
        prec = np.full(n + _LOSS_TERMS, cfg.loss_prior_sd**-2)
        prec[:n] = self._prior_sd**-2
        prec[-1] = cfg.loss_day_sd**-2
        return mean, prec

    def _refresh(self) -> None:
        cfg, n = self.config, len(self._ids)
        p = n + _LOSS_TERMS
        mean, prec = self._prior()
        info = self._info[:p, :p].copy()
        info.flat[:: p + 1] += prec
        meters = slice(0, n * (p + 1), p + 1)  # the meters' diagonal, EIV-corrected
        info.flat[meters] -= np.minimum(self._tau, 0.5 * np.diagonal(self._info)[:n])
        loss = slice(n + 1, n + 1 + _EIV_LOSS)  # and the load-loss columns' share of it
        info[loss, :n] -= self._loss_eiv[:, :n]
        info[:n, loss] -= self._loss_eiv[:, :n].T
        info[loss, loss] -= self._loss_eiv[:, n:]
        rhs = self._info[:p, p] + prec * mean
        try:
            chol = np.linalg.cholesky(info)
        except np.linalg.LinAlgError:  # the EIV correction left M indefinite (collinear pair)
            chol = np.linalg.cholesky(self._info[:p, :p] + np.diag(prec))
        chol_inv = lower_inverse(np.asarray(chol, dtype=np.float64))
        self._x = chol_inv.T @ (chol_inv @ rhs)
        self._fit = self._info[p, p] + float(prec @ mean**2) - float(rhs @ self._x)
        birge = self._fit / self._n_eff if self._n_eff > 0 else 1.0
        self._birge = max(1.0, birge, self._noise.window.overconfidence())
        self._chol_inv = chol_inv  # C = birge·chol_invᵀ·chol_inv
        theta = _away_from_zero(self._x[:n])  # θ < 0: ε = 1/θ − 1 < −100 %
        var_theta = self._birge * (chol_inv[:, :n] ** 2).sum(axis=0)
        eps = 1.0 / theta - 1.0
        u_stat = np.sqrt(var_theta) / theta**2
        self._ident = (var_theta <= cfg.identifiable_variance_ratio * cfg.prior_sd**2) & (
            self._stats[0, 1:] > 0
        )
        shift = common_shift(
            eps,
            self._ident,
            chol_inv[:, :n],
            min_meters=cfg.min_meters_common,
            tolerance=cfg.master_tolerance_pct / 100.0,
            guard_k=cfg.master_guard_k,
            cov_scale=self._birge,
        )
        self._common, self._suspect = 100.0 * shift.error, shift.suspect
        u_type_b = math.hypot(cfg.master_uncertainty_pct / 100.0, math.sqrt(self._master_step_var))
        if self._suspect and cfg.recentre_on_master_suspect:
            eps = (1.0 + eps) / (1.0 + shift.error) - 1.0
            u_type_b = shift.uncertainty
        self._errors = 100.0 * eps
        self._uncert = 100.0 * np.sqrt(u_stat**2 + u_type_b**2)

    # ------------------------------------------------------------------ persistence
    def snapshot(self) -> dict[str, Any]:
        """All state as plain data (lists, floats, str; NaN travels as None)."""
        c = self._carry
        return {
            "kind": _KIND,
            "version": _VERSION,
            "config": asdict(self.config),
            "meter_ids": list(self._ids),
            "info": floats_out(self._info),
            "n_eff": self._n_eff,
            "s_ref": floats_out([self._s_ref])[0],
            "clock": self._clock,
            "tau": floats_out(self._tau),
            "loss_eiv": floats_out(self._loss_eiv),
            "prior_sd": floats_out(self._prior_sd),
            "prior_mean": floats_out(self._prior_mean),
            "carry": [c.alpha, c.level],
            "carry_row": floats_out(c.row),
            "carry_meters": floats_out(np.stack([c.reg_level, c.reg_cov, c.reg_var])),
            "stats": floats_out(self._stats),
            "states": self._states.tolist(),
            "debt": floats_out(self._debt),
            "residuals": floats_out(self._residuals),
            "model": floats_out(self._model),
            "master": floats_out([self._master_scale, self._master_step_var, *self._master_seen]),
            **self._noise.to_plain(),
        }

    @classmethod
    def restore(cls, state: dict[str, Any]) -> AreaErrorEstimator:
        """Rebuild an estimator from :meth:`snapshot`; it continues exactly as the original."""
        if state.get("kind") == _KIND and state.get("version") in (1, 2):
            # v1 had a fixed white level, v2 a window of single rows: a new window starts
            state = {k: v for k, v in state.items() if k != "noise"} | {"version": 3}
        if state.get("kind") == _KIND and state.get("version") in (3, 4, 5, 6, 7):
            # v3's debts had no level correction; before v6 the load-loss columns' register
            # noise was not corrected, before v7 no master step was found, before v8 the white
            # level had no likelihoods: they start from now
            state = state | {"version": _VERSION}
        check_version(state, _KIND, _VERSION)
        est = cls(state["meter_ids"], EstimatorConfig(**state["config"]))
        n = len(est._ids)
        width = n + _LOSS_TERMS + 1
        est._info = floats_in(state["info"], math.nan).reshape(width, width)
        est._n_eff = float(state["n_eff"])
        est._s_ref = math.nan if state["s_ref"] is None else float(state["s_ref"])
        est._noise.load_plain(state)
        est._clock, est._tau = int(state["clock"]), floats_in(state["tau"], 0.0)
        if "loss_eiv" in state:
            est._loss_eiv = floats_in(state["loss_eiv"], 0.0).reshape(_EIV_LOSS, n + _EIV_LOSS)
        if "prior_sd" in state:  # from v5
            est._prior_sd = floats_in(state["prior_sd"], est.config.prior_sd)
            est._prior_mean = floats_in(state["prior_mean"], 1.0)
        alpha, level = (float(v) for v in state["carry"])
        reg = floats_in(state["carry_meters"], 0.0).reshape(3, n)
        est._carry = WhiteningCarry(
            alpha, level, reg[0], reg[1], reg[2], floats_in(state["carry_row"], 0.0)
        )
        est._stats = floats_in(state["stats"], 0.0).reshape(3, n + 1)
        est._states = np.array(state["states"], dtype=np.int64)
        debt = floats_in(state["debt"], 0.0).reshape(-1, n + 1)
        est._debt = np.vstack([debt, np.zeros((3 - len(debt), n + 1))])  # v3 had no variance
        scale, var, back, first, first_var = floats_in(
            state.get("master", [1.0, 0.0, 0.0, 0.0, None]), math.inf
        )
        est._master_scale, est._master_step_var = float(scale), float(var)
        est._master_seen = (int(back), float(first), float(first_var))
        est._refresh()
        est._residuals = floats_in(state["residuals"], math.nan)
        est._model = floats_in(state.get("model", []), math.nan)
        return est
