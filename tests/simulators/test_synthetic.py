"""The synthetic area generator: seeded, consistent with its own ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from simulators.synthetic import AreaSpec, generate_area

SPEC = AreaSpec(n_meters=50, days=4, missing_rate=0.02, oot_fraction=0.1)


@pytest.fixture(scope="module")
def area():  # type: ignore[no-untyped-def]
    return generate_area(np.random.default_rng(11), SPEC)


def test_same_seed_same_area(area) -> None:  # type: ignore[no-untyped-def]
    again = generate_area(np.random.default_rng(11), SPEC)
    np.testing.assert_array_equal(again.meters_wh, area.meters_wh)
    np.testing.assert_array_equal(again.master_wh, area.master_wh)
    assert area.meter_ids[:2] == ("m00", "m01")
    assert area.meters_wh.shape == area.true_error_pct.shape == (4 * 96, 50)


def test_registers_are_quantised_and_gaps_carry_their_energy(area) -> None:  # type: ignore[no-untyped-def]
    seen = area.meters_wh[~np.isnan(area.meters_wh)]
    np.testing.assert_array_equal(seen % 10.0, 0.0)
    assert 0.01 < np.isnan(area.meters_wh).mean() < 0.03
    registered = area.true_load_wh * (1 + area.true_error_pct / 100)
    last_read = 383 - np.argmax(~np.isnan(area.meters_wh[::-1]), axis=0)
    for i in range(50):  # everything up to a meter's last reading is accounted for
        got = np.nansum(area.meters_wh[: last_read[i] + 1, i])
        assert abs(got - registered[: last_read[i] + 1, i].sum()) < 11.0


def test_truth_matches_the_spec(area) -> None:  # type: ignore[no-untyped-def]
    assert abs(area.master_error_pct) <= 0.2
    out = np.abs(area.true_error_pct[-1]) > 2.0
    assert out.sum() == 5
    assert 0.02 < area.loss_wh.sum() / area.true_load_wh.sum() < 0.08
    balance = np.nansum(area.master_wh) / (area.true_load_wh.sum() + area.loss_wh.sum())
    assert abs(balance - 1 - area.master_error_pct / 100) < 1e-3


def test_the_loss_splits_into_climate_and_one_weather_offset_per_day(area) -> None:  # type: ignore[no-untyped-def]
    weather = (area.loss_model_wh - area.loss_climate_wh).reshape(4, 96)
    per_kelvin = area.weather_basis_wh_per_k.reshape(4, 96)
    offset = weather.sum(axis=1) / per_kelvin.sum(axis=1)  # the day's temperature offset, K
    np.testing.assert_allclose(weather, offset[:, None] * per_kelvin, rtol=1e-9, atol=1e-9)
    assert area.weather_sd_k == 3.0 and np.abs(offset).max() < 4 * 3.0
    assert np.ptp(offset) > 0.5  # the days differ


def test_daily_intervals_aggregate_the_same_load() -> None:
    fine = generate_area(np.random.default_rng(3), AreaSpec(n_meters=10, days=3))
    daily = generate_area(
        np.random.default_rng(3), AreaSpec(n_meters=10, days=3, interval_minutes=1440)
    )
    assert daily.meters_wh.shape == (3, 10) and daily.intervals_per_day == 1
    np.testing.assert_allclose(daily.true_load_wh, fine.true_load_wh.reshape(3, 96, 10).sum(1))
    with pytest.raises(ValueError):
        generate_area(np.random.default_rng(0), AreaSpec(interval_minutes=20))
