"""The oracle's decisions (bench and fleet runs) and the register noise it weights with."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.conformity import Decision, decide
from detectors.oracle import (
    DayEffect,
    loss_law_columns,
    oracle_decisions,
    oracle_estimates,
    register_level_var,
)
from meterwatch.errors import DetectorError
from simulators.synthetic import AreaSpec, generate_area

DAY = 96


@pytest.fixture(scope="module")
def area():  # type: ignore[no-untyped-def]
    spec = AreaSpec(n_meters=40, days=10, oot_fraction=0.15, missing_rate=0.01)
    return generate_area(np.random.default_rng(21), spec)


def test_register_level_var_matches_the_simulated_noise(area) -> None:  # type: ignore[no-untyped-def]
    level = register_level_var(area.master_wh, area.meters_wh, 10.0, interval_s=900.0)
    assert level == pytest.approx(area.level_noise_var_wh2, rel=0.05)


def test_decisions_are_the_oracle_estimates_through_the_rule(area) -> None:  # type: ignore[no-untyped-def]
    noise = {"white_var_wh2": area.white_noise_var_wh2, "level_var_wh2": area.level_noise_var_wh2}
    got = oracle_decisions(
        area.master_wh, area.meters_wh, area.loss_model_wh, 2.0, intervals_per_day=DAY, **noise
    )
    est = oracle_estimates(
        area.master_wh, area.meters_wh, area.loss_model_wh, intervals_per_day=DAY, **noise
    )
    want = decide(est.errors_pct, est.uncertainty_pct, 2.0, identifiable=est.identifiable)
    np.testing.assert_array_equal(got.decisions, want)
    assert got.decisions.shape == (10, 40)
    out = np.flatnonzero(got.out_of_tolerance())
    truly_out = np.abs(area.true_error_pct[-1]) > 2.0
    assert out.size >= 2
    assert truly_out[out].all()
    assert (got.decisions[0] == Decision.INCONCLUSIVE.value).all()  # day 1: fewer rows than meters


def test_bad_input_is_refused(area) -> None:  # type: ignore[no-untyped-def]
    args = {"intervals_per_day": DAY, "white_var_wh2": 1.0, "level_var_wh2": 1.0}
    loss = area.loss_model_wh.copy()
    with pytest.raises(DetectorError):
        oracle_decisions(area.master_wh, area.meters_wh[:-1], loss, 2.0, **args)
    loss[5] = np.nan
    with pytest.raises(DetectorError):
        oracle_decisions(area.master_wh, area.meters_wh, loss, 2.0, **args)
    with pytest.raises(DetectorError):
        oracle_decisions(
            area.master_wh, area.meters_wh, area.loss_model_wh, 2.0, **{**args, "level_var_wh2": 0}
        )


def test_a_known_drift_leaves_only_the_level_to_estimate() -> None:
    spec = AreaSpec(n_meters=40, days=10, oot_fraction=0.2, drifting_share=1.0)
    area = generate_area(np.random.default_rng(8), spec)
    noise = {"white_var_wh2": area.white_noise_var_wh2, "level_var_wh2": area.level_noise_var_wh2}
    level = 1.0 + area.true_error_pct / 100.0
    drift = level / level[-1]
    args = (area.master_wh, area.meters_wh, area.loss_model_wh)
    static = oracle_estimates(*args, intervals_per_day=DAY, **noise)
    known = oracle_estimates(*args, intervals_per_day=DAY, known_drift=drift, **noise)
    flat = oracle_estimates(*args, intervals_per_day=DAY, known_drift=np.ones_like(drift), **noise)
    np.testing.assert_array_equal(flat.errors_pct, static.errors_pct)  # no drift: the same fit
    moving = np.flatnonzero(np.ptp(area.true_error_pct, axis=0) > 1.0)
    assert moving.size >= 3
    truth = area.true_error_pct[-1, moving]
    miss_static = np.abs(static.errors_pct[-1, moving] - truth)
    miss_known = np.abs(known.errors_pct[-1, moving] - truth)
    assert miss_known.mean() < 0.5 * miss_static.mean()
    assert (miss_known < 3.0 * known.uncertainty_pct[-1, moving]).all()
    with pytest.raises(DetectorError):
        oracle_estimates(*args, intervals_per_day=DAY, known_drift=-drift, **noise)


def test_the_true_loss_model_leaves_the_weather_to_a_per_day_effect() -> None:
    spec = AreaSpec(n_meters=40, days=10, oot_fraction=0.15, temperature_day_sd_k=12.0)
    area = generate_area(np.random.default_rng(0), spec)
    noise = {"white_var_wh2": area.white_noise_var_wh2, "level_var_wh2": area.level_noise_var_wh2}
    args = (area.master_wh, area.meters_wh)
    realised = oracle_estimates(*args, area.loss_model_wh, intervals_per_day=DAY, **noise)
    ignored = oracle_estimates(*args, area.loss_climate_wh, intervals_per_day=DAY, **noise)
    law = oracle_estimates(
        *args,
        area.loss_climate_wh,
        intervals_per_day=DAY,
        day_effect=DayEffect(area.weather_basis_wh_per_k, area.weather_sd_k),
        **noise,
    )
    truth = area.true_error_pct[-1]

    def miss(result):  # type: ignore[no-untyped-def]
        return float(np.abs(result.errors_pct[-1] - truth).mean())

    def coverage(result):  # type: ignore[no-untyped-def]
        z = (result.errors_pct[-1] - truth) / result.uncertainty_pct[-1]
        return float(np.mean(np.abs(z) < 1.96))

    # ignoring the weather leaves a misfit the fit takes for meter errors; knowing its law
    # (one effect per day, its sd) gets close to knowing what it was, and says so in u
    assert miss(ignored) > 1.4 * max(miss(law), miss(realised))
    assert coverage(ignored) < 0.75 and coverage(law) >= 0.9
    assert np.median(law.uncertainty_pct[-1]) > np.median(realised.uncertainty_pct[-1])
    with pytest.raises(DetectorError):
        oracle_estimates(
            *args,
            area.loss_climate_wh,
            intervals_per_day=DAY,
            day_effect=DayEffect(area.weather_basis_wh_per_k, 0.0),
            **noise,
        )
    with pytest.raises(DetectorError, match="basis per interval"):  # one row short
        oracle_estimates(
            *args,
            area.loss_climate_wh,
            intervals_per_day=DAY,
            day_effect=DayEffect(area.weather_basis_wh_per_k[:-1], area.weather_sd_k),
            **noise,
        )


def test_free_loss_coefficients_cost_little_against_the_true_loss_model() -> None:
    area = generate_area(
        np.random.default_rng(3), AreaSpec(n_meters=40, days=10, oot_fraction=0.15)
    )
    noise = {"white_var_wh2": area.white_noise_var_wh2, "level_var_wh2": area.level_noise_var_wh2}
    args = (area.master_wh, area.meters_wh)
    weather = DayEffect(area.weather_basis_wh_per_k, area.weather_sd_k)
    known = oracle_estimates(
        *args, area.loss_climate_wh, intervals_per_day=DAY, day_effect=weather, **noise
    )
    fitted = oracle_estimates(
        *args,
        np.zeros_like(area.master_wh),
        intervals_per_day=DAY,
        day_effect=weather,
        free_loss=loss_law_columns(area.weather_basis_wh_per_k, DAY),
        **noise,
    )
    truth = area.true_error_pct[-1]
    miss_known = float(np.abs(known.errors_pct[-1] - truth).mean())
    miss_fitted = float(np.abs(fitted.errors_pct[-1] - truth).mean())
    z = (fitted.errors_pct[-1] - truth) / fitted.uncertainty_pct[-1]
    # four more unknowns (fixed loss, load loss, its daily harmonic) over 960 intervals: the
    # fitted coefficients cost 1.23x the miss here (10 days), 1.02x on the bench (30 days)
    assert miss_fitted < 1.3 * miss_known
    assert np.mean(np.abs(z) < 1.96) >= 0.9
    assert np.median(fitted.uncertainty_pct[-1]) >= np.median(known.uncertainty_pct[-1])
    # the loss left out entirely is taken for meter errors
    blind = oracle_estimates(
        *args, np.zeros_like(area.master_wh), intervals_per_day=DAY, day_effect=weather, **noise
    )
    assert float(np.abs(blind.errors_pct[-1] - truth).mean()) > 2.0 * miss_fitted
    with pytest.raises(DetectorError, match="free loss"):
        oracle_estimates(
            *args,
            np.zeros_like(area.master_wh),
            intervals_per_day=DAY,
            free_loss=np.ones((len(area.master_wh) - 1, 2)),
            **noise,
        )


@pytest.mark.parametrize("unmetered_sd_w", [40.0, 160.0])
def test_the_log_evidence_peaks_at_the_simulated_white_level(unmetered_sd_w: float) -> None:
    spec = AreaSpec(n_meters=40, days=10, unmetered_sd_w=unmetered_sd_w)
    area = generate_area(np.random.default_rng(4), spec)

    def evidence(factor: float) -> float:
        result = oracle_estimates(
            area.master_wh,
            area.meters_wh,
            area.loss_climate_wh,
            intervals_per_day=DAY,
            white_var_wh2=factor * area.white_noise_var_wh2,
            level_var_wh2=area.level_noise_var_wh2,
            day_effect=DayEffect(area.weather_basis_wh_per_k, area.weather_sd_k),
        )
        assert np.isfinite(result.log_evidence).all()
        return float(result.log_evidence[-1])

    half, true, double = evidence(0.5), evidence(1.0), evidence(2.0)
    # 960 intervals tell a 4x louder white noise apart far better (−7 and −16 at 40 W sd,
    # −30 and −68 at 160 W sd)
    assert true - max(half, double) > (5.0 if unmetered_sd_w < 100 else 25.0)
