"""Legal-limit decisions with guard bands (JCGM 106:2012, guarded acceptance and rejection).

With estimate ε̂, standard uncertainty u, limit MPE and guard band ``w = k·u``:

- ``conforming`` when ``|ε̂| + w ≤ MPE``;
- ``out_of_tolerance`` (→ replace) when ``|ε̂| − w > MPE``;
- ``inconclusive`` otherwise (a candidate for sampling inspection, never a replacement).

A meter that is not identifiable, or has a NaN estimate or uncertainty, is ``inconclusive``:
it can never be ordered out.

**Choice of k (specific risk).** When ``|ε̂| − k·u`` just reaches the MPE, the probability that
the meter is in fact within tolerance is ``Φ(−k)`` (normal, calibrated u): JCGM 106's specific
risk of a false rejection at the rejection limit. For a *healthy* meter (``|ε| ≤ MPE/2``) one
decision replaces it with probability at most ``Φ(−k − MPE/(2u)) ≤ Φ(−k)``. The target is
that at most 0.1 % of healthy meters are ever ordered out. Decisions are re-made every day
on estimates that share nearly all their data (memory of about 90 days), so a meter's daily
decisions over a year count as roughly ten independent looks; 0.1 % over ten looks gives a
per-decision risk ``α = 1e-4`` and ``k = Φ⁻¹(1 − 1e-4) ≈ 3.72`` (:data:`DEFAULT_K`).
:func:`guard_factor` turns another target risk into k.
"""

from __future__ import annotations

from enum import StrEnum
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from meterwatch.errors import DetectorError

FloatArray = npt.NDArray[np.float64]

TARGET_FALSE_REPLACEMENT = 1e-3
EFFECTIVE_LOOKS = 10


class Decision(StrEnum):
    """The outcome of a legal-limit decision for one meter."""

    CONFORMING = "conforming"
    OUT_OF_TOLERANCE = "out_of_tolerance"
    INCONCLUSIVE = "inconclusive"


def guard_factor(specific_risk: float) -> float:
    """The guard factor k whose specific false-rejection risk at the limit is ``specific_risk``."""
    if not 0.0 < specific_risk < 0.5:
        raise DetectorError("specific_risk must lie in (0, 0.5)")
    return NormalDist().inv_cdf(1.0 - specific_risk)


DEFAULT_K = guard_factor(TARGET_FALSE_REPLACEMENT / EFFECTIVE_LOOKS)


def decide(
    errors_pct: npt.ArrayLike,
    uncertainty_pct: npt.ArrayLike,
    mpe_pct: npt.ArrayLike,
    k: float = DEFAULT_K,
    *,
    identifiable: npt.ArrayLike | None = None,
) -> npt.NDArray[np.str_]:
    """One :class:`Decision` value per meter, as a numpy string array (any input shape).

    ``mpe_pct`` is a scalar or one limit per meter (see ``detectors.mpe``).
    """
    err = np.asarray(errors_pct, dtype=np.float64)
    u = np.asarray(uncertainty_pct, dtype=np.float64)
    mpe = np.asarray(mpe_pct, dtype=np.float64)
    if k < 0:
        raise DetectorError("the guard factor k must be >= 0")
    try:
        err, u, mpe = np.broadcast_arrays(err, u, mpe)
    except ValueError as exc:
        raise DetectorError(f"shapes do not match: {err.shape}, {u.shape}, {mpe.shape}") from exc
    valid = np.isfinite(err) & np.isfinite(u) & (u >= 0) & np.isfinite(mpe)
    if identifiable is not None:
        valid &= np.broadcast_to(np.asarray(identifiable, dtype=bool), err.shape)
    with np.errstate(invalid="ignore"):
        guard = k * u
        out = valid & (np.abs(err) - guard > mpe)
        ok = valid & (np.abs(err) + guard <= mpe)
    result = np.full(err.shape, Decision.INCONCLUSIVE.value, dtype="<U16")
    result[out] = Decision.OUT_OF_TOLERANCE.value
    result[ok] = Decision.CONFORMING.value
    return result
