"""The offline oracle the streaming estimator is measured against (pure numpy).

Batch generalised (weighted) least squares over all data up to each day, with what a
streaming estimator cannot know:

- the **true loss model**: the loss law with its true coefficients, on the *true* load, is
  subtracted from the master: the fixed part, and the I²R part at the climatological
  conductor temperature (its daily cycle). The day-to-day weather is the part of the loss
  the issue says the model does not capture, so the oracle knows its law, not what it was:
  one effect per day on the true ``∂loss/∂T``, with the weather's true sd as its prior
  (:class:`DayEffect`). Unmetered use is left in the noise. (Fitting free
  coefficients on the true-load regressors instead would leak each missing meter's true
  consumption into the fit and bias it.) Subtracting the realised weather as well (no
  day effect, the weather inside ``loss_wh``) gives a stricter reference, which the
  bench reports beside it;
- the **true noise model**: white variance per interval and register (level) variance per
  boundary, so the weighting is exact and no variance has to be estimated;
- **no forgetting**, and the same weak prior ``θ ~ N(1, prior_sd²)`` as the estimator (without
  it, collinear pairs and meters consuming less than a register step per interval get
  confident nonsense) and the same identifiability rule;
- the same GLS whitening and errors-in-variables correction (:mod:`detectors.gls`).

It sees the same readings: gaps are bridged exactly as the estimator bridges them
(:func:`detectors.bridging.fill_area`, with the same imputation variances). Its uncertainty
is ``max(1, s²)·M⁻¹`` (``s²`` the Birge ratio of the day's fit, as in the estimator: the
residuals may widen it, never narrow it) combined with the same master Type B term, so both
can be put through the same decision rule: :func:`oracle_decisions` does that, for the
synthetic bench and for fleet runs alike (there, ``loss_wh`` is the area's
``truth_areas.csv`` loss per interval and the noise comes from :func:`register_level_var`).

**Is it calibrated? (reviewed for issue #3, unchanged.)** On the synthetic bench its intervals
cover 0.97 of meters at day 14 but 0.93 at day 30, so it is over-confident late. The cause is
not a missing noise term: the simulated weather is inside ``loss_wh`` and the unmetered use
is the white variance it is given. Areas simulated without drifting meters give coverage 0.96
at day 30 (z-score sd 0.97). The cause is the ~1 % of meters whose error drifts during the
run. A constant-θ fit leaves their trend as a slow misfit, and that misfit leaks into the
other meters' θ̂ too (coverage of meters with a constant error falls with it). The oracle's own
residuals do not show this. The whitened residual variance (Birge ratio) is 0.64–0.72, because
the imputation variance of bridged gaps (``split_cv = 1``) is generous. A-priori residuals
summed over 2-hour runs are also *smaller* than their predicted variance on every day. So
the Birge scaling changes nothing there, and fitting an extra white variance from the
residuals (tried) narrows the intervals. (On fleet runs it does matter: their faults, a
drifting lot and the exact ``loss_wh`` with no white variance left gave ratios from 0.4 to
150 by area, until the fleet oracle was told each meter's drift: ``known_drift``, below.)
Making the bench's oracle calibrated would need a model of drifting θ, which is no longer
the issue's "batch WLS with the true loss model", so it is left as specified. Read detection
against it with this in mind: some meters it flags at its margin are flagged with more
confidence than its data support.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from detectors.bridging import ANCHORED, UNKNOWN, fill_area
from detectors.conformity import DEFAULT_K, Decision, decide
from detectors.gls import row_log_variances, start_carry, whiten
from meterwatch.errors import DetectorError

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DayEffect:
    """A part of the loss shared by the rows of one day, ``basis_wh·δ_d`` with ``δ_d ~ N(0, sd²)``
    independent from day to day: the day-to-day weather (``basis_wh`` the loss's change per
    kelvin, ``sd`` the weather's, in K). ``day`` labels each row's day (default: rows
    ``d·intervals_per_day …`` are day d)."""

    basis_wh: FloatArray
    sd: float
    day: npt.NDArray[np.int64] | None = None

    def columns(self, t_len: int, intervals_per_day: int) -> FloatArray:
        """One regressor column per day of ``t_len`` rows, ``basis_wh`` on that day's rows and
        0 elsewhere."""
        if self.basis_wh.shape != (t_len,) or not np.isfinite(self.basis_wh).all():
            raise DetectorError(f"a day effect needs a finite basis per interval ({t_len})")
        if self.sd <= 0:
            raise DetectorError(f"a day effect needs sd > 0, got {self.sd}")
        day = np.arange(t_len) // intervals_per_day if self.day is None else self.day
        if day.shape != (t_len,):
            raise DetectorError(f"one day label per interval ({t_len}), got {day.shape}")
        _, column = np.unique(day, return_inverse=True)
        out = np.zeros((t_len, int(column.max()) + 1 if t_len else 0))
        out[np.arange(t_len), column] = self.basis_wh
        return out


def loss_law_columns(load_loss_wh: FloatArray, intervals_per_day: int) -> FloatArray:
    """Regressors of the loss law's form with unknown coefficients, for ``free_loss``: a fixed
    loss per interval, and the load loss ``load_loss_wh`` (anything proportional to I²R per
    interval) with a daily harmonic for the conductor temperature's cycle
    (:mod:`detectors.energy_balance` assumes the same form)."""
    hour = 2 * np.pi * (np.arange(len(load_loss_wh)) % intervals_per_day) / intervals_per_day
    ones = np.ones(len(load_loss_wh))
    return np.column_stack(
        [ones, load_loss_wh, load_loss_wh * np.cos(hour), load_loss_wh * np.sin(hour)]
    )


@dataclass(frozen=True)
class OracleResult:
    """Per-day estimates: rows are days 1..D, columns meters; identifiable like the estimator."""

    errors_pct: FloatArray
    uncertainty_pct: FloatArray
    identifiable: npt.NDArray[np.bool_]
    birge_ratio: FloatArray  # (days,): whitened residual variance per row of each day's fit
    # (days,): log marginal likelihood of the data up to day d (θ and the other parameters
    # integrated over their priors), up to a constant that does not depend on the noise
    # variances: for profiling a noise level the fit was given
    log_evidence: FloatArray


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
    known_drift: FloatArray | None = None,
    day_effect: DayEffect | None = None,
    free_loss: FloatArray | None = None,
) -> OracleResult:
    """Batch GLS estimates at the end of every whole day in the data (NaN while there are
    fewer intervals than unknowns).

    ``known_drift`` (T, n), when given, is how each meter's ``1 + ε`` moves, relative to a
    reference (a fleet run's truth knows it): the registers are divided by it, the constant
    θ fitted is the reference's, and day d reports ``1 + ε`` scaled by its own row's value.
    Only where each meter's error sits is left to estimate.

    ``day_effect``, when given, is a part of the loss ``loss_wh`` leaves out: one random
    effect per day (:class:`DayEffect`), each a parameter with its prior, so the fit knows
    its law but not its realisation.

    ``free_loss`` (T, m), when given, are loss regressors whose coefficients the fit does not
    know (flat prior): ``loss_wh`` then holds only what is known of the loss. With the loss
    law's form as these columns and ``loss_wh = 0`` it is the same batch fit without the true
    coefficients, the most any estimator that has to learn them could do with these data.
    """
    t_len, n = meters_wh.shape
    if known_drift is not None:
        if known_drift.shape != meters_wh.shape or not (known_drift > 0).all():
            raise DetectorError("known_drift must be positive, one per interval and meter")
        meters_wh = meters_wh / known_drift
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
    weather = np.zeros((t_len, 0))
    if day_effect is not None:  # one column per day, with its prior below
        weather = day_effect.columns(t_len, intervals_per_day)
    free = np.zeros((t_len, 0)) if free_loss is None else np.asarray(free_loss, dtype=np.float64)
    if free.ndim != 2 or free.shape[0] != t_len or not np.isfinite(free).all():
        raise DetectorError(f"free loss regressors must be finite, (T={t_len}, m): {free.shape}")
    aug = np.column_stack([filled[:, 1:], weather, free, filled[:, 0] - loss_wh])
    quant = (
        register_resolution_wh**2
        / 12.0
        * np.minimum(1.0, np.abs(mean[1:]) / register_resolution_wh)
    )
    reg_level = quant * ((bridge[:, 1:] == 0) & (kind[:, 1:] != UNKNOWN))
    z, tau_rows, _ = whiten(aug, white, level, reg_level, start_carry(aug.shape[1], n))
    log_det_noise = np.cumsum(row_log_variances(white, level, start_carry(0, 0)))
    days = t_len // intervals_per_day
    p = n + weather.shape[1] + free.shape[1]
    scale = np.sqrt(np.maximum((aug[:, :p] ** 2).mean(axis=0), 1e-12))
    zs = z / np.r_[scale, 1.0]
    gram = np.zeros((p + 1, p + 1))
    errors = np.full((days, n), np.nan)
    uncert = np.full((days, n), np.nan)
    ident = np.zeros((days, n), dtype=bool)
    birge = np.full(days, np.nan)
    evidence = np.full(days, np.nan)
    tau_sum = np.zeros(n)
    day_sd = 0.0 if day_effect is None else day_effect.sd
    prior_sd_all = np.r_[np.full(n, prior_sd), np.full(weather.shape[1], day_sd)]
    # θ ~ N(1, ·), the day effects N(0, ·), the free loss coefficients flat (a nugget keeps
    # the information positive definite before the data pin them down)
    prior_prec = np.r_[
        scale[: p - free.shape[1]] ** -2 * prior_sd_all**-2, np.full(free.shape[1], 1e-9)
    ]
    prior_mean = np.r_[np.ones(n), np.zeros(p - n)]
    for d in range(days):
        rows_d = slice(d * intervals_per_day, (d + 1) * intervals_per_day)
        gram += zs[rows_d].T @ zs[rows_d]
        tau_sum += tau_rows[rows_d].sum(axis=0)
        if (d + 1) * intervals_per_day <= n:
            continue  # fewer intervals than meters: nothing is determined yet
        info = gram[:p, :p] + np.diag(prior_prec)
        chol = np.linalg.cholesky(info)  # without the EIV correction: the data's own model
        corrected = info.copy()
        idx = np.arange(n)
        corrected[idx, idx] -= np.minimum(tau_sum / scale[:n] ** 2, 0.5 * info[idx, idx])
        try:
            inv = np.linalg.inv(np.linalg.cholesky(corrected))
        except np.linalg.LinAlgError:  # the correction would leave M indefinite: skip it
            inv = np.linalg.inv(chol)
        inv = inv.T @ inv
        rhs = gram[:p, p] + prior_prec * scale * prior_mean
        xs = inv @ rhs
        x = xs / scale
        fit = gram[p, p] - 2.0 * xs @ gram[:p, p] + xs @ gram[:p, :p] @ xs
        quad = np.linalg.solve(chol, rhs)
        evidence[d] = -0.5 * (
            log_det_noise[(d + 1) * intervals_per_day - 1]
            + 2.0 * np.log(np.diag(chol)).sum()
            + gram[p, p]
            + float(prior_prec @ (scale * prior_mean) ** 2)
            - float(quad @ quad)
        )
        # the meters, the free loss terms and the day effects seen so far
        unknowns = n + free.shape[1] + (d + 1 if weather.shape[1] else 0)
        birge[d] = fit / max(1.0, (d + 1) * intervals_per_day - unknowns)
        var = max(1.0, birge[d]) * np.diag(inv)[:n] / scale[:n] ** 2  # GUM: never narrower
        ident[d] = var <= identifiable_variance_ratio * prior_sd**2
        theta = np.maximum(x[:n], 1e-3)
        moved = 1.0 if known_drift is None else known_drift[(d + 1) * intervals_per_day - 1]
        errors[d] = 100.0 * (moved / theta - 1.0)
        u_stat = moved * np.sqrt(var) / theta**2
        uncert[d] = 100.0 * np.sqrt(u_stat**2 + (master_uncertainty_pct / 100.0) ** 2)
    return OracleResult(
        errors_pct=errors,
        uncertainty_pct=uncert,
        identifiable=ident,
        birge_ratio=birge,
        log_evidence=evidence,
    )


@dataclass(frozen=True)
class OracleDecisions:
    """The oracle's decision per day (rows, days 1..D) and meter, with the estimates behind it."""

    decisions: npt.NDArray[np.str_]
    estimates: OracleResult

    def out_of_tolerance(self, day: int = -1) -> npt.NDArray[np.bool_]:
        """Which meters the oracle decides ``out_of_tolerance`` on ``day`` (default: the last)."""
        return np.asarray(self.decisions[day] == Decision.OUT_OF_TOLERANCE.value)


def register_level_var(
    master_wh: FloatArray,
    meters_wh: FloatArray,
    resolution_wh: npt.ArrayLike,
    *,
    interval_s: float,
    master_resolution_wh: float = 1.0,
    clock_jitter_s: float = 3.0,
    master_clock_jitter_s: float = 0.5,
) -> float:
    """Per-boundary variance of the balance's register noise, as the readings' noise model has it.

    Each register is quantised (``step²/12``, ``resolution_wh`` per meter or one for all) and read
    with clock jitter, which misplaces about ``increment·jitter/interval`` of energy at the
    boundary; the master counts like the meters. Increments may hold NaN (not read).
    """
    master, meters = _area_arrays(master_wh, meters_wh)
    steps = np.broadcast_to(np.asarray(resolution_wh, dtype=np.float64), (meters.shape[1],))
    mean_sq = np.nan_to_num(np.nanmean(meters**2, axis=0)) if meters.size else np.zeros(0)
    master_sq = float(np.nan_to_num(np.nanmean(master**2))) if master.size else 0.0
    quant = (float((steps**2).sum()) + master_resolution_wh**2) / 12.0
    jitter = float(mean_sq.sum()) * (clock_jitter_s / interval_s) ** 2
    return quant + jitter + master_sq * (master_clock_jitter_s / interval_s) ** 2


def oracle_decisions(
    master_wh: FloatArray,
    meters_wh: FloatArray,
    loss_wh: FloatArray,
    mpe_pct: npt.ArrayLike,
    *,
    intervals_per_day: int,
    white_var_wh2: float,
    level_var_wh2: float,
    k: float = DEFAULT_K,
    register_resolution_wh: float = 10.0,
    known_drift: FloatArray | None = None,
    day_effect: DayEffect | None = None,
) -> OracleDecisions:
    """:func:`oracle_estimates` put through :func:`detectors.conformity.decide` every day.

    The increments are an area's blocks as the stream sees them (rows from the first interval
    after a reading of every register; NaN = not read), ``loss_wh`` the true loss of each of
    those intervals. When it already holds the unmetered use (a fleet run's ``loss_wh``), the
    white variance left is the part of the noise the loss series does not carry (0 if none).
    """
    master, meters = _area_arrays(master_wh, meters_wh)
    loss = np.asarray(loss_wh, dtype=np.float64)
    if loss.shape != master.shape or not np.isfinite(loss).all():
        raise DetectorError(f"loss must be finite, one per interval {master.shape}: {loss.shape}")
    if white_var_wh2 < 0 or level_var_wh2 <= 0 or intervals_per_day < 1:
        raise DetectorError("need white_var_wh2 >= 0, level_var_wh2 > 0, intervals_per_day >= 1")
    result = oracle_estimates(
        master,
        meters,
        loss,
        intervals_per_day=intervals_per_day,
        white_var_wh2=white_var_wh2,
        level_var_wh2=level_var_wh2,
        register_resolution_wh=register_resolution_wh,
        known_drift=known_drift,
        day_effect=day_effect,
    )
    said = decide(
        result.errors_pct, result.uncertainty_pct, mpe_pct, k, identifiable=result.identifiable
    )
    return OracleDecisions(decisions=said, estimates=result)


def _area_arrays(master_wh: FloatArray, meters_wh: FloatArray) -> tuple[FloatArray, FloatArray]:
    master = np.asarray(master_wh, dtype=np.float64)
    meters = np.asarray(meters_wh, dtype=np.float64)
    if master.ndim != 1 or meters.ndim != 2 or meters.shape[0] != master.shape[0]:
        raise DetectorError(
            f"expected master (T,) and meters (T, n); got {master.shape}, {meters.shape}"
        )
    return master, meters
