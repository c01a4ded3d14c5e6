"""Seeded sample draws, inclusion probabilities and the Horvitz–Thompson estimate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from supervision.errors import SupervisionError
from supervision.sampling import (
    capped_inclusion_probabilities,
    exceedance_risk,
    horvitz_thompson,
    risk_weighted,
    simple_random,
)

IDS = [f"m{i:03d}" for i in range(40)]
RISK = np.linspace(0.0, 3.0, 40) ** 2


def test_same_seed_gives_the_same_draw() -> None:
    assert simple_random(IDS, 8, seed=7) == simple_random(IDS, 8, seed=7)
    assert risk_weighted(IDS, RISK, 8, seed=7) == risk_weighted(IDS, RISK, 8, seed=7)
    assert simple_random(IDS, 8, seed=7).selected_ids != simple_random(IDS, 8, seed=8).selected_ids
    assert (
        risk_weighted(IDS, RISK, 8, seed=7).selected_ids
        != risk_weighted(IDS, RISK, 8, seed=8).selected_ids
    )


def test_draws_are_pinned_for_a_recorded_seed() -> None:
    # Exact selections: a change of code or of numpy's stream shows up here first.
    assert simple_random(IDS, 5, seed=2026).selected_ids == ("m001", "m006", "m014", "m024", "m030")
    draw = risk_weighted(IDS, RISK, 5, seed=2026)
    assert draw.selected_ids == ("m000", "m015", "m031", "m035", "m038")
    # no unit is capped here, so pi_i = n * (0.8 * r_i / mean(r) + 0.2) / N
    expected = [5 * (0.8 * RISK[int(i[1:])] / RISK.mean() + 0.2) / 40 for i in draw.selected_ids]
    assert draw.inclusion_probabilities == pytest.approx(expected)
    assert draw.inclusion_probabilities[0] == pytest.approx(0.025)


def test_simple_random_draw_is_recorded_with_its_probabilities() -> None:
    draw = simple_random(IDS, 8, seed=3)
    assert (draw.seed, draw.method, draw.population_size) == (3, "simple_random", 40)
    assert len(set(draw.selected_ids)) == 8
    assert set(draw.selected_ids) <= set(IDS)
    assert draw.inclusion_probabilities == (0.2,) * 8
    assert draw.generator == f"numpy {np.__version__} default_rng (PCG64)"


def test_capped_probabilities_sum_to_n_and_stay_at_most_one() -> None:
    pi = capped_inclusion_probabilities([100.0, 50.0, 1.0, 1.0, 1.0, 1.0], 3)
    assert pi[:2].tolist() == [1.0, 1.0]
    assert pi[2:] == pytest.approx([0.25] * 4)
    assert pi.sum() == pytest.approx(3.0)


def test_risk_weighted_draw_selects_certainty_units_and_keeps_everyone_possible() -> None:
    risk = np.zeros(40)
    risk[5] = 1000.0
    draws = [risk_weighted(IDS, risk, 4, seed=s) for s in range(30)]
    assert all("m005" in d.selected_ids for d in draws)
    assert all(len(set(d.selected_ids)) == 4 for d in draws)
    first = draws[0]
    assert first.inclusion_probabilities[first.selected_ids.index("m005")] == 1.0
    others = [
        p
        for d in draws
        for i, p in zip(d.selected_ids, d.inclusion_probabilities, strict=True)
        if i != "m005"
    ]
    assert others == pytest.approx([3 / 39] * len(others))  # the floor: zero risk keeps pi > 0


def test_higher_risk_gets_higher_inclusion_probability() -> None:
    draw = risk_weighted(IDS, RISK, 10, seed=11)
    by_id = dict(zip(draw.selected_ids, draw.inclusion_probabilities, strict=True))
    ordered = [by_id[i] for i in sorted(by_id)]
    assert ordered == sorted(ordered)
    assert draw.method == "risk_weighted_systematic_pps"
    assert draw.floor_share == 0.2


def test_horvitz_thompson_is_unbiased_and_pi_are_realised() -> None:
    ids = [f"m{i}" for i in range(10)]
    risk = np.array([0.1, 0.2, 0.3, 0.5, 1.0, 1.5, 2.0, 3.0, 6.0, 9.0])
    bad = {"m2", "m6", "m9"}  # true nonconforming fraction 3/10
    n, runs = 4, 20_000
    estimates = np.empty(runs)
    hits = dict.fromkeys(ids, 0)
    expected_pi: dict[str, float] = {}
    for seed in range(runs):
        draw = risk_weighted(ids, risk, n, seed=seed)
        estimates[seed] = horvitz_thompson(draw, [i in bad for i in draw.selected_ids]).fraction
        for i, p in zip(draw.selected_ids, draw.inclusion_probabilities, strict=True):
            hits[i] += 1
            expected_pi[i] = p
    standard_error = estimates.std(ddof=1) / math.sqrt(runs)
    assert abs(estimates.mean() - 0.3) < 4 * standard_error
    for i in ids:
        p = expected_pi[i]
        assert abs(hits[i] / runs - p) < 4 * math.sqrt(p * (1 - p) / runs) + 1e-12


def test_variance_reduces_to_the_simple_random_sampling_formula() -> None:
    draw = simple_random(IDS, 10, seed=5)
    flags = [True, False, False, True, False, False, False, True, False, False]
    estimate = horvitz_thompson(draw, flags)
    f, s2 = 10 / 40, np.var(np.array(flags, dtype=float), ddof=1)
    assert estimate.fraction == pytest.approx(0.3)
    assert estimate.variance == pytest.approx((1 - f) * s2 / 10)
    z, n_eff = 1.959963984540054, 0.3 * 0.7 / estimate.variance
    centre = (0.3 + z * z / (2 * n_eff)) / (1 + z * z / n_eff)
    half = z / (1 + z * z / n_eff) * math.sqrt(0.21 / n_eff + z * z / (4 * n_eff**2))
    assert (estimate.lower, estimate.upper) == pytest.approx((centre - half, centre + half))
    assert (estimate.sample_size, estimate.nonconforming_in_sample) == (10, 3)


def test_no_nonconforming_found_still_gives_an_upper_bound() -> None:
    draw = simple_random(IDS, 5, seed=1)
    none_found = horvitz_thompson(draw, [False] * 5)
    assert (none_found.fraction, none_found.variance, none_found.lower) == (0.0, 0.0, 0.0)
    z2 = 1.959963984540054**2
    assert none_found.upper == pytest.approx(z2 / (5 + z2))
    all_found = horvitz_thompson(draw, [True] * 5)
    assert (all_found.fraction, all_found.upper) == (1.0, 1.0)
    assert all_found.lower == pytest.approx(5 / (5 + z2))


def test_exceedance_risk_from_detector_outputs() -> None:
    risk = exceedance_risk([0.0, 2.0, 0.0], [1.0, 1.0, 1.0], [2.0, 2.0, 2.0], drift=[0.0, 0.0, 2.0])
    assert risk[0] == pytest.approx(2 * (1 - 0.9772498680518208))
    assert risk[1] == pytest.approx(0.5 + (1 - 0.9999683287581669))
    assert risk[2] == pytest.approx(risk[1])
    with pytest.raises(SupervisionError):
        exceedance_risk([0.0], [0.0], [2.0])


@pytest.mark.parametrize(
    "call",
    [
        lambda: simple_random(["a", "a"], 1, seed=1),
        lambda: simple_random(IDS, 0, seed=1),
        lambda: simple_random(IDS, 41, seed=1),
        lambda: simple_random(IDS, 4, seed=-1),
        lambda: risk_weighted(IDS, RISK[:5], 4, seed=1),
        lambda: risk_weighted(IDS, -RISK, 4, seed=1),
        lambda: risk_weighted(IDS, RISK, 4, seed=1, floor_share=0.0),
        lambda: horvitz_thompson(simple_random(IDS, 4, seed=1), [True]),
        lambda: capped_inclusion_probabilities([1.0, 0.0], 1),
    ],
)
def test_bad_input_is_refused(call: object) -> None:
    with pytest.raises(SupervisionError):
        call()  # type: ignore[operator]
