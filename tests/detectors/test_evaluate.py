"""Metrics against ground truth, on hand-checked arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detectors import evaluate
from meterwatch.errors import DetectorError

OK, OUT, INC = "conforming", "out_of_tolerance", "inconclusive"


def test_recall() -> None:
    truth = [3.0, -2.5, 1.0, 0.0]
    assert evaluate.out_of_tolerance_recall(truth, [OUT, INC, OUT, OK], mpe_pct=2.0) == 0.5
    assert math.isnan(evaluate.out_of_tolerance_recall([0.0], [OK], mpe_pct=2.0))
    with pytest.raises(DetectorError):
        evaluate.out_of_tolerance_recall([1.0, 2.0], [OK], mpe_pct=2.0)


def test_false_replacement_rate_counts_each_healthy_meter_once() -> None:
    truth = np.array([[0.5, 0.9, 1.5, 3.0], [0.5, 1.1, 1.5, 3.0]])
    said = np.array([[OUT, OK, OUT, OUT], [OUT, OK, OK, OUT]])
    # healthy (|ε| ≤ 1 at every row): meter 0 only (meter 1 crosses 1.0 on day 2)
    assert evaluate.false_replacement_rate(truth, said, mpe_pct=2.0) == 1.0
    assert (
        evaluate.false_replacement_rate(truth[0], said[1], mpe_pct=2.0, healthy_fraction=0.5) == 0.5
    )


def test_detection_delay() -> None:
    truth = np.array(
        [[0.0, 3.0, 0.0, 1.0], [2.5, 3.0, 0.0, 1.0], [2.5, 3.0, 0.0, 3.0], [2.5, 3.0, 0.0, 3.0]]
    )
    said = np.array(
        [[OK, INC, OK, OK], [INC, OUT, OK, OK], [INC, OUT, OK, OK], [OUT, OUT, OUT, OK]]
    )
    delay = evaluate.detection_delay(truth, said, mpe_pct=2.0)
    assert delay[:2].tolist() == [2.0, 1.0]
    assert math.isnan(delay[2]) and math.isinf(delay[3])


def test_mae_and_coverage() -> None:
    truth, est, u = [0.0, 1.0, 2.0], [0.5, 1.0, 4.0], [0.2, 0.1, 1.0]
    assert evaluate.mean_absolute_error(truth, est) == pytest.approx(2.5 / 3)
    assert evaluate.mean_absolute_error(truth, est, mask=[True, True, False]) == 0.25
    assert evaluate.interval_coverage(truth, est, u) == pytest.approx(1 / 3)
    assert evaluate.interval_coverage(truth, est, u, coverage_factor=3.0) == 1.0
