"""A simulation run on disk: readings, meter registry and ground truth as CSV files.

Files in the run directory (CSV with a header row; times ISO 8601 UTC; Parquet is not
written because pyarrow is not installed):

- ``registry.csv``: the meter registry in the format ``meterwatch registry import`` and the
  stream read (:data:`meterwatch.domain.REGISTRY_COLUMNS`; the lot is the production batch);
- ``devices.csv``: what only the simulation knows: meter_id, device, format (json|dlt645),
  has_pv, resolution_wh;
- ``readings.csv`` (``write_run(..., readings=True)``): meter_id, ts, import_wh, export_wh,
  voltage_v, current_a: every reading the meters sent, ``ts`` as the meter's clock has it;
- ``truth_errors.csv``: meter_id, date, error_pct (the day's mean true error; for masters
  including an injected master error), mpe_pct, drift (none|linear|step|accelerating),
  lot_defect;
- ``truth_faults.csv``: fault_id, meter_id, utility, area, kind, start_ts, end_ts (exclusive),
  magnitude, unit (see :mod:`simulators.faults`);
- ``truth_areas.csv``: per area and interval (``ts`` = its end): consumers' true consumption
  and PV generation, the true line loss, the loss law's two regressors (hours and
  P²·h·(1+αΔT)), the master's true error, the loss law at the climatological temperature
  (no day-to-day weather, no unmetered use) and how the loss moves per kelvin of the day's
  weather (whose sd is ``run.json``'s ``load.temperature_day_sd_k``);
- ``run.json``: every parameter, the noise levels the oracle needs, counts and file names.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from meterwatch.domain import REGISTRY_COLUMNS
from simulators.faults import FaultSpec
from simulators.fleet import METER_TYPE, Fleet
from simulators.load import LoadSpec
from simulators.metrology import DRIFT_KINDS, FleetErrors, MetrologySpec
from simulators.payload_stream import iso_utc
from simulators.readings import AreaRun, ReadingSpec, register_resolution_wh

READINGS = "readings.csv"
REGISTRY = "registry.csv"
DEVICES = "devices.csv"
TRUTH_ERRORS = "truth_errors.csv"
TRUTH_FAULTS = "truth_faults.csv"
TRUTH_AREAS = "truth_areas.csv"
RUN = "run.json"


@dataclass(frozen=True)
class RunSummary:
    out_dir: Path
    areas: int
    meters: int
    readings: int
    faults: int
    files: tuple[str, ...]


def write_registry(fleet: Fleet, path: Path) -> None:
    """``registry.csv`` (the importable registry) and ``devices.csv`` beside it."""
    area = np.array(fleet.areas)[fleet.area_index]
    utility = np.array(fleet.area_utility)[fleet.area_index]
    registry = zip(
        fleet.meter_id.tolist(), utility.tolist(), area.tolist(), fleet.accuracy_class.tolist(),
        fleet.manufacturer.tolist(), fleet.model.tolist(), fleet.lot.tolist(),
        fleet.install_date.tolist(), fleet.is_master.tolist(), fleet.has_pv.tolist(), strict=True,
    )  # fmt: skip
    with path.open("w", encoding="utf-8") as out:
        out.write(",".join(REGISTRY_COLUMNS) + "\n")
        out.writelines(
            f"{m},{u},{u},{a},{a},{METER_TYPE},{c},{mf},{md},{lot},{day},{int(master)},{int(pv)}\n"
            for m, u, a, c, mf, md, lot, day, master, pv in registry
        )
    resolution = register_resolution_wh(fleet).astype(np.int64)
    devices = zip(
        fleet.meter_id.tolist(), fleet.device_id[fleet.device_index].tolist(),
        fleet.device_format[fleet.device_index].tolist(), fleet.has_pv.tolist(),
        resolution.tolist(), strict=True,
    )  # fmt: skip
    with (path.parent / DEVICES).open("w", encoding="utf-8") as out:
        out.write("meter_id,device,format,has_pv,resolution_wh\n")
        out.writelines(f"{m},{d},{fmt},{int(pv)},{res}\n" for m, d, fmt, pv, res in devices)


def write_readings(area: AreaRun, out: TextIO) -> int:
    """Append the readings of one area (boundary by boundary); return how many."""
    k, j = np.nonzero(area.present)
    ts = iso_utc(area.ts[k] + area.ts_offset_s[k, j].astype(np.int64))
    voltage = np.round(area.voltage_v[k, j].astype(np.float64), 1)
    current = np.round(area.current_a[k, j].astype(np.float64), 3)
    out.writelines(
        f"{m},{t},{i},{e},{v},{c}\n"
        for m, t, i, e, v, c in zip(
            area.meter_id[j].tolist(), ts.tolist(), area.import_wh[k, j].tolist(),
            area.export_wh[k, j].tolist(), voltage.tolist(), current.tolist(), strict=True,
        )
    )  # fmt: skip
    return int(k.size)


def _write_area_truth(area: AreaRun, out: TextIO) -> None:
    ends = iso_utc(area.ts[1:]).tolist()
    out.writelines(
        f"{area.utility},{area.area},{t},{c:.1f},{p:.1f},{loss:.1f},{h:.4f},{p2:.1f},{e:.4f},"
        f"{climate:.1f},{per_k:.3f}\n"
        for t, c, p, loss, h, p2, e, climate, per_k in zip(
            ends, area.consumption_wh.tolist(), area.pv_wh.tolist(), area.loss_wh.tolist(),
            area.loss_basis[:, 0].tolist(), area.loss_basis[:, 1].tolist(),
            area.master_error_pct.tolist(), area.loss_climate_wh.tolist(),
            area.loss_weather_wh_per_k.tolist(), strict=True,
        )
    )  # fmt: skip


def _write_faults(area: AreaRun, first_id: int, start_s: int, out: TextIO) -> int:
    for n, f in enumerate(area.faults):
        start, end = (iso_utc(np.array([start_s + r * 900 for r in (f.start_row, f.end_row)]))
                      .tolist())  # fmt: skip
        out.write(
            f"F{first_id + n:05d},{f.meter_id},{area.utility},{area.area},{f.kind},"
            f"{start},{end},{f.magnitude:g},{f.unit}\n"
        )
    return len(area.faults)


def _write_errors(fleet: Fleet, errors: FleetErrors, area: AreaRun, out: TextIO) -> None:
    days = fleet.spec.days
    daily = errors.daily_mean(area.rows)
    per_day = area.master_error_pct.size // days
    daily[:, 0] = area.master_error_pct.reshape(days, per_day).mean(axis=1)
    dates = np.datetime_as_string(
        np.datetime64(fleet.spec.start_s, "s").astype("datetime64[D]") + np.arange(days)
    ).tolist()
    drift = np.array(DRIFT_KINDS)[errors.kind[area.rows]].tolist()
    mpe = errors.mpe_pct[area.rows].tolist()
    defect = errors.lot_defect[area.rows].astype(int).tolist()
    ids = area.meter_id.tolist()
    out.writelines(
        f"{ids[j]},{dates[d]},{daily[d, j]:.4f},{mpe[j]:g},{drift[j]},{defect[j]}\n"
        for j in range(len(ids)) for d in range(days)
    )  # fmt: skip


def write_run(
    fleet: Fleet,
    errors: FleetErrors,
    areas: Iterable[AreaRun],
    out_dir: Path,
    *,
    specs: tuple[FaultSpec, MetrologySpec, LoadSpec, ReadingSpec],
    readings: bool = True,
    on_area: Callable[[AreaRun], None] | None = None,
) -> RunSummary:
    """Write the registry, the truth files and (optionally) the readings of ``areas``.

    ``areas`` may be a lazy iterator: each area is written and then dropped. ``on_area`` is
    called after each (progress bars, or publishing).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    write_registry(fleet, out_dir / REGISTRY)
    names = [REGISTRY, DEVICES, TRUTH_ERRORS, TRUTH_FAULTS, TRUTH_AREAS, RUN]
    if readings:
        names.insert(1, READINGS)
    n_readings = n_faults = 0
    white_var: dict[str, float] = {}
    with ExitStack() as files:
        err_out = files.enter_context((out_dir / TRUTH_ERRORS).open("w", encoding="utf-8"))
        fault_out = files.enter_context((out_dir / TRUTH_FAULTS).open("w", encoding="utf-8"))
        area_out = files.enter_context((out_dir / TRUTH_AREAS).open("w", encoding="utf-8"))
        read_out = (files.enter_context((out_dir / READINGS).open("w", encoding="utf-8"))
                    if readings else None)  # fmt: skip
        err_out.write("meter_id,date,error_pct,mpe_pct,drift,lot_defect\n")
        fault_out.write("fault_id,meter_id,utility,area,kind,start_ts,end_ts,magnitude,unit\n")
        area_out.write(
            "utility,area,ts,consumption_wh,pv_wh,loss_wh,loss_basis_h,"
            "loss_basis_p2,master_error_pct,loss_climate_wh,loss_weather_wh_per_k\n"
        )
        if read_out is not None:
            read_out.write("meter_id,ts,import_wh,export_wh,voltage_v,current_a\n")
        for area in areas:
            if read_out is not None:
                n_readings += write_readings(area, read_out)
            else:
                n_readings += area.reading_count
            n_faults += _write_faults(area, n_faults + 1, fleet.spec.start_s, fault_out)
            _write_area_truth(area, area_out)
            _write_errors(fleet, errors, area, err_out)
            white_var[area.area] = area.loss_white_var_wh2
            if on_area is not None:
                on_area(area)
    fault_spec, metrology_spec, load_spec, reading_spec = specs
    meta: dict[str, Any] = {
        "fleet": asdict(fleet.spec),
        "faults": asdict(fault_spec),
        "metrology": asdict(metrology_spec),
        "load": asdict(load_spec),
        "reading": asdict(reading_spec),
        "start": str(iso_utc(np.array([fleet.spec.start_s]))[0]),
        "end": str(iso_utc(np.array([fleet.spec.end_s]))[0]),
        "meters": int(fleet.meter_id.size),
        "readings": n_readings,
        "faults_injected": n_faults,
        "loss_white_var_wh2": white_var,
        "files": names,
        "note": "CSV only: Parquet needs pyarrow, which is not installed",
    }
    (out_dir / RUN).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return RunSummary(
        out_dir, len(white_var), int(fleet.meter_id.size), n_readings, n_faults, tuple(names)
    )
