"""The whitening recursion (detectors.gls) and the median helper of detectors.noise_level."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detectors.gls import WhiteningCarry, scaled_noise_moments, start_carry, whiten
from detectors.noise_level import median


def whiten_row_by_row(
    aug: np.ndarray,
    white: np.ndarray,
    level: np.ndarray,
    reg_level: np.ndarray,
    carry: WhiteningCarry,
    restart: tuple[int, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, WhiteningCarry]:
    """The recursion as written in the module doc, one row at a time (the reference)."""
    out, tau = np.empty_like(aug), np.empty(reg_level.shape)
    alpha, lev, prev = carry.alpha, carry.level, carry.row
    r_lev, c, v = carry.reg_level, carry.reg_cov, carry.reg_var
    for t in range(aug.shape[0]):
        if restart is not None and restart[1][t]:
            prev = prev.copy()
            prev[restart[0]] = 0.0
        beta = -lev / alpha if alpha > 0.0 else 0.0
        alpha = math.sqrt(white[t] + level[t] + lev - beta * beta)
        prev = (aug[t] - beta * prev) / alpha
        out[t] = prev
        v = (reg_level[t] + r_lev + beta * beta * v + 2.0 * beta * c) / alpha**2
        c = reg_level[t] / alpha
        tau[t] = v
        lev, r_lev = level[t], reg_level[t]
    return out, tau, WhiteningCarry(alpha, lev, r_lev, c, v, prev.copy())


@pytest.mark.parametrize("rows", [1, 7, 96, 500])
def test_whiten_matches_the_row_recursion(rows: int) -> None:
    rng = np.random.default_rng(rows)
    meters = 6
    ours, ref = start_carry(meters + 3, meters), start_carry(meters + 3, meters)
    for _ in range(3):  # blocks carry on from each other
        aug = rng.normal(0.0, 100.0, (rows, meters + 3))
        white = rng.uniform(0.0, 150.0, rows)
        level = rng.uniform(500.0, 3000.0, rows)
        level[rng.random(rows) < 0.05] = 1e8  # a bridged master boundary
        reg_level = rng.uniform(0.0, 8.0, (rows, meters))
        restart = (meters + 2, rng.random(rows) < 0.1)
        z, tau, ours = whiten(aug, white, level, reg_level, ours, restart)
        z_ref, tau_ref, ref = whiten_row_by_row(aug, white, level, reg_level, ref, restart)
        np.testing.assert_allclose(z, z_ref, rtol=1e-12, atol=1e-12 * np.abs(z_ref).max())
        np.testing.assert_allclose(tau, tau_ref, rtol=1e-12, atol=1e-15)
        assert ours.alpha == pytest.approx(ref.alpha, rel=1e-14)
        np.testing.assert_allclose(ours.row, ref.row, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ours.reg_var, ref.reg_var, rtol=1e-12)
        np.testing.assert_allclose(ours.reg_cov, ref.reg_cov, rtol=1e-12)


def test_whiten_can_return_weighted_sums_of_tau() -> None:
    rng = np.random.default_rng(5)
    rows, meters = 300, 4
    aug = rng.normal(0.0, 100.0, (rows, meters + 2))
    white, level = rng.uniform(50.0, 150.0, rows), rng.uniform(500.0, 3000.0, rows)
    reg_level = rng.uniform(0.0, 8.0, (rows, meters))
    weights = rng.uniform(0.0, 1.0, (3, rows))
    carry = start_carry(meters + 2, meters)
    z, tau, end = whiten(aug, white, level, reg_level, carry)
    z_w, sums, end_w = whiten(aug, white, level, reg_level, carry, tau_weights=weights)
    np.testing.assert_array_equal(z_w, z)
    np.testing.assert_allclose(sums, weights @ tau, rtol=1e-12)
    np.testing.assert_allclose(end_w.reg_var, end.reg_var, rtol=1e-12)
    empty = whiten(aug[:0], white[:0], level[:0], reg_level[:0], carry, tau_weights=weights[:, :0])
    assert empty[1].shape == (3, meters)


@pytest.mark.parametrize(("rows", "rel"), [(40, 1e-9), (300, 0.02)])
def test_scaled_noise_moments_are_the_whitened_covariances(rows: int, rel: float) -> None:
    """Against the covariances built explicitly: the noise of a column ``scale_t·Σ sign_i·e_i``
    is ``scale_t·Σ sign_i·(u_{i,t} − u_{i,t−1})``; exact within one chunk of rows, and within
    2 % across chunks (the boundary between them is left out)."""
    rng = np.random.default_rng(5)
    white = rng.uniform(50.0, 150.0, rows)
    level = rng.uniform(1000.0, 3000.0, rows)
    reg_level = rng.uniform(0.0, 10.0, (rows, 3))
    scale = np.column_stack([np.linspace(1.0, 3.0, rows), rng.uniform(0.5, 1.5, rows)])
    sign = np.array([1.0, -1.0, 1.0])
    weights = np.vstack([np.ones(rows), np.linspace(0.5, 1.0, rows)])
    cross, among = scaled_noise_moments(
        white, level, reg_level, scale, sign, start_carry(rows, 3), weights
    )
    whitened = whiten(np.eye(rows), white, level, np.zeros((rows, 1)), start_carry(rows, 1))[0]
    diff = np.eye(rows) - np.eye(rows, k=-1)  # boundary s: +1 in row s, −1 in row s + 1
    own = whitened @ diff
    cols = [whitened @ (scale[:, j, None] * diff) for j in range(2)]
    for k, w in enumerate(weights):
        for j in range(2):
            for i in range(3):
                want = sign[i] * np.einsum("t,ts,ts,s->", w, cols[j], own, reg_level[:, i])
                assert cross[k, j, i] == pytest.approx(want, rel=rel)
            for m in range(2):
                want = np.einsum("t,ts,ts,s->", w, cols[j], cols[m], reg_level.sum(axis=1))
                assert among[k, j, m] == pytest.approx(want, rel=rel)


def test_median_is_numpys() -> None:
    rng = np.random.default_rng(3)
    for size in (1, 2, 3, 10, 11, 168):
        x = rng.standard_normal(size) ** 2
        assert median(x) == float(np.median(x))
    assert math.isnan(median(np.zeros(0)))
