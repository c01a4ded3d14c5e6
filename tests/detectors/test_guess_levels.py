from __future__ import annotations

import numpy as np

from detectors.bridging import OBSERVED, SPLIT, UNKNOWN
from detectors.guess_levels import level_nuisances, marginalise_levels


def test_long_guesses_and_settled_debts_get_a_level_and_single_cells_do_not() -> None:
    kind = np.full((4, 4), OBSERVED)  # master, then meters a, b, c
    kind[1:, 1] = UNKNOWN  # a: three guessed cells
    kind[3, 2] = UNKNOWN  # b: one guessed cell
    filled = np.arange(16, dtype=float).reshape(4, 4)
    mean, var = np.full(4, 10.0), np.full(4, 4.0)
    first = np.array([0, 0, 0, 1])
    owed_var = np.array([0.0, 0.0, 0.0, 36.0])  # c settled a debt in its row 1
    meters, columns, sd = level_nuisances(
        kind, filled, mean, var, first, owed_var, np.array([1.0, 1.0, 0.98]), 1.0
    )
    assert meters.tolist() == [0, -1]
    np.testing.assert_array_equal(columns[:, 0], [0.0, 5.0, 9.0, 13.0])
    np.testing.assert_array_equal(columns[:, 1], [3.0, 3.0, 0.0, 0.0])  # √36 over 2 rows
    np.testing.assert_array_equal(sd, [1.0, 0.98])


def test_a_long_guess_also_moves_by_segment() -> None:
    """With ``shape_rows`` 2, meter a's guess (rows 1-3) gets a deviation in each segment of
    two rows that it has guessed cells in, after its level and the settled debt's nuisance;
    the single guessed cell of b still gets none."""
    kind = np.full((4, 4), OBSERVED)
    kind[1:, 1] = UNKNOWN
    kind[3, 2] = UNKNOWN
    filled = np.arange(16, dtype=float).reshape(4, 4)
    mean, var = np.full(4, 10.0), np.full(4, 4.0)
    first, owed_var = np.array([0, 0, 0, 1]), np.array([0.0, 0.0, 0.0, 36.0])
    theta = np.array([0.9, 1.0, 0.98])
    meters, columns, sd = level_nuisances(
        kind, filled, mean, var, first, owed_var, theta, 1.0, shape_rows=2
    )
    assert meters.tolist() == [0, -1, -1, -1]
    np.testing.assert_array_equal(columns[:, 2], [0.0, 5.0, 0.0, 0.0])
    np.testing.assert_array_equal(columns[:, 3], [0.0, 0.0, 9.0, 13.0])
    np.testing.assert_array_equal(columns[:, 2] + columns[:, 3], columns[:, 0])
    np.testing.assert_array_equal(sd, [0.9, 0.98, 0.9, 0.9])


def test_a_long_bridged_span_moves_by_segment_and_a_short_one_does_not() -> None:
    """With ``shape_rows`` 2, meter a's span bridges rows 0-4 (four unread boundaries, its
    total known, split evenly): longer than a segment, it gets a deviation in each segment,
    centred on the span so that its total stays exact, and no level. Meter b has two spans of
    two rows, 1-2 and 3-4 (one unread boundary each), adjacent but each one segment long:
    nothing."""
    kind = np.full((6, 3), OBSERVED)
    kind[:5, 1] = SPLIT
    kind[1:5, 2] = SPLIT
    bridge = np.zeros((6, 2))
    bridge[:4, 0] = [0.8, 1.2, 1.2, 0.8]  # j(k − j)/k, k = 5
    bridge[[1, 3], 1] = 0.5  # k = 2
    filled = np.full((6, 3), 7.0)
    mean, var = np.full(3, 10.0), np.full(3, 4.0)
    meters, columns, sd = level_nuisances(
        kind, filled, mean, var, np.zeros(3, dtype=np.intp), np.zeros(3), np.array([0.9, 1.0]),
        1.0, shape_rows=2, bridge=bridge,
    )  # fmt: skip
    assert meters.tolist() == [-1, -1, -1]
    np.testing.assert_allclose(  # 7 in each segment's rows, less its share (14, 14, 7 of 35)
        columns,
        [[4.2, -2.8, -1.4], [4.2, -2.8, -1.4], [-2.8, 4.2, -1.4], [-2.8, 4.2, -1.4],
         [-2.8, -2.8, 5.6], [0, 0, 0]],
        atol=1e-12,
    )  # fmt: skip
    np.testing.assert_allclose(columns.sum(axis=0), 0.0, atol=1e-12)
    np.testing.assert_array_equal(sd, [0.9, 0.9, 0.9])


def test_segments_widen_when_many_meters_are_guessed() -> None:
    """Ten meters guessed over a day of 96 rows, at most 40 segments in all: 4 segments of 24
    rows each instead of 24 of 4 rows; at most 10, none."""
    kind = np.full((96, 11), UNKNOWN)
    kind[:, 0] = OBSERVED
    filled = np.ones((96, 11))
    mean, var = np.full(11, 1.0), np.full(11, 0.01)
    meters, columns, sd = level_nuisances(
        kind, filled, mean, var, np.zeros(11, dtype=np.intp), np.zeros(11), np.ones(10), 1.0,
        shape_rows=4, max_shapes=40,
    )  # fmt: skip
    assert (meters >= 0).sum() == 10 and (meters == -1).sum() == 40 and (sd == 1.0).all()
    np.testing.assert_array_equal(columns[:, 10:].sum(axis=0), np.full(40, 24.0))
    few = level_nuisances(
        kind, filled, mean, var, np.zeros(11, dtype=np.intp), np.zeros(11), np.ones(10), 1.0,
        shape_rows=4, max_shapes=10,
    )  # fmt: skip
    assert few[0].tolist() == list(range(10))  # a segment per meter would be its level again


def test_marginalising_a_nuisance_is_the_schur_complement() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(20, 4))  # two parameters, one nuisance, the data column
    info = a.T @ a
    reduced, eta, eta_var = marginalise_levels(
        info, np.array([2.0]), np.array([0]), np.zeros(2), np.ones(2), 1.0
    )
    m = info.copy()
    m[2, 2] += 0.25
    keep = [0, 1, 3]
    want = m[np.ix_(keep, keep)] - np.outer(m[keep, 2], m[2, keep]) / m[2, 2]
    np.testing.assert_allclose(reduced, want, rtol=1e-12)
    joint = info[:3, :3] + np.diag([1.0, 1.0, 0.25])
    np.testing.assert_allclose(eta, np.linalg.solve(joint, info[:3, 3])[2:], rtol=1e-10)
    np.testing.assert_allclose(eta_var, np.linalg.inv(joint)[2, 2], rtol=1e-10)
