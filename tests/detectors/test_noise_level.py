"""The online white-noise level: its likelihood on a grid, its window, the one-step-ahead
check's runs, run sums and day effects."""

import math

import numpy as np
import pytest

from detectors.noise_level import (
    GRID_LOG2,
    NoiseLevel,
    NoiseWindow,
    day_columns,
    grid_log_likelihood,
    hourly_covariance,
    interval_sums,
    posterior_median,
    run_sums,
)


def white_excess(sums: np.ndarray, other: np.ndarray) -> float:
    """The moment estimate of the white variance per row from run sums and their variance
    without it (both per row, as :func:`interval_sums` gives them)."""
    keep = np.isfinite(sums)
    return float(np.mean(sums[keep] ** 2) - np.mean(other[keep]))


def test_grid_likelihood_finds_a_known_level() -> None:
    rng = np.random.default_rng(3)
    k, runs, median_level = 4, 24, 100.0
    grid = median_level * 2.0**GRID_LOG2
    total = np.zeros(GRID_LOG2.size)
    for _ in range(60):  # blocks whose parameters' share and boundaries differ
        par = rng.normal(0.0, 30.0, (runs, 5))
        level = rng.uniform(200.0, 900.0, runs * k)
        cov = hourly_covariance(k, par, level, level, np.zeros((runs, 0)))
        sums = rng.multivariate_normal(np.zeros(runs), cov + k * 400.0 * np.eye(runs))
        total += grid_log_likelihood(sums, cov, k, grid)
    assert posterior_median(total) == 2.0  # 400 = 2² × the median
    assert posterior_median(np.zeros(GRID_LOG2.size)) == 0.0  # no data: the prior's median


def test_hourly_covariance_shares_boundaries_and_each_days_effect() -> None:
    k, runs = 2, 4
    level = np.arange(1.0, 9.0)  # the register variance at each row's end boundary
    before = np.r_[0.5, level[:-1]]
    column = np.ones(8)
    days = 3.0 * day_columns(k, column, np.array([0, 0, 0, 0, 1, 1, 1, 1]))
    cov = hourly_covariance(k, np.zeros((runs, 1)), level, before, days)
    assert days.tolist() == [[6.0, 0.0], [6.0, 0.0], [0.0, 6.0], [0.0, 6.0]]
    assert np.diag(cov).tolist() == [0.5 + 2 + 36, 2 + 4 + 36, 4 + 6 + 36, 6 + 8 + 36]
    assert np.diag(cov, 1).tolist() == [-2 + 36, -4.0, -6 + 36]  # a day's effect is shared


def test_run_sums_leave_a_short_last_run_out() -> None:
    assert run_sums(2, np.arange(5.0)).tolist() == [1.0, 5.0]
    assert run_sums(2, np.ones((5, 3))).shape == (2, 3)


def test_noise_window_keeps_the_last_runs() -> None:
    window = NoiseWindow.empty(capacity=3)
    assert window.overconfidence() == 1.0
    window.add(np.array([1.0, 2.0, np.nan, 3.0]), np.full(4, 10.0), white=0.0)
    assert window.residual.tolist() == [1.0, 2.0, 3.0]
    window.add(np.array([50.0, 40.0, 60.0]), np.full(3, 10.0), white=0.0)
    assert window.residual.tolist() == [50.0, 40.0, 60.0]
    assert window.overconfidence() > 50.0  # predicted with no white noise at all


def weather_blocks(seed: int, weather_sd: float, days: int) -> list[tuple]:  # type: ignore[type-arg]
    """Daily blocks of white noise (10 Wh), register noise (30 Wh per boundary) and a per-day
    loss effect of ``weather_sd`` on a daily load shape, as :meth:`NoiseLevel.observe` takes
    them (no parameter uncertainty)."""
    rng = np.random.default_rng(seed)
    per_day = 96
    load = 1.0 + 0.8 * np.sin(np.linspace(0, 2 * np.pi, per_day))
    level = np.full(per_day, 900.0)
    blocks = []
    boundary = rng.normal(0.0, 30.0)
    for _ in range(days):
        ends = rng.normal(0.0, 30.0, per_day)
        noise = np.diff(np.r_[boundary, ends])
        boundary = ends[-1]
        residual = rng.normal(0.0, 10.0, per_day) + noise + load * rng.normal(0.0, weather_sd)
        blocks.append(
            (residual, np.zeros((per_day, 2)), np.eye(2), level, level, np.zeros(per_day))
        )
    return blocks


@pytest.mark.parametrize(("day_sd", "lowest", "highest"), [(10.0, 0.5, 2.0), (1e-3, 8.0, 1e9)])
def test_noise_level_learns_the_white_part_and_not_the_weather(
    day_sd: float, lowest: float, highest: float
) -> None:
    noise = NoiseLevel(capacity=168, run_length=8, sum_rows=4, window_rows=96 * 30,
                       check_without_day_effect=True)  # fmt: skip
    load = 1.0 + 0.8 * np.sin(np.linspace(0, 2 * np.pi, 96))
    for block in weather_blocks(6, weather_sd=10.0, days=40):
        noise.observe(*block, median_level=50.0, day_effect=(load, np.zeros(96, int), day_sd))
    assert noise.blocks.shape == (30, 1 + GRID_LOG2.size)  # the last 30 days
    # white 100 Wh²: within its prior, the weather (sd 10) is not read as white noise
    assert lowest <= noise.white / 100.0 <= highest


def test_noise_level_starts_at_its_median_and_survives_a_snapshot() -> None:
    noise = NoiseLevel(capacity=168, run_length=8, sum_rows=4, window_rows=96 * 3,
                       check_without_day_effect=False)  # fmt: skip
    load = np.ones(96)
    blocks = weather_blocks(2, weather_sd=0.0, days=5)
    assert noise.observe(*blocks[0][:3], np.zeros(96), np.zeros(96), np.zeros(96), 0.0,
                         (load, np.zeros(96, int), 1.0)) == 1.0  # fmt: skip
    assert noise.white == 0.0  # no load: nothing to scale the grid by
    noise = NoiseLevel(168, 8, 4, 96 * 3, False)
    for block in blocks:
        noise.observe(*block, median_level=100.0, day_effect=(load, np.zeros(96, int), 1.0))
    again = NoiseLevel(168, 8, 4, 96 * 3, False)
    again.load_plain(noise.to_plain())
    assert again.rows == noise.rows == 5 * 96
    assert np.array_equal(again.blocks, noise.blocks) and len(again.blocks) == 3
    assert again.white == noise.white and math.log2(noise.white / 100.0) in GRID_LOG2


def test_an_hour_with_a_guess_is_left_out_of_the_level() -> None:
    """A block whose last row holds a guessed cell (imputed variance 40,000 Wh²) off by
    1,330 Wh, as a household's use jumping to 5 kW right when its reading is missed: that
    hour says nothing about the white level, so its likelihood is the other 23 hours'
    exactly, and the level stays where the clean block puts it."""
    load = np.ones(96)
    (block,) = weather_blocks(5, weather_sd=0.0, days=1)
    residual, regressors, chol_inv, level, before, _ = block
    guessed = np.zeros(96)
    guessed[-1] = 40_000.0
    spoiled = residual.copy()
    spoiled[-1] += 1_330.0
    levels = []
    for r, imputed in ((residual, np.zeros(96)), (spoiled, guessed), (spoiled, np.zeros(96))):
        noise = NoiseLevel(168, 8, 4, 96 * 3, False)
        noise.observe(r, regressors, chol_inv, level, before, imputed, 100.0,
                      (load, np.zeros(96, int), 1.0))  # fmt: skip
        levels.append(noise.white)
    cov = hourly_covariance(4, np.zeros((24, 2)), level, before, np.zeros((24, 1)))
    clean = grid_log_likelihood(
        run_sums(4, residual)[:23], cov[:23, :23], 4, 100.0 * 2.0**GRID_LOG2
    )
    noise = NoiseLevel(168, 8, 4, 96 * 3, False)
    noise.observe(spoiled, regressors, chol_inv, level, before, guessed, 100.0,
                  (load, np.zeros(96, int), 1e-12))  # fmt: skip
    np.testing.assert_allclose(noise.blocks[0, 1:], clean, rtol=1e-9)
    assert levels[1] == levels[0] and levels[2] > 8 * levels[0]  # taken in, it would move it


def test_interval_sums_keep_white_noise_and_telescope_register_noise() -> None:
    rng = np.random.default_rng(4)
    boundary = rng.normal(0.0, 30.0, 96 * 50 + 1)  # register errors at the boundaries
    white = rng.normal(0.0, 10.0, 96 * 50)
    residual = white + np.diff(boundary)
    level = np.full(residual.size, 900.0)
    sums, other = interval_sums(
        8, residual, np.zeros((600, 2)), level, level, np.zeros(residual.size)
    )
    assert sums.shape == other.shape == (600,)
    assert other[0] == pytest.approx(1800.0 / 8)
    assert white_excess(sums, other) == pytest.approx(100.0, rel=0.3)


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
    args = (8, residual, np.zeros((rows // 8, 2)), level, level, np.zeros(rows))
    return args, (load, np.arange(rows) // per_day)


def test_white_level_is_not_taken_from_the_weather() -> None:
    args, day_effect = weather_case(6, weather_sd=10.0)
    assert white_excess(*interval_sums(*args)) > 5 * 100.0  # the weather read as noise
    sums, other = interval_sums(*args, day_effect, 100.0)
    assert np.isfinite(sums).all()
    assert white_excess(sums, other) == pytest.approx(100.0, rel=0.3)


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
        k, residual, np.zeros((rows // k, 1)), zero, zero, zero, (column, day), 1.0
    )
    assert sums[:2] == pytest.approx([-(0.5**0.5), 0.5**0.5])  # ∓1 (runs 1 and 3, mean 2) / √(½·k)
    assert other[:2] == pytest.approx([0.0, 0.0])
    assert np.isnan(sums[2]) and np.isnan(other[2])
