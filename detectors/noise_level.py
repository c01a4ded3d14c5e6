"""Online, robust estimate of the energy balance's white-noise level (pure numpy).

The balance noise the estimator whitens is ``w_t + u_t − u_{t−1}`` (:mod:`detectors.gls`):
the register part ``u`` is known from the resolutions, the white part ``w_t`` (unmetered use,
what the loss model misses) is not, and it differs a lot between areas (households or
business profiles, PV, how far the real loss is from the modelled one). A fixed level tuned
to one kind of area makes every other kind over-confident.

Each interval's *a-priori* residual ``r_t`` (master minus the prediction from the parameters
before its block was added) has variance ``σ_w² + o_t``, where ``o_t`` is everything but the
white part: both boundaries' register noise, imputation noise, and the parameters' own
uncertainty (which is what removes the estimate's error from the residual). So
``r_t² / (σ_w² + o_t)`` is χ²₁ when σ_w² is right, and :func:`white_variance` solves

    median_t  r_t² / (σ_w² + o_t)  =  median(χ²₁) ≈ 0.4549

for σ_w² over a window of recent intervals: a median, so bursts, bad master readings and
loss-model misfit on a few days do not move it. Rows whose parameter uncertainty dominates
their predictable variance (the first days, a meter that just joined) say little about σ_w²
and are left out. The median estimate is raised by its own sampling error (``1 + c/√m``
over m informative rows), so it errs on the wide side while few days are seen; the caller
floors it by the stated default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

CHI2_1_MEDIAN = 0.454936423119572  # median of the χ² distribution with 1 degree of freedom
SAMPLING_MARGIN = 2.5  # ≈ 1.1 standard errors of a MAD-based variance (efficiency 0.37)


def white_variance(residual: FloatArray, other: FloatArray, *, iterations: int = 60) -> float:
    """σ_w² ≥ 0 such that the median of ``residual² / (σ_w² + other)`` is median(χ²₁).

    Returns 0 when the residuals are no larger than ``other`` alone predicts, and NaN when
    there are no rows.
    """
    if residual.size == 0:
        return float("nan")
    r2 = residual**2
    other = np.maximum(other, 1e-300)

    def excess(w: float) -> float:
        return float(np.median(r2 / (w + other))) - CHI2_1_MEDIAN

    if excess(0.0) <= 0.0:
        return 0.0
    lo, hi = 0.0, max(float(np.median(r2)) / CHI2_1_MEDIAN, 1e-300)
    while excess(hi) > 0.0:  # cannot happen for the bound above, but keep the bracket honest
        hi *= 2.0
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if excess(mid) > 0.0 else (lo, mid)
    return 0.5 * (lo + hi)


@dataclass
class NoiseWindow:
    """The last ``capacity`` informative rows: a-priori residual and its non-white variance."""

    capacity: int
    residual: FloatArray
    other: FloatArray

    @classmethod
    def empty(cls, capacity: int) -> NoiseWindow:
        return cls(capacity, np.zeros(0), np.zeros(0))

    def add(self, residual: FloatArray, other: FloatArray, parameter_var: FloatArray) -> None:
        """Keep the finite rows whose parameter uncertainty does not dominate ``other``."""
        keep = np.isfinite(residual) & np.isfinite(other) & (parameter_var <= 0.5 * other)
        self.residual = np.r_[self.residual, residual[keep]][-self.capacity :]
        self.other = np.r_[self.other, other[keep]][-self.capacity :]

    def variance(self, floor: float) -> float:
        """The white variance to use next: the robust estimate, raised by its sampling error,
        never below ``floor``."""
        m = self.residual.size
        if m == 0:
            return floor
        estimate = white_variance(self.residual, self.other)
        return max(floor, estimate * (1.0 + SAMPLING_MARGIN / np.sqrt(m)))
