"""A simulated fleet's topology and meter attributes (pure numpy, seeded, no I/O).

utilities → areas (台区) → devices → meters, with one master (summary) meter per area:

- **concentrators** (集中器) read up to ``concentrator_capacity`` meters of their area and
  upload them in one payload per interval; the area's master meter sits on its first
  concentrator;
- **direct meters** (NB-IoT/4G, a ``direct_fraction`` of the consumer meters) publish alone;
  their device id is their meter id;
- each device speaks one payload format, ``json`` (v1) or ``dlt645`` (DL/T 645-2007 frames),
  ``dlt645_fraction`` of them the latter.

Every meter has a type, an accuracy class, a manufacturer, a model, a production lot and an
install date. Lots are fleet-wide (one lot's meters are spread over many areas), which is what
lets lot-level defects show up in several areas at once. Households get single-phase class 2
meters, small businesses three-phase class 1 meters, masters transformer-operated class 0.5S
meters (classes as in JJG 596-2012; see ``detectors/data/mpe_electricity.csv``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from meterwatch.errors import ConfigError

StrArray = npt.NDArray[np.str_]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

DEFAULT_START = "2026-09-01T00:00:00Z"
METER_TYPE = "electricity"

# (manufacturer, model, accuracy class, use). Fictional names; the classes are real ones.
CATALOGUE: tuple[tuple[str, str, str, str], ...] = (
    ("Aurel", "DDZY-1A", "2", "household"),
    ("Aurel", "DDZY-2C", "2", "household"),
    ("Borealis", "SP-200", "2", "household"),
    ("Cygnet", "C1-Mono", "2", "household"),
    ("Borealis", "TP-410", "1", "business"),
    ("Cygnet", "C3-Tri", "1", "business"),
    ("Aurel", "DTZY-CT", "0.5S", "master"),
    ("Borealis", "TX-CT5", "0.5S", "master"),
)
_USES = ("household", "business", "master")


@dataclass(frozen=True)
class FleetSpec:
    """What fleet to simulate. Times are UTC; ``start`` must be a whole day."""

    seed: int = 7
    utilities: int = 2
    areas_per_utility: int = 10
    meters_per_area: int = 100  # consumer meters; the master comes on top
    days: int = 60
    interval_minutes: int = 15
    start: str = DEFAULT_START
    concentrator_capacity: int = 64
    direct_fraction: float = 0.05
    dlt645_fraction: float = 0.3
    business_fraction: float = 0.1
    pv_fraction: float = 0.1
    lots_per_model: int = 3
    meter_base: int = 0  # added to every meter number, to keep runs apart
    utility_prefix: str = "utility"

    def __post_init__(self) -> None:
        if min(self.utilities, self.areas_per_utility, self.meters_per_area, self.days) < 1:
            raise ConfigError("utilities, areas, meters and days must be at least 1")
        if self.interval_minutes % 15 or 1440 % self.interval_minutes:
            raise ConfigError("interval_minutes must be a multiple of 15 that divides a day")
        if self.concentrator_capacity < 1 or self.lots_per_model < 1:
            raise ConfigError("concentrator_capacity and lots_per_model must be at least 1")
        for name in ("direct_fraction", "dlt645_fraction", "business_fraction", "pv_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1]")
        last = self.meter_base + self.n_areas * (self.meters_per_area + 1)
        if self.meter_base < 0 or last >= 10**12:
            raise ConfigError("meter numbers must fit 12 decimal digits")
        start_s = self.start_s
        if start_s % 86_400:
            raise ConfigError(f"start {self.start!r} is not midnight UTC")

    @property
    def n_areas(self) -> int:
        return self.utilities * self.areas_per_utility

    @property
    def start_s(self) -> int:
        try:
            parsed = datetime.fromisoformat(self.start)
        except ValueError as exc:
            raise ConfigError(f"start {self.start!r} is not ISO 8601") from exc
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return int(parsed.timestamp())

    @property
    def end_s(self) -> int:
        return self.start_s + self.days * 86_400

    @property
    def intervals(self) -> int:
        return self.days * 1440 // self.interval_minutes


@dataclass(frozen=True)
class Fleet:
    """The registry, one row per meter (areas in order, each area's master first), and the
    devices. ``*_index`` columns point into ``areas`` / ``devices``."""

    spec: FleetSpec
    areas: tuple[str, ...]
    area_utility: tuple[str, ...]
    meter_id: StrArray
    area_index: IntArray
    use: StrArray  # household | business | master
    accuracy_class: StrArray
    manufacturer: StrArray
    model: StrArray
    lot: StrArray
    install_date: StrArray  # YYYY-MM-DD
    has_pv: BoolArray
    device_index: IntArray
    device_id: StrArray
    device_area: IntArray
    device_format: StrArray  # json | dlt645
    device_direct: BoolArray
    lot_ids: tuple[str, ...]

    @property
    def is_master(self) -> BoolArray:
        return np.asarray(self.use == "master")

    def area_meters(self, area: int) -> IntArray:
        """Registry rows of one area, master first."""
        return np.flatnonzero(self.area_index == area)

    def utility_of(self, area: int) -> str:
        return self.area_utility[area]


def _lots(rng: np.random.Generator, spec: FleetSpec) -> tuple[list[str], list[int], IntArray]:
    """Lot ids, their catalogue row and their production day (days before the start)."""
    ids, rows, made = [], [], []
    for row, (_, model, _, _) in enumerate(CATALOGUE):
        for k in range(spec.lots_per_model):
            age = int(rng.integers(200, 6 * 365))
            stamp = np.datetime64(spec.start_s - age * 86_400, "s").astype("datetime64[D]")
            ids.append(f"{model}-{str(stamp)[:7].replace('-', '')}-{k + 1}")
            rows.append(row)
            made.append(age)
    return ids, rows, np.array(made, dtype=np.int64)


def build_fleet(spec: FleetSpec) -> Fleet:
    """Draw the topology and the attributes; the same spec gives the same fleet."""
    rng = np.random.default_rng([spec.seed, 0xF1EE7])
    n, n_areas = spec.meters_per_area, spec.n_areas
    lot_ids, lot_row, lot_age = _lots(rng, spec)
    lot_row_a = np.array(lot_row)
    uses = np.array([c[3] for c in CATALOGUE])
    areas = tuple(
        f"area-{u + 1}-{a + 1:02d}" for u in range(spec.utilities)
        for a in range(spec.areas_per_utility)
    )  # fmt: skip
    utilities = tuple(
        f"{spec.utility_prefix}-{u + 1}" for u in range(spec.utilities)
        for _ in range(spec.areas_per_utility)
    )  # fmt: skip
    use = np.where(rng.random((n_areas, n)) < spec.business_fraction, "business", "household")
    use = np.concatenate([np.full((n_areas, 1), "master"), use], axis=1).ravel()
    total = use.size
    lot = np.zeros(total, dtype=np.int64)
    for kind in _USES:
        rows = np.flatnonzero(use == kind)
        choices = np.flatnonzero(uses[lot_row_a] == kind)
        # a few big lots and many small ones, as real deliveries are
        weights = rng.dirichlet(np.full(choices.size, 1.5))
        lot[rows] = rng.choice(choices, size=rows.size, p=weights)
    catalogue_row = lot_row_a[lot]
    install_age = lot_age[lot] - rng.integers(30, 180, total)
    install_age = np.maximum(install_age, 1)
    install = np.datetime64(spec.start_s, "s").astype("datetime64[D]") - install_age.astype(
        "timedelta64[D]"
    )
    meter_number = spec.meter_base + 1 + np.arange(total)
    meter_id = np.array([f"{m:012d}" for m in meter_number])
    area_index = np.repeat(np.arange(n_areas), n + 1)
    direct = (rng.random(total) < spec.direct_fraction) & (use != "master")
    device_index = np.zeros(total, dtype=np.int64)
    dev_id: list[str] = []
    dev_area: list[int] = []
    dev_direct: list[bool] = []
    for a in range(n_areas):
        rows = np.flatnonzero(area_index == a)
        polled = rows[~direct[rows]]
        for k in range(-(-polled.size // spec.concentrator_capacity)):
            chunk = polled[k * spec.concentrator_capacity : (k + 1) * spec.concentrator_capacity]
            device_index[chunk] = len(dev_id)
            dev_id.append(f"conc-{areas[a][5:]}-{k + 1}")
            dev_area.append(a)
            dev_direct.append(False)
        for row in rows[direct[rows]]:
            device_index[row] = len(dev_id)
            dev_id.append(str(meter_id[row]))
            dev_area.append(a)
            dev_direct.append(True)
    fmt = np.where(rng.random(len(dev_id)) < spec.dlt645_fraction, "dlt645", "json")
    pv = (rng.random(total) < spec.pv_fraction) & (use == "household")
    return Fleet(
        spec=spec,
        areas=areas,
        area_utility=utilities,
        meter_id=meter_id,
        area_index=area_index,
        use=use,
        accuracy_class=np.array([CATALOGUE[r][2] for r in catalogue_row]),
        manufacturer=np.array([CATALOGUE[r][0] for r in catalogue_row]),
        model=np.array([CATALOGUE[r][1] for r in catalogue_row]),
        lot=np.array(lot_ids)[lot],
        install_date=install.astype(str),
        has_pv=pv,
        device_index=device_index,
        device_id=np.array(dev_id),
        device_area=np.array(dev_area, dtype=np.int64),
        device_format=fmt,
        device_direct=np.array(dev_direct, dtype=bool),
        lot_ids=tuple(lot_ids),
    )
