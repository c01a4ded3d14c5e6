"""area_oracle: the stream's blocks lined up and put through the oracle's decision rule."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.oracle import DayEffect, OracleDecisions, oracle_decisions, register_level_var
from meterwatch.errors import DetectorError
from meterwatch.fleet_oracle import AreaOracle, area_oracle
from simulators.synthetic import AreaSpec, generate_area
from stream.intervals import IntervalBlock

DAY, T0 = 96, 1_788_220_800  # 2026-09-01T00:00Z


@pytest.fixture(scope="module")
def area():  # type: ignore[no-untyped-def]
    return generate_area(np.random.default_rng(5), AreaSpec(n_meters=30, days=6, oot_fraction=0.2))


def blocks_of(area, order: list[int]) -> list[IntervalBlock]:  # type: ignore[no-untyped-def]
    ids = tuple(area.meter_ids[i] for i in order)
    return [
        IntervalBlock(
            start_ts=T0 + d * DAY * 900,
            meter_ids=ids,
            master_wh=area.master_wh[d * DAY : (d + 1) * DAY],
            meters_wh=area.meters_wh[d * DAY : (d + 1) * DAY][:, order],
        )
        for d in range(6)
    ]


@pytest.mark.parametrize("law_of_weather", [False, True])
def test_blocks_give_the_oracle_of_the_arrays(area, law_of_weather: bool) -> None:  # type: ignore[no-untyped-def]
    ends = T0 + 900 * (1 + np.arange(6 * DAY))
    loss_wh = area.loss_climate_wh if law_of_weather else area.loss_model_wh
    day_effect = DayEffect(area.weather_basis_wh_per_k, area.weather_sd_k)  # days from row 0
    per_kelvin = dict(zip(ends.tolist(), day_effect.basis_wh.tolist(), strict=True))
    shuffled = list(np.random.default_rng(1).permutation(30))  # column order does not matter
    got = area_oracle(
        blocks_of(area, shuffled),
        dict(zip(ends.tolist(), loss_wh.tolist(), strict=True)),
        dict.fromkeys(area.meter_ids, 2.0),
        dict.fromkeys(area.meter_ids, 10.0),
        white_var_wh2=area.white_noise_var_wh2,
        weather=(per_kelvin, area.weather_sd_k) if law_of_weather else None,
    )  # it labels rows by UTC day, which here starts at row 0 as the arrays' days do
    level = register_level_var(area.master_wh, area.meters_wh, 10.0, interval_s=900.0)
    want = oracle_decisions(
        area.master_wh,
        area.meters_wh,
        loss_wh,
        2.0,
        intervals_per_day=DAY,
        white_var_wh2=area.white_noise_var_wh2,
        level_var_wh2=level,
        day_effect=day_effect if law_of_weather else None,
    )
    assert got.meter_ids == tuple(sorted(area.meter_ids))
    assert got.first_end_ts == T0 + 900
    np.testing.assert_array_equal(got.result.decisions, want.decisions)
    flagged = {area.meter_ids[i] for i in np.flatnonzero(want.out_of_tolerance())}
    assert got.out_of_tolerance() == flagged
    assert flagged  # some of the 6 truly-out meters are already decided after 6 days
    truly_out = {
        m for m, e in zip(area.meter_ids, area.true_error_pct[-1], strict=True) if abs(e) > 2
    }
    assert flagged <= truly_out


def test_missing_inputs_are_refused(area) -> None:  # type: ignore[no-untyped-def]
    blocks = blocks_of(area, list(range(30)))
    limits, steps = dict.fromkeys(area.meter_ids, 2.0), dict.fromkeys(area.meter_ids, 10.0)
    with pytest.raises(DetectorError, match="no true loss"):
        area_oracle(blocks, {}, limits, steps)
    ends = T0 + 900 * (1 + np.arange(6 * DAY))
    loss = dict.fromkeys(ends.tolist(), 0.0)
    with pytest.raises(DetectorError, match="no true loss"):  # nor its change per kelvin
        area_oracle(blocks, loss, limits, steps, weather=({}, 3.0))
    with pytest.raises(DetectorError, match="no MPE"):
        area_oracle(blocks, loss, {}, steps)
    with pytest.raises(DetectorError, match="no blocks"):
        area_oracle([], loss, limits, steps)


def test_injected_faults_are_undone_in_the_oracles_copy() -> None:
    from meterwatch.fleet_oracle import undo_faults
    from meterwatch.scoring import FaultRecord

    starts = T0 + 900 * np.arange(8)
    master = np.full(8, 101.0)
    meters = np.tile([10.0, 20.0, -5.0, 8.0], (8, 1))  # stuck, bypassed, reversed PV, fine
    at = [int(starts[k]) for k in (2, 3, 5, 6)]
    faults = [
        FaultRecord("stuck_register", "s", "u", "a", at[0], at[0] + 10**6, 0.0),
        FaultRecord("tamper_bypass", "b", "u", "a", at[1], at[2], 0.75),
        FaultRecord("reverse_wiring", "r", "u", "a", at[1], at[1] + 10**6, 0.0),
        FaultRecord(
            "reverse_wiring", "f", "u", "a", at[1], at[1] + 10**6, 0.0
        ),  # no generation: gross
        FaultRecord("master_error", "M", "u", "a", at[3], at[3] + 10**6, 1.0),
        FaultRecord(
            "clock_skew", "f", "u", "a", at[0], at[0] + 10**6, 300.0
        ),  # undone on the stamps, before assembly (undo_clock_skew)
        FaultRecord("outage", "x", "u", "a", at[0], at[1], 3.0),  # not in this area
    ]
    undo_faults(master, meters, starts, ["s", "b", "r", "f"], faults, master_id="M",
                with_generation={"s", "b", "r"})  # fmt: skip
    assert np.isnan(meters[2:, 0]).all() and (meters[:2, 0] == 10.0).all()
    np.testing.assert_array_equal(meters[:, 1], [20, 20, 20, 80, 80, 20, 20, 20])
    np.testing.assert_array_equal(meters[:, 2], [-5, -5, -5, 5, 5, 5, 5, 5])
    np.testing.assert_array_equal(meters[:, 3], [8.0] * 8)
    np.testing.assert_array_equal(master, [101] * 6 + [100, 100])


def test_a_skewed_clock_is_put_back_on_the_grid_after_the_fault_began() -> None:
    from meterwatch.fleet_oracle import undo_clock_skew
    from meterwatch.scoring import FaultRecord

    meters = np.array(["k", "k", "k", "k", "o"])
    # k's clock is 664 s behind from T0: boundary T0 itself was read before the fault
    ts = np.array([T0, T0 + 900 - 664, T0 + 1800 - 664, T0 + 2700 - 664, T0 + 900 - 664])
    fault = FaultRecord("clock_skew", "k", "u", "a", T0, T0 + 86_400, -664.0)
    got = undo_clock_skew(meters, ts, [fault])
    np.testing.assert_array_equal(got, [T0, T0 + 900, T0 + 1800, T0 + 2700, T0 + 900 - 664])


def test_relative_drift_follows_the_truths_daily_errors() -> None:
    from meterwatch.fleet_oracle import relative_drift
    from meterwatch.scoring import Truth

    days = np.array([T0 // 86_400, T0 // 86_400 + 1])
    truth = Truth(("a", "b"), days, np.array([[1.0, 0.0], [3.0, 0.0]]), np.array([2.0, 2.0]))
    starts = np.array([T0, T0 + 900, T0 + 86_400])
    got = relative_drift(truth, ["b", "a", "z"], starts)
    np.testing.assert_allclose(got[:, 0], 1.0)
    np.testing.assert_allclose(got[:, 1], [1.01 / 1.03, 1.01 / 1.03, 1.0])
    np.testing.assert_allclose(got[:, 2], 1.0)  # not in the truth


def test_confirmed_needs_that_many_days_out_none_conforming(area) -> None:  # type: ignore[no-untyped-def]
    out, ok, unsure = "out_of_tolerance", "conforming", "inconclusive"
    decisions = np.array(
        [[out, out, unsure, out], [out, ok, out, unsure], [out, out, out, out], [ok, out, out, out]]
    )
    oracle = AreaOracle(
        meter_ids=("a", "b", "c", "d"),
        first_end_ts=T0,
        result=OracleDecisions(decisions=decisions, estimates=None),  # type: ignore[arg-type]
    )
    # a: days 1-3; c: days 2-4; d: days 1, 3, 4 (its inconclusive day 2 ends nothing);
    # b: a conforming day 2 between its out days
    assert oracle.confirmed(3) == {"a", "c", "d"}
    assert oracle.confirmed(4) == frozenset()
    assert oracle.out_of_tolerance() == {"b", "c", "d"}
