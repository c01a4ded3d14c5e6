"""Ground truth against emitted readings: each area's energy balance closes to the loss model."""

from __future__ import annotations

import csv
import itertools
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from simulators.faults import FaultSpec
from simulators.fleet import FleetSpec, build_fleet
from simulators.load import LoadSpec
from simulators.metrology import MetrologySpec, draw_errors
from simulators.readings import ReadingSpec, iter_areas, register_resolution_wh
from simulators.truth import write_run

SPEC = FleetSpec(utilities=1, areas_per_utility=2, meters_per_area=30, days=7, pv_fraction=0.3)


def test_with_zero_errors_master_is_consumers_plus_loss_within_register_noise() -> None:
    fleet = build_fleet(SPEC)
    errors = draw_errors(fleet, MetrologySpec().all_zero())
    reading = ReadingSpec()
    for area in iter_areas(fleet, errors, FaultSpec.none(), reading_spec=reading):
        assert area.present.all() and (area.ts_offset_s == 0).all()
        net = np.diff(area.import_wh - area.export_wh, axis=0).astype(float)
        residual = net[:, 0] - net[:, 1:].sum(axis=1) - area.loss_wh
        # level noise per boundary: quantisation of every register, plus clock jitter
        resolution = register_resolution_wh(fleet)[area.rows]
        power = np.abs(net) / 0.25
        jitter = np.r_[reading.master_clock_jitter_s, [reading.clock_jitter_s] * (net.shape[1] - 1)]
        level_var = (resolution**2).sum() / 12 + ((power * jitter / 3600) ** 2).sum(axis=1).mean()
        expected_sd = np.sqrt(2 * level_var)
        assert 0.8 * expected_sd < residual.std() < 1.2 * expected_sd
        assert abs(residual.mean()) < 5 * expected_sd / np.sqrt(residual.size)
        assert (area.pv_wh > 0).any() and (np.diff(area.export_wh[:, 1:], axis=0) > 0).any()
        # the loss model leaves out one weather offset per day and the white unmetered use
        left = (area.loss_wh - area.loss_climate_wh).reshape(SPEC.days, -1)
        per_kelvin = area.loss_weather_wh_per_k.reshape(SPEC.days, -1)
        offset = (left * per_kelvin).sum(axis=1) / (per_kelvin**2).sum(axis=1)  # K, by day
        white = left - offset[:, None] * per_kelvin
        assert np.abs(offset).max() < 4 * LoadSpec().temperature_day_sd_k
        assert 0.9 < white.std() / np.sqrt(area.loss_white_var_wh2) < 1.1


def _daily(path: Path) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Per meter, the day's net registered energy (import - export) between midnights."""
    at_midnight: dict[str, dict[str, float]] = defaultdict(dict)
    with path.open() as f:
        for row in csv.DictReader(f):
            if row["ts"].endswith("T00:00:00Z"):
                day = row["ts"][:10]
                at_midnight[row["meter_id"]][day] = int(row["import_wh"]) - int(row["export_wh"])
    days = sorted(next(iter(at_midnight.values())))
    daily = {
        m: {d0: v[d1] - v[d0] for d0, d1 in itertools.pairwise(days)}
        for m, v in at_midnight.items()
    }
    return daily, days[:-1]


def test_truth_files_explain_the_readings_file(tmp_path: Path) -> None:
    fleet = build_fleet(SPEC)
    # static errors only: a daily truth then describes every interval of the day exactly
    metrology = MetrologySpec(
        static_oot_fraction=0.3,
        linear_fraction=0.0,
        step_fraction=0.0,
        accelerating_fraction=0.0,
        defect_lots=0,
    )
    errors = draw_errors(fleet, metrology)
    faults = FaultSpec.none()
    write_run(
        fleet,
        errors,
        iter_areas(fleet, errors, faults),
        tmp_path,
        specs=(faults, metrology, LoadSpec(), ReadingSpec()),
    )
    daily, days = _daily(tmp_path / "readings.csv")
    with (tmp_path / "registry.csv").open() as f:
        registry = list(csv.DictReader(f))
    with (tmp_path / "truth_errors.csv").open() as f:
        eps = {(r["meter_id"], r["date"]): float(r["error_pct"]) for r in csv.DictReader(f)}
    loss: dict[tuple[str, str], float] = defaultdict(float)
    with (tmp_path / "truth_areas.csv").open() as f:
        for r in csv.DictReader(f):  # ts is the interval's end: 00:00 belongs to the day before
            day = str(np.datetime64(r["ts"][:19]) - np.timedelta64(1, "s"))[:10]
            loss[r["area"], day] += float(r["loss_wh"])
    assert any(abs(e) > 2.0 for e in eps.values())
    closing, ignoring_truth = [], []
    for area in {r["area_id"] for r in registry}:
        rows = [r for r in registry if r["area_id"] == area]
        master = next(r["meter_id"] for r in rows if r["is_master"] == "1")
        consumers = [r["meter_id"] for r in rows if r["is_master"] == "0"]
        for day in days:
            delivered = daily[master][day] / (1 + eps[master, day] / 100)
            true_sum = sum(daily[m][day] / (1 + eps[m, day] / 100) for m in consumers)
            naive_sum = sum(daily[m][day] for m in consumers)
            closing.append(delivered - true_sum - loss[area, day])
            ignoring_truth.append(delivered - naive_sum - loss[area, day])
    # what is left is the 10 Wh truncation of two register readings per meter and day
    quantisation_sd = np.sqrt(2 * SPEC.meters_per_area * 10.0**2 / 12)
    rms = np.sqrt(np.mean(np.square(closing)))
    assert np.abs(closing).max() < 5 * quantisation_sd
    assert rms < 1.5 * quantisation_sd
    assert rms < np.sqrt(np.mean(np.square(ignoring_truth))) / 5, (rms, ignoring_truth)


@pytest.mark.parametrize("minutes", [60, 1440])
def test_coarser_intervals_read_the_same_registers(minutes: int) -> None:
    fine = build_fleet(SPEC)
    coarse = build_fleet(FleetSpec(**{**SPEC.__dict__, "interval_minutes": minutes}))
    errors = draw_errors(fine, MetrologySpec())
    a = next(iter_areas(fine, errors))
    b = next(iter_areas(coarse, draw_errors(coarse, MetrologySpec())))
    step = minutes // 15
    assert (b.ts == a.ts[::step]).all()
    assert (b.import_wh == a.import_wh[::step]).all()
    assert np.allclose(b.loss_wh, a.loss_wh.reshape(-1, step).sum(axis=1))
