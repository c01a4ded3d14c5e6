"""Reproducible sample draws and the Horvitz–Thompson estimate of a lot's nonconforming fraction.

Every draw is a pure function of (meter ids, sample size, risk scores, seed) and returns a
:class:`SampleDraw` holding the seed, the method, the selected ids and their first-order
inclusion probabilities, so it can be stored with the plan and replayed for an audit.

- ``simple_random``: simple random sampling without replacement, ``π_i = n / N``.
- ``risk_weighted``: fixed-size πps sampling. Target probabilities are proportional to a
  defensive mixture ``w_i = (1 - floor_share) · r_i / mean(r) + floor_share`` of the risk
  scores ``r_i`` and a uniform floor, so every meter keeps ``π_i > 0`` (otherwise the
  Horvitz–Thompson estimate would be biased for the lot). ``π_i`` is capped at 1 by the usual
  iteration: units whose ``n · w_i / Σw`` reach 1 are taken with certainty and the rest of the
  sample is spread over the others in proportion to ``w_i``. The draw itself is randomised
  systematic sampling (Madow 1949 after a random permutation): the ids are shuffled, the
  cumulated ``π_i`` laid on [0, n), and the units hit by ``u, u + 1, ..., u + n - 1`` with
  ``u ~ U[0, 1)`` are selected. This gives exactly ``n`` units and exactly ``π_i`` as
  first-order inclusion probabilities.

The variance of the Horvitz–Thompson estimator under randomised systematic sampling has no
closed unbiased estimator (some joint inclusion probabilities are 0). We use the Hájek–Deville
approximation for high-entropy fixed-size designs (Deville 1999; Matei & Tillé 2005):

    v(t̂) = n / (n - 1) · Σ_s (1 - π_i) (y_i / π_i - B̂)²,
    B̂ = Σ_s (1 - π_i) y_i / π_i / Σ_s (1 - π_i),

which reduces to the textbook ``N² (1 - f) s² / n`` under simple random sampling and gives
certainty units (π_i = 1) no variance. In a seeded check (N = 400, n = 50, 6 % nonconforming,
3000 draws) its mean was 0.00141 against a Monte Carlo variance of 0.00143.

The confidence interval is Wilson's score interval on the estimated fraction (clipped to
[0, 1]) with Kish's effective sample size ``n_eff = p̂ (1 - p̂) / v(p̂)`` (``n_eff = n`` when
the variance estimate is 0, e.g. no nonconforming meter in the sample, which still gives a
non-zero upper bound). Nonconforming meters are rare, so the plain normal interval
under-covers: in the same check it covered 81 % at 95 % nominal, this one 90 % - better,
still below nominal, so treat the interval as approximate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np
import numpy.typing as npt

from supervision.errors import SupervisionError

DrawMethod = Literal["simple_random", "risk_weighted_systematic_pps"]
GENERATOR = f"numpy {np.__version__} default_rng (PCG64)"


@dataclass(frozen=True)
class SampleDraw:
    """A recorded draw: replaying the same inputs with ``seed`` gives the same selection.

    The selection depends on the order of the ids passed in (use the lot's sorted meter
    ids) and on the generator: numpy does not promise identical streams across versions,
    so ``generator`` records the numpy version that drew it.
    """

    seed: int
    method: DrawMethod
    population_size: int
    selected_ids: tuple[str, ...]
    inclusion_probabilities: tuple[float, ...]
    generator: str
    floor_share: float | None = None


@dataclass(frozen=True)
class NonconformingEstimate:
    """Horvitz–Thompson estimate of the lot's nonconforming fraction."""

    fraction: float
    variance: float
    lower: float
    upper: float
    confidence: float
    sample_size: int
    nonconforming_in_sample: int


def _check_population(ids: Sequence[str], n: int) -> None:
    if len(set(ids)) != len(ids):
        raise SupervisionError("meter ids in the lot must be unique")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(ids):
        raise SupervisionError(
            f"sample size must be between 1 and the lot size {len(ids)}, got {n!r}"
        )


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SupervisionError(f"seed must be a non-negative integer, got {seed!r}")


def simple_random(ids: Sequence[str], n: int, seed: int) -> SampleDraw:
    """Simple random sample of ``n`` meters without replacement."""
    _check_population(ids, n)
    _check_seed(seed)
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(ids), size=n, replace=False))
    pi = n / len(ids)
    return SampleDraw(
        seed=seed,
        method="simple_random",
        population_size=len(ids),
        selected_ids=tuple(ids[i] for i in chosen),
        inclusion_probabilities=(pi,) * n,
        generator=GENERATOR,
    )


def capped_inclusion_probabilities(weights: npt.ArrayLike, n: int) -> npt.NDArray[np.float64]:
    """π_i proportional to positive ``weights``, summing to ``n``, none above 1."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise SupervisionError("weights must be a 1-D array of finite positive numbers")
    if not 1 <= n <= w.size:
        raise SupervisionError(f"sample size must be between 1 and {w.size}, got {n}")
    pi = np.zeros_like(w)
    certain = np.zeros(w.size, dtype=bool)
    while True:
        rest = ~certain
        remaining = n - int(certain.sum())
        pi[rest] = remaining * w[rest] / w[rest].sum()
        pi[certain] = 1.0
        newly = rest & (pi >= 1.0)
        if not newly.any():
            return pi
        certain |= newly


def risk_weighted(
    ids: Sequence[str], risk: npt.ArrayLike, n: int, seed: int, *, floor_share: float = 0.2
) -> SampleDraw:
    """Fixed-size sample with inclusion probabilities growing with the risk scores."""
    _check_population(ids, n)
    _check_seed(seed)
    r = np.asarray(risk, dtype=np.float64)
    if r.shape != (len(ids),) or not np.all(np.isfinite(r)) or np.any(r < 0):
        raise SupervisionError("risk must hold one finite non-negative score per meter")
    if not 0.0 < floor_share <= 1.0:
        raise SupervisionError("floor_share must be in (0, 1]")
    mean = float(r.mean())
    relative = r / mean if mean > 0 else np.ones_like(r)
    pi = capped_inclusion_probabilities((1.0 - floor_share) * relative + floor_share, n)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(ids))
    cumulative = np.cumsum(pi[order])
    cumulative *= n / cumulative[-1]
    points = rng.random() + np.arange(n)
    hits = np.minimum(np.searchsorted(cumulative, points, side="right"), len(ids) - 1)
    chosen = np.sort(order[hits])
    if np.unique(chosen).size != n:
        raise SupervisionError("systematic draw selected a unit twice; inclusion probabilities > 1")
    return SampleDraw(
        seed=seed,
        method="risk_weighted_systematic_pps",
        population_size=len(ids),
        selected_ids=tuple(ids[i] for i in chosen),
        inclusion_probabilities=tuple(float(pi[i]) for i in chosen),
        generator=GENERATOR,
        floor_share=floor_share,
    )


def exceedance_risk(
    estimate: npt.ArrayLike,
    uncertainty: npt.ArrayLike,
    mpe: npt.ArrayLike,
    drift: npt.ArrayLike = 0.0,
) -> npt.NDArray[np.float64]:
    """Risk score from the detectors: P(|ε| > MPE) with ε ~ N(estimate + drift, uncertainty²).

    ``estimate``, ``uncertainty`` (standard, > 0) and ``mpe`` are in %, ``drift`` is the
    expected change of the error until the inspection, in %.
    """
    mean = np.asarray(estimate, dtype=np.float64) + np.asarray(drift, dtype=np.float64)
    u = np.asarray(uncertainty, dtype=np.float64)
    limit = np.asarray(mpe, dtype=np.float64)
    if np.any(u <= 0) or np.any(limit <= 0):
        raise SupervisionError("uncertainties and MPEs must be positive")
    phi = np.vectorize(NormalDist().cdf, otypes=[np.float64])
    return np.asarray(phi((-limit - mean) / u) + 1.0 - phi((limit - mean) / u), dtype=np.float64)


def horvitz_thompson(
    draw: SampleDraw, nonconforming: Sequence[bool], *, confidence: float = 0.95
) -> NonconformingEstimate:
    """HT estimate of the lot's nonconforming fraction from the inspected sample."""
    if len(nonconforming) != len(draw.selected_ids):
        raise SupervisionError("need one nonconforming flag per selected meter")
    if not 0.0 < confidence < 1.0:
        raise SupervisionError("confidence must be in (0, 1)")
    y = np.asarray(nonconforming, dtype=np.float64)
    pi = np.asarray(draw.inclusion_probabilities, dtype=np.float64)
    n, big_n = y.size, draw.population_size
    expanded = y / pi
    total = float(expanded.sum())
    weight = 1.0 - pi
    variance_total = 0.0
    if n > 1 and weight.sum() > 0:
        centre = float((weight * expanded).sum() / weight.sum())
        variance_total = n / (n - 1) * float((weight * (expanded - centre) ** 2).sum())
    fraction = total / big_n
    variance = variance_total / big_n**2
    lower, upper = wilson_interval(min(fraction, 1.0), variance, n, confidence)
    return NonconformingEstimate(
        fraction=fraction,
        variance=variance,
        lower=lower,
        upper=upper,
        confidence=confidence,
        sample_size=n,
        nonconforming_in_sample=int(y.sum()),
    )


def wilson_interval(
    fraction: float, variance: float, n: int, confidence: float
) -> tuple[float, float]:
    """Wilson score interval for a fraction with Kish's effective sample size."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    spread = fraction * (1.0 - fraction)
    n_eff = spread / variance if variance > 0 and spread > 0 else float(n)
    centre = (fraction + z * z / (2 * n_eff)) / (1 + z * z / n_eff)
    half = z / (1 + z * z / n_eff) * math.sqrt(spread / n_eff + z * z / (4 * n_eff * n_eff))
    return max(0.0, centre - half), min(1.0, centre + half)
