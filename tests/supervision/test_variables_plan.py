"""s-method variables plans: the data file, its derivation and the OC match."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest

from supervision.errors import PlanNotFound, SupervisionError
from supervision.tables import read_data_rows
from supervision.variables import (
    binomial_acceptance,
    derived_rows,
    design_s_plan,
    quality_at_acceptance,
    variables_plan,
)


def test_data_file_equals_its_documented_derivation() -> None:
    assert read_data_rows("variables_s_method.csv") == derived_rows()


def wallis_acceptance(n: int, k: float, p: float) -> float:
    """Approximate OC of an s-method plan (Wallis): P(Q >= k) at nonconforming fraction p."""
    z_p = NormalDist().inv_cdf(1 - p)
    return NormalDist().cdf((z_p - k) / math.sqrt(1 / n + k * k / (2 * n)))


@pytest.mark.parametrize(
    ("n_attr", "ac", "aql"), [(80, 2, 1.0), (125, 3, 1.0), (32, 1, 1.5), (200, 10, 2.5)]
)
def test_design_matches_the_attributes_plan_at_both_points(
    n_attr: int, ac: int, aql: float
) -> None:
    n, k = design_s_plan(n_attr, ac, aql)
    p1, p2 = aql / 100, quality_at_acceptance(n_attr, ac, 0.10)
    assert binomial_acceptance(n_attr, ac, p2) == pytest.approx(0.10, abs=1e-9)
    assert wallis_acceptance(n, k, p1) == pytest.approx(
        binomial_acceptance(n_attr, ac, p1), abs=0.01
    )
    assert wallis_acceptance(n, k, p2) == pytest.approx(0.10, abs=0.01)
    assert n < n_attr  # the point of a variables plan: fewer meters for the same protection


def test_binomial_acceptance_by_hand() -> None:
    assert binomial_acceptance(10, 0, 0.1) == pytest.approx(0.9**10)
    assert binomial_acceptance(10, 1, 0.1) == pytest.approx(0.9**10 + 10 * 0.1 * 0.9**9)
    assert (binomial_acceptance(5, 1, 0.0), binomial_acceptance(5, 1, 1.0)) == (1.0, 0.0)


def test_plan_for_a_lot() -> None:
    plan = variables_plan(1000, 1.0)
    assert (plan.code_letter, plan.n, plan.k) == ("J", 37, 1.865)
    assert plan.unsure
    assert "not ISO 3951-1 table values" in plan.notes[0]
    tightened = variables_plan(1000, 1.0, severity="tightened")
    assert tightened.k > plan.k
    ks = [variables_plan(1000, aql).k for aql in (0.15, 0.65, 1.0, 2.5, 6.5, 10)]
    assert ks == sorted(ks, reverse=True)


def test_small_lot_is_inspected_whole() -> None:
    plan = variables_plan(10, 0.010)
    assert (plan.n, plan.hundred_percent) == (10, True)


def test_no_variables_plan_above_aql_10() -> None:
    with pytest.raises(PlanNotFound):
        variables_plan(1000, 15)
    with pytest.raises(SupervisionError):
        variables_plan(1000, 1.0, severity="strict")  # type: ignore[arg-type]
