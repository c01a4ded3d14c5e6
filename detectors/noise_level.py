"""Online, robust estimate of the energy balance's white-noise level (pure numpy).

The balance noise the estimator whitens is ``w_t + u_t − u_{t−1}`` (:mod:`detectors.gls`):
the register part ``u`` is known from the resolutions, the white part ``w_t`` (unmetered use,
what the loss model misses) is not, and it differs a lot between areas (household or
business profiles, PV, how far the real loss is from the modelled one). A fixed level tuned
to one kind of area makes every other kind over-confident.

**Why sums.** Where the register noise dominates a single interval, the whitening integrates
the rows, so the estimate is sensitive to exactly the slow part of the noise that single
rows hide under the quantisation noise. Register errors telescope in a sum of ``k``
consecutive rows (only its two end boundaries are left) while white noise adds up, so the
level is estimated from residuals summed over runs of ``k`` rows (:func:`interval_sums`).

**Estimate.** The run's *a-priori* residual (master minus the prediction from the parameters
before its block was added) has variance ``k·σ_w² + o``, ``o`` the registers' part plus the
parameters' own uncertainty (which takes the estimate's error out of the residual). So
``R² / (k·σ_w² + o)`` is χ²₁ when σ_w² is right, and :func:`white_variance` solves

    median  R² / (k·σ_w² + o)  =  median(χ²₁) ≈ 0.4549

over a window of recent runs: a median, so bursts, bad master readings and misfit on a few
days do not move it. The residuals carry the day's loss effect (the weather), which the
estimator fits only as its day goes by; optionally one effect per day is fitted to the runs
and taken out first, with the runs' variance carried through exactly (:func:`interval_sums`).
The estimate is raised by its own sampling error (``1 + c/√m`` over m runs), so it errs on
the wide side while few days are seen, and the caller floors it by the stated default.

**Predictive check.** Rows added before the level was known (the first days, when the
residuals are mostly the prior's error and say nothing about the noise) were weighted with a
white level that may be far too small, and their weight stays in the information. So each
run also keeps the variance it was *predicted* with (the white level then in use);
:meth:`NoiseWindow.overconfidence` is the median ratio of realised to predicted squared
residuals, beyond its sampling error: above 1, the estimator's covariance is scaled up by it
(like the Birge ratio, but one step ahead, so the parameters cannot absorb the misfit).
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


def white_variance(residual: FloatArray, other: FloatArray, *, iterations: int = 20) -> float:
    """σ² ≥ 0 such that the median of ``residual² / (σ² + other)`` is median(χ²₁).

    Returns 0 when the residuals are no larger than ``other`` alone predicts, and NaN when
    there are no rows. Bisection: ``iterations`` steps leave a relative error of about
    ``2**-iterations``, far below the median's own sampling error.
    """
    if residual.size == 0:
        return float("nan")
    r2 = residual**2
    other = np.maximum(other, 1e-300)

    def excess(w: float) -> float:
        return median(r2 / (w + other)) - CHI2_1_MEDIAN

    if excess(0.0) <= 0.0:
        return 0.0
    lo, hi = 0.0, max(median(r2) / CHI2_1_MEDIAN, 1e-300)  # excess(hi) <= 0
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if excess(mid) > 0.0 else (lo, mid)
    return 0.5 * (lo + hi)


def interval_sums(
    k: int,
    residual: FloatArray,
    regressors: FloatArray,
    chol_inv: FloatArray,
    level: FloatArray,
    level_before: FloatArray,
    unmodelled: FloatArray,
    day_effect: tuple[FloatArray, npt.NDArray[np.int64]] | None = None,
    white: float = 0.0,
) -> tuple[FloatArray, FloatArray]:
    """Residuals summed over runs of ``k`` rows and their variance without the white part,
    both scaled to one row (sum/√k, variance/k), so white noise keeps its per-row variance.

    Per row: ``level`` the register variance at its end boundary, ``level_before`` at its
    start, ``unmodelled`` extra row variance (imputed cells); ``regressors @ chol_inv.T`` gives
    the parameters' share (``C = chol_invᵀ·chol_inv``).

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
    rows = slice(0, runs * k)
    total = residual[rows].reshape(runs, k).sum(axis=1)
    shared = level[k - 1 : runs * k : k]  # the boundary that ends run j starts run j + 1
    boundaries = shared + level_before[0 : runs * k : k]
    imputed = unmodelled[rows].reshape(runs, k).sum(axis=1)
    par = regressors[rows].reshape(runs, k, -1).sum(axis=1) @ chol_inv.T
    if day_effect is None:
        other = (par**2).sum(axis=1) + boundaries
        other += imputed
        return total / math.sqrt(k), other / k
    own = boundaries + imputed
    column, day = day_effect
    r = _without_day_effects(
        column[rows].reshape(runs, k), day[rows].reshape(runs, k), own + k * white
    )
    v0 = np.diag(own) - np.diag(shared[:-1], 1) - np.diag(shared[:-1], -1)
    scale = (r**2).sum(axis=1)
    other = ((r @ par) ** 2).sum(axis=1) + ((r @ v0) * r).sum(axis=1)
    scale = np.where(scale > 1e-3, scale, np.nan)
    return (r @ total) / np.sqrt(scale * k), other / (scale * k)


def _without_day_effects(
    column: FloatArray, day: npt.NDArray[np.int64], variance: FloatArray
) -> FloatArray:
    """The map (runs × runs) from run sums to their residuals after one effect per day on
    ``column`` (rows of each run, ``day`` their day) is fitted with weights 1/``variance``."""
    runs, k = column.shape
    days, which = np.unique(day, return_inverse=True)
    g = np.zeros((runs, len(days)))
    np.add.at(g, (np.repeat(np.arange(runs), k), which.ravel()), column.ravel())
    gw = g / np.maximum(variance, 1e-300)[:, None]
    normal = g.T @ gw
    normal.flat[:: len(days) + 1] += 1e-12 * max(float(np.trace(normal)), 1e-300)
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

    def variance(self, floor: float) -> float:
        """The white variance per row to use: the robust estimate over the window, raised by
        its sampling error, never below ``floor``."""
        m = self.residual.size
        if m == 0:
            return floor
        estimate = white_variance(self.residual, self.other)
        return max(floor, estimate * (1.0 + SAMPLING_MARGIN / math.sqrt(m)))

    def overconfidence(self) -> float:
        """How much larger the squared residuals were than predicted (median ratio, χ²₁
        scaled), discounted by its sampling error; at least 1."""
        m = self.residual.size
        if m == 0:
            return 1.0
        ratio = median(self.residual**2 / np.maximum(self.predicted_white + self.other, 1e-300))
        return max(1.0, float(ratio) / CHI2_1_MEDIAN / (1.0 + SAMPLING_MARGIN / math.sqrt(m)))


class NoiseLevel:
    """The white level an estimator uses, its window, and the level its information is
    weighted for (the largest so far): :meth:`observe` returns by how much to scale the
    information down when the level rises, as if past rows had been weighted for it."""

    def __init__(self, capacity: int, run_length: int) -> None:
        self.run_length = run_length
        self.window = NoiseWindow.empty(capacity)
        self.white = math.nan  # σ_w² for the current block
        self.weighted_for = 0.0

    def observe(
        self,
        residual: FloatArray,
        regressors: FloatArray,
        chol_inv: FloatArray,
        level: FloatArray,
        level_before: FloatArray,
        unmodelled: FloatArray,
        floor: float,
        day_effect: tuple[FloatArray, npt.NDArray[np.int64]] | None = None,
    ) -> float:
        """Add a block's a-priori residuals (arguments as :func:`interval_sums`), set
        :attr:`white` for it, and return the factor (≤ 1) for the information so far."""
        in_use = floor if math.isnan(self.white) else self.white
        runs, other = interval_sums(
            self.run_length, residual, regressors, chol_inv, level, level_before, unmodelled,
            day_effect, in_use,
        )  # fmt: skip
        self.window.add(runs, other, in_use)
        self.white = self.window.variance(floor)
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
        }

    def load_plain(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`to_plain` (a state without a window starts an empty one)."""
        self.white = math.nan if state["white"] is None else float(state["white"])
        self.weighted_for = float(
            state.get("white_info", 0.0 if math.isnan(self.white) else self.white)
        )
        noise = floats_in(state.get("noise", []), math.nan).reshape(3, -1)
        self.window.residual, self.window.other, self.window.predicted_white = noise
