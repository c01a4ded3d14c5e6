from __future__ import annotations

import doctest

import numpy as np
import pytest

import detectors.mpe
from detectors.mpe import MpeTable, heat_mpe_pct, mpe_pct, mpe_pct_array, normalise_class
from meterwatch.errors import DetectorError


def test_doctests() -> None:
    assert doctest.testmod(detectors.mpe).failed == 0


@pytest.mark.parametrize(
    ("meter_type", "cls", "zone", "condition", "expected"),
    [
        ("electricity", "1", "upper", "", 1.0),
        ("electricity", "1", "lower", "", 1.5),
        ("electricity", "2", "upper", "", 2.0),
        ("electricity", "2", "lower", "", 2.5),
        ("electricity", "A", "upper", "", 2.0),
        ("electricity", "B", "upper", "", 1.0),
        ("electricity", "C", "lower", "", 1.0),
        ("electricity", "A", "upper", "mid_5_30C", 3.5),
        ("electricity", "C", "upper", "mid_m40_m25C_or_55_70C", 1.5),
        ("electricity", "0.2S", "upper", "", 0.2),
        ("water", "1", "lower", "", 3.0),
        ("water", "1", "upper", "", 1.0),
        ("water", "2", "upper", "", 2.0),
        ("water", "2", "upper", "above_30C", 3.0),
        ("water", "2", "lower", "", 5.0),
        ("gas", "1.0", "lower", "", 2.0),
        ("gas", "1.0", "upper", "", 1.0),
        ("gas", "1.5", "lower", "", 3.0),
        ("gas", "1.5", "upper", "", 1.5),
    ],
)
def test_table_figures(
    meter_type: str, cls: str, zone: str, condition: str, expected: float
) -> None:
    assert mpe_pct(meter_type, cls, zone=zone, condition=condition) == expected


def test_every_row_cites_a_source_and_marks_certainty() -> None:
    table = MpeTable.load()
    assert {r.meter_type for r in table.rows} == {"electricity", "water", "gas"}
    assert all(r.source and r.standard for r in table.rows)
    assert table.is_unsure("electricity", "A")  # OIML R46 base figures: not cross-checked
    assert not table.is_unsure("electricity", "2")  # IEC 62053-21 class 2
    assert not table.is_unsure("gas", "1.5")
    assert ("CN", "electricity") in table.unsure_factors


def test_class_spellings_are_normalised() -> None:
    assert normalise_class("Class 1,0") == normalise_class("1") == "1.0"
    assert normalise_class(" 0,5s ") == "0.5S"
    assert mpe_pct("gas", "1") == mpe_pct("gas", "1.0") == 1.0


def test_in_service_factor_germany_doubles_and_is_configurable() -> None:
    assert mpe_pct("electricity", "2", in_service=True) == 4.0
    assert mpe_pct("water", "2", in_service=True, jurisdiction="verification") == 2.0
    table = MpeTable.load().with_in_service_factor("XX", 1.5, meter_type="gas")
    assert table.mpe_pct("gas", "1.5", in_service=True, jurisdiction="XX") == 2.25
    with pytest.raises(DetectorError, match="jurisdiction 'XX'"):
        table.mpe_pct("water", "2", in_service=True, jurisdiction="XX")
    with pytest.raises(DetectorError, match="positive"):
        table.with_in_service_factor("XX", 0.0)


def test_array_variant_matches_scalar_and_keeps_shape() -> None:
    classes = np.array([["2", "1"], ["A", "2"]])
    got = mpe_pct_array("electricity", classes, in_service=True)
    assert got.shape == (2, 2)
    assert got.tolist() == [[4.0, 2.0], [4.0, 4.0]]


def test_unknown_class_zone_or_condition_raise() -> None:
    with pytest.raises(DetectorError, match="classes known"):
        mpe_pct("electricity", "7")
    with pytest.raises(DetectorError, match="zone"):
        mpe_pct("water", "2", zone="middle")
    with pytest.raises(DetectorError, match="no MPE"):
        mpe_pct("heat", "2")
    with pytest.raises(DetectorError, match="classes known"):
        mpe_pct_array("gas", ["1.0", "9"])


def test_heat_formula_en1434() -> None:
    # class 2 at q = qp/2, Δθ = 30 K, Δθmin = 3 K: Ef 2.04 + Et 0.8 + Ec 0.6
    assert heat_mpe_pct("2", q_over_qp=0.5, delta_theta_k=30.0) == pytest.approx(3.44)
    # flow-sensor caps: class 1 at 3.5 %, class 3 at 5 %
    low_flow = heat_mpe_pct("1", q_over_qp=0.001, delta_theta_k=30.0)
    assert low_flow == pytest.approx(3.5 + 0.8 + 0.6)
    both = heat_mpe_pct("3", q_over_qp=np.array([1.0, 0.01]), delta_theta_k=np.array([3.0, 60.0]))
    assert both == pytest.approx([3.05 + 3.5 + 1.5, 5.0 + 0.65 + 0.55])
    assert heat_mpe_pct("2", q_over_qp=1.0, delta_theta_k=3.0, in_service=True) == pytest.approx(
        2 * (2.02 + 3.5 + 1.5)
    )
    with pytest.raises(DetectorError, match="class"):
        heat_mpe_pct("4", q_over_qp=1.0, delta_theta_k=10.0)
    with pytest.raises(DetectorError, match="positive"):
        heat_mpe_pct("2", q_over_qp=0.0, delta_theta_k=10.0)
