"""Inspection results -> lot verdict, and the field check of the error estimator.

A verdict is ``accept`` or ``reject``; ``reject`` means a replacement order for the whole lot.

Nonconforming meter: ``|measured error| > MPE`` under the chosen decision rule. The
measurement uncertainty of the on-site test (expanded, k = 2, as on the test certificate) is
treated by one of three documented rules (after ILAC-G8:09/2019, decision rules):

- ``simple``: simple acceptance, the measured value alone is compared with the MPE. ILAC-G8
  accepts this when the test uncertainty is small against the tolerance; verdicts list every
  result whose ``U`` exceeds a third of the MPE (test uncertainty ratio below 3).
- ``guarded_acceptance``: a meter conforms only if ``|e| <= MPE - U`` (guard band w = U):
  protects the consumer, counts doubtful meters as nonconforming.
- ``guarded_rejection``: a meter is nonconforming only if ``|e| > MPE + U``: the regulator
  counts only nonconformity proven beyond the test uncertainty (for enforcement).

Variables verdict (``variables_verdict``): ISO 3951-1-style s-method for the double limit
``L = -MPE``, ``U = +MPE`` with unknown σ, with ``separate`` or ``combined`` control of the
two limits (see ``supervision.variables`` for both and for where ``k`` comes from).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from statistics import NormalDist
from typing import Literal

import numpy as np
import numpy.typing as npt

from supervision.attributes import AttributesPlan
from supervision.errors import SupervisionError
from supervision.variables import VariablesPlan

Decision = Literal["accept", "reject"]
DecisionRule = Literal["simple", "guarded_acceptance", "guarded_rejection"]
DECISION_RULES: tuple[DecisionRule, ...] = ("simple", "guarded_acceptance", "guarded_rejection")
LimitControl = Literal["separate", "combined"]
_NORMAL = NormalDist()


@dataclass(frozen=True)
class InspectionResult:
    """One on-site test of a meter."""

    meter_id: str
    inspected_on: date
    measured_error_pct: float
    expanded_uncertainty_pct: float
    inspector: str
    equipment: str


@dataclass(frozen=True)
class LotVerdict:
    """The decision on a lot and the figures it rests on."""

    decision: Decision
    method: Literal["attributes", "variables"]
    inspected: int
    nonconforming: int
    rule: DecisionRule | None
    control: LimitControl | None = None
    ac: int | None = None
    re: int | None = None
    q_upper: float | None = None
    q_lower: float | None = None
    k: float | None = None
    notes: tuple[str, ...] = ()


def is_nonconforming(
    result: InspectionResult, mpe_pct: float, rule: DecisionRule = "simple"
) -> bool:
    """Whether one tested meter counts as nonconforming under ``rule``."""
    if mpe_pct <= 0:
        raise SupervisionError("MPE must be positive")
    if result.expanded_uncertainty_pct < 0:
        raise SupervisionError(f"negative uncertainty for meter {result.meter_id}")
    error = abs(result.measured_error_pct)
    if rule == "simple":
        return error > mpe_pct
    if rule == "guarded_acceptance":
        return error > mpe_pct - result.expanded_uncertainty_pct
    if rule == "guarded_rejection":
        return error > mpe_pct + result.expanded_uncertainty_pct
    raise SupervisionError(f"decision rule {rule!r} is not one of {', '.join(DECISION_RULES)}")


def _checked(results: Sequence[InspectionResult]) -> None:
    ids = [r.meter_id for r in results]
    if len(set(ids)) != len(ids):
        raise SupervisionError("a meter appears twice in the inspection results")
    for r in results:
        if not (math.isfinite(r.measured_error_pct) and math.isfinite(r.expanded_uncertainty_pct)):
            raise SupervisionError(
                f"non-finite measured error or uncertainty for meter {r.meter_id}"
            )


def _uncertainty_notes(results: Sequence[InspectionResult], mpe_pct: float) -> tuple[str, ...]:
    wide = [r.meter_id for r in results if r.expanded_uncertainty_pct > mpe_pct / 3]
    if not wide:
        return ()
    return (f"test uncertainty U > MPE/3 for {len(wide)} meter(s): {', '.join(sorted(wide))}",)


def attributes_verdict(
    plan: AttributesPlan,
    results: Sequence[InspectionResult],
    mpe_pct: float,
    rule: DecisionRule = "simple",
) -> LotVerdict:
    """Accept if the nonconforming count is at most Ac, reject from Re on.

    All ``plan.n`` results are needed, except that a lot may be rejected as soon as Re
    nonconforming meters are found.
    """
    _checked(results)
    count = sum(is_nonconforming(r, mpe_pct, rule) for r in results)
    if len(results) > plan.n:
        raise SupervisionError(f"{len(results)} results for a plan with sample size {plan.n}")
    if count >= plan.re:
        decision: Decision = "reject"
    elif len(results) < plan.n:
        raise SupervisionError(
            f"only {len(results)} of {plan.n} sampled meters inspected and no decision reached"
        )
    else:
        decision = "accept"
    notes = _uncertainty_notes(results, mpe_pct) if rule == "simple" else ()
    return LotVerdict(
        decision=decision,
        method="attributes",
        inspected=len(results),
        nonconforming=count,
        rule=rule,
        ac=plan.ac,
        re=plan.re,
        notes=notes,
    )


def variables_verdict(
    plan: VariablesPlan,
    results: Sequence[InspectionResult],
    mpe_pct: float,
    control: LimitControl = "separate",
) -> LotVerdict:
    """s-method on the measured errors with limits ``±MPE``, each or both limits controlled."""
    _checked(results)
    if mpe_pct <= 0:
        raise SupervisionError("MPE must be positive")
    if plan.n < 2 or len(results) != plan.n:
        raise SupervisionError(f"{len(results)} results for a variables plan with n = {plan.n}")
    errors = np.array([r.measured_error_pct for r in results], dtype=np.float64)
    mean = float(errors.mean())
    s = float(errors.std(ddof=1))
    outside = int(np.count_nonzero(np.abs(errors) > mpe_pct))
    if s == 0.0:
        q_upper = math.inf if mean < mpe_pct else -math.inf
        q_lower = math.inf if mean > -mpe_pct else -math.inf
    else:
        q_upper = (mpe_pct - mean) / s
        q_lower = (mean + mpe_pct) / s
    if control == "separate":
        accepted = q_upper >= plan.k and q_lower >= plan.k
    elif control == "combined":
        accepted = _NORMAL.cdf(-q_upper) + _NORMAL.cdf(-q_lower) <= _NORMAL.cdf(-plan.k)
    else:
        raise SupervisionError(f"limit control {control!r} is not 'separate' or 'combined'")
    return LotVerdict(
        decision="accept" if accepted else "reject",
        method="variables",
        inspected=len(results),
        nonconforming=outside,
        rule=None,
        control=control,
        q_upper=q_upper,
        q_lower=q_lower,
        k=plan.k,
        notes=_uncertainty_notes(results, mpe_pct),
    )


@dataclass(frozen=True)
class FieldCheck:
    """How the estimator's errors compare with the on-site tests (the ground truth).

    ``bias`` and ``mae`` are in percentage points of error. ``coverage`` is the share of
    measured errors inside ``estimate ± k·u_est``; ``coverage_combined`` widens the interval
    to ``k·sqrt(u_est² + u_meas²)`` to allow for the test's own uncertainty.
    """

    count: int
    bias: float
    mae: float
    rmse: float
    coverage: float
    coverage_combined: float
    coverage_factor: float


def field_check(
    estimates: npt.ArrayLike,
    uncertainties: npt.ArrayLike,
    measured: npt.ArrayLike,
    measured_u: npt.ArrayLike,
    *,
    coverage_factor: float = 2.0,
) -> FieldCheck:
    """Bias, MAE, RMSE and interval coverage of estimates against inspection results.

    ``uncertainties`` and ``measured_u`` are standard uncertainties (k = 1) in %; divide
    a certificate's expanded uncertainty by its coverage factor first.
    """
    est = np.asarray(estimates, dtype=np.float64)
    u_est = np.asarray(uncertainties, dtype=np.float64)
    meas = np.asarray(measured, dtype=np.float64)
    u_meas = np.asarray(measured_u, dtype=np.float64)
    if est.ndim != 1 or est.size == 0 or not est.shape == u_est.shape == meas.shape == u_meas.shape:
        raise SupervisionError(
            "estimates, uncertainties, measured and measured_u need one equal length"
        )
    if not all(np.all(np.isfinite(a)) for a in (est, u_est, meas, u_meas)):
        raise SupervisionError("field check inputs must be finite")
    if np.any(u_est < 0) or np.any(u_meas < 0) or coverage_factor <= 0:
        raise SupervisionError("uncertainties and the coverage factor must not be negative")
    diff = est - meas
    inside = np.abs(diff) <= coverage_factor * u_est
    inside_combined = np.abs(diff) <= coverage_factor * np.sqrt(u_est**2 + u_meas**2)
    return FieldCheck(
        count=int(est.size),
        bias=float(diff.mean()),
        mae=float(np.abs(diff).mean()),
        rmse=float(np.sqrt((diff**2).mean())),
        coverage=float(inside.mean()),
        coverage_combined=float(inside_combined.mean()),
        coverage_factor=coverage_factor,
    )
