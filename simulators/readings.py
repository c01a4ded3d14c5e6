"""One area's readings as its meters would send them, with the truth behind them (pure numpy).

Per area, from :mod:`simulators.load` (true consumption, PV, line loss),
:mod:`simulators.metrology` (true errors) and :mod:`simulators.faults`:

1. a meter registers ``(1 + ε(t)/100)`` times the energy that flows through it, positive net
   flow on its import register, negative on export (bypass theft and reverse wiring change
   what it sees); the master registers the consumers' net energy plus the line loss;
2. cumulative registers are read at every interval boundary with clock jitter (the energy of
   ``P·jitter`` moves between neighbouring intervals), offset by the register's initial value
   and truncated to the register resolution (10 Wh = 0.01 kWh; the master 1 Wh on JSON
   devices, 10 Wh on DL/T 645 ones, whose energy format has two decimals of kWh). Registers
   never roll over: DL/T 645 carries at most 999999.99 kWh, which a master starting below
   100 MWh reaches only after some 900 MWh (about half a year of a 400-meter area);
3. register faults (stuck, stepping back) are applied, readings go missing (at random,
   outages, communication gaps) and clocks are skewed;
4. voltage and mean current per interval (current is signed: negative when exporting).

Everything is vectorised over (boundaries × meters) arrays; no Python call per reading.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simulators import faults as fl
from simulators.faults import Fault, FaultSpec
from simulators.fleet import Fleet
from simulators.load import HOURS, ROWS_PER_DAY, LoadSpec, area_load, line_loss
from simulators.metrology import FleetErrors

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]
CONSUMER_RESOLUTION_WH = 10.0


@dataclass(frozen=True)
class ReadingSpec:
    clock_jitter_s: float = 3.0
    master_clock_jitter_s: float = 0.5


@dataclass(frozen=True)
class AreaRun:
    """Column 0 is the master. Boundary arrays have ``intervals + 1`` rows."""

    area: str
    utility: str
    rows: IntArray  # registry rows of the columns
    meter_id: StrArray
    ts: IntArray  # (B,) nominal boundary times, epoch s
    ts_offset_s: npt.NDArray[np.int32]  # (B, m) clock skew added to the reported ts
    present: BoolArray  # (B, m) the reading was sent
    import_wh: IntArray  # (B, m)
    export_wh: IntArray  # (B, m)
    voltage_v: npt.NDArray[np.float32]  # (B, m)
    current_a: npt.NDArray[np.float32]  # (B, m) mean over the interval ending at the boundary
    faults: tuple[Fault, ...]
    # truth per output interval
    consumption_wh: FloatArray  # (T,) consumers' true consumption
    pv_wh: FloatArray  # (T,) consumers' true generation
    loss_wh: FloatArray  # (T,) true line loss, unmetered use included
    loss_basis: FloatArray  # (T, 2) the loss law's regressors [hours, P²·h·(1+αΔT)]
    loss_white_var_wh2: float  # variance of the unmetered part per interval
    loss_climate_wh: FloatArray  # (T,) the loss law at the climatological temperature
    loss_weather_wh_per_k: FloatArray  # (T,) how the loss moves per kelvin of the day's weather
    master_error_pct: FloatArray  # (T,) the master's true error, faults included

    @property
    def reading_count(self) -> int:
        return int(self.present.sum())


def register_resolution_wh(fleet: Fleet) -> FloatArray:
    """Per registry row: 10 Wh, but 1 Wh for masters on JSON devices."""
    on_json = fleet.device_format[fleet.device_index] == "json"
    return np.where(fleet.is_master & on_json, 1.0, CONSUMER_RESOLUTION_WH)


def _read(rng: np.random.Generator, energy: FloatArray, jitter_s: float) -> FloatArray:
    """Cumulative true registers at every boundary, each read ``jitter`` seconds off."""
    n = energy.shape[1]
    cum = np.vstack([np.zeros((1, n)), np.cumsum(energy, axis=0)])
    power = energy / HOURS
    p_edge = np.vstack([power[:1], 0.5 * (power[1:] + power[:-1]), power[-1:]])
    return np.asarray(cum + p_edge * rng.normal(0.0, jitter_s, cum.shape) / 3600.0, dtype=float)


def _per_interval(a: FloatArray, step: int) -> FloatArray:
    return np.asarray(a.reshape(a.shape[0] // step, step, *a.shape[1:]).sum(axis=1), dtype=float)


def simulate_area(
    fleet: Fleet,
    errors: FleetErrors,
    area: int,
    fault_spec: FaultSpec,
    load_spec: LoadSpec,
    reading_spec: ReadingSpec,
) -> AreaRun:
    """Simulate area number ``area`` of ``fleet``; seeded by the fleet's seed and the area."""
    spec = fleet.spec
    rng = np.random.default_rng([spec.seed, 0xA4EA, area])
    rows_all = fleet.area_meters(area)
    master_row, rows = rows_all[0], rows_all[1:]
    ids = fleet.meter_id[rows_all]
    n_base = spec.days * ROWS_PER_DAY
    column = {str(m): j for j, m in enumerate(ids[1:])}
    load = area_load(rng, fleet.use[rows], fleet.has_pv[rows], spec.start_s, spec.days, load_spec)
    faults = fl.draw_faults(rng, str(ids[0]), ids[1:], n_base, fault_spec)
    consumption, pv = load.consumption_wh.copy(), load.pv_wh.copy()
    fl.cut_power(faults, column, consumption, pv)
    net = consumption - pv
    loss = line_loss(rng, net, load_spec)
    t_days = (np.arange(n_base) + 0.5) / ROWS_PER_DAY
    gain = 1.0 + errors.at(t_days, rows) / 100.0
    import_e = np.clip(net, 0.0, None) * gain
    export_e = np.clip(-net, 0.0, None) * gain
    fl.registered_energy(faults, column, import_e, export_e)
    master_err = errors.initial_pct[master_row] + fl.master_error_shift(faults, str(ids[0]), n_base)
    delivered = (net.sum(axis=1) + loss.loss_wh) * (1.0 + master_err / 100.0)
    m = rows_all.size
    resolution = register_resolution_wh(fleet)[rows_all]
    jitter = (reading_spec.master_clock_jitter_s, reading_spec.clock_jitter_s)
    true_imp = np.hstack(
        [
            _read(rng, np.clip(delivered, 0, None)[:, None], jitter[0]),
            _read(rng, import_e, jitter[1]),
        ]
    )
    true_exp = np.hstack(
        [
            _read(rng, np.clip(-delivered, 0, None)[:, None], jitter[0]),
            _read(rng, export_e, jitter[1]),
        ]
    )
    imp_offset = np.where(np.arange(m) == 0, rng.uniform(1e6, 1e8, m), rng.uniform(0, 5e7, m))
    exp_offset = np.where(fleet.has_pv[rows_all], rng.uniform(0, 5e6, m), 0.0)
    imp_reg = np.floor((true_imp + imp_offset) / resolution) * resolution
    exp_reg = np.floor((np.maximum(true_exp, 0) + exp_offset) / resolution) * resolution
    fl.register_faults(faults, column, imp_reg[:, 1:])
    present = rng.random(imp_reg.shape) >= fault_spec.missing_rate
    ts_offset = np.zeros(imp_reg.shape, dtype=np.int64)
    fl.reporting_faults(faults, column, present[:, 1:], ts_offset[:, 1:])

    p_area = net.sum(axis=1) / HOURS
    sag = p_area / max(float(np.abs(p_area).max()), 1.0)
    v_area = 230.0 + rng.uniform(-3.0, 5.0) - rng.uniform(2.0, 8.0) * sag
    voltage = (v_area[:, None] + rng.normal(0.0, 1.5, m)
               + rng.normal(0.0, 0.8, (n_base, m)))  # fmt: skip
    flow = np.hstack([delivered[:, None] / 3.0, import_e - export_e]) / HOURS  # master: per phase
    current = flow / voltage
    step = spec.interval_minutes // 15
    voltage_b = np.vstack([voltage[:1], voltage[step - 1 :: step]])
    current_b = np.vstack([np.zeros((1, m)), _per_interval(current, step) / step])
    ts = spec.start_s + np.arange(0, n_base + 1, step, dtype=np.int64) * 900
    return AreaRun(
        area=fleet.areas[area],
        utility=fleet.utility_of(area),
        rows=rows_all,
        meter_id=ids,
        ts=ts,
        ts_offset_s=ts_offset[::step].astype(np.int32),
        present=present[::step],
        import_wh=imp_reg[::step].astype(np.int64),
        export_wh=exp_reg[::step].astype(np.int64),
        voltage_v=np.round(voltage_b, 1).astype(np.float32),
        current_a=np.round(current_b, 3).astype(np.float32),
        faults=faults,
        consumption_wh=_per_interval(consumption.sum(axis=1), step),
        pv_wh=_per_interval(pv.sum(axis=1), step),
        loss_wh=_per_interval(loss.loss_wh, step),
        loss_basis=_per_interval(loss.basis, step),
        loss_white_var_wh2=loss.white_sd_wh**2 * step,
        loss_climate_wh=_per_interval(loss.climate_wh, step),
        loss_weather_wh_per_k=_per_interval(loss.weather_wh_per_k, step),
        master_error_pct=np.asarray(master_err.reshape(-1, step).mean(axis=1), dtype=float),
    )


@dataclass(frozen=True)
class FleetRun:
    fleet: Fleet
    errors: FleetErrors
    areas: tuple[AreaRun, ...]

    @property
    def reading_count(self) -> int:
        return sum(a.reading_count for a in self.areas)


def iter_areas(
    fleet: Fleet,
    errors: FleetErrors,
    fault_spec: FaultSpec | None = None,
    load_spec: LoadSpec | None = None,
    reading_spec: ReadingSpec | None = None,
) -> Iterator[AreaRun]:
    """Simulate the areas one after another (each independent of the others' draws)."""
    for area in range(len(fleet.areas)):
        yield simulate_area(
            fleet,
            errors,
            area,
            fault_spec or FaultSpec(),
            load_spec or LoadSpec(),
            reading_spec or ReadingSpec(),
        )
