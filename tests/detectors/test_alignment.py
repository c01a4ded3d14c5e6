"""Which interval a skewed meter's readings belong to, from the balance residuals."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.alignment import EVIDENCE, AlignmentConfig, shift_decision, shift_evidence


def _household(rng: np.random.Generator, rows: int) -> np.ndarray:
    """Spiky 15-minute increments: a base load and bursts."""
    return rng.gamma(2.0, 40.0, rows) + 400.0 * (rng.random(rows) < 0.1)


def _residuals(true: np.ndarray, placed: np.ndarray, noise: float, seed: int) -> np.ndarray:
    """What the balance leaves when ``placed`` stands in for ``true`` (θ = 1)."""
    return true - placed + np.random.default_rng(seed).normal(0.0, noise, len(true))


@pytest.mark.parametrize(("lag", "move"), [(1, 1), (-1, -1), (0, 0)])
def test_a_meter_placed_one_interval_off_is_moved_back(lag: int, move: int) -> None:
    """Its true increments are ``p(t−lag)``: placed early (lag 1) it must move one later."""
    rng = np.random.default_rng(1)
    true = _household(rng, 98)
    placed = np.roll(true, -lag)
    r = _residuals(true, placed, 30.0, 2)
    evidence = shift_evidence(r[1:-1], placed[1:-1, None])
    moves, decided = shift_decision(evidence, held=[False])
    assert moves.tolist() == [move] and decided.tolist() == [move != 0]


def test_a_meter_held_out_is_decided_in_place_too() -> None:
    """Held out of the balance, the residuals carry its whole consumption (less the
    estimator's level guess): its own placement is then one of the three hypotheses."""
    rng = np.random.default_rng(3)
    true = _household(rng, 96)
    r = true - true.mean() + rng.normal(0.0, 30.0, 96)
    moves, decided = shift_decision(shift_evidence(r, true[:, None]), held=[True])
    assert moves.tolist() == [0] and decided.tolist() == [True]
    moves, decided = shift_decision(shift_evidence(r, true[:, None]), held=[False])
    assert decided.tolist() == [False]


def test_evidence_adds_up_over_blocks_until_it_decides() -> None:
    """One noisy block is not enough; four are (z grows as √blocks)."""
    rng = np.random.default_rng(4)
    total = np.zeros((1, EVIDENCE))
    decided_after = None
    for block in range(8):
        true = _household(rng, 98)
        placed = np.roll(true, -1)
        r = _residuals(true, placed, 500.0, 10 + block)
        total += shift_evidence(r[1:-1], placed[1:-1, None])
        moves, decided = shift_decision(total, held=[False])
        if decided[0]:
            decided_after = block + 1
            break
    assert decided_after is not None and 1 < decided_after <= 4 and moves.tolist() == [1]


def test_a_span_closing_after_a_gap_is_no_evidence() -> None:
    """The first value after a gap carries the whole span; it and its neighbours are left
    out, so a huge value next to a huge residual does not pose as a shift."""
    rng = np.random.default_rng(5)
    p = _household(rng, 96)
    p[40:45] = np.nan
    p[45] = 6_000.0  # six intervals' worth
    r = rng.normal(0.0, 30.0, 96)
    r[44:47] += 5_000.0  # the balance choked on it
    evidence = shift_evidence(r, p[:, None])
    assert shift_decision(evidence, held=[False])[1].tolist() == [False]
    other = p.copy()
    other[45] = 0.0
    np.testing.assert_array_equal(shift_evidence(r, other[:, None])[:, :12], evidence[:, :12])


def test_wild_residuals_are_winsorised_and_short_blocks_give_nothing() -> None:
    rng = np.random.default_rng(6)
    p = _household(rng, 96)
    r = rng.normal(0.0, 30.0, 96)
    r[10] = 1e6
    evidence = shift_evidence(r, p[:, None], AlignmentConfig(clip=4.0))
    assert np.abs(evidence[0, 9:12]).max() < 4.0 * 30.0 * 1.5 * np.abs(p).sum()
    assert not shift_evidence(r[:2], p[:2, None]).any()
    assert not shift_evidence(np.full(96, np.nan), p[:, None]).any()
    assert shift_decision(np.zeros((1, EVIDENCE)), held=[True])[1].tolist() == [False]
