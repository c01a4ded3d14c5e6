"""Pure metrics of error estimates and decisions against ground truth (as in River's
``drift/evaluate.py``: plain functions, tolerances keyword-only).

Errors are in percent. Decisions are :class:`detectors.conformity.Decision` values (or their
strings). Where an argument is 2-D, rows are successive times (days) and columns meters.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from detectors.conformity import Decision
from meterwatch.errors import DetectorError

FloatArray = npt.NDArray[np.float64]
_OUT = Decision.OUT_OF_TOLERANCE.value


def _floats(x: npt.ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def out_of_tolerance_recall(
    true_error_pct: npt.ArrayLike, decisions: npt.ArrayLike, *, mpe_pct: npt.ArrayLike
) -> float:
    """Share of truly out-of-tolerance meters (|ε| > MPE) decided ``out_of_tolerance``.

    Both arguments are per meter at one time. NaN when no meter is out of tolerance.
    """
    truth = np.abs(_floats(true_error_pct)) > _floats(mpe_pct)
    said = np.asarray(decisions) == _OUT
    if truth.shape != said.shape:
        raise DetectorError("true errors and decisions must have the same shape")
    return float(said[truth].mean()) if truth.any() else float("nan")


def false_replacement_rate(
    true_error_pct: npt.ArrayLike,
    decisions: npt.ArrayLike,
    *,
    mpe_pct: npt.ArrayLike,
    healthy_fraction: float = 0.5,
) -> float:
    """Share of healthy meters ever decided ``out_of_tolerance``.

    Healthy means ``|ε| ≤ healthy_fraction·MPE`` at every time given. With 2-D arguments a
    meter counts once if any row orders it out. NaN when there is no healthy meter.
    """
    err = np.abs(_floats(true_error_pct))
    said = np.asarray(decisions) == _OUT
    if err.shape != said.shape:
        raise DetectorError("true errors and decisions must have the same shape")
    healthy = err <= healthy_fraction * _floats(mpe_pct)
    if err.ndim == 2:
        healthy, said = np.all(healthy, axis=0), np.any(said, axis=0)
    return float(said[healthy].mean()) if healthy.any() else float("nan")


def detection_delay(
    true_error_pct: npt.ArrayLike, decisions: npt.ArrayLike, *, mpe_pct: npt.ArrayLike
) -> FloatArray:
    """Per meter: rows from the first ``|ε| > MPE`` to the first ``out_of_tolerance``.

    NaN for meters that never cross the MPE, ``inf`` for those never detected; negative when
    a meter was ordered out before its true error crossed.
    """
    err = np.abs(_floats(true_error_pct))
    said = np.asarray(decisions) == _OUT
    if err.ndim != 2 or err.shape != said.shape:
        raise DetectorError("detection_delay needs 2-D (time, meter) arrays of one shape")
    crossed = err > _floats(mpe_pct)
    first_cross = np.where(crossed.any(axis=0), crossed.argmax(axis=0), -1)
    first_said = np.where(said.any(axis=0), said.argmax(axis=0), -1)
    delay = np.where(first_said >= 0, first_said - first_cross, np.inf).astype(np.float64)
    return np.where(first_cross >= 0, delay, np.nan)


def mean_absolute_error(
    true_error_pct: npt.ArrayLike, errors_pct: npt.ArrayLike, *, mask: npt.ArrayLike | None = None
) -> float:
    """Mean |ε̂ − ε| over the cells selected by ``mask`` (all by default)."""
    diff = np.abs(_floats(errors_pct) - _floats(true_error_pct))
    keep = np.ones(diff.shape, bool) if mask is None else np.asarray(mask, dtype=bool)
    return float(diff[keep].mean()) if keep.any() else float("nan")


def interval_coverage(
    true_error_pct: npt.ArrayLike,
    errors_pct: npt.ArrayLike,
    uncertainty_pct: npt.ArrayLike,
    *,
    coverage_factor: float = 1.96,
    mask: npt.ArrayLike | None = None,
) -> float:
    """Share of cells whose interval ``ε̂ ± coverage_factor·u`` contains the true ε."""
    diff = np.abs(_floats(errors_pct) - _floats(true_error_pct))
    inside = diff <= coverage_factor * _floats(uncertainty_pct)
    keep = np.ones(diff.shape, bool) if mask is None else np.asarray(mask, dtype=bool)
    return float(inside[keep].mean()) if keep.any() else float("nan")
