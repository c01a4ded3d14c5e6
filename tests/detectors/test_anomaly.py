from __future__ import annotations

import doctest
import json

import numpy as np
import pytest

import detectors.anomaly
from detectors.anomaly import (
    FEATURES,
    ScorerConfig,
    StreamingAnomalyScorer,
    TamperForest,
    TamperForestConfig,
    daily_features,
)
from meterwatch.errors import DetectorError


def test_doctests() -> None:
    assert doctest.testmod(detectors.anomaly).failed == 0


def fleet() -> np.ndarray:
    """200 households over 60 days (Wh/day, 10 Wh register steps, 2 % missing) + 3 tampered."""
    rng = np.random.default_rng(11)
    n, d = 200, 60
    base = rng.lognormal(np.log(8000), 0.5, n)
    daily = np.round(base[:, None] * rng.lognormal(0, 0.2, (n, d)) / 10) * 10
    daily[rng.random((n, d)) < 0.02] = np.nan
    daily[5, 35:] *= 0.3  # bypass: a lasting 70 % drop
    daily[17, ::2] = 0.0  # register stuck every other day
    daily[42, 20:] = -0.5 * daily[42, 20:]  # reversed connection
    daily[99, :] = np.nan
    daily[99, :5] = 5000.0  # too few days to judge
    return daily


def test_features_exact_on_a_small_case() -> None:
    daily = np.array([[1000.0] * 7 + [500.0] * 7, [0.0, np.nan, -10.0, 20.0] + [np.nan] * 10])
    f = daily_features(daily, recent_days=7)
    assert f.shape == (2, len(FEATURES))
    np.testing.assert_allclose(
        f[0],
        [np.log1p(0.75), 1 / 3, 0.0, 0.0, 0.0, np.log(510 / 1010), np.log(510 / 1010)],
    )
    assert f[1, FEATURES.index("zero_fraction")] == pytest.approx(1 / 3)
    assert f[1, FEATURES.index("negative_fraction")] == pytest.approx(1 / 3)
    assert f[1, FEATURES.index("missing_fraction")] == pytest.approx(11 / 14)
    assert np.isnan(daily_features(np.full((1, 5), np.nan))).all()
    with pytest.raises(DetectorError, match="n_meters, n_days"):
        daily_features(np.zeros(5))
    with pytest.raises(DetectorError, match="recent_days"):
        daily_features(np.zeros((2, 5)), recent_days=0)


def test_tamper_forest_ranks_the_injected_meters_first() -> None:
    tf = TamperForest()
    tf.update(fleet())
    ranked = np.argsort(-np.nan_to_num(tf.scores, nan=-1.0))
    assert set(ranked[:3].tolist()) == {5, 17, 42}
    assert set(np.flatnonzero(tf.is_outlier).tolist()) == {5, 17, 42, 43, 107, 181, 190}
    assert np.isnan(tf.scores[99]) and not tf.is_outlier[99]
    scored = tf.scores[np.isfinite(tf.scores)]
    assert ((scored > 0) & (scored <= 1)).all()


def test_tamper_forest_snapshot_refits_identically() -> None:
    data = fleet()
    tf = TamperForest(TamperForestConfig(n_estimators=50, refit_every=10))
    tf.update(data)
    state = json.loads(json.dumps(tf.snapshot(), allow_nan=False))
    assert state["training_sha256"] == tf.training_hash
    clone = TamperForest.restore(state)
    assert clone.training_hash == tf.training_hash
    later = data.copy()
    later[60:80] *= 0.5
    tf.update(later)  # not a refit update: both score with the first model
    clone.update(later)
    np.testing.assert_array_equal(clone.scores, tf.scores)
    state["training"][0][0] += 1.0
    with pytest.raises(DetectorError, match="hash"):
        TamperForest.restore(state)


def test_tamper_forest_before_any_fit_scores_nothing() -> None:
    tf = TamperForest()
    tf.update(np.full((3, 20), np.nan))
    assert tf.training_hash is None and np.isnan(tf.scores).all()
    assert TamperForest.restore(json.loads(json.dumps(tf.snapshot()))).training_hash is None


def spiky_series(irregular: bool) -> tuple[np.ndarray, np.ndarray, list[int]]:
    rng = np.random.default_rng(3)
    n = 2000
    t = np.cumsum(rng.exponential(60, n)) if irregular else np.arange(n) * 60.0
    x = 10 + 3 * np.sin(t / 3000) + rng.normal(0, 0.3, n)
    spikes = [300, 900, 1500]
    x[spikes] += [3.0, -3.0, 4.0]
    return t, x, spikes


@pytest.mark.parametrize(
    ("irregular", "expected"),
    [(False, [300, 900, 1500]), (True, [300, 900, 1500])],
)
def test_streaming_scorer_finds_spikes_exactly(irregular: bool, expected: list[int]) -> None:
    t, x, _ = spiky_series(irregular)
    scorer = StreamingAnomalyScorer(1)
    scores = []
    for ti, xi in zip(t, x, strict=True):
        scorer.update(np.array([ti]), np.array([xi]))
        scores.append(float(scorer.scores[0]))
    out = np.array(scores)
    assert np.flatnonzero(out > 0.9999).tolist() == expected
    assert ((out >= 0) & (out <= 1)).all()
    assert (out[:10] == 0).all()  # warm-up


def test_streaming_scorer_is_vectorised_and_time_aware() -> None:
    t, x, _ = spiky_series(irregular=False)
    one = StreamingAnomalyScorer(1)
    many = StreamingAnomalyScorer(3)
    for ti, xi in zip(t[:200], x[:200], strict=True):
        one.update(np.array([ti]), np.array([xi]))
        many.update(np.array([ti, ti, ti]), np.array([xi, np.nan, xi]))
    assert many.scores[0] == one.scores[0] and np.isnan(many.scores[1])
    # after a long gap the level moves further toward the new value than after a normal step
    short, long_ = (
        StreamingAnomalyScorer.restore(one.snapshot()),
        StreamingAnomalyScorer.restore(one.snapshot()),
    )
    short.update(np.array([t[199] + 60.0]), np.array([20.0]))
    long_.update(np.array([t[199] + 60.0 * 100]), np.array([20.0]))
    assert long_.level[0] - one.level[0] > 5 * (short.level[0] - one.level[0])


def test_streaming_scorer_snapshot_and_errors() -> None:
    t, x, _ = spiky_series(irregular=True)
    a = StreamingAnomalyScorer(1, ScorerConfig(span=10.0))
    for ti, xi in zip(t[:100], x[:100], strict=True):
        a.update(np.array([ti]), np.array([xi]))
    b = StreamingAnomalyScorer.restore(json.loads(json.dumps(a.snapshot(), allow_nan=False)))
    for ti, xi in zip(t[100:300], x[100:300], strict=True):
        a.update(np.array([ti]), np.array([xi]))
        b.update(np.array([ti]), np.array([xi]))
        assert a.scores[0] == b.scores[0]
    with pytest.raises(DetectorError, match="decrease"):
        a.update(np.array([0.0]), np.array([1.0]))
    with pytest.raises(DetectorError, match="shape"):
        a.update(np.array([1e12]), np.array([1.0, 2.0]))
    with pytest.raises(DetectorError, match="invalid"):
        ScorerConfig(span=0.0)


def test_constant_series_is_not_all_anomalous() -> None:
    scorer = StreamingAnomalyScorer(1)
    for i in range(50):
        scorer.update(np.array([float(i)]), np.array([5.0]))
    assert scorer.scores[0] == 0.0
    scorer.update(np.array([50.0]), np.array([5.1]))
    assert scorer.scores[0] > 0.9999  # any change of a perfectly flat series is an anomaly


def test_tamper_forest_fits_as_soon_as_it_can() -> None:
    data = fleet()
    tf = TamperForest(TamperForestConfig(n_estimators=20, refit_every=5))
    tf.update(data[:, :10])  # fewer than min_observed_days everywhere: no model yet
    assert tf.training_hash is None
    tf.update(data)  # update 1 is not a refit turn, but there is no model: fit now
    assert tf.training_hash is not None and np.isfinite(tf.scores).sum() == 199
