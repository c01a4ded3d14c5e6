from __future__ import annotations

import doctest
import json

import numpy as np
import pytest

import detectors.drift
from detectors.drift import (
    Cusum,
    CusumConfig,
    ForecastConfig,
    MpeCrossingForecaster,
    PageHinkley,
    PageHinkleyConfig,
)
from meterwatch.errors import DetectorError

T0 = 1_700_000_000


def series(seed: int = 42) -> np.ndarray:
    """Four meters, 300 steps: noise, a step up at 150, a ramp down from 100, noise; 10 % NaN."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.3, (300, 4))
    x[150:, 1] += 1.0
    x[100:, 2] -= np.linspace(0, 3, 200)
    x[rng.random(x.shape) < 0.1] = np.nan
    return x


def alarms(det: Cusum | PageHinkley, x: np.ndarray) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for t, row in enumerate(x):
        det.update(row)
        out += [(t, int(i)) for i in np.flatnonzero(det.drift_detected)]
    return out


def test_doctests() -> None:
    assert doctest.testmod(detectors.drift).failed == 0


def test_cusum_seeded_exact_alarms() -> None:
    det = Cusum(4, CusumConfig(allowance=0.5, threshold=4.0))
    got = alarms(det, series())
    assert got[:4] == [(148, 2), (160, 1), (166, 2), (175, 2)]
    assert {i for _, i in got} == {1, 2}  # the pure-noise meters 0 and 3 never alarm


def test_cusum_direction_and_one_sided_mode() -> None:
    x = series()
    both = Cusum(4, CusumConfig(allowance=0.5, threshold=4.0))
    directions = {}
    for row in x:
        both.update(row)
        for i in np.flatnonzero(both.drift_detected):
            directions.setdefault(int(i), int(both.direction[i]))
    assert directions == {1: 1, 2: -1}
    up_only = Cusum(4, CusumConfig(allowance=0.5, threshold=4.0, mode="up"))
    assert {i for _, i in alarms(up_only, x)} == {1}


def test_page_hinkley_seeded_exact_alarms() -> None:
    assert alarms(PageHinkley(4), series()) == [(189, 2), (215, 1)]


@pytest.mark.parametrize(
    "config",
    [
        PageHinkleyConfig(),
        PageHinkleyConfig(min_instances=10, delta=0.05, threshold=5.0, mode="up"),
        PageHinkleyConfig(min_instances=10, delta=0.01, threshold=3.0, alpha=0.99, mode="down"),
    ],
)
def test_page_hinkley_equals_river_column_by_column(config: PageHinkleyConfig) -> None:
    river_drift = pytest.importorskip("river.drift")
    x = series(seed=7)
    ours = alarms(PageHinkley(4, config), x)
    theirs: list[tuple[int, int]] = []
    for i in range(4):
        ref = river_drift.PageHinkley(
            min_instances=config.min_instances,
            delta=config.delta,
            threshold=config.threshold,
            alpha=config.alpha,
            mode=config.mode,
        )
        for t in np.flatnonzero(~np.isnan(x[:, i])):  # River has no "missing": skip NaN
            ref.update(float(x[t, i]))
            if ref.drift_detected:
                theirs.append((int(t), i))
    assert ours == sorted(theirs)
    assert ours  # the comparison is not vacuous


def test_reset_series_restarts_one_column() -> None:
    det = Cusum(2, CusumConfig(allowance=0.0, threshold=10.0))
    det.update(np.array([3.0, 3.0]))
    det.reset_series([1])
    assert det.statistic_up.tolist() == [3.0, 0.0]
    ph = PageHinkley(2)
    ph.update(np.array([1.0, 2.0]))
    ph.reset_series(np.array([True, False]))
    assert ph.mean.tolist() == [0.0, 2.0]
    with pytest.raises(DetectorError, match="out of range"):
        det.reset_series([5])


def test_results_are_read_only_and_shapes_checked() -> None:
    det = PageHinkley(3)
    det.update(np.zeros(3))
    with pytest.raises(ValueError, match="read-only"):
        det.drift_detected[0] = True
    with pytest.raises(DetectorError, match="shape"):
        det.update(np.zeros(4))
    with pytest.raises(DetectorError, match="invalid"):
        CusumConfig(mode="sideways")


@pytest.mark.parametrize("cls", [Cusum, PageHinkley])
def test_snapshot_json_restore_continues_identically(cls: type[Cusum] | type[PageHinkley]) -> None:
    x = series()
    det = cls(4)
    alarms(det, x[:120])
    clone = cls.restore(json.loads(json.dumps(det.snapshot(), allow_nan=False)))
    assert alarms(clone, x[120:]) == alarms(det, x[120:])


def forecast_run(days: int = 120) -> tuple[MpeCrossingForecaster, dict[int, int], list[np.ndarray]]:
    rng = np.random.default_rng(42)
    d = np.arange(days)
    true = np.stack([0.5 + 0.03 * d, np.full(days, 0.3), -0.2 - 0.02 * d], axis=1)
    fc = MpeCrossingForecaster(np.full(3, 4.0))
    first: dict[int, int] = {}
    snaps = []
    for day in range(days):
        est = true[day] + rng.normal(0, 0.15, 3)
        fc.update(T0 + day * 86_400, est, np.full(3, 0.15))
        for i in np.flatnonzero(fc.trend_significant):
            first.setdefault(int(i), day)
        if day in (30, 60):
            snaps.append(fc.time_to_mpe_days.copy())
    return fc, first, snaps


def test_forecast_seeded_exact_first_significant_day_and_crossing() -> None:
    fc, first, (at30, at60) = forecast_run()
    assert first == {0: 13, 2: 15}  # the flat meter 1 never gets a forecast
    # true crossings: meter 0 at day 116.7, meter 2 at day 190
    assert at30[0] + 30 == pytest.approx(116.7, rel=0.1)
    assert at30[2] + 30 == pytest.approx(190.0, rel=0.1)
    assert at60[0] + 60 == pytest.approx(116.7, rel=0.05)
    assert np.isnan(at30[1]) and np.isnan(at60[1])
    # by day 119 meter 0 has crossed: the forecast is 0 days
    assert fc.time_to_mpe_days[0] == 0.0
    assert fc.slope_pct_per_day[0] == pytest.approx(0.03, abs=0.002)
    assert fc.slope_pct_per_day[2] == pytest.approx(-0.02, abs=0.002)
    early, late = fc.time_to_mpe_early_days[2], fc.time_to_mpe_late_days[2]
    assert early < fc.time_to_mpe_days[2] < late


def test_forecast_needs_enough_history() -> None:
    fc = MpeCrossingForecaster(np.array([2.0]), ForecastConfig(min_points=5, min_span_days=3))
    # five points with a 60-day half-life weigh a little less than five (Kish n_eff < 5)
    for day in range(5):
        fc.update(T0 + day * 86_400, np.array([0.1 * day]))
    assert not fc.trend_significant[0] and np.isnan(fc.time_to_mpe_days[0])
    fc.update(T0 + 5 * 86_400, np.array([0.5]))
    assert fc.trend_significant[0]
    assert fc.time_to_mpe_days[0] == pytest.approx(15.0)


def test_forecast_nan_skips_and_time_must_not_go_back() -> None:
    fc = MpeCrossingForecaster(np.array([2.0, 2.0]))
    for day in range(12):
        value = np.nan if day % 2 else 0.1 * day
        fc.update(T0 + day * 86_400, np.array([value, 0.1 * day]))
    # meter 0 was last seen on day 10, meter 1 on day 11
    assert fc.time_to_mpe_days[0] == pytest.approx((2.0 - 1.0) / 0.1)
    assert fc.time_to_mpe_days[1] == pytest.approx((2.0 - 1.1) / 0.1)
    with pytest.raises(DetectorError, match="backwards"):
        fc.update(T0, np.array([0.0, 0.0]))
    with pytest.raises(DetectorError, match="positive"):
        MpeCrossingForecaster(np.array([0.0]))


def test_forecast_reset_and_snapshot_restore() -> None:
    fc, _, _ = forecast_run(40)
    state = json.loads(json.dumps(fc.snapshot(), allow_nan=False))
    clone = MpeCrossingForecaster.restore(state)
    for f in (fc, clone):
        f.update(T0 + 41 * 86_400, np.array([2.0, 0.3, -1.0]), np.full(3, 0.15))
    np.testing.assert_array_equal(clone.time_to_mpe_days, fc.time_to_mpe_days)
    fc.reset_series([0])
    assert np.isnan(fc.slope_pct_per_day[0]) and not np.isnan(fc.slope_pct_per_day[2])


def test_forecast_bounds_cover_the_true_crossing() -> None:
    rng = np.random.default_rng(0)
    n, days = 1000, 60
    slope, start = rng.uniform(-0.05, 0.05, n), rng.uniform(-1, 1, n)
    fc = MpeCrossingForecaster(np.full(n, 4.0))
    for d in range(days):
        fc.update(T0 + d * 86_400, start + slope * d + rng.normal(0, 0.15, n), np.full(n, 0.15))
    true = (np.where(slope > 0, 4.0, -4.0) - (start + slope * (days - 1))) / slope
    sig = fc.trend_significant
    inside = (fc.time_to_mpe_early_days <= true) & (true <= fc.time_to_mpe_late_days)
    assert sig.sum() > 900
    assert 0.9 <= inside[sig].mean() <= 0.98
