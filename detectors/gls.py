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

The recursion's scalars (α_t, β_t) depend only on the variances, so they are run on floats
first. A block's whitened rows are then one linear map of its rows and the carried row, a
lower-triangular matrix of products of ``ρ_t = −β_t/α_t``. The same holds for ``tau``, of which
the estimator needs only decay-weighted sums. This is the row recursion up to round-off
(``tests/detectors/test_gls.py`` checks it against a row-by-row loop), at a fraction of the
Python overhead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
_CHUNK = 192  # rows whitened as one linear map


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
    tau_weights: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray, WhiteningCarry]:
    """Whitened rows of ``aug``, per-row-and-meter ``tau`` and the carry for the next block.

    ``restart = (column, rows)`` zeroes that column of the carried row before each marked row
    (a parameter that is replaced by a fresh one there, like a per-day effect). With
    ``tau_weights`` (k, rows), ``tau`` is returned as its k weighted sums over rows instead.
    """
    if aug.shape[0] > _CHUNK:  # the row maps below are (rows x rows): keep them small
        parts = []
        for lo in range(0, aug.shape[0], _CHUNK):
            rows = slice(lo, lo + _CHUNK)
            sub = None if restart is None else (restart[0], restart[1][rows])
            weights = None if tau_weights is None else tau_weights[:, rows]
            z, tau, carry = whiten(
                aug[rows], white[rows], level[rows], reg_level[rows], carry, sub, weights
            )
            parts.append((z, tau))
        z = np.vstack([z for z, _ in parts])
        if tau_weights is None:
            return z, np.vstack([t for _, t in parts]), carry
        return z, np.sum([t for _, t in parts], axis=0), carry
    t_len = aug.shape[0]
    if t_len == 0:
        sums = None if tau_weights is None else np.zeros((len(tau_weights), reg_level.shape[1]))
        return np.empty_like(aug), np.empty(reg_level.shape) if sums is None else sums, carry
    alphas, betas = _recursion(white, level, carry)
    # Row t is aug[t]/α_t + ρ_t·(row t−1), ρ_t = −β_t/α_t: a linear map of the block and the
    # carried row, gain[t, s] = ρ_{s+1}···ρ_t (s ≤ t), carried[t] = ρ_0···ρ_t.
    rho = -betas / alphas
    gain = _gain(rho)
    carried = gain[:, 0] * rho[0]
    row_map = gain / alphas  # (row t of the output) = row_map[t] @ aug + carried[t]·carry.row
    out = row_map @ aug
    out += np.outer(carried, carry.row)
    if restart is not None and restart[1].any():
        col, marks = restart
        segment = np.cumsum(marks)
        cut = row_map * (segment[:, None] == segment[None, :])
        out[:, col] = cut @ aug[:, col] + carried * (segment == 0) * carry.row[col]
    # E[w̃²] of each meter's whitened regressor noise follows the same recursion, squared.
    reg_prev = np.vstack([carry.reg_level, reg_level[:-1]])
    cov_prev = np.vstack([carry.reg_cov, reg_level[:-1] / alphas[:-1, None]])
    source = (reg_level + reg_prev + 2.0 * betas[:, None] * cov_prev) / (alphas**2)[:, None]
    gain2, carried2 = gain * gain, carried * carried
    last_tau = gain2[-1] @ source + carried2[-1] * carry.reg_var
    if tau_weights is None:
        tau = gain2 @ source + np.outer(carried2, carry.reg_var)
    else:  # weighted sums only: a (k x rows) map instead of (rows x rows)
        tau = (tau_weights @ gain2) @ source + np.outer(tau_weights @ carried2, carry.reg_var)
    last = WhiteningCarry(
        float(alphas[-1]),
        float(level[-1]),
        reg_level[-1].copy(),
        reg_level[-1] / alphas[-1],
        last_tau,
        out[-1].copy(),
    )
    return out, tau, last


def row_log_variances(white: FloatArray, level: FloatArray, carry: WhiteningCarry) -> FloatArray:
    """``log α_t²`` per row: their sum over rows is the log-determinant of the balance noise's
    covariance (the Gaussian likelihood's normalising term)."""
    return 2.0 * np.log(_recursion(white, level, carry)[0])


def _recursion(
    white: FloatArray, level: FloatArray, carry: WhiteningCarry
) -> tuple[FloatArray, FloatArray]:
    """The Cholesky recursion's scalars (α_t, β_t): they depend on the variances only."""
    alpha, lev = carry.alpha, carry.level
    alphas, betas = np.empty(len(white)), np.empty(len(white))
    for t, (w_t, l_t) in enumerate(zip(white.tolist(), level.tolist(), strict=True)):
        beta = -lev / alpha if alpha > 0.0 else 0.0
        alpha = math.sqrt(w_t + l_t + lev - beta * beta)
        alphas[t], betas[t] = alpha, beta
        lev = l_t
    return alphas, betas


def scaled_noise_moments(
    white: FloatArray,
    level: FloatArray,
    reg_level: FloatArray,
    scale: FloatArray,
    sign: FloatArray,
    carry: WhiteningCarry,
    weights: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Errors in variables of regressors built from the meters' *sum*: expected whitened noise
    moments of columns ``scale[:, j]·Σ_i sign_i·e_i(t)`` (per row, ``scale`` (T, m)).

    Each meter's register noise enters such a column at every boundary it is read, multiplied
    by the row's scale: ``scale_t·u_t − scale_{t+1}·u_t``. Unlike a meter's own column, this
    does not telescope where the scale varies (a load-loss regressor, ``∝ S_t²``, has the
    slope ``2·S_t/s``), so its attenuation is far larger than its size suggests. Returns,
    per row of ``weights`` (k, T; the sums are weighted over rows like the information),
    the moments with each meter's own whitened noise (k, m, n) and among the columns
    (k, m, m). The carried boundary before the block, and in blocks longer than ``_CHUNK``
    rows each chunk's last boundary's share of the next chunk, are left out: their effect
    decays with ``ρ_t`` < 1 within a few rows (within 2 % of the exact sums over 300 rows,
    ``tests/detectors/test_gls.py``).
    """
    t_len, m = scale.shape
    cross = np.zeros((len(weights), m, reg_level.shape[1]))
    among = np.zeros((len(weights), m, m))
    if t_len == 0:
        return cross, among
    alphas, betas = _recursion(white, level, carry)
    for lo in range(0, t_len, _CHUNK):  # the maps below are (rows x rows): keep them small
        rows = slice(lo, min(lo + _CHUNK, t_len))
        row_map = _gain(-betas[rows] / alphas[rows]) / alphas[rows]
        nxt = np.zeros_like(row_map)  # boundary s also enters row s + 1, the other way round
        nxt[:, :-1] = row_map[:, 1:]
        own = row_map - nxt  # a meter's own column: (rows, boundaries)
        # boundary s in a column: row_map[:, s]·scale_s − nxt[:, s]·scale_{s+1}; the weighted
        # sums over rows of its products reduce to five (k, boundaries) arrays
        w = weights[:, rows]
        part = scale[rows]
        following = np.vstack([part[1:], np.zeros((1, m))])
        own_rm, own_nx = w @ (row_map * own), w @ (nxt * own)
        rm2, rm_nx, nx2 = w @ (row_map * row_map), w @ (row_map * nxt), w @ (nxt * nxt)
        w_own = own_rm[:, :, None] * part - own_nx[:, :, None] * following  # (k, s, m)
        cross += np.transpose(w_own, (0, 2, 1)) @ (reg_level[rows] * sign)
        total = reg_level[rows].sum(axis=1)
        among += np.einsum("ks,sj,sl->kjl", rm2 * total, part, part)
        among -= np.einsum("ks,sj,sl->kjl", rm_nx * total, part, following)
        among -= np.einsum("ks,sj,sl->kjl", rm_nx * total, following, part)
        among += np.einsum("ks,sj,sl->kjl", nx2 * total, following, following)
    return cross, among


def _gain(rho: FloatArray) -> FloatArray:
    """``gain[t, s] = ρ_{s+1}···ρ_t`` for s ≤ t, else 0 (ρ_0 is not used)."""
    t_len = rho.size
    lower = np.tri(t_len, dtype=bool)
    if (rho[1:] > 0.0).all():  # products as exponentials of differences of a cumulative sum
        logs = np.concatenate(([0.0], np.cumsum(np.log(rho[1:]))))
        return np.exp(np.where(lower, logs[:, None] - logs[None, :], -np.inf))
    gain = np.zeros((t_len, t_len))
    row = np.zeros(t_len)
    for t in range(t_len):
        row *= rho[t]
        row[t] = 1.0
        gain[t] = row
    return gain


_LEAF = 32  # diagonal blocks up to this size are inverted directly, all in one call


def lower_inverse(lower: FloatArray) -> FloatArray:
    """Inverse of a lower-triangular matrix by recursive 2×2 blocks (matrix products only).

    The diagonal leaves of the recursion are inverted together (padded with identity to one
    size, a block-diagonal matrix whose inverse keeps the blocks apart), then the
    off-diagonal blocks are filled bottom-up: ``−bottom⁻¹·lower₂₁·top⁻¹``.
    """
    n = lower.shape[0]
    leaves = _leaves(0, n)
    size = max(hi - lo for lo, hi in leaves)
    stack = np.zeros((len(leaves), size, size))
    for i, (lo, hi) in enumerate(leaves):
        stack[i, : hi - lo, : hi - lo] = lower[lo:hi, lo:hi]
        pad = np.arange(hi - lo, size)
        stack[i, pad, pad] = 1.0
    inverses = np.linalg.inv(stack)
    out = np.zeros_like(lower)
    for i, (lo, hi) in enumerate(leaves):
        out[lo:hi, lo:hi] = inverses[i, : hi - lo, : hi - lo]
    _fill_below(lower, out, 0, n)
    return out


def _leaves(lo: int, hi: int) -> list[tuple[int, int]]:
    if hi - lo <= _LEAF:
        return [(lo, hi)]
    mid = lo + (hi - lo) // 2
    return _leaves(lo, mid) + _leaves(mid, hi)


def _fill_below(lower: FloatArray, out: FloatArray, lo: int, hi: int) -> None:
    """The off-diagonal blocks of the inverse of ``lower[lo:hi, lo:hi]``, into ``out``."""
    if hi - lo <= _LEAF:
        return
    mid = lo + (hi - lo) // 2
    _fill_below(lower, out, lo, mid)
    _fill_below(lower, out, mid, hi)
    out[mid:hi, lo:mid] = -(out[mid:hi, mid:hi] @ (lower[mid:hi, lo:mid] @ out[lo:mid, lo:mid]))
