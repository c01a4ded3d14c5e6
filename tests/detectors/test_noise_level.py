"""The online white-noise level: its robust estimate, its window, run sums and day effects."""

import numpy as np
import pytest

from detectors.noise_level import NoiseWindow, interval_sums, white_variance


def test_white_variance_recovers_a_known_level() -> None:
    rng = np.random.default_rng(3)
    other = rng.uniform(50.0, 400.0, 2000)
    residual = rng.normal(0.0, np.sqrt(900.0 + other))
    assert white_variance(residual, other) == pytest.approx(900.0, rel=0.15)
    assert white_variance(0.1 * residual, other) == 0.0  # no more than the register noise
    assert np.isnan(white_variance(np.zeros(0), np.zeros(0)))


def test_noise_window_keeps_the_last_runs_and_floors() -> None:
    window = NoiseWindow.empty(capacity=3)
    assert window.variance(floor=5.0) == 5.0
    assert window.overconfidence() == 1.0
    window.add(np.array([1.0, 2.0, np.nan, 3.0]), np.full(4, 10.0), white=0.0)
    assert window.residual.tolist() == [1.0, 2.0, 3.0]
    assert window.variance(floor=5.0) == 5.0  # no larger than the registers alone explain
    window.add(np.array([50.0, 40.0, 60.0]), np.full(3, 10.0), white=0.0)
    assert window.residual.tolist() == [50.0, 40.0, 60.0]
    assert window.variance(floor=5.0) > 2 * 40.0**2 / 3
    assert window.overconfidence() > 50.0  # predicted with no white noise at all


def test_interval_sums_keep_white_noise_and_telescope_register_noise() -> None:
    rng = np.random.default_rng(4)
    boundary = rng.normal(0.0, 30.0, 96 * 50 + 1)  # register errors at the boundaries
    white = rng.normal(0.0, 10.0, 96 * 50)
    residual = white + np.diff(boundary)
    level = np.full(residual.size, 900.0)
    sums, other = interval_sums(
        8, residual, np.zeros((residual.size, 2)), np.eye(2), level, level, np.zeros(residual.size)
    )
    assert sums.shape == other.shape == (600,)
    assert other[0] == pytest.approx(1800.0 / 8)
    assert white_variance(sums, other) == pytest.approx(100.0, rel=0.3)


def weather_case(seed: int, weather_sd: float, days: int = 240) -> tuple:  # type: ignore[type-arg]
    """Run sums of white noise (10 Wh), register noise (30 Wh per boundary) and a per-day
    loss effect of ``weather_sd`` on a daily load shape."""
    rng = np.random.default_rng(seed)
    per_day = 96
    rows = days * per_day
    boundary = rng.normal(0.0, 30.0, rows + 1)
    load = np.tile(1.0 + 0.8 * np.sin(np.linspace(0, 2 * np.pi, per_day)), days)
    weather = np.repeat(rng.normal(0.0, weather_sd, days), per_day)
    residual = rng.normal(0.0, 10.0, rows) + np.diff(boundary) + load * weather
    level = np.full(rows, 900.0)
    args = (8, residual, np.zeros((rows, 2)), np.eye(2), level, level, np.zeros(rows))
    return args, (load, np.arange(rows) // per_day)


def test_white_level_is_not_taken_from_the_weather() -> None:
    args, day_effect = weather_case(6, weather_sd=10.0)
    assert white_variance(*interval_sums(*args)) > 5 * 100.0  # the weather read as noise
    sums, other = interval_sums(*args, day_effect, 100.0)
    assert np.isfinite(sums).all()
    assert white_variance(sums, other) == pytest.approx(100.0, rel=0.3)  # its sd here: 14 %


def test_taking_day_effects_out_leaves_the_variance_exact() -> None:
    ratios = []
    for seed in range(8):
        args, day_effect = weather_case(seed, weather_sd=0.0, days=120)
        sums, other = interval_sums(*args, day_effect, 100.0)
        ratios.append(np.mean(sums**2 / (100.0 + other)))
    assert np.mean(ratios) == pytest.approx(1.0, abs=0.03)  # 8 × 1440 runs: sd ≈ 0.013


def test_a_days_only_run_is_left_out() -> None:
    k, rows = 4, 12
    column = np.ones(rows)
    day = np.array([0] * 8 + [1] * 4)
    residual = np.array([0.25] * 4 + [0.75] * 4 + [5.0] * 4)
    zero = np.zeros(rows)
    sums, other = interval_sums(
        k, residual, np.zeros((rows, 1)), np.eye(1), zero, zero, zero, (column, day), 1.0
    )
    assert sums[:2] == pytest.approx([-(0.5**0.5), 0.5**0.5])  # ∓1 (runs 1 and 3, mean 2) / √(½·k)
    assert other[:2] == pytest.approx([0.0, 0.0])
    assert np.isnan(sums[2]) and np.isnan(other[2])
