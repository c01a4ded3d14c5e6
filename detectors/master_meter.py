"""The master meter's check: the common shift of an area's errors (pure numpy).

A master error shifts every consumer meter's estimated error alike. The median ε̂ of the
identifiable meters estimates that shift; its standard uncertainty combines their spread
(the median's sampling error, ``π/2·σ²/m``) and the part of the estimates' covariance they
share. Beyond ``tolerance`` with guard ``guard_k`` the master is suspect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from detectors.noise_level import median

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CommonShift:
    """Median ε̂ of identifiable meters (fraction, NaN with too few) and its uncertainty."""

    error: float
    uncertainty: float
    suspect: bool


def common_shift(
    eps: FloatArray,
    identifiable: npt.NDArray[np.bool_],
    cov_factor: FloatArray,
    *,
    min_meters: int,
    tolerance: float,
    guard_k: float,
    cov_scale: float = 1.0,
) -> CommonShift:
    """The area's common shift from the meters' ε̂ (fractions); the estimates' covariance is
    ``cov_scale·cov_factorᵀ·cov_factor`` (columns of ``cov_factor``: meters)."""
    ids = np.flatnonzero(identifiable)
    if ids.size < min_meters:
        return CommonShift(math.nan, math.nan, False)
    common = median(eps[ids])
    spread = 1.4826 * median(np.abs(eps[ids] - common))
    shared = cov_scale * float(((cov_factor @ identifiable.astype(np.float64)) ** 2).sum())
    u_common = math.sqrt(math.pi / 2 * spread**2 / ids.size + shared / ids.size**2)
    return CommonShift(common, u_common, abs(common) - guard_k * u_common > tolerance)
