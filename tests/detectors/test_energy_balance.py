"""AreaErrorEstimator: seeded synthetic areas, the edge cases of issue 3, persistence."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from detectors import energy_balance
from detectors.bridging import ANCHORED, NEW, SPLIT, UNKNOWN, fill_gaps
from detectors.conformity import Decision, decide
from detectors.energy_balance import AreaErrorEstimator, EstimatorConfig
from detectors.gls import scaled_noise_moments
from meterwatch.errors import DetectorError
from simulators.synthetic import AreaSpec, generate_area

DAY = 96


def feed(est: AreaErrorEstimator, master: np.ndarray, meters: np.ndarray, days: int) -> None:
    for d in range(days):
        rows = slice(d * DAY, (d + 1) * DAY)
        est.update(master[rows], meters[rows])


def breaks_found(
    est: AreaErrorEstimator, master: np.ndarray, meters: np.ndarray, days: int, digits: int
) -> list[tuple[int, str, int, float]]:
    """Feed ``days`` day blocks; each break as (day, meter, row, step of θ to ``digits``)."""
    found = []
    for d in range(days):
        rows = slice(d * DAY, (d + 1) * DAY)
        est.update(master[rows], meters[rows])
        found += [(d, m, b.row, round(b.change, digits)) for m, b in est.breaks]
    return found


@pytest.fixture(scope="module")
def area():  # type: ignore[no-untyped-def]
    spec = AreaSpec(n_meters=200, days=20, oot_fraction=0.05, missing_rate=0.01)
    return generate_area(np.random.default_rng(7), spec)


@pytest.fixture(scope="module")
def fitted(area):  # type: ignore[no-untyped-def]
    est = AreaErrorEstimator(area.meter_ids)
    feed(est, area.master_wh, area.meters_wh, 20)
    return est


def test_estimates_track_the_true_errors(area, fitted) -> None:  # type: ignore[no-untyped-def]
    truth = area.true_error_pct[-1]
    err = fitted.errors_pct - truth
    assert fitted.identifiable.sum() == 199
    # 1.29 % and 0.975 before the white level came from its likelihood (2026-11-28)
    assert round(float(np.abs(err).mean()), 2) == 1.35
    assert (np.abs(err) <= 1.96 * fitted.uncertainty_pct).mean() == 0.94
    out = np.flatnonzero(
        decide(fitted.errors_pct, fitted.uncertainty_pct, 2.0, identifiable=fitted.identifiable)
        == Decision.OUT_OF_TOLERANCE
    )
    assert out.tolist() == [51, 122, 165]  # of 10 truly out after 20 days; no healthy meter
    assert (np.abs(truth[out]) > 5.8).all()
    assert not fitted.master_suspect


def test_results_are_exactly_reproducible(area, fitted) -> None:  # type: ignore[no-untyped-def]
    again = AreaErrorEstimator(area.meter_ids)
    feed(again, area.master_wh, area.meters_wh, 20)
    np.testing.assert_array_equal(again.errors_pct, fitted.errors_pct)
    np.testing.assert_array_equal(again.uncertainty_pct, fitted.uncertainty_pct)


def test_results_are_read_only_and_loss_is_estimated(area, fitted) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        fitted.errors_pct[0] = 1.0
    assert 0 < fitted.loss_fixed_wh < 0.05 * fitted.reference_load_wh
    assert 0 < fitted.loss_load_wh < 0.1 * fitted.reference_load_wh
    assert fitted.balance_residuals_wh.shape == (DAY,)
    assert fitted.meter_ids == area.meter_ids


def test_snapshot_round_trip_continues_identically(area) -> None:  # type: ignore[no-untyped-def]
    est = AreaErrorEstimator(area.meter_ids)
    feed(est, area.master_wh, area.meters_wh, 5)
    est.update(area.master_wh[480:530], area.meters_wh[480:530])  # end mid-day, gaps open
    state = json.loads(json.dumps(est.snapshot(), allow_nan=False))
    twin = AreaErrorEstimator.restore(state)
    for a in (est, twin):
        a.update(area.master_wh[530:700], area.meters_wh[530:700])
    np.testing.assert_array_equal(twin.errors_pct, est.errors_pct)
    np.testing.assert_array_equal(twin.uncertainty_pct, est.uncertainty_pct)
    np.testing.assert_array_equal(twin.balance_residuals_wh, est.balance_residuals_wh)
    with pytest.raises(DetectorError):
        AreaErrorEstimator.restore({**state, "version": 99})


def balance(rng: np.random.Generator, loads: np.ndarray, errors_pct: np.ndarray) -> np.ndarray:
    """Master = true consumption + fixed loss + a little white noise; meters read with error."""
    return loads.sum(axis=1) + 50.0 + rng.normal(0.0, 5.0, len(loads))


def household(rng: np.random.Generator, rows: int, n: int) -> np.ndarray:
    return rng.gamma(1.5, 60.0, (rows, n))


def test_area_of_one_meter() -> None:
    rng = np.random.default_rng(1)
    loads = household(rng, 30 * DAY, 1)
    master = balance(rng, loads, np.zeros(1))
    noise = EstimatorConfig(register_resolution_wh=0.0, white_noise_fraction=5.0 / 140.0)
    est = AreaErrorEstimator(["solo"], noise)
    feed(est, master, loads * 1.05, 30)  # registers 5 % fast
    assert est.identifiable.tolist() == [True]
    assert abs(est.errors_pct[0] - 5.0) < 3 * est.uncertainty_pct[0]
    assert np.isnan(est.common_error_pct)  # too few meters to say anything about the master


def test_all_zero_consumption_is_not_identifiable() -> None:
    est = AreaErrorEstimator(["a", "b", "c"])
    feed(est, np.zeros(3 * DAY), np.zeros((3 * DAY, 3)), 3)
    assert not est.identifiable.any()
    assert np.all(np.isfinite(est.errors_pct)) and np.all(est.uncertainty_pct > 5.0)
    assert set(decide(est.errors_pct, est.uncertainty_pct, 2.0, identifiable=est.identifiable)) == {
        Decision.INCONCLUSIVE
    }


def test_nan_everywhere_then_data_resumes() -> None:
    rng = np.random.default_rng(2)
    loads = household(rng, 21 * DAY, 5)
    master = balance(rng, loads, np.zeros(5))
    est = AreaErrorEstimator([f"m{i}" for i in range(5)], EstimatorConfig(register_resolution_wh=0))
    est.update(np.full(DAY, np.nan), np.full((DAY, 5), np.nan))
    assert not est.identifiable.any()
    assert np.all(np.isfinite(est.errors_pct))
    # registers were not read for a day: the first readings carry that day's energy
    master[DAY] += master[:DAY].sum()
    loads[DAY] += loads[:DAY].sum(axis=0)
    feed(est, master[DAY:], loads[DAY:], 20)
    assert est.identifiable.all()
    assert (np.abs(est.errors_pct) < 3 * est.uncertainty_pct).all()


def test_collinear_meters_are_not_identifiable() -> None:
    rng = np.random.default_rng(3)
    loads = household(rng, 20 * DAY, 6)
    loads[:, 1] = loads[:, 0]  # two meters with one profile
    registered = loads * np.array([1.03, 0.97, 1, 1, 1, 1])
    est = AreaErrorEstimator([f"m{i}" for i in range(6)])
    feed(est, balance(rng, loads, np.zeros(6)), registered, 20)
    assert est.identifiable.tolist() == [False, False, True, True, True, True]
    said = decide(est.errors_pct, est.uncertainty_pct, 2.0, identifiable=est.identifiable)
    assert Decision.OUT_OF_TOLERANCE not in said[:2]


def test_replaced_meter_starts_from_the_prior() -> None:
    rng = np.random.default_rng(4)
    loads = household(rng, 40 * DAY, 8)
    master = balance(rng, loads, np.zeros(8))
    ids = [f"m{i}" for i in range(8)]
    est = AreaErrorEstimator(ids, EstimatorConfig(register_resolution_wh=0.0))
    old = loads.copy()
    old[:, 3] *= 0.90  # the old meter registers 10 % slow
    feed(est, master[: 20 * DAY], old[: 20 * DAY], 20)
    assert est.errors_pct[3] == pytest.approx(-10.0, abs=1.0)
    est.replace_meter("m3")
    assert not est.identifiable[3] and est.errors_pct[3] == 0.0
    assert est.identifiable[np.arange(8) != 3].all()
    new = loads[20 * DAY :].copy()
    new[0, 3] = np.nan  # the new meter's first interval is unread
    for d in range(20):
        rows = slice(d * DAY, (d + 1) * DAY)
        est.update(master[20 * DAY :][rows], new[rows])
    assert est.identifiable[3]
    assert abs(est.errors_pct[3]) < 3 * est.uncertainty_pct[3]


def test_meters_join_and_leave() -> None:
    est = AreaErrorEstimator(["a", "b"])
    est.add_meter("c")
    assert est.meter_ids == ("a", "b", "c")
    est.update(np.ones(4) * 30.0, np.ones((4, 3)) * 10.0)
    est.remove_meter("a")
    assert est.meter_ids == ("b", "c") and est.errors_pct.shape == (2,)
    with pytest.raises(DetectorError):
        est.remove_meter("a")
    with pytest.raises(DetectorError):
        est.add_meter("b")
    with pytest.raises(DetectorError):
        est.update(np.ones(4), np.ones((4, 3)))


def test_daily_increments() -> None:
    spec = AreaSpec(n_meters=20, days=120, interval_minutes=1440, missing_rate=0.02)
    area = generate_area(np.random.default_rng(5), spec)
    est = AreaErrorEstimator(area.meter_ids, EstimatorConfig(intervals_per_day=1))
    for week in range(0, 120, 7):
        est.update(area.master_wh[week : week + 7], area.meters_wh[week : week + 7])
    err = est.errors_pct - area.true_error_pct[-1]
    assert est.identifiable.mean() >= 0.5
    assert (np.abs(err) <= 1.96 * est.uncertainty_pct).mean() >= 0.9


def test_bridged_spans_keep_their_totals() -> None:
    values = np.array([[1.0, np.nan], [np.nan, np.nan], [9.0, 30.0], [2.0, 4.0]])
    filled, kind, bridge = fill_gaps(
        values, np.ones(4), np.array([3.0, 5.0]), np.array([ANCHORED, NEW])
    )
    np.testing.assert_allclose(filled[:, 0], [1.0, 4.5, 4.5, 2.0])
    assert kind[:, 0].tolist() == [0, SPLIT, SPLIT, 0]
    assert bridge[:, 0].tolist() == [0.0, 0.5, 0.0, 0.0]
    np.testing.assert_allclose(filled[:, 1], [5.0, 5.0, 30.0, 4.0])  # new meter: own row
    assert kind[:, 1].tolist() == [UNKNOWN, UNKNOWN, 0, 0]


def test_white_noise_level_adapts_to_the_data() -> None:
    spec = AreaSpec(n_meters=40, days=12, oot_fraction=0.0, missing_rate=0.0)
    area = generate_area(np.random.default_rng(11), spec)
    loud = np.random.default_rng(12).normal(0.0, 60.0, area.master_wh.shape)
    quiet_est, loud_est = AreaErrorEstimator(area.meter_ids), AreaErrorEstimator(area.meter_ids)
    feed(quiet_est, area.master_wh, area.meters_wh, 12)
    feed(loud_est, area.master_wh + loud, area.meters_wh, 12)
    floor = (quiet_est.config.white_noise_fraction * quiet_est.reference_load_wh) ** 2
    assert floor <= quiet_est.white_noise_var_wh2 < 0.1 * 60.0**2
    assert 0.7 * 60.0**2 < loud_est.white_noise_var_wh2 < 2.0 * 60.0**2
    assert loud_est.uncertainty_pct.mean() > 1.5 * quiet_est.uncertainty_pct.mean()


def test_older_snapshots_still_restore(area) -> None:  # type: ignore[no-untyped-def]
    est = AreaErrorEstimator(area.meter_ids)
    feed(est, area.master_wh, area.meters_wh, 3)
    new = est.snapshot()
    for version in (1, 2):
        old = {k: v for k, v in new.items() if k not in ("noise", "white_info")}
        twin = AreaErrorEstimator.restore(old | {"version": version})
        np.testing.assert_array_equal(twin.errors_pct, est.errors_pct)
        twin.update(area.master_wh[288:384], area.meters_wh[288:384])
        assert np.isfinite(twin.errors_pct).all()
        assert twin.snapshot()["version"] == 8
    v6 = {k: v for k, v in new.items() if k != "master"} | {"version": 6}
    twin = AreaErrorEstimator.restore(v6)  # no master step was looked for: none found so far
    np.testing.assert_array_equal(twin.errors_pct, est.errors_pct)
    assert twin.master_scale == 1.0 and twin.snapshot()["master"] == [1.0, 0.0, 0.0, 0.0, None]
    v5 = {k: v for k, v in new.items() if k != "loss_eiv"} | {"version": 5}
    twin = AreaErrorEstimator.restore(v5)  # the load-loss columns' correction starts at 0
    assert np.isfinite(twin.errors_pct).all()
    assert twin.snapshot()["loss_eiv"] == [0.0] * len(new["loss_eiv"])
    v4 = new | {
        "version": 4,
        "config": {k: v for k, v in new["config"].items() if "break" not in k},
    }
    np.testing.assert_array_equal(AreaErrorEstimator.restore(v4).errors_pct, est.errors_pct)
    v3 = new | {"version": 3, "debt": np.reshape(new["debt"], (3, -1))[:2].ravel().tolist()}
    twin = AreaErrorEstimator.restore(v3)  # v3 debts had no variance: it starts at 0
    np.testing.assert_array_equal(twin.errors_pct, est.errors_pct)
    assert twin.snapshot()["debt"][-201:] == [0.0] * 201


def _with_outage(days: int):  # type: ignore[no-untyped-def]
    """An area of 100 where one household (the 10th-largest) draws nothing and is unread for
    3 days from mid-day 8; returns (area, its column, master, meters)."""
    area = generate_area(np.random.default_rng(11), AreaSpec(n_meters=100, days=days))
    i = int(np.argsort(area.true_load_wh.mean(axis=0))[-10])
    lo, hi = 8 * DAY + 40, 11 * DAY + 40
    master, meters = area.master_wh.copy(), area.meters_wh.copy()
    master[lo:hi] -= area.true_load_wh[lo:hi, i]
    meters[lo:hi, i] = np.nan
    return area, i, master, meters


@pytest.fixture(scope="module")
def gap_runs():  # type: ignore[no-untyped-def]
    """One household (the 10th-largest of 100) unread for 3 days from mid-day 8: once in an
    outage (it draws nothing; its closing reading carries 0), once in a communication gap
    (it draws as usual; its closing reading carries the span), and without the gap."""
    area, i, outage_master, outage = _with_outage(20)
    lo, hi = 8 * DAY + 40, 11 * DAY + 40
    comm = area.meters_wh.copy()
    comm[hi, i] = np.nansum(comm[lo : hi + 1, i])
    comm[lo:hi, i] = np.nan
    runs = {}
    for name, master, meters in (
        ("base", area.master_wh, area.meters_wh),
        ("outage", outage_master, outage),
        ("comm", area.master_wh, comm),
    ):
        est = AreaErrorEstimator(area.meter_ids)
        decisions = []
        for d in range(20):
            est.update(master[d * DAY : (d + 1) * DAY], meters[d * DAY : (d + 1) * DAY])
            decisions.append(decide(est.errors_pct, est.uncertainty_pct, 2.0)[i])
        runs[name] = (est, decisions)
    return i, runs


def test_an_outage_does_not_move_its_meter_beyond_its_uncertainty(gap_runs) -> None:  # type: ignore[no-untyped-def]
    i, runs = gap_runs
    base, outage = runs["base"][0], runs["outage"][0]
    shift = outage.errors_pct - base.errors_pct
    # before the level nuisance: +61 % (18 u), ordered out from day 11, a neighbour at 21 u;
    # 1.00 % against u = 0.84 % now (0.80 % against 0.98 % before the load-loss columns'
    # noise was corrected: the area's white level fell from 1,107 to 613 Wh², so u did)
    assert abs(shift[i]) <= 1.25 * outage.uncertainty_pct[i]
    others = np.arange(len(shift)) != i
    assert np.abs(shift[others] / base.uncertainty_pct[others]).max() < 3.0  # 2.6
    assert Decision.OUT_OF_TOLERANCE not in runs["outage"][1]
    assert not outage._debt.any()  # the closing reading settled the span


def test_a_communication_gap_still_bridges(gap_runs) -> None:  # type: ignore[no-untyped-def]
    i, runs = gap_runs
    base, comm = runs["base"][0], runs["comm"][0]
    shift = comm.errors_pct - base.errors_pct
    assert abs(shift[i]) <= 2.0 * comm.uncertainty_pct[i]  # 0.89 %, 1.5 u (before: 2.9 %)
    others = np.arange(len(shift)) != i
    assert np.abs(shift[others] / base.uncertainty_pct[others]).max() < 4.0  # 3.5 (before 5.2)
    assert comm.identifiable[i]
    assert Decision.OUT_OF_TOLERANCE not in runs["comm"][1]
    assert not comm._debt.any()


def test_snapshot_mid_outage_continues_identically() -> None:
    area, i, master, meters = _with_outage(12)
    est = AreaErrorEstimator(area.meter_ids)
    feed(est, master, meters, 10)
    assert est.snapshot()["version"] == 8
    assert est._debt[2, i + 1] > 0  # the guess's level was corrected, with its variance
    twin = AreaErrorEstimator.restore(json.loads(json.dumps(est.snapshot(), allow_nan=False)))
    for a in (est, twin):
        a.update(master[10 * DAY :], meters[10 * DAY :])
    np.testing.assert_array_equal(twin.errors_pct, est.errors_pct)
    np.testing.assert_array_equal(twin.uncertainty_pct, est.uncertainty_pct)


def test_a_long_guess_moving_by_the_hour_spares_the_neighbours() -> None:
    """The largest of 40 households is not read from 10:30 of day 2 on (a stuck register as
    the stream leaves it out: its span is written off after every block). Its use is guessed
    at its mean; the truth runs above and below that for hours. With one level for the whole
    block, its neighbours' θ took the runs up: MAE 6.02 % with 69 % of them covered at day
    14. With the level moving every hour (``guess_shape_rows`` 4), 2.32 % and 92 %."""
    spec = AreaSpec(n_meters=40, days=14, oot_fraction=0.0, missing_rate=0.0)
    area = generate_area(np.random.default_rng(11), spec)
    j = int(np.argmax(area.true_load_wh.mean(axis=0)))
    meters = area.meters_wh.copy()
    meters[2 * DAY + 42 :, j] = np.nan
    others = np.arange(40) != j
    found = []
    for rows in (0, 4):
        est = AreaErrorEstimator(area.meter_ids, EstimatorConfig(guess_shape_rows=rows))
        for d in range(14):
            est.update(area.master_wh[d * DAY : (d + 1) * DAY], meters[d * DAY : (d + 1) * DAY])
            if d >= 2:
                est.write_off([area.meter_ids[j]])
        error = np.abs(est.errors_pct - area.true_error_pct[-1])[others]
        covered = error <= 1.96 * est.uncertainty_pct[others]
        found.append((round(float(error.mean()), 2), round(float(covered.mean()), 2)))
    assert found == [(6.02, 0.69), (2.33, 0.92)]


def test_a_reversed_meter_is_a_break_and_does_not_drag_its_neighbours() -> None:
    """From 06:00 of day 8 one household (the 10th-largest of 100) is wired backwards: its
    register runs on the export side, so the balance gets minus its consumption."""
    area = generate_area(np.random.default_rng(11), AreaSpec(n_meters=100, days=16))
    i = int(np.argsort(area.true_load_wh.mean(axis=0))[-10])
    meters = area.meters_wh.copy()
    meters[8 * DAY + 24 :, i] *= -1.0
    runs = {}
    for detect in (True, False):
        est = AreaErrorEstimator(area.meter_ids, EstimatorConfig(detect_breaks=detect))
        runs[detect] = (est, breaks_found(est, area.master_wh, meters, 16, 2))
    est, found = runs[True]
    assert found == [(8, area.meter_ids[i], 24, -2.16)]  # θ: 1 -> -1, seen through one day
    others = np.arange(100) != i
    truth = area.true_error_pct[-1][others]
    mae = {k: np.abs(r[0].errors_pct[others] - truth).mean() for k, r in runs.items()}
    assert (round(mae[True], 2), round(mae[False], 2)) == (0.91, 4.0)  # no reversal: 0.91
    # registered = −0.964·true (its true error is −3.58 %): ε = −196.4 %
    assert round(float(est.errors_pct[i]), 1) == -197.0
    # without break detection nothing is found, and the reversed meter itself looks fine
    assert runs[False][1] == []
    assert round(float(runs[False][0].errors_pct[i]), 1) == 3.0


def test_a_step_of_a_large_meters_error_is_followed() -> None:
    """From 09:00 of day 8 the largest of 40 meters (14 % of the area's load) registers 6 %
    less than passes through it, as when a component fails. A constant θ never gets there; as
    a step of the meter's error it is found the next day and followed."""
    spec = AreaSpec(n_meters=40, days=16, oot_fraction=0.0, missing_rate=0.0)
    area = generate_area(np.random.default_rng(3), spec)
    i = int(np.argmax(area.true_load_wh.mean(axis=0)))
    meters = area.meters_wh.copy()
    assert round(float(area.true_error_pct[-1, i]), 2) == 0.0
    meters[8 * DAY + 36 :, i] *= 0.94  # its error: 0 -> −6 %
    result = {}
    for top in (0.1, 0.0):  # steps of the meter's error up to 10 %, or none
        est = AreaErrorEstimator(area.meter_ids, EstimatorConfig(error_step_max=top))
        found = breaks_found(est, area.master_wh, meters, 16, 3)
        estimate = (round(float(est.errors_pct[i]), 2), round(float(est.uncertainty_pct[i]), 2))
        result[top] = (found, estimate)
    assert result[0.1] == ([(9, area.meter_ids[i], 0, 0.072)], (-5.98, 0.45))
    assert result[0.0] == ([], (-1.53, 0.63))


def _master_step(row: int, step: float):  # type: ignore[no-untyped-def]
    """An area of 100 over 16 days whose master reads ``step`` more from ``row`` of day 8 on."""
    area = generate_area(np.random.default_rng(11), AreaSpec(n_meters=100, days=16))
    master = area.master_wh.copy()
    master[8 * DAY + row :] *= 1.0 + step
    return area, master


def _run_days(est: AreaErrorEstimator, master, meters, days: range) -> tuple[list, list]:  # type: ignore[no-untyped-def]
    """Feed ``days``; the breaks and master steps found, each with its day."""
    breaks, steps = [], []
    for d in days:
        rows = slice(d * DAY, (d + 1) * DAY)
        est.update(master[rows], meters[rows])
        breaks += [(d, meter, b.row) for meter, b in est.breaks]
        steps += [(d, b.row, round(b.change, 4)) for b in est.master_steps]
    return breaks, steps


def test_a_step_of_the_master_rescales_its_readings() -> None:
    """From 06:00 of day 8 the master reads 1.2 % low. Seen there, the step is left to the
    next block with the master unread from it; day 9 sees it again from its first row, and
    the master's readings are rescaled from there on by the size both days weigh in on
    (−1.17 %): the estimates end nearly as good as without the step (MAE 0.95 % against
    0.92 %, 88 % and 87 % coverage). Taken as no
    one's step (``master_step_min`` inf, as before), no meter broke, but every θ followed it
    over days: MAE 3.37 % after day 8, 3.35 % with 61 % coverage after day 9, 1.67 % at the
    end (figures of days 8 and 9 from before the white level came from its likelihood). A
    snapshot taken while day 9 is to confirm the step continues the same way."""
    area, master = _master_step(24, -0.012)
    est = AreaErrorEstimator(area.meter_ids)
    breaks, steps = _run_days(est, master, area.meters_wh, range(9))
    state = json.loads(json.dumps(est.snapshot()))  # with the step left to day 9
    assert breaks == steps == [] and state["master"][2] == 72
    twin = AreaErrorEstimator.restore(state)
    breaks, steps = _run_days(est, master, area.meters_wh, range(9, 16))
    assert _run_days(twin, master, area.meters_wh, range(9, 16)) == (breaks, steps)
    assert breaks == [] and steps == [(9, -72, -0.0117)] and round(est.master_scale, 4) == 0.9883
    np.testing.assert_array_equal(twin.errors_pct, est.errors_pct)
    np.testing.assert_array_equal(twin.uncertainty_pct, est.uncertainty_pct)
    clean = AreaErrorEstimator(area.meter_ids)
    _run_days(clean, area.master_wh, area.meters_wh, range(16))
    for fitted, mae, covered in ((est, 0.95, 0.88), (clean, 0.92, 0.87)):
        error = np.abs(fitted.errors_pct - area.true_error_pct[-1])
        assert round(float(error.mean()), 2) == mae
        assert round(float((error <= 1.96 * fitted.uncertainty_pct).mean()), 2) == covered
    followed = AreaErrorEstimator(area.meter_ids, EstimatorConfig(master_step_min=math.inf))
    assert _run_days(followed, master, area.meters_wh, range(16)) == ([], [])
    error = np.abs(followed.errors_pct - area.true_error_pct[-1])
    assert round(float(error.mean()), 2) == 1.67
    # its misfit had widened u to cover every meter before the white level came from its
    # likelihood (2026-11-28), which does not take a misfit along the meters' profiles for noise
    assert (error <= 1.96 * followed.uncertainty_pct).mean() == 0.94


def test_a_step_late_in_a_block_is_found_in_the_next() -> None:
    """From 21:15 of day 8 (11 rows before the block's end) the master reads 2.9 % low. The
    block leaves the step found from 20:00 to the next one, with the master unread from
    there; day 9 finds it from its first row (−2.82 %) and it is taken, dated where first
    seen. The estimates end where they would without it (MAE 0.92 %). Taken within the block
    as before
    (``break_late_rows`` 0, no master steps), too few rows told who stepped: three healthy
    meters' θ flipped sign on days 8-12 (MAE 6.0 %; four and 14.4 % before the white level
    came from its likelihood)."""
    area, master = _master_step(85, -0.029)
    est = AreaErrorEstimator(area.meter_ids)
    assert _run_days(est, master, area.meters_wh, range(16)) == ([], [(9, -16, -0.0283)])
    error = np.abs(est.errors_pct - area.true_error_pct[-1])
    assert round(float(error.mean()), 2) == 0.92
    config = EstimatorConfig(break_late_rows=0, master_step_min=math.inf)
    before = AreaErrorEstimator(area.meter_ids, config)
    breaks, steps = _run_days(before, master, area.meters_wh, range(16))
    assert steps == [] and [(d, row) for d, _, row in breaks] == [(8, 80), (10, 0), (12, 12)]
    error = np.abs(before.errors_pct - area.true_error_pct[-1])
    assert round(float(error.mean()), 1) == 6.0


def _common_bias(est: AreaErrorEstimator, area) -> float:  # type: ignore[no-untyped-def]
    """The area's median ε̂ − ε over meters that use more than a register step a day."""
    busy = area.true_load_wh.mean(axis=0) > 3.0
    return float(np.median((est.errors_pct - area.true_error_pct[-1])[busy]))


def test_the_load_loss_regressor_noise_does_not_shift_the_whole_area(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The load-loss columns are built from the meters' sum, whose register noise is scaled
    by the load there and so does not telescope. Uncorrected, the loss coefficient was
    attenuated and every θ̂ of the area rose to take the missing loss."""
    spec = AreaSpec(days=30, oot_fraction=0.0, missing_rate=0.0, master_error_pct=0.0)
    areas = [generate_area(np.random.default_rng(seed), spec) for seed in range(4)]
    fixed_true = spec.fixed_loss_w_per_meter * spec.n_meters * 0.25  # Wh per interval

    def run() -> tuple[np.ndarray, np.ndarray]:
        bias, fixed = [], []
        for area in areas:
            est = AreaErrorEstimator(area.meter_ids)
            feed(est, area.master_wh, area.meters_wh, 30)
            bias.append(_common_bias(est, area))
            fixed.append(est.loss_fixed_wh / fixed_true)
        return np.array(bias), np.array(fixed)

    # per area, the common mode is only known to about ±0.2 % (the loss and a common
    # scaling of θ are nearly collinear); over the areas it averages out
    bias, fixed = run()
    assert np.abs(bias).max() < 0.25 and abs(bias.mean()) < 0.1
    assert np.abs(fixed - 1.0).max() < 0.15
    monkeypatch.setattr(
        energy_balance,
        "scaled_noise_moments",
        lambda *a: tuple(np.zeros_like(m) for m in scaled_noise_moments(*a)),
    )
    bias, fixed = run()  # as before the correction: down to −0.5 % on every meter
    assert np.round(bias, 2).tolist() == [-0.08, -0.47, -0.36, -0.52]
    assert fixed.mean() < 0.85


def test_white_level_does_not_take_the_weather() -> None:
    """A 10 K day-to-day weather on the load loss, 100 Wh² of unmetered use: the white level's
    likelihood carries the day's loss effect by its prior, so the weather is not read as white
    noise, whether or not the one-step-ahead check takes it out of its runs. Before
    2026-11-28 the level was read from the runs themselves and took the weather of the last
    days (2,698 Wh²) unless ``white_without_day_effect`` took it out first (268 Wh²)."""
    spec = AreaSpec(n_meters=100, days=21, oot_fraction=0.0, missing_rate=0.0)
    area = generate_area(np.random.default_rng(3), replace(spec, temperature_day_sd_k=10.0))
    levels = {}
    for without in (False, True):
        est = AreaErrorEstimator(area.meter_ids, EstimatorConfig(white_without_day_effect=without))
        levels[without] = []
        for d in range(21):
            est.update(
                area.master_wh[d * DAY : (d + 1) * DAY], area.meters_wh[d * DAY : (d + 1) * DAY]
            )
            levels[without].append(est.white_noise_var_wh2)
    assert area.white_noise_var_wh2 == 100.0
    assert levels[False] == levels[True]
    assert round(max(levels[True])) == 191 and round(levels[True][-1]) == 135
