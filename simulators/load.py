"""True consumption, PV generation and line loss of one area on the 15-minute grid (pure numpy).

- **Households** come from :func:`simulators.synthetic.generate_area` (its mixed daily
  archetypes, weekday/weekend shapes, absences and appliance events); only its true load is
  used here.
- **Small businesses** open on weekdays (a share of them on Sundays too) between their own
  opening and closing hours, with a base load overnight.
- **Seasons:** every meter's load is scaled per day by ``1 + s_i·(f(day of year) − 1)``,
  ``f`` peaking in winter (heating) with a smaller summer bump (cooling), ``s_i`` the meter's
  sensitivity.
- **PV:** a bell between sunrise and sunset (day length follows the season), scaled by the
  panel's peak power, a per-day cloud factor and short-term noise. A PV meter's net flow is
  consumption − generation: positive flow counts on its import register, negative on export.
- **Line loss** is the form :mod:`detectors.energy_balance` assumes, ``L = a·Δt + b·P²·Δt``,
  with ``P`` the net power through the transformer, plus what that model lacks: the I²R
  resistance follows a daily and a day-to-day conductor-temperature cycle, and white
  unmetered consumption is added (the same loss law as :mod:`simulators.synthetic`).

The time grid is UTC and load shapes are read in it (the simulated areas live at UTC).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simulators.synthetic import ALPHA_CU, T_REF_C, AreaSpec, generate_area

FloatArray = npt.NDArray[np.float64]
StrArray = npt.NDArray[np.str_]
BoolArray = npt.NDArray[np.bool_]
ROWS_PER_DAY = 96
HOURS = 0.25  # hours per row


@dataclass(frozen=True)
class LoadSpec:
    """Load, PV and loss parameters. Powers in W, energies in Wh."""

    business_annual_kwh: float = 15_000.0  # median
    seasonal_sensitivity: tuple[float, float] = (0.3, 1.7)
    pv_kwp: tuple[float, float] = (3.0, 8.0)
    fixed_loss_w_per_meter: float = 3.0
    load_loss_fraction: float = 0.03
    unmetered_sd_w: float = 40.0
    temperature_daily_k: float = 6.0
    temperature_day_sd_k: float = 3.0


@dataclass(frozen=True)
class AreaLoad:
    """Rows are 15-minute intervals, columns the area's consumer meters."""

    consumption_wh: FloatArray
    pv_wh: FloatArray

    @property
    def net_wh(self) -> FloatArray:
        return self.consumption_wh - self.pv_wh


@dataclass(frozen=True)
class LineLoss:
    loss_wh: FloatArray  # (rows,) the true loss, unmetered use included
    basis: FloatArray  # (rows, 2) the loss law's regressors: [hours, P²·h·(1 + αΔT)]
    white_sd_wh: float  # standard deviation of the unmetered part per row
    # the loss law at the climatological temperature (its daily cycle, no day-to-day weather,
    # no unmetered use), and how the loss moves per kelvin of the day's weather
    climate_wh: FloatArray  # (rows,)
    weather_wh_per_k: FloatArray  # (rows,)


def day_of_year(start_s: int, days: int) -> FloatArray:
    first = np.datetime64(start_s, "s").astype("datetime64[D]")
    year_start = first.astype("datetime64[Y]").astype("datetime64[D]")
    return np.asarray(np.arange(days) + (first - year_start).astype(np.float64), dtype=float)


def seasonal_factor(doy: FloatArray) -> FloatArray:
    """Mean 1 over a year: winter peak (+20 %), summer cooling bump (+10 %)."""
    phase = 2 * np.pi * (doy - 20.0) / 365.25
    return np.asarray(1.0 + 0.2 * np.cos(phase) + 0.1 * np.cos(2 * phase), dtype=float)


def _business_load(
    rng: np.random.Generator, n: int, days: int, weekday0: int, spec: LoadSpec
) -> FloatArray:
    hour = (np.arange(ROWS_PER_DAY) + 0.5) * HOURS
    opens = rng.uniform(7.0, 9.5, n)
    closes = rng.uniform(17.0, 21.0, n)
    base = rng.uniform(0.15, 0.35, n)
    sunday_open = rng.random(n) < 0.3
    weekday = (np.arange(days) + weekday0) % 7
    open_day = (weekday[:, None] < 6) | sunday_open[None, :]  # (days, n); 6 = Sunday
    open_hour = (hour[:, None] >= opens) & (hour[:, None] < closes)  # (96, n)
    is_open = open_day[:, None, :] & open_hour[None, :, :]  # (days, 96, n)
    shape = base + (1.0 - base) * is_open
    shape = shape / shape.mean(axis=(0, 1))
    mean_w = np.exp(rng.normal(np.log(spec.business_annual_kwh), 0.5, n)) / 8.766
    day_level = np.exp(rng.normal(0.0, 0.1, (days, 1, n)))
    noise = np.clip(1.0 + 0.15 * rng.standard_normal((days, ROWS_PER_DAY, n)), 0.0, None)
    return np.asarray((mean_w * shape * day_level * noise * HOURS).reshape(-1, n), dtype=float)


def _pv(rng: np.random.Generator, n: int, doy: FloatArray, spec: LoadSpec) -> FloatArray:
    days = doy.size
    hour = (np.arange(ROWS_PER_DAY) + 0.5) * HOURS
    day_len = 12.0 + 3.0 * np.sin(2 * np.pi * (doy - 80.0) / 365.25)  # hours
    x = (hour[None, :] - (12.0 - day_len[:, None] / 2)) / day_len[:, None]  # (days, 96)
    clear = np.where((x > 0) & (x < 1), np.sin(np.pi * np.clip(x, 0, 1)) ** 1.5, 0.0)
    kwp = rng.uniform(*spec.pv_kwp, n)
    cloud = rng.beta(5.0, 2.0, (days, 1, n))
    flicker = np.clip(1.0 + 0.2 * rng.standard_normal((days, ROWS_PER_DAY, n)), 0.0, 1.3)
    watts = 750.0 * kwp * clear[:, :, None] * cloud * flicker
    return np.asarray((watts * HOURS).reshape(-1, n), dtype=float)


def area_load(
    rng: np.random.Generator,
    use: StrArray,
    has_pv: BoolArray,
    start_s: int,
    days: int,
    spec: LoadSpec,
) -> AreaLoad:
    """Consumption and generation of consumer meters with uses ``use`` (household|business)."""
    n = use.size
    rows = days * ROWS_PER_DAY
    weekday0 = int((start_s // 86_400 + 3) % 7)  # 1970-01-01 was a Thursday; Monday = 0
    consumption = np.zeros((rows, n))
    house = np.flatnonzero(use == "household")
    if house.size:
        synthetic = generate_area(
            rng,
            AreaSpec(
                n_meters=house.size,
                days=days,
                start_weekday=weekday0,
                oot_fraction=0.0,
                missing_rate=0.0,
            ),
        )
        consumption[:, house] = synthetic.true_load_wh
    shop = np.flatnonzero(use == "business")
    if shop.size:
        consumption[:, shop] = _business_load(rng, shop.size, days, weekday0, spec)
    doy = day_of_year(start_s, days)
    sensitivity = rng.uniform(*spec.seasonal_sensitivity, n)
    season = 1.0 + sensitivity[None, :] * (seasonal_factor(doy)[:, None] - 1.0)
    consumption *= np.repeat(season, ROWS_PER_DAY, axis=0)
    pv = np.zeros((rows, n))
    solar = np.flatnonzero(has_pv)
    if solar.size:
        pv[:, solar] = _pv(rng, solar.size, doy, spec)
    return AreaLoad(consumption_wh=consumption, pv_wh=pv)


def line_loss(rng: np.random.Generator, net_wh: FloatArray, spec: LoadSpec) -> LineLoss:
    """The area's loss for the consumer net energies ``net_wh`` (rows, n)."""
    rows, n = net_wh.shape
    days = rows // ROWS_PER_DAY
    p_total = net_wh.sum(axis=1) / HOURS
    clock_h = (np.arange(rows) % ROWS_PER_DAY) * HOURS
    weather = np.repeat(rng.normal(0.0, spec.temperature_day_sd_k, days), ROWS_PER_DAY)
    temp = T_REF_C + spec.temperature_daily_k * np.cos(2 * np.pi * (clock_h - 15.0) / 24) + weather
    basis = np.stack(
        [np.full(rows, HOURS), p_total**2 * HOURS * (1 + ALPHA_CU * (temp - T_REF_C))], axis=1
    )
    b = spec.load_loss_fraction / max(float(np.abs(p_total).mean()), 1.0)
    white_sd = spec.unmetered_sd_w * HOURS
    law = basis @ np.array([spec.fixed_loss_w_per_meter * n, b])
    per_kelvin = b * p_total**2 * HOURS * ALPHA_CU
    return LineLoss(
        loss_wh=np.asarray(law + rng.normal(0, white_sd, rows), dtype=float),
        basis=basis,
        white_sd_wh=white_sd,
        climate_wh=np.asarray(law - per_kelvin * weather, dtype=float),
        weather_wh_per_k=np.asarray(per_kelvin, dtype=float),
    )
