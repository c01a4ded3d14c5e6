"""Synthetic low-voltage areas (台区) with ground truth: pure numpy, seeded, no I/O.

One call to :func:`generate_area` gives a master meter and ``n_meters`` consumer meters with

- **heterogeneous household load:** four daily archetypes (commuter, at-home, night, small
  shop) mixed per meter with a random phase shift, weekday/weekend shapes, a day-to-day level,
  a base load, absences of several days, and random appliance events (kettle, washer, heater,
  EV charging) spread over the intervals they overlap; annual consumption is lognormal;
- **line loss** ``L = a·Δt + b·P²·Δt·(1 + α·(T − T_ref)) + unmetered``: a fixed (no-load) part,
  an I²R part whose resistance follows a daily and a day-to-day temperature cycle (which a
  constant-``b`` loss model does not capture) and white unmetered consumption;
- **per-meter true errors:** healthy class-2 meters around 0; about ``oot_fraction`` out of
  tolerance, a share of them drifting across the MPE during the run;
- **the noise of real registers:** each consumer meter's *cumulative* register is shifted by
  its clock jitter at every interval boundary (energy moves between neighbouring intervals),
  quantised to ``register_resolution_wh`` and then differenced; the master has its own static
  error, jitter and 1 Wh resolution;
- **readings missing at random:** a missing register reading at a boundary gives NaN for that
  interval, and the next reading's increment carries the energy of the whole bridged span (the
  convention :class:`detectors.energy_balance.AreaErrorEstimator` expects).

Load is built on a 15-minute grid; ``interval_minutes`` may be any multiple of 15 (1440 for
daily frozen values): registers are then read at the coarser boundaries only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BASE_MINUTES = 15
_ROWS_PER_DAY = 24 * 60 // BASE_MINUTES
T_REF_C = 20.0
ALPHA_CU = 0.004  # copper/aluminium resistance temperature coefficient, 1/K


@dataclass(frozen=True)
class AreaSpec:
    """What to simulate. Powers are in W, energies in Wh, errors in percent."""

    n_meters: int = 200
    days: int = 30
    interval_minutes: int = 15
    start_weekday: int = 0
    mpe_pct: float = 2.0
    healthy_error_sd_pct: float = 0.4
    oot_fraction: float = 0.03
    drifting_share: float = 1 / 3
    tiny_fraction: float = 0.0
    twin_pairs: int = 0
    missing_rate: float = 0.005
    register_resolution_wh: float = 10.0
    master_resolution_wh: float = 1.0
    master_error_pct: float | None = None  # None: uniform in ±master_error_max_pct
    master_error_max_pct: float = 0.2
    clock_jitter_s: float = 3.0
    master_clock_jitter_s: float = 0.5
    fixed_loss_w_per_meter: float = 3.0
    load_loss_fraction: float = 0.03
    unmetered_sd_w: float = 40.0
    temperature_daily_k: float = 6.0  # amplitude of the daily conductor-temperature cycle
    temperature_day_sd_k: float = 3.0  # day-to-day weather
    master_outlier_rate: float = 0.0


@dataclass(frozen=True)
class SyntheticArea:
    """One simulated area with its ground truth; rows are intervals, columns meters."""

    meter_ids: tuple[str, ...]
    interval_minutes: int
    master_wh: FloatArray  # (T,) registered master increments, NaN = missing
    meters_wh: FloatArray  # (T, n) registered consumer increments, NaN = missing
    true_error_pct: FloatArray  # (T, n) each meter's true relative error per interval
    true_load_wh: FloatArray  # (T, n) energy actually consumed
    loss_wh: FloatArray  # (T,) true line loss, unmetered part included
    loss_model_wh: FloatArray  # (T,) the modelled part of the loss (fixed + I²R), no unmetered
    # the loss law at the climatological temperature (the daily cycle, no day-to-day weather),
    # and how the loss moves per kelvin of that day's weather (sd ``weather_sd_k``)
    loss_climate_wh: FloatArray  # (T,)
    weather_basis_wh_per_k: FloatArray  # (T,)
    weather_sd_k: float
    master_error_pct: float
    white_noise_var_wh2: float  # per-interval variance of the unmetered (white) part
    level_noise_var_wh2: float  # per-boundary register noise (quantisation, jitter) in the sum

    @property
    def intervals_per_day(self) -> int:
        return 1440 // self.interval_minutes


def _archetypes() -> FloatArray:
    """Four 96-point daily shapes (mean 1): commuter, at-home, night, small shop."""
    h = np.arange(_ROWS_PER_DAY) * BASE_MINUTES / 60.0

    def bump(centre: float, width: float) -> FloatArray:
        d = (h - centre + 12.0) % 24.0 - 12.0
        return np.exp(-0.5 * (d / width) ** 2)

    shapes = np.stack(
        [
            0.3 + 1.2 * bump(7.5, 1.0) + 2.0 * bump(19.5, 2.0),
            0.4 + 0.8 * bump(12.5, 3.0) + 1.5 * bump(19.0, 2.5),
            0.5 + 2.0 * bump(1.0, 3.0) + 0.6 * bump(14.0, 2.0),
            0.2 + 2.5 * (np.abs(h - 13.5) < 4.5) + 0.3 * bump(19.0, 1.0),
        ]
    )
    return np.asarray(shapes / shapes.mean(axis=1, keepdims=True), dtype=np.float64)


def _household_load(rng: np.random.Generator, spec: AreaSpec) -> FloatArray:
    """True consumption (Wh) on the 15-minute grid, shape (days·96, n)."""
    n, days = spec.n_meters, spec.days
    rows = days * _ROWS_PER_DAY
    mean_w = np.exp(rng.normal(np.log(3000.0), 0.6, n)) / 8.766  # annual kWh -> mean W
    weights = rng.dirichlet(np.full(4, 0.4), n)  # (n, 4)
    shapes = _archetypes()
    shift = rng.integers(-4, 5, n)
    profile = np.stack([np.roll(weights[i] @ shapes, shift[i]) for i in range(n)], axis=1)
    weekend_profile = 0.6 * np.roll(profile, 4, axis=0) + 0.4 * shapes[1][:, None]
    weekday = (np.arange(days) + spec.start_weekday) % 7
    is_weekend = np.repeat(weekday >= 5, _ROWS_PER_DAY)[:, None]
    day_profile = np.where(
        is_weekend, np.tile(weekend_profile, (days, 1)), np.tile(profile, (days, 1))
    )
    base = rng.uniform(0.15, 0.4, n)
    day_level = np.repeat(np.exp(rng.normal(0.0, 0.2, (days, n))), _ROWS_PER_DAY, axis=0)
    away = np.zeros((days, n), dtype=bool)
    for i in np.flatnonzero(rng.random(n) < 0.15):
        start = rng.integers(0, days)
        away[start : start + rng.integers(3, 11), i] = True
    away_rows = np.repeat(away, _ROWS_PER_DAY, axis=0)
    fridge = 1.0 + 0.3 * rng.standard_normal((rows, n))
    active = np.where(away_rows, 0.0, (1.0 - base) * 0.7 * day_profile * day_level)
    power = mean_w * (base * fridge + active)
    energy = np.clip(power, 0.0, None) * (BASE_MINUTES / 60.0)
    # appliance events: (rate per day, power W range, duration min range, share of homes)
    for rate, (p_lo, p_hi), (d_lo, d_hi), share in (
        (2.0, (1500.0, 3000.0), (2, 8), 1.0),
        (0.5, (400.0, 2000.0), (40, 100), 0.9),
        (0.3, (1000.0, 2000.0), (60, 240), 0.3),
        (0.25, (3500.0, 7000.0), (90, 300), 0.05),
    ):
        owners = rng.random(n) < share
        counts = rng.poisson(rate * days * owners * (mean_w / mean_w.mean()) ** 0.5)
        meter = np.repeat(np.arange(n), counts)
        k = meter.size
        day = rng.integers(0, days, k)
        hour_w = profile[:, meter].T  # start times follow the meter's own daily shape
        cum = np.cumsum(hour_w, axis=1)
        slot = (cum < rng.random(k)[:, None] * cum[:, -1:]).sum(axis=1)
        start = (day * _ROWS_PER_DAY + slot) * BASE_MINUTES + rng.integers(0, BASE_MINUTES, k)
        dur = rng.integers(d_lo, d_hi + 1, k)
        watt = (
            rng.uniform(p_lo, p_hi, k)
            * ~away_rows[np.minimum(start // BASE_MINUTES, rows - 1), meter]
        )
        for j in range(d_hi // BASE_MINUTES + 2):
            row = start // BASE_MINUTES + j
            lo = np.maximum(start, row * BASE_MINUTES)
            hi = np.minimum(start + dur, (row + 1) * BASE_MINUTES)
            ok = (hi > lo) & (row < rows)
            np.add.at(energy, (row[ok], meter[ok]), watt[ok] * (hi - lo)[ok] / 60.0)
    tiny = rng.permutation(n)[: round(spec.tiny_fraction * n)]
    energy[:, tiny] = (
        rng.uniform(2.0, 8.0, tiny.size)
        * (1 + 0.2 * rng.standard_normal((rows, tiny.size)))
        * (BASE_MINUTES / 60.0)
    )
    for pair in range(spec.twin_pairs):  # collinear meters: identical true consumption
        energy[:, 2 * pair + 1] = energy[:, 2 * pair]
    return np.asarray(energy, dtype=np.float64)


def _true_errors(rng: np.random.Generator, spec: AreaSpec, rows: int) -> FloatArray:
    """Per-meter true error trajectories in percent, shape (rows, n)."""
    n, mpe = spec.n_meters, spec.mpe_pct
    start = np.clip(rng.normal(0.0, spec.healthy_error_sd_pct, n), -0.45 * mpe, 0.45 * mpe)
    end = start + rng.normal(0.0, 0.05, n)  # healthy meters wander a little
    n_oot = round(spec.oot_fraction * n)
    oot = rng.permutation(n)[:n_oot]
    n_drift = round(spec.drifting_share * n_oot)
    sign = np.where(rng.random(n_oot) < 0.6, -1.0, 1.0)
    static_mag = rng.uniform(1.1 * mpe, 4.0 * mpe, n_oot)
    start[oot], end[oot] = sign * static_mag, sign * static_mag
    drift = oot[:n_drift]
    start[drift] = sign[:n_drift] * rng.uniform(0.0, 0.8 * mpe, n_drift)
    end[drift] = sign[:n_drift] * rng.uniform(1.5 * mpe, 3.0 * mpe, n_drift)
    t0 = rng.uniform(0.0, 0.5, n) * rows
    t1 = t0 + rng.uniform(0.3, 0.5, n) * rows
    frac = np.clip((np.arange(rows)[:, None] - t0) / (t1 - t0), 0.0, 1.0)
    return np.asarray(start + frac * (end - start), dtype=np.float64)


def _read_registers(
    rng: np.random.Generator,
    energy: FloatArray,
    step: int,
    jitter_s: float,
    resolution_wh: float,
    missing_rate: float,
) -> FloatArray:
    """Increments between register readings taken every ``step`` base rows (NaN = missed)."""
    rows, n = energy.shape
    cum = np.vstack([np.zeros((1, n)), np.cumsum(energy, axis=0)])[::step]  # (T+1, n)
    power_w = energy.reshape(rows // step, step, n).sum(axis=1) / (step * BASE_MINUTES / 60)
    p_boundary = np.vstack([power_w[:1], 0.5 * (power_w[1:] + power_w[:-1]), power_w[-1:]])
    cum = cum + p_boundary * rng.normal(0.0, jitter_s, cum.shape) / 3600.0
    offset = rng.uniform(0.0, 1e6, n)
    reg = np.floor((cum + offset) / resolution_wh) * resolution_wh
    read = rng.random(reg.shape) >= missing_rate
    read[0] = True
    idx = np.where(read, np.arange(reg.shape[0])[:, None], 0)
    last = np.maximum.accumulate(idx, axis=0)  # last row that was read, at or before each
    prev = np.vstack([np.zeros((1, n), dtype=int), last[:-1]])
    inc = reg[1:] - np.take_along_axis(reg, prev[1:], axis=0)
    return np.asarray(np.where(read[1:], inc, np.nan), dtype=np.float64)


def generate_area(rng: np.random.Generator, spec: AreaSpec | None = None) -> SyntheticArea:
    """Simulate one area; every random draw comes from ``rng``."""
    spec = spec or AreaSpec()
    if spec.interval_minutes % BASE_MINUTES or 1440 % spec.interval_minutes:
        raise ValueError("interval_minutes must be a multiple of 15 that divides a day")
    step = spec.interval_minutes // BASE_MINUTES
    rows = spec.days * _ROWS_PER_DAY
    load = _household_load(rng, spec)
    err_base = _true_errors(rng, spec, rows)
    hours = BASE_MINUTES / 60.0
    p_total = load.sum(axis=1) / hours
    daily = np.repeat(rng.normal(0.0, spec.temperature_day_sd_k, spec.days), _ROWS_PER_DAY)
    clock_h = (np.arange(rows) % _ROWS_PER_DAY) * hours
    temp = T_REF_C + spec.temperature_daily_k * np.cos(2 * np.pi * (clock_h - 15.0) / 24.0) + daily
    a_w = spec.fixed_loss_w_per_meter * spec.n_meters
    b = spec.load_loss_fraction / p_total.mean()
    resistance = 1 + ALPHA_CU * (temp - T_REF_C)
    basis = np.stack([np.full(rows, hours), p_total**2 * hours * resistance], axis=1)
    weather_basis = b * p_total**2 * hours * ALPHA_CU  # ∂loss/∂(day's weather), Wh/K
    unmetered = rng.normal(0.0, spec.unmetered_sd_w * hours, rows)
    modelled = basis @ np.array([a_w, b])
    loss = modelled + unmetered
    m_err = (
        rng.uniform(-1, 1) * spec.master_error_max_pct
        if spec.master_error_pct is None
        else spec.master_error_pct
    )
    registered = load * (1.0 + err_base / 100.0)
    meters = _read_registers(
        rng, registered, step, spec.clock_jitter_s, spec.register_resolution_wh, spec.missing_rate
    )
    delivered = (load.sum(axis=1) + loss) * (1.0 + m_err / 100.0)
    master = _read_registers(
        rng,
        delivered[:, None],
        step,
        spec.master_clock_jitter_s,
        spec.master_resolution_wh,
        spec.missing_rate,
    )[:, 0]
    bad = np.flatnonzero(rng.random(master.size) < spec.master_outlier_rate)
    master[bad] *= rng.choice([0.0, 1.5, 3.0], bad.size)

    def coarse(a: FloatArray) -> FloatArray:
        return np.asarray(a.reshape(rows // step, step, *a.shape[1:]).sum(axis=1))

    mean_p2 = (coarse(load) / (spec.interval_minutes / 60.0)) ** 2
    jitter_var = float(mean_p2.mean(axis=0).sum()) * (spec.clock_jitter_s / 3600.0) ** 2
    p_master = coarse(delivered) / (spec.interval_minutes / 60.0)
    jitter_var += float((p_master**2).mean()) * (spec.master_clock_jitter_s / 3600.0) ** 2
    quant_var = (
        spec.n_meters * spec.register_resolution_wh**2 + spec.master_resolution_wh**2
    ) / 12.0
    width = len(str(spec.n_meters))
    return SyntheticArea(
        meter_ids=tuple(f"m{i:0{width}d}" for i in range(spec.n_meters)),
        interval_minutes=spec.interval_minutes,
        master_wh=master,
        meters_wh=meters,
        true_error_pct=err_base[step - 1 :: step].copy(),
        true_load_wh=coarse(load),
        loss_wh=coarse(loss),
        loss_model_wh=coarse(modelled),
        loss_climate_wh=coarse(modelled - weather_basis * daily),
        weather_basis_wh_per_k=coarse(weather_basis),
        weather_sd_k=spec.temperature_day_sd_k,
        master_error_pct=float(m_err),
        white_noise_var_wh2=float((spec.unmetered_sd_w * hours) ** 2 * step),
        level_noise_var_wh2=quant_var + jitter_var,
    )
