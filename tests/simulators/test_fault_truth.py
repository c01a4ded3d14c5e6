"""Injected faults show in the readings exactly where the truth says, and nowhere else."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from simulators.faults import FAULT_UNITS, FaultSpec
from simulators.fleet import FleetSpec, build_fleet
from simulators.load import LoadSpec
from simulators.metrology import MetrologySpec, draw_errors
from simulators.readings import FleetRun, ReadingSpec, iter_areas
from simulators.truth import write_run

# every consumer meter has a fault (a seventh of them each kind), every area a master error
MANY = FaultSpec(*([1 / 7] * 7), master_error=1.0, missing_rate=0.0)
SPEC = FleetSpec(utilities=1, areas_per_utility=3, meters_per_area=40, days=10)


@pytest.fixture(scope="module")
def run() -> FleetRun:
    fleet = build_fleet(SPEC)
    errors = draw_errors(fleet, MetrologySpec().all_zero())
    return FleetRun(fleet, errors, tuple(iter_areas(fleet, errors, MANY)))


def test_every_kind_is_injected(run: FleetRun) -> None:
    kinds = {f.kind for a in run.areas for f in a.faults}
    assert kinds == set(FAULT_UNITS)
    assert all(len({f.meter_id for f in a.faults}) == len(a.faults) for a in run.areas)


def test_register_faults_where_the_truth_says(run: FleetRun) -> None:
    for area in run.areas:
        faulty = {f.meter_id: f for f in area.faults}
        steps = np.diff(area.import_wh, axis=0)
        export_steps = np.diff(area.export_wh, axis=0)
        for j in range(1, area.meter_id.size):
            fault = faulty.get(str(area.meter_id[j]))
            kind, s = (fault.kind, fault.start_row) if fault else ("none", 0)
            has_pv = run.fleet.has_pv[area.rows[j]]
            went_back = np.flatnonzero(steps[:, j] < 0).tolist()
            if fault and kind == "register_backwards":
                assert went_back == [s]
                assert -fault.magnitude - 10 <= steps[s, j] < -fault.magnitude + 3000
            else:
                assert went_back == [], (area.meter_id[j], kind)
            if kind == "stuck_register":
                assert (area.import_wh[s + 1 :, j] == area.import_wh[s, j]).all()
            if kind == "reverse_wiring":
                assert export_steps[s + 1 :, j].sum() > 0
                assert has_pv or (steps[s + 1 :, j] == 0).all()
            elif not has_pv:
                assert (export_steps[:, j] == 0).all(), (area.meter_id[j], kind)


def test_master_error_where_the_truth_says(run: FleetRun) -> None:
    for area in run.areas:
        (fault,) = [f for f in area.faults if f.kind == "master_error"]
        assert fault.meter_id == area.meter_id[0]
        shift = area.master_error_pct - area.master_error_pct[0]
        assert (shift[: fault.start_row] == 0).all()
        assert np.allclose(shift[fault.start_row :], fault.magnitude)


def test_bypass_shows_as_unregistered_energy_only_while_it_lasts() -> None:
    fleet = build_fleet(SPEC)
    errors = draw_errors(fleet, MetrologySpec().all_zero())
    theft = FaultSpec(**{**FaultSpec.none().__dict__, "tamper_bypass": 1.0})
    area = next(iter_areas(fleet, errors, theft))
    net = np.diff(area.import_wh - area.export_wh, axis=0).astype(float)
    residual = net[:, 0] - net[:, 1:].sum(axis=1) - area.loss_wh
    active = np.zeros(residual.size, dtype=bool)
    for f in area.faults:
        assert f.kind == "tamper_bypass" and 0.3 <= f.magnitude <= 0.9
        active[f.start_row : f.end_row] = True
    noise_sd = np.sqrt(2 * 40 * 10.0**2 / 12)
    honest = residual[~active]
    assert abs(honest.mean()) < 4 * noise_sd / np.sqrt(honest.size)
    assert residual[active].mean() > 10 * noise_sd


def test_reporting_faults_where_the_truth_says(run: FleetRun) -> None:
    for area in run.areas:
        faulty = {f.meter_id: f for f in area.faults}
        for j, meter in enumerate(area.meter_id.tolist()):
            fault = faulty.get(meter)
            kind = fault.kind if fault else "none"
            missing = np.flatnonzero(~area.present[:, j])
            skewed = np.flatnonzero(area.ts_offset_s[:, j] != 0)
            if kind in ("outage", "comm_gap"):
                assert missing.tolist() == list(range(fault.start_row + 1, fault.end_row + 1))
            else:
                assert missing.size == 0
            if kind == "clock_skew":
                assert skewed.tolist() == list(range(fault.start_row + 1, area.ts.size))
                assert 0 < abs(fault.magnitude) < 900
            else:
                assert skewed.size == 0


def test_the_faults_file_lists_every_injected_fault(run: FleetRun, tmp_path: Path) -> None:
    errors = draw_errors(run.fleet, MetrologySpec().all_zero())
    write_run(
        run.fleet,
        errors,
        iter_areas(run.fleet, errors, MANY),
        tmp_path,
        specs=(MANY, MetrologySpec().all_zero(), LoadSpec(), ReadingSpec()),
        readings=False,
    )
    with (tmp_path / "truth_faults.csv").open() as f:
        rows = list(csv.DictReader(f))
    start = SPEC.start_s
    expected = [
        (f.meter_id, a.area, f.kind,
         str(np.datetime64(start + 900 * f.start_row, "s")) + "Z", f.unit)
        for a in run.areas for f in a.faults
    ]  # fmt: skip
    assert [(r["meter_id"], r["area"], r["kind"], r["start_ts"], r["unit"]) for r in rows] == (
        expected
    )
    assert len({r["fault_id"] for r in rows}) == len(rows)
