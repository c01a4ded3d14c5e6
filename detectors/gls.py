"""Whitening for the energy balance's noise, shared by the estimator and the oracle.

Per interval t the balance noise is ``n_t = w_t + u_t − u_{t−1}``: ``w_t`` white (variance
``white[t]``) and ``u_t`` the error of the *cumulative* registers at the boundary that ends
row t (variance ``level[t]``: quantisation, clock jitter, bridged gaps). Its covariance is
tridiagonal; :func:`whiten` applies the inverse of its Cholesky factor row by row, carrying
the recursion across blocks, so ordinary least squares on the output is GLS.

The regressors are registered (or imputed) increments, which carry their own meter's share of
that noise (errors in variables). :func:`whiten` also returns ``tau``: per row and meter, the
expected square of that meter's whitened regressor noise (its per-boundary variance
``reg_level``). Only *classical* errors belong there, such as
quantisation at boundaries that were read: an imputed value is a conditional mean, whose
(Berkson) error does not attenuate. Subtracting its sum from each meter's diagonal of the
information matrix removes the attenuation of θ this causes (the "corrected least squares"
of Fuller, *Measurement Error Models*, 1987, §2.2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass
class WhiteningCarry:
    """The recursion's state at the end of the last row (zeros before the first row)."""

    alpha: float
    level: float
    reg_level: FloatArray  # each meter's regressor level variance at the last boundary
    reg_cov: FloatArray  # E[w̃_t·u_t] of each meter's whitened regressor noise
    reg_var: FloatArray  # E[w̃_t²]
    row: FloatArray  # last whitened row


def start_carry(width: int, meters: int) -> WhiteningCarry:
    return WhiteningCarry(
        0.0, 0.0, np.zeros(meters), np.zeros(meters), np.zeros(meters), np.zeros(width)
    )


def whiten(
    aug: FloatArray,
    white: FloatArray,
    level: FloatArray,
    reg_level: FloatArray,
    carry: WhiteningCarry,
    restart: tuple[int, npt.NDArray[np.bool_]] | None = None,
) -> tuple[FloatArray, FloatArray, WhiteningCarry]:
    """Whitened rows of ``aug``, per-row-and-meter ``tau`` and the carry for the next block.

    ``restart = (column, rows)`` zeroes that column of the carried row before each marked row
    (a parameter that is replaced by a fresh one there, like a per-day effect).
    """
    out = np.empty_like(aug)
    tau = np.empty(reg_level.shape)
    alpha, lev, prev = carry.alpha, carry.level, carry.row
    r_lev, c, v = carry.reg_level, carry.reg_cov, carry.reg_var
    for t in range(aug.shape[0]):
        if restart is not None and restart[1][t]:
            prev = prev.copy()
            prev[restart[0]] = 0.0
        beta = -lev / alpha if alpha > 0.0 else 0.0
        alpha = math.sqrt(white[t] + level[t] + lev - beta * beta)
        prev = (aug[t] - beta * prev) / alpha
        out[t] = prev
        v = (reg_level[t] + r_lev + beta * beta * v + 2.0 * beta * c) / alpha**2
        c = reg_level[t] / alpha
        tau[t] = v
        lev, r_lev = level[t], reg_level[t]
    return out, tau, WhiteningCarry(alpha, lev, r_lev, c, v, prev.copy())


def lower_inverse(lower: FloatArray) -> FloatArray:
    """Inverse of a lower-triangular matrix by recursive 2×2 blocks (matrix products only)."""
    n = lower.shape[0]
    if n <= 32:
        return np.asarray(np.linalg.inv(lower))
    h = n // 2
    top, bottom = lower_inverse(lower[:h, :h]), lower_inverse(lower[h:, h:])
    out = np.zeros_like(lower)
    out[:h, :h] = top
    out[h:, h:] = bottom
    out[h:, :h] = -(bottom @ (lower[h:, :h] @ top))
    return out
