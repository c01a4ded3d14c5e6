import numpy as np
import pytest

from detectors.noise_level import interval_sums, white_variance


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
