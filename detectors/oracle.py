"""The offline oracle the streaming estimator is measured against (pure numpy).

Batch generalised (weighted) least squares over all data up to each day, with what a
streaming estimator cannot know:

- the **true loss model**: the modelled loss itself (fixed part and the temperature-dependent
  I²R part of the *true* load, as simulated) is subtracted from the master; only unmetered
  use is left in the noise. (Fitting free coefficients on the true-load regressors instead
  would leak each missing meter's true consumption into the fit and bias it);
- the **true noise model**: white variance per interval and register (level) variance per
  boundary, so the weighting is exact and no variance has to be estimated;
- **no forgetting**, and the same weak prior ``θ ~ N(1, prior_sd²)`` as the estimator (without
  it, collinear pairs and meters consuming less than a register step per interval get
  confident nonsense) and the same identifiability rule;
- the same GLS whitening and errors-in-variables correction (:mod:`detectors.gls`).

It sees the same readings: gaps are bridged exactly as the estimator bridges them
(:func:`detectors.bridging.fill_area`, with the same imputation variances). Its uncertainty
is ``M⁻¹`` combined with the same master Type B term, so both can be put through the same
decision rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from detectors.bridging import ANCHORED, UNKNOWN, fill_area
from detectors.gls import start_carry, whiten

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class OracleResult:
    """Per-day estimates: rows are days 1..D, columns meters; identifiable like the estimator."""

    errors_pct: FloatArray
    uncertainty_pct: FloatArray
    identifiable: npt.NDArray[np.bool_]


def oracle_estimates(
    master_wh: FloatArray,
    meters_wh: FloatArray,
    loss_wh: FloatArray,
    *,
    intervals_per_day: int,
    white_var_wh2: float,
    level_var_wh2: float,
    register_resolution_wh: float = 10.0,
    master_uncertainty_pct: float = 0.2 / math.sqrt(3.0),
    split_cv: float = 1.0,
    prior_sd: float = 0.1,
    identifiable_variance_ratio: float = 0.25,
) -> OracleResult:
    """Batch GLS estimates at the end of every whole day in the data (NaN while there are
    fewer intervals than unknowns)."""
    t_len, n = meters_wh.shape
    rows = np.column_stack([master_wh, meters_wh])
    mean = np.nanmean(rows, axis=0)
    mean = np.where(np.isnan(mean), 0.0, mean)
    filled, kind, bridge = fill_area(rows, mean, np.full(n + 1, ANCHORED, dtype=np.int64))
    single = ~np.isnan(rows)
    single[1:] &= single[:-1]
    var = np.nanvar(np.where(single, rows, np.nan), axis=0)
    split = split_cv**2 * np.where(np.isnan(var), mean**2, var)
    split[0] = (10.0 * mean[0]) ** 2  # unread master boundaries: in effect merged spans
    unknown = np.where(kind == UNKNOWN, mean**2, 0.0)
    level = level_var_wh2 + bridge @ split
    white = white_var_wh2 + unknown.sum(axis=1)
    aug = np.column_stack([filled[:, 1:], filled[:, 0] - loss_wh])
    quant = register_resolution_wh**2 / 12.0 * np.minimum(1.0, mean[1:] / register_resolution_wh)
    reg_level = quant * ((bridge[:, 1:] == 0) & (kind[:, 1:] != UNKNOWN))
    z, tau_rows, _ = whiten(aug, white, level, reg_level, start_carry(aug.shape[1], n))
    days = t_len // intervals_per_day
    p = n
    scale = np.sqrt(np.maximum((aug[:, :p] ** 2).mean(axis=0), 1e-12))
    zs = z / np.r_[scale, 1.0]
    gram = np.zeros((p + 1, p + 1))
    errors = np.full((days, n), np.nan)
    uncert = np.full((days, n), np.nan)
    ident = np.zeros((days, n), dtype=bool)
    tau_sum = np.zeros(n)
    prior_prec = scale**-2 * prior_sd**-2
    for d in range(days):
        rows_d = slice(d * intervals_per_day, (d + 1) * intervals_per_day)
        gram += zs[rows_d].T @ zs[rows_d]
        tau_sum += tau_rows[rows_d].sum(axis=0)
        if (d + 1) * intervals_per_day <= p:
            continue  # fewer intervals than unknowns: nothing is determined yet
        info = gram[:p, :p] + np.diag(prior_prec)
        corrected = info.copy()
        idx = np.arange(n)
        corrected[idx, idx] -= np.minimum(tau_sum / scale[:n] ** 2, 0.5 * info[idx, idx])
        try:
            inv = np.linalg.inv(np.linalg.cholesky(corrected))
        except np.linalg.LinAlgError:  # the correction would leave M indefinite: skip it
            inv = np.linalg.inv(np.linalg.cholesky(info))
        inv = inv.T @ inv
        x = inv @ (gram[:p, p] + prior_prec * scale) / scale
        var = np.diag(inv)[:n] / scale[:n] ** 2
        ident[d] = var <= identifiable_variance_ratio * prior_sd**2
        theta = np.maximum(x[:n], 1e-3)
        errors[d] = 100.0 * (1.0 / theta - 1.0)
        u_stat = np.sqrt(var) / theta**2
        uncert[d] = 100.0 * np.sqrt(u_stat**2 + (master_uncertainty_pct / 100.0) ** 2)
    return OracleResult(errors_pct=errors, uncertainty_pct=uncert, identifiable=ident)
