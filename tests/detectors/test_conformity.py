"""Guarded acceptance and rejection (JCGM 106)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detectors.conformity import DEFAULT_K, Decision, decide, guard_factor
from meterwatch.errors import DetectorError

OK, OUT, INC = "conforming", "out_of_tolerance", "inconclusive"


def test_default_k_is_the_one_in_ten_thousand_quantile() -> None:
    assert pytest.approx(3.7190164854556804) == DEFAULT_K
    assert guard_factor(0.025) == pytest.approx(1.959963984540054)
    with pytest.raises(DetectorError):
        guard_factor(0.7)


def test_guard_bands() -> None:
    err = np.array([0.0, 1.0, 1.5, 3.0, 3.1, -3.1, 2.5])
    u = np.full(7, 0.5)
    said = decide(err, u, 2.0, k=2.0)
    assert said.tolist() == [OK, OK, INC, INC, OUT, OUT, INC]
    assert said[4] == Decision.OUT_OF_TOLERANCE


def test_per_meter_limits_and_shapes() -> None:
    said = decide([[3.0, 3.0]], [[0.1, 0.1]], np.array([2.0, 4.0]), k=1.0)
    assert said.tolist() == [[OUT, OK]]
    with pytest.raises(DetectorError):
        decide([1.0, 2.0], [1.0, 2.0, 3.0], 2.0)
    with pytest.raises(DetectorError):
        decide([1.0], [1.0], 2.0, k=-1.0)


def test_unidentifiable_or_missing_is_never_out_of_tolerance() -> None:
    err = np.array([9.0, 9.0, math.nan, 9.0, 0.0])
    u = np.array([0.1, 0.1, 0.1, math.nan, 0.1])
    said = decide(err, u, 2.0, identifiable=[True, False, True, True, False])
    assert said.tolist() == [OUT, INC, INC, INC, INC]
