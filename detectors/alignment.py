"""Which interval a skewed meter's readings belong to, told by the area's balance (pure numpy).

A meter whose clock is off stamps every reading off the grid by one amount. The assembler
learns that amount (:mod:`stream.intervals`), but only modulo one interval: a reading 236 s
after a boundary may come from a clock 236 s fast, read on time, or from a clock 664 s slow,
read at the next boundary. Taking the nearest boundary is right for small skews only; for the
demo fleet's −664 s and −510 s it placed the meter one interval early, and its estimate went to
+21 % (a false order).

The balance tells the two apart. Placed one interval *early*, the meter's assembled increments
``p`` stand where its true ones are ``p(t−1)``, so the balance residual of each row holds
``θ·(p(t−1) − p(t))``; placed one interval *late*, ``θ·(p(t+1) − p(t))``. Household loads are
spiky, so these terms are large and far from everything smooth the estimator fits.
:func:`shift_evidence` regresses a block's residuals on ``[p(t−1), p(t), p(t+1)]`` jointly
(``p(t)`` takes up what an error in θ̂ leaves; alone, each neighbour column would share it):
the block's normal equations, centred (a level is no placement, and the estimator's guess for
a meter held out takes one off), to be summed over blocks with forgetting. :func:`shift_decision`
moves a meter when the coefficient of one neighbour is near θ = 1 (``slope_band``) at
``min_z`` standard errors. The residuals are winsorised at ``clip`` times the block's robust
(MAD) scale, so a few wild rows (another meter's outage closing, a bad master reading) cannot
pose as a shift; the standard errors come from what the three columns leave of them.

The master is tested the same way with the balance's *model* of it (the meters' sum and the
loss) in place of the residuals: whichever placement of its readings the model follows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
_MAD_TO_SD = 1.4826  # the MAD of a normal sample times this estimates its sd
EARLY, SELF, LATE = 0, 1, 2  # regressors: the increment before, the meter's own, the one after
EVIDENCE = 21  # per meter: X'X (3×3), X'r (3), s²·X'X (3×3), flattened


@dataclass(frozen=True)
class AlignmentConfig:
    min_z: float = 6.0  # standard errors of the coefficient before a meter is moved
    slope_band: tuple[float, float] = (0.5, 1.5)  # a misplaced meter's coefficient is θ ≈ 1
    clip: float = 4.0  # residuals are winsorised at this many robust sds
    memory_blocks: float = 14.0  # evidence is forgotten with this time constant
    max_held_blocks: int = 14  # a meter the balance cannot place rejoins it at the nearest


def shift_evidence(
    residuals: npt.ArrayLike, increments: npt.ArrayLike, config: AlignmentConfig | None = None
) -> FloatArray:
    """One block's evidence, shape (m, ``EVIDENCE``), for meters with increments ``p`` (T, m)
    against the balance residuals ``r`` (T,).

    Only rows where the meter's increments before, at and after are each known to cover one
    interval take part (read, and read the row before: the first value after a gap carries its
    whole span), and whose residual is not NaN.
    """
    cfg = config or AlignmentConfig()
    r = np.asarray(residuals, dtype=np.float64)
    p = np.asarray(increments, dtype=np.float64)
    m = p.shape[1]
    out = np.zeros((m, EVIDENCE))
    if len(r) < 3 or np.isnan(r).all():
        return out
    centre = float(np.nanmedian(r))
    scale = _MAD_TO_SD * float(np.nanmedian(np.abs(r - centre)))
    if scale <= 0:
        return out
    r = np.clip(r - centre, -cfg.clip * scale, cfg.clip * scale)
    single = ~np.isnan(p)
    single[1:] &= single[:-1].copy()
    single[0] = False
    valid = single[:-2] & single[1:-1] & single[2:] & ~np.isnan(r[1:-1, None])
    x = np.stack([p[:-2], p[1:-1], p[2:]], axis=-1)  # (T-2, m, 3)
    x = np.where(valid[..., None], x, 0.0)
    rv = np.where(valid, r[1:-1, None], 0.0)  # (T-2, m)
    count = np.maximum(valid.sum(axis=0), 1)
    mean_x = x.sum(axis=0) / count[:, None]  # centred: a level is not a placement
    mean_r = rv.sum(axis=0) / count
    xtx = np.einsum("tmi,tmj->mij", x, x) - count[:, None, None] * np.einsum(
        "mi,mj->mij", mean_x, mean_x
    )
    xtr = np.einsum("tmi,tm->mi", x, rv) - count[:, None] * mean_x * mean_r[:, None]
    # the residual scale once the three columns are fitted: a meter held out of the balance
    # leaves its whole consumption in the residuals, which is signal here, not noise
    spread = scale**2 * np.ones(m)
    fit = _well_posed(xtx) & (count > 8)
    if fit.any():
        beta = np.linalg.solve(xtx[fit], xtr[fit][..., None])[..., 0]
        rss = (rv[:, fit] ** 2).sum(axis=0) - count[fit] * mean_r[fit] ** 2
        rss -= np.einsum("mi,mi->m", beta, xtr[fit])
        spread[fit] = np.maximum(rss, 0.0) / (count[fit] - 4)
    return np.concatenate([xtx.reshape(m, 9), xtr, spread[:, None] * xtx.reshape(m, 9)], axis=1)


def _well_posed(xtx: FloatArray) -> BoolArray:
    """Normal equations (m, 3, 3) that pin all three coefficients."""
    diag = np.diagonal(xtx, axis1=1, axis2=2)
    posed = (diag.min(axis=1) > 0) & (np.linalg.det(xtx) > 1e-9 * np.prod(diag, axis=1))
    return np.asarray(posed, dtype=bool)


def shift_decision(
    evidence: FloatArray, held: npt.ArrayLike, config: AlignmentConfig | None = None
) -> tuple[IntArray, BoolArray]:
    """Per meter, from its summed :func:`shift_evidence` (m, ``EVIDENCE``): the move (+1: its
    readings belong one boundary *later* than placed, it was placed early; −1: one earlier;
    0: none) and whether the evidence decided.

    A ``held`` meter was kept out of the balance, so its own placement is a hypothesis too (the
    residuals then carry its whole consumption): it is decided when any of the three
    coefficients is shown. A meter in the balance can only be shown misplaced.
    """
    cfg = config or AlignmentConfig()
    m = len(evidence)
    xtx = evidence[:, :9].reshape(m, 3, 3)
    xtr = evidence[:, 9:12]
    var = evidence[:, 12:].reshape(m, 3, 3)
    ok = _well_posed(xtx)  # a meter needs rows before its coefficients mean anything
    z = np.zeros((m, 3))
    beta = np.zeros((m, 3))
    if ok.any():
        inv = np.linalg.inv(xtx[ok])
        beta[ok] = np.einsum("mij,mj->mi", inv, xtr[ok])
        cov = inv @ var[ok] @ inv
        z[ok] = beta[ok] / np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    lo, hi = cfg.slope_band
    shown = ok[:, None] & (z >= cfg.min_z) & (beta >= lo) & (beta <= hi)
    shown[:, SELF] &= np.asarray(held, dtype=bool)
    best = np.argmax(np.where(shown, z, -np.inf), axis=1)
    decided = np.asarray(shown.any(axis=1), dtype=bool)
    moves = np.where(decided, np.array([1, 0, -1])[best], 0).astype(np.int64)
    return moves, decided
