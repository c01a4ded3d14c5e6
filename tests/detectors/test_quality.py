from __future__ import annotations

import doctest
import json
from dataclasses import FrozenInstanceError

import numpy as np
import pytest

import detectors.quality
from detectors.quality import DataQualityRules, Finding, QualityConfig
from meterwatch.errors import DetectorError

A, B = "000000000001", "000000000002"
DAY = 86_400


def frame(
    meters: list[str],
    ts: list[int],
    imp: list[float],
    exp: list[float] | None = None,
    volt: list[float] | None = None,
    cur: list[float] | None = None,
) -> tuple[np.ndarray, ...]:
    n = len(ts)
    return (
        np.array(meters, dtype=object),
        np.array(ts, dtype=np.int64),
        np.array(imp, dtype=np.float64),
        np.array(exp if exp is not None else [0.0] * n, dtype=np.float64),
        np.array(volt if volt is not None else [230.0] * n, dtype=np.float64),
        np.array(cur if cur is not None else [0.0] * n, dtype=np.float64),
    )


def kinds(rules: DataQualityRules) -> list[tuple[str, int, str]]:
    return [(f.meter, f.ts, f.kind) for f in rules.findings]


def test_doctests() -> None:
    assert doctest.testmod(detectors.quality).failed == 0


def test_register_decrease_reported_once_when_frame_redelivered() -> None:
    rules = DataQualityRules()
    f = frame([A, A, A, B, B], [0, 900, 1800, 0, 900], [100, 90, 95, 5, 15])
    rules.update(*f)
    assert rules.findings == (Finding(A, 900, "register_decreased", 90.0, 100.0),)
    rules.update(*f)
    assert rules.findings == ()


def test_unsorted_frame_gives_same_findings_as_sorted() -> None:
    rules = DataQualityRules()
    rules.update(*frame([A, B, A, A, B], [1800, 900, 0, 900, 0], [95, 15, 100, 90, 5]))
    assert rules.findings == (Finding(A, 900, "register_decreased", 90.0, 100.0),)


def test_decrease_across_frames_uses_last_accepted_register() -> None:
    rules = DataQualityRules()
    rules.update(*frame([A, A], [0, 900], [100, 110]))
    assert rules.findings == ()
    rules.update(*frame([A], [1800], [105]))
    assert rules.findings == (Finding(A, 1800, "register_decreased", 105.0, 110.0),)


def test_late_reading_is_dropped_without_finding() -> None:
    rules = DataQualityRules()
    rules.update(*frame([A, A], [0, 1800], [100, 120]))
    rules.update(*frame([A, A], [900, 2700], [50, 130]))  # 900 is late and would decrease
    assert rules.findings == ()


def test_duplicate_within_frame_keeps_first() -> None:
    rules = DataQualityRules()
    rules.update(*frame([A, A, A], [0, 900, 900], [100, 110, 1]))
    assert rules.findings == ()
    rules.update(*frame([A], [1800], [105]))
    assert rules.findings == (Finding(A, 1800, "register_decreased", 105.0, 110.0),)


def test_missing_register_bridged_to_previous_valid() -> None:
    rules = DataQualityRules()
    rules.update(*frame([A, A], [0, 900], [100, np.nan]))
    rules.update(*frame([A], [1800], [99]))
    assert rules.findings == (Finding(A, 1800, "register_decreased", 99.0, 100.0),)


def test_export_decrease_and_reverse_energy() -> None:
    rules = DataQualityRules()
    rules.update(*frame([A, A, A], [0, 900, 1800], [10, 20, 30], exp=[0, 50, 40]))
    assert kinds(rules) == [
        (A, 900, "reverse_energy"),
        (A, 1800, "register_decreased"),
    ]
    assert rules.findings[0].value == 50.0 and rules.findings[0].reference == 0.0


def test_prosumer_may_export() -> None:
    rules = DataQualityRules(QualityConfig(prosumers=frozenset({A})))
    rules.update(*frame([A, A], [0, 900], [10, 20], exp=[0, 500]))
    assert rules.findings == ()


def test_stuck_register_reported_once_when_48h_reached_even_across_frames() -> None:
    ts = list(range(0, 3 * DAY, 900))
    imp = [1000.0] * len(ts)
    one = DataQualityRules()
    one.update(*frame([A] * len(ts), ts, imp))
    assert one.findings == (Finding(A, 2 * DAY, "stuck_register", 2.0 * DAY, 2.0 * DAY),)

    split = DataQualityRules()
    cut = ts.index(2 * DAY)  # the crossing is the first reading of the second frame
    split.update(*frame([A] * cut, ts[:cut], imp[:cut]))
    assert split.findings == ()
    split.update(*frame([A] * (len(ts) - cut), ts[cut:], imp[cut:]))
    assert split.findings == one.findings


def test_stuck_register_resets_when_register_moves() -> None:
    ts = list(range(0, 3 * DAY, 900))
    imp = [1000.0 if t < DAY else 1010.0 for t in ts]
    rules = DataQualityRules()
    rules.update(*frame([A] * len(ts), ts, imp))
    assert rules.findings == ()


def test_clock_skew_is_offset_from_nearest_interval_edge() -> None:
    rules = DataQualityRules()
    rules.update(*frame([A, A, A, A], [5, 975, 1710, 2700], [1, 2, 3, 4]))
    assert [(f.ts, f.kind, f.value, f.reference) for f in rules.findings] == [
        (975, "clock_skew", 75.0, 60.0),
        (1710, "clock_skew", -90.0, 60.0),
    ]


def test_gap() -> None:
    rules = DataQualityRules()
    rules.update(*frame([A, A], [0, 900], [1, 2]))
    rules.update(*frame([A], [5400], [3]))
    assert rules.findings == (Finding(A, 5400, "gap", 4500.0, 3600.0),)


def test_voltage_out_of_range() -> None:
    rules = DataQualityRules()
    rules.update(
        *frame([A, A, A, A], [0, 900, 1800, 2700], [1, 2, 3, 4], volt=[200, 230, 260, np.nan])
    )
    assert [(f.ts, f.value, f.reference) for f in rules.findings] == [
        (0, 200.0, 207.0),
        (1800, 260.0, 253.0),
    ]


def test_current_without_energy() -> None:
    rules = DataQualityRules()
    # 5 A at 230 V for 900 s would be 287.5 Wh; 0.05 A is below min_current_a.
    rules.update(*frame([A, A, A], [0, 900, 1800], [10, 10, 10], cur=[5, 5, 0.05]))
    assert rules.findings == (Finding(A, 900, "current_without_energy", 5.0, 0.0),)


def test_no_finding_on_first_reading_of_a_meter() -> None:
    rules = DataQualityRules()
    rules.update(*frame([A], [0], [10], exp=[99], cur=[9]))
    assert rules.findings == ()


def test_seeded_fleet_reports_exactly_the_injected_faults() -> None:
    rng = np.random.default_rng(7)
    n_meters, n_t = 50, 96
    meters = np.array([f"{i:012d}" for i in range(n_meters)])
    ts = np.arange(n_t, dtype=np.int64) * 900 + rng.integers(-5, 6, size=(n_meters, n_t))
    steps = rng.integers(1, 30, size=(n_meters, n_t)) * 10.0
    imp = np.cumsum(steps, axis=1)
    imp[3, 40] = imp[3, 39] - 10.0  # one register glitch backwards
    ts[7, 60] += 120  # one skewed clock
    volt = np.full((n_meters, n_t), 230.0)
    volt[11, 5] = 190.0
    cols = (
        np.repeat(meters, n_t),
        ts.ravel(),
        imp.ravel(),
        np.zeros(n_meters * n_t),
        volt.ravel(),
        np.zeros(n_meters * n_t),
    )
    shuffle = rng.permutation(n_meters * n_t)
    rules = DataQualityRules()
    rules.update(*(c[shuffle] for c in cols))
    expected = [
        (meters[3], int(ts[3, 40]), "register_decreased"),
        (meters[7], int(ts[7, 60]), "clock_skew"),
        (meters[11], int(ts[11, 5]), "voltage_out_of_range"),
    ]
    assert kinds(rules) == sorted(expected)

    # The same readings in four time-ordered frames, each redelivered: same findings.
    chunked = DataQualityRules()
    seen: list[Finding] = []
    order = np.argsort(cols[1], kind="stable")
    for part in np.array_split(order, 4):
        chunked.update(*(c[part] for c in cols))
        seen.extend(chunked.findings)
        chunked.update(*(c[part] for c in cols))
        assert chunked.findings == ()
    assert sorted(seen, key=lambda f: (f.meter, f.ts)) == list(rules.findings)


def test_snapshot_is_json_and_restore_continues_identically() -> None:
    rules = DataQualityRules(QualityConfig(prosumers=frozenset({B})))
    rules.update(*frame([A, A, B], [0, 900, 0], [100, np.nan, 5], exp=[0, 0, np.nan]))
    state = json.loads(json.dumps(rules.snapshot(), allow_nan=False))
    clone = DataQualityRules.restore(state)
    assert clone.config == rules.config
    nxt = frame([A, B, A], [1800, 900, 2700], [90, 4, 95], exp=[0, 20, 0])
    rules.update(*nxt)
    clone.update(*nxt)
    assert clone.findings == rules.findings
    assert kinds(rules) == [(A, 1800, "register_decreased"), (B, 900, "register_decreased")]


def test_config_is_frozen_and_findings_read_only() -> None:
    rules = DataQualityRules()
    with pytest.raises(FrozenInstanceError):
        rules.config.max_gap_s = 1.0  # type: ignore[misc]
    with pytest.raises(AttributeError):
        rules.findings = ()  # type: ignore[misc]


def test_bad_input_raises_detector_error() -> None:
    rules = DataQualityRules()
    with pytest.raises(DetectorError, match="integer"):
        rules.update(*frame([A], [0], [1])[:1], np.array([0.5]), *frame([A], [0], [1])[2:])
    with pytest.raises(DetectorError, match="one length"):
        rules.update(np.array([A, B]), np.array([0]), *frame([A], [0], [1])[2:])
    with pytest.raises(DetectorError, match="cannot restore"):
        DataQualityRules.restore({"kind": "DataQualityRules", "version": 99})


def test_empty_frame() -> None:
    rules = DataQualityRules()
    rules.update(*frame([], [], []))
    assert rules.findings == () and rules.n_meters == 0


def test_decrease_with_current_is_not_also_current_without_energy() -> None:
    rules = DataQualityRules()
    rules.update(*frame([A, A], [0, 900], [100, 50], cur=[5, 5]))
    assert kinds(rules) == [(A, 900, "register_decreased")]
