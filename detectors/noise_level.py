"""Online estimate of the energy balance's white-noise level, and a one-step-ahead check of
the estimator's confidence (pure numpy).

The balance noise the estimator whitens is ``w_t + u_t − u_{t−1}`` (:mod:`detectors.gls`):
the register part ``u`` is known from the resolutions, the white part ``w_t`` (unmetered use,
what the loss model misses) is not, and it differs a lot between areas (household or
business profiles, PV, how far the real loss is from the modelled one). A fixed level tuned
to one kind of area makes every other kind over-confident.

**Why sums.** Where the register noise dominates a single interval, the whitening integrates
the rows, so the estimate is sensitive to exactly the slow part of the noise that single
rows hide under the quantisation noise. Register errors telescope in a sum of ``k``
consecutive rows (only its two end boundaries are left) while white noise adds up, so the
level is read from residuals summed over runs of ``k`` rows.

**Level: the marginal likelihood of hourly sums** (:class:`NoiseLevel`). A block's
*a-priori* residuals (master minus the prediction from the parameters before the block was
added), summed per hour over the hours that hold no guess (below), are Gaussian with
covariance ``V(σ²) = G·Gᵀ + B + W + k·σ²·I``: ``G`` the hours' regressors times the
parameters' Cholesky inverse (their uncertainty), ``B`` the register boundaries (adjacent
hours share one), and ``W`` the day's loss effect (the weather), which the estimator learns
only as its day goes by: its prior, ``sd²·c·cᵀ`` per day, ``c`` the hours' sums of its
column. One eigendecomposition of ``V(0)`` gives the block's log likelihood on a whole grid
of σ² (:func:`grid_log_likelihood`); the grid's sums over the blocks of the last
``window_days``, with a log-normal prior around a stated median (sd a factor of 4), give the
posterior, and its median is the level used. It starts at the stated median and moves only
as far as the data say. Why not the runs alone: on an area of 200 meters most of a run's
variance is the θ's uncertainty (a median 1,284 Wh² per row at day 30 on the bench, against
a white variance of 100), so a robust estimate from each run's own variance (the median of
``R²/(k·σ² + o)``, used until 2026-11-28) stayed at 0 and its floor was used, or rose with
whatever a day's runs shared. The full covariance puts the θ's uncertainty along the meters'
profiles, where it is, and leaves the rest of each block to σ² (``bench/RESULTS.md``). Grid:
``2^-5`` to ``2^10`` times the median in steps of ``√2``; the posterior median cannot leave
it.

Hours that hold a guess (an imputed cell, a guessed level) are left out of a block's
likelihood (the rest is their exact marginal). At its modelled size a guess's error drowns
the white noise, so such an hour says next to nothing about the level; but its error is
heavy-tailed, a household's use jumping by kilowatts just when its reading is missed, and
one such hour took a bench area's level to 45 times its median for days, and the blocks
of those days, weighted for it, taught the θ little: one meter's u at day 14 was 2.4 times
the oracle's, and 1.1 times with that hour left out (area 77 of ``bench/bench_estimator.py``).

**Predictive check.** Rows added before the level was known were weighted with a white
level that may be far too small, and their weight stays in the information. So each 2-hour
run also keeps the variance it was *predicted* with (the white level then in use);
:meth:`NoiseWindow.overconfidence` is the median ratio of realised to predicted squared
residuals, beyond its sampling error: above 1, the estimator's covariance is scaled up by it
(like the Birge ratio, but one step ahead, so the parameters cannot absorb the misfit). The
runs carry the day's loss effect; optionally one effect per day is fitted to them and taken
out first, with their variance carried through exactly (:func:`interval_sums`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from detectors._snapshot import floats_in, floats_out

FloatArray = npt.NDArray[np.float64]

CHI2_1_MEDIAN = 0.454936423119572  # median of the χ² distribution with 1 degree of freedom
SAMPLING_MARGIN = 2.5  # ≈ 1.1 standard errors of a median-based variance (efficiency 0.37)


def median(x: FloatArray) -> float:
    """``np.median`` of a 1-d array without NaN (the same value), without its generic overhead:
    the white level's bisection takes twenty medians per block. NaN when ``x`` is empty."""
    if x.size == 0:
        return math.nan
    k = x.size // 2
    if x.size % 2:
        return float(np.partition(x, k)[k])
    part = np.partition(x, (k - 1, k))
    return float((part[k - 1] + part[k]) / 2.0)


def run_sums(k: int, x: FloatArray) -> FloatArray:
    """Sums of ``x`` (rows first) over consecutive runs of ``k`` rows; a last, shorter run is
    left out."""
    runs = len(x) // k
    return np.asarray(x[: runs * k].reshape(runs, k, *x.shape[1:]).sum(axis=1))


def day_columns(k: int, column: FloatArray, day: npt.NDArray[np.int64]) -> FloatArray:
    """(runs × days of the block): each run's sum of ``column`` over its rows on each day."""
    return run_sums(k, column[:, None] * (day[:, None] == np.unique(day)[None, :]))


def interval_sums(
    k: int,
    residual: FloatArray,
    par: FloatArray,
    level: FloatArray,
    level_before: FloatArray,
    unmodelled: FloatArray,
    day_effect: tuple[FloatArray, npt.NDArray[np.int64]] | None = None,
    white: float = 0.0,
) -> tuple[FloatArray, FloatArray]:
    """Residuals summed over runs of ``k`` rows and their variance without the white part,
    both scaled to one row (sum/√k, variance/k), so white noise keeps its per-row variance.

    Per row: ``level`` the register variance at its end boundary, ``level_before`` at its
    start, ``unmodelled`` extra row variance (imputed cells); per run, ``par`` is the
    parameters' share: its regressors' sums times ``chol_invᵀ`` (``C = chol_invᵀ·chol_inv``).

    ``day_effect = (column, day)``: the per-day loss effect (the weather) is not known before
    its day ends, so a-priori residuals carry it in every run of the day, and left in, a hot
    day reads as white noise. With it, one effect per day on ``column`` is fitted to the runs
    (weighted by their variance with ``white`` per row) and taken out. What is left is a
    linear map ``R`` of the runs, so its variance is exact: white ``k·σ²·(RRᵀ)ⱼⱼ``, the rest
    ``(R·V₀·Rᵀ)ⱼⱼ`` with ``V₀`` the runs' covariance without the white part (adjacent runs
    share a boundary, and the parameters' error is common to all; both fall largely into the
    fitted effects). Each run is divided by √(RRᵀ)ⱼⱼ; runs the fit takes all of (a day's only
    run in the block) are NaN.
    """
    runs = len(residual) // k
    if runs == 0:
        return np.zeros(0), np.zeros(0)
    total = run_sums(k, residual)
    v0 = register_covariance(k, runs, level, level_before, unmodelled)
    own = np.diagonal(v0)
    if day_effect is None:
        return total / math.sqrt(k), ((par**2).sum(axis=1) + own) / k
    r = _without_day_effects(day_columns(k, *day_effect), own + k * white)
    scale = (r**2).sum(axis=1)
    other = ((r @ par) ** 2).sum(axis=1) + ((r @ v0) * r).sum(axis=1)
    scale = np.where(scale > 1e-3, scale, np.nan)
    return (r @ total) / np.sqrt(scale * k), other / (scale * k)


def _without_day_effects(g: FloatArray, variance: FloatArray) -> FloatArray:
    """The map (runs × runs) from run sums to their residuals after one effect per day (the
    columns of ``g``, :func:`day_columns`) is fitted with weights 1/``variance``."""
    runs, days = g.shape
    gw = g / np.maximum(variance, 1e-300)[:, None]
    normal = g.T @ gw
    normal.flat[:: days + 1] += 1e-12 * max(float(np.trace(normal)), 1e-300)
    return np.eye(runs) - g @ np.linalg.solve(normal, gw.T)


@dataclass
class NoiseWindow:
    """The last ``capacity`` runs: scaled residual sum, its variance without the white part,
    and the white variance it was predicted with."""

    capacity: int
    residual: FloatArray
    other: FloatArray
    predicted_white: FloatArray

    @classmethod
    def empty(cls, capacity: int) -> NoiseWindow:
        return cls(capacity, np.zeros(0), np.zeros(0), np.zeros(0))

    def add(self, residual: FloatArray, other: FloatArray, white: float) -> None:
        """Add runs (from :func:`interval_sums`) predicted with white variance ``white``."""
        keep = np.isfinite(residual) & np.isfinite(other)
        self.residual = np.concatenate((self.residual, residual[keep]))[-self.capacity :]
        self.other = np.concatenate((self.other, other[keep]))[-self.capacity :]
        white_rows = np.full(int(keep.sum()), white)
        self.predicted_white = np.concatenate((self.predicted_white, white_rows))[-self.capacity :]

    def overconfidence(self) -> float:
        """How much larger the squared residuals were than predicted (median ratio, χ²₁
        scaled), discounted by its sampling error; at least 1."""
        m = self.residual.size
        if m == 0:
            return 1.0
        ratio = median(self.residual**2 / np.maximum(self.predicted_white + self.other, 1e-300))
        return max(1.0, float(ratio) / CHI2_1_MEDIAN / (1.0 + SAMPLING_MARGIN / math.sqrt(m)))


GRID_LOG2 = np.arange(-10, 21) / 2.0  # the level's grid: log2 of its ratio to the median
PRIOR_SD_LOG2 = 2.0  # the log-normal prior around the stated median: sd a factor of 4


def register_covariance(
    k: int, runs: int, level: FloatArray, level_before: FloatArray, unmodelled: FloatArray
) -> FloatArray:
    """The covariance (runs × runs) of ``runs`` sums of ``k`` rows from the registers'
    boundaries and the imputed cells (arguments as :func:`interval_sums`): the boundary
    that ends run j starts run j + 1."""
    shared = level[k - 1 : runs * k : k]
    cov = np.diag(shared + level_before[0 : runs * k : k] + run_sums(k, unmodelled)[:runs])
    cov.flat[1 :: runs + 1] -= shared[:-1]
    cov.flat[runs :: runs + 1] -= shared[:-1]
    return cov


def hourly_covariance(
    k: int, par: FloatArray, level: FloatArray, level_before: FloatArray, days: FloatArray
) -> FloatArray:
    """``V(0)``: the covariance of a block's a-priori residuals summed over runs of ``k`` rows
    that hold no guess, without the white part (arguments as :func:`interval_sums`; ``days``
    the day effect's columns, :func:`day_columns`, times its prior sd)."""
    cov = register_covariance(k, len(par), level, level_before, np.zeros(len(level)))
    return np.asarray(cov + par @ par.T + days @ days.T)


def grid_log_likelihood(sums: FloatArray, cov: FloatArray, k: int, grid: FloatArray) -> FloatArray:
    """Log density (up to a constant) of run ``sums`` with covariance ``cov + k·σ²·I``, for every
    σ² of ``grid`` at once (one eigendecomposition)."""
    eig, vectors = np.linalg.eigh(cov)
    proj = (vectors.T @ sums) ** 2
    total = np.maximum(eig, 0.0)[None, :] + k * grid[:, None]
    return np.asarray(-0.5 * (np.log(total) + proj[None, :] / total).sum(axis=1))


def posterior_median(log_likelihood: FloatArray) -> float:
    """The median, on :data:`GRID_LOG2`, of the level's posterior (log2 of its ratio to the
    prior median)."""
    log_post = log_likelihood - 0.5 * (GRID_LOG2 / PRIOR_SD_LOG2) ** 2
    post = np.exp(log_post - log_post.max())
    cumulative = np.cumsum(post) / post.sum()
    return float(GRID_LOG2[int(np.searchsorted(cumulative, 0.5))])


class NoiseLevel:
    """The white level an estimator uses, the blocks' likelihoods it comes from, the runs the
    one-step-ahead check reads, and the level its information is weighted for (the largest
    so far): :meth:`observe` returns by how much to scale the information down when the
    level rises, as if past rows had been weighted for it."""

    def __init__(
        self, capacity: int, run_length: int, sum_rows: int, window_rows: int,
        check_without_day_effect: bool,
    ) -> None:  # fmt: skip
        self.run_length = run_length
        self.sum_rows = sum_rows
        self.window_rows = window_rows
        self.check_without_day_effect = check_without_day_effect
        self.window = NoiseWindow.empty(capacity)
        self.white = math.nan  # σ_w² for the current block
        self.weighted_for = 0.0
        self.rows = 0  # rows seen
        self.blocks = np.zeros((0, 1 + GRID_LOG2.size))  # (last row, log likelihood on the grid)

    def observe(
        self,
        residual: FloatArray,
        regressors: FloatArray,
        chol_inv: FloatArray,
        level: FloatArray,
        level_before: FloatArray,
        unmodelled: FloatArray,
        median_level: float,
        day_effect: tuple[FloatArray, npt.NDArray[np.int64], float],
    ) -> float:
        """Add a block's a-priori residuals, set :attr:`white` for it, and return the factor
        (≤ 1) for the information so far.

        Per row: ``regressors @ chol_inv.T`` is the parameters' share, the rest as in
        :func:`interval_sums`; ``median_level`` is the prior's median and ``day_effect`` =
        (column, day of each row, its prior sd)."""
        in_use = median_level if math.isnan(self.white) else self.white
        column, day, day_sd = day_effect
        k, m = self.sum_rows, self.run_length
        hours = run_sums(k, regressors) @ chol_inv.T  # the parameters' share, per hour
        par = run_sums(m // k, hours) if m % k == 0 else run_sums(m, regressors) @ chol_inv.T
        runs, other = interval_sums(
            m, residual, par, level, level_before, unmodelled,
            (column, day) if self.check_without_day_effect else None, in_use,
        )  # fmt: skip
        self.window.add(runs, other, in_use)
        self.rows += len(residual)
        if median_level <= 0.0:  # nothing to scale a grid by (no load): no white noise
            self.white = 0.0
            return 1.0
        if len(hours):
            days = day_sd * day_columns(k, column, day)
            cov = hourly_covariance(k, hours, level, level_before, days)
            clean = run_sums(k, unmodelled)[: len(hours)] == 0.0  # hours without a guess
            if clean.any():
                grid = median_level * 2.0**GRID_LOG2
                sums = run_sums(k, residual)[clean]
                log_lik = grid_log_likelihood(sums, cov[np.ix_(clean, clean)], k, grid)
                self.blocks = np.vstack([self.blocks, np.r_[self.rows, log_lik]])
        self.blocks = self.blocks[self.blocks[:, 0] > self.rows - self.window_rows]
        self.white = median_level * 2.0 ** posterior_median(self.blocks[:, 1:].sum(axis=0))
        if self.white <= self.weighted_for:
            return 1.0
        registers = median(level + level_before + unmodelled)
        ratio = (self.weighted_for + registers) / (self.white + registers)
        self.weighted_for = self.white
        return ratio

    def to_plain(self) -> dict[str, Any]:
        w = self.window
        return {
            "white": floats_out([self.white])[0],
            "white_info": self.weighted_for,
            "noise": floats_out(np.stack([w.residual, w.other, w.predicted_white])),
            "white_rows": self.rows,
            "white_blocks": floats_out(self.blocks),
        }

    def load_plain(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`to_plain` (a state without a window starts an empty one, one
        without the blocks' likelihoods, from before v8, starts them anew)."""
        self.white = math.nan if state["white"] is None else float(state["white"])
        self.weighted_for = float(
            state.get("white_info", 0.0 if math.isnan(self.white) else self.white)
        )
        noise = floats_in(state.get("noise", []), math.nan).reshape(3, -1)
        self.window.residual, self.window.other, self.window.predicted_white = noise
        self.rows = int(state.get("white_rows", 0))
        blocks = floats_in(state.get("white_blocks", []), -math.inf)
        self.blocks = blocks.reshape(-1, 1 + GRID_LOG2.size)
