"""Lot verdicts at the Ac/Re edges, decision rules for test uncertainty, and the field check."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest

from supervision.attributes import single_plan
from supervision.errors import SupervisionError
from supervision.variables import VariablesPlan
from supervision.verdict import (
    InspectionResult,
    attributes_verdict,
    field_check,
    is_nonconforming,
    variables_verdict,
)

MPE = 2.0
PLAN = single_plan(1000, 1.0)  # J: n=80, Ac=2, Re=3


def result(i: int, error: float, u: float = 0.2) -> InspectionResult:
    return InspectionResult(
        f"m{i:03d}", date(2026, 11, 2), error, u, "inspector 7", "ref meter RS-3"
    )


def sample(nonconforming: int, n: int = 80) -> list[InspectionResult]:
    return [result(i, 2.5 if i < nonconforming else 0.3) for i in range(n)]


@pytest.mark.parametrize(
    ("count", "decision"), [(0, "accept"), (2, "accept"), (3, "reject"), (5, "reject")]
)
def test_attributes_verdict_at_the_ac_re_edges(count: int, decision: str) -> None:
    verdict = attributes_verdict(PLAN, sample(count), MPE)
    assert (verdict.decision, verdict.nonconforming, verdict.inspected) == (decision, count, 80)
    assert (verdict.ac, verdict.re, verdict.method, verdict.rule) == (2, 3, "attributes", "simple")


def test_reject_is_reached_before_the_whole_sample_is_tested() -> None:
    early = sample(3, n=10)
    assert attributes_verdict(PLAN, early, MPE).decision == "reject"
    with pytest.raises(SupervisionError, match="no decision"):
        attributes_verdict(PLAN, sample(2, n=79), MPE)
    with pytest.raises(SupervisionError):
        attributes_verdict(PLAN, sample(0, n=81), MPE)


def test_error_exactly_at_the_mpe_conforms() -> None:
    assert not is_nonconforming(result(0, 2.0), MPE)
    assert not is_nonconforming(result(0, -2.0), MPE)
    assert is_nonconforming(result(0, -2.01), MPE)


@pytest.mark.parametrize(
    ("error", "simple", "guarded_acceptance", "guarded_rejection"),
    [
        (1.7, False, False, False),
        (1.9, False, True, False),
        (2.1, True, True, False),
        (2.3, True, True, True),
    ],
)
def test_decision_rules_for_test_uncertainty(
    error: float, simple: bool, guarded_acceptance: bool, guarded_rejection: bool
) -> None:
    tested = result(0, error, u=0.25)
    assert is_nonconforming(tested, MPE, "simple") is simple
    assert is_nonconforming(tested, MPE, "guarded_acceptance") is guarded_acceptance
    assert is_nonconforming(tested, MPE, "guarded_rejection") is guarded_rejection


def test_rule_changes_the_verdict_of_a_borderline_lot() -> None:
    results = [result(i, 2.1 if i < 3 else 0.1, u=0.25) for i in range(80)]
    assert attributes_verdict(PLAN, results, MPE, "simple").decision == "reject"
    assert attributes_verdict(PLAN, results, MPE, "guarded_rejection").decision == "accept"


def test_wide_test_uncertainty_is_noted_under_simple_acceptance() -> None:
    results = sample(0)
    results[4] = result(4, 0.1, u=0.9)
    verdict = attributes_verdict(PLAN, results, MPE)
    assert verdict.notes == ("test uncertainty U > MPE/3 for 1 meter(s): m004",)


@pytest.mark.parametrize(
    "results",
    [
        [result(1, 0.1), result(1, 0.2)],
        [result(1, math.nan)],
        [result(1, 0.1, u=-0.1)],
    ],
)
def test_bad_results_are_refused(results: list[InspectionResult]) -> None:
    with pytest.raises(SupervisionError):
        attributes_verdict(PLAN, results, MPE)


def variables_plan_with(k: float, n: int) -> VariablesPlan:
    return VariablesPlan("F", n, k, "normal", "1.0", "II", 200, False, True, "test")


def test_variables_verdict_at_the_k_edge() -> None:
    errors = [0.3, -0.4, 0.9, 0.1, -0.2, 0.6, 0.0, 0.5]
    results = [result(i, e) for i, e in enumerate(errors)]
    mean, s = float(np.mean(errors)), float(np.std(errors, ddof=1))
    q_upper, q_lower = (MPE - mean) / s, (mean + MPE) / s
    k = min(q_upper, q_lower)
    at_edge = variables_verdict(variables_plan_with(k, 8), results, MPE)
    assert at_edge.decision == "accept"
    assert (at_edge.q_upper, at_edge.q_lower) == pytest.approx((q_upper, q_lower))
    assert variables_verdict(variables_plan_with(k + 1e-9, 8), results, MPE).decision == "reject"
    assert at_edge.nonconforming == 0


def test_combined_control_rejects_a_centred_lot_with_too_much_spread() -> None:
    errors = [-1.2, -0.8, -0.4, 0.0, 0.0, 0.4, 0.8, 1.2]
    results = [result(i, e) for i, e in enumerate(errors)]
    mpe = 1.6 * float(np.std(errors, ddof=1))  # Q_U = Q_L = 1.6
    plan = variables_plan_with(1.5, 8)
    separate = variables_verdict(plan, results, mpe)
    combined = variables_verdict(plan, results, mpe, "combined")
    assert (separate.q_upper, separate.q_lower) == pytest.approx((1.6, 1.6))
    # separate: 1.6 >= 1.5 on both sides; combined: 2 * Phi(-1.6) = 0.110 > Phi(-1.5) = 0.067
    assert (separate.decision, combined.decision) == ("accept", "reject")
    assert combined.control == "combined"
    assert variables_verdict(plan, results, 2.4, "combined").decision == "accept"  # Q = 3
    off_centre = [result(i, e + 1.0) for i, e in enumerate(errors)]  # s = 0.8, mean 1.0
    assert variables_verdict(plan, off_centre, 2.4, "separate").q_upper == pytest.approx(1.75)
    assert variables_verdict(plan, off_centre, 2.4, "separate").decision == "accept"
    assert variables_verdict(plan, off_centre, 2.4, "combined").decision == "accept"
    assert variables_verdict(plan, off_centre, 2.0, "combined").decision == "reject"  # Q_U = 1.25
    with pytest.raises(SupervisionError):
        variables_verdict(plan, results, 2.4, "both")  # type: ignore[arg-type]


def test_variables_verdict_with_no_spread() -> None:
    inside = [result(i, 0.5) for i in range(5)]
    outside = [result(i, 2.5) for i in range(5)]
    assert variables_verdict(variables_plan_with(1.5, 5), inside, MPE).decision == "accept"
    assert variables_verdict(variables_plan_with(1.5, 5), outside, MPE).decision == "reject"
    with pytest.raises(SupervisionError):
        variables_verdict(variables_plan_with(1.5, 6), inside, MPE)


def test_field_check_figures() -> None:
    check = field_check(
        estimates=[0.5, -0.2, 1.0, 0.0],
        uncertainties=[0.2, 0.2, 0.2, 0.2],
        measured=[0.4, 0.3, 1.1, -0.3],
        measured_u=[0.1, 0.1, 0.1, 0.2],
    )
    # differences: 0.1, -0.5, -0.1, 0.3
    assert check.count == 4
    assert check.bias == pytest.approx(-0.05)
    assert check.mae == pytest.approx(0.25)
    assert check.rmse == pytest.approx(math.sqrt((0.01 + 0.25 + 0.01 + 0.09) / 4))
    assert check.coverage == pytest.approx(0.75)  # |-0.5| > 2 * 0.2
    assert check.coverage_combined == pytest.approx(0.75)  # 0.5 > 2 * sqrt(0.05) = 0.447
    wider = field_check([0.0], [0.2], [0.5], [0.2])
    assert (wider.coverage, wider.coverage_combined) == (0.0, 1.0)


@pytest.mark.parametrize(
    "args",
    [
        ([], [], [], []),
        ([0.1, 0.2], [0.1], [0.1, 0.2], [0.1, 0.1]),
        ([0.1], [-0.1], [0.1], [0.1]),
        ([math.inf], [0.1], [0.1], [0.1]),
    ],
)
def test_field_check_refuses_bad_input(args: tuple[list[float], ...]) -> None:
    with pytest.raises(SupervisionError):
        field_check(*args)
