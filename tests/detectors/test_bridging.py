import numpy as np
import pytest

from detectors.bridging import (
    ANCHORED,
    SPLIT,
    UNKNOWN,
    daily_profile,
    fill_area,
    fill_gaps,
    slot_sums,
)


def test_profiles_follow_each_meters_own_day() -> None:
    slot = np.tile(np.arange(4), 50)  # 4 slots a day, 50 days
    values = np.column_stack([np.tile([1.0, 1.0, 1.0, 5.0], 50), np.full(200, 2.0)])
    single = np.ones(values.shape, dtype=bool)
    single[3::4, 1] = False  # the even meter's last slot is never read alone
    sums = slot_sums(values, single, slot, 4)
    assert sums[0, :, 0].tolist() == [50.0] * 4
    assert sums[:, 3, 1].tolist() == [0.0, 0.0]
    profile = daily_profile(sums, np.arange(4), prior_count=0.0)
    np.testing.assert_allclose(profile[:, 0], [0.5, 0.5, 0.5, 2.5])  # mean 2 per reading
    np.testing.assert_allclose(profile[:, 1], [1.0, 1.0, 1.0, 1.0])  # unseen slot: even
    shrunk = daily_profile(sums, np.arange(4), prior_count=50.0)
    np.testing.assert_allclose(shrunk[:, 0], [0.75, 0.75, 0.75, 1.75])  # halfway to even


def test_profiles_without_history_are_even_and_never_empty() -> None:
    empty = np.zeros((2, 24, 3))
    assert (daily_profile(empty, np.arange(24)) == 1.0).all()
    sums = np.zeros((2, 2, 1))
    sums[:, 0, 0] = [100.0, 0.0]  # a slot that is always idle
    sums[:, 1, 0] = [100.0, 400.0]
    profile = daily_profile(sums, np.array([0, 1]), prior_count=0.0, floor=0.05)
    np.testing.assert_allclose(profile[:, 0], [0.05, 2.0])


def test_spans_follow_the_column_shape_and_keep_their_totals() -> None:
    values = np.array([[np.nan, 1.0], [np.nan, np.nan], [8.0, np.nan], [np.nan, 3.0]])
    shape = np.array([[1.0, 1.0], [1.0, 1.0], [2.0, 1.0], [3.0, 1.0]])
    states = np.array([ANCHORED, ANCHORED])
    filled, kind, _ = fill_gaps(values, shape, np.array([10.0, 1.0]), states)
    np.testing.assert_allclose(filled[:3, 0], [2.0, 2.0, 4.0])  # 8 along 1 : 1 : 2
    np.testing.assert_allclose(filled[3, 0], 30.0)  # still open: fallback · shape
    assert kind[:, 0].tolist() == [SPLIT, SPLIT, SPLIT, UNKNOWN]
    np.testing.assert_allclose(filled[:, 1], [1.0, 1.0, 1.0, 1.0])  # evenly along ones


def test_an_area_splits_meters_by_profile_and_the_master_by_their_total() -> None:
    rows = np.array([[np.nan, np.nan, 1.0], [30.0, 12.0, 3.0]])
    profile = np.array([[1.0, 1.0], [2.0, 1.0]])
    filled, kind, _ = fill_area(rows, np.zeros(3), np.full(3, ANCHORED), profile)
    np.testing.assert_allclose(filled[:, 1], [4.0, 8.0])
    assert kind[:, :2].tolist() == [[SPLIT, SPLIT], [SPLIT, SPLIT]]
    total = filled[:, 1:].sum(axis=1)  # 5 and 11: the master's 30 along them
    assert filled[:, 0] == pytest.approx(30.0 * total / total.sum(), rel=1e-3)
    even, _, _ = fill_area(rows, np.zeros(3), np.full(3, ANCHORED))
    np.testing.assert_allclose(even[:, 1], [6.0, 6.0])
