"""Maximum permissible errors (MPE) of utility meters, by meter type and accuracy class.

The figures live in data files with their sources cited, one per meter type
(``detectors/data/mpe_electricity.csv``, ``mpe_water.csv``, ``mpe_gas.csv``), and the in-service
allowances per jurisdiction in ``in_service_factors.csv``. Rows whose figure was not
cross-checked against the standard carry ``unsure = 1``; :meth:`MpeTable.is_unsure` reports it.

Heat meters have no table: EN 1434-1 gives the MPE of a complete meter as a formula of the
operating point, implemented in :func:`heat_mpe_pct`.

A row is found by (meter type, accuracy class, zone, condition):

- ``zone`` is ``"upper"`` (the main flow/current range, the default) or ``"lower"``;
- ``condition`` is ``""`` for reference conditions, or a named condition from the data file
  (e.g. ``"above_30C"`` for hot water, ``"mid_5_30C"`` for the MID rated operating limits).

Classes are matched after normalisation: ``"Class 1"``, ``"1"`` and ``"1.0"`` are the same class,
``"0,5S"`` is ``"0.5S"``. If two standards define the same class with the same figure (IEC 62053-21
and JJG 596 class 1), either row answers.

>>> mpe_pct("electricity", "2")
2.0
>>> mpe_pct("electricity", "2", in_service=True, jurisdiction="DE")
4.0
>>> mpe_pct("water", "2", zone="lower")
5.0
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import numpy.typing as npt

from meterwatch.errors import DetectorError

METER_TYPES = ("electricity", "water", "gas")
ZONES = ("upper", "lower")
DEFAULT_JURISDICTION = "DE"

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class MpeRow:
    """One row of an MPE data file."""

    standard: str
    meter_type: str
    accuracy_class: str
    zone: str
    condition: str
    mpe_pct: float
    unsure: bool
    source: str


def normalise_class(accuracy_class: str) -> str:
    """Canonical spelling of an accuracy class: ``"Class 1,0"`` → ``"1.0"``, ``"b"`` → ``"B"``."""
    text = accuracy_class.strip().upper().replace(",", ".").removeprefix("CLASS").strip()
    try:
        return repr(float(text))
    except ValueError:
        return text


def _read_csv(name: str) -> list[dict[str, str]]:
    text = resources.files("detectors.data").joinpath(name).read_text(encoding="utf-8")
    lines = [line for line in io.StringIO(text) if not line.startswith("#")]
    return list(csv.DictReader(lines))


@dataclass(frozen=True)
class MpeTable:
    """MPE rows plus in-service factors; immutable, so a configured table can be shared.

    ``factors`` maps ``(jurisdiction, meter_type)`` to the in-service multiple of the
    verification MPE; ``meter_type = "*"`` applies to every type of that jurisdiction.
    """

    rows: tuple[MpeRow, ...]
    factors: Mapping[tuple[str, str], float]
    unsure_factors: frozenset[tuple[str, str]] = frozenset()

    @classmethod
    def load(cls) -> MpeTable:
        """The table shipped with the package (cached; it is immutable)."""
        return _packaged_table()

    def with_in_service_factor(
        self, jurisdiction: str, factor: float, *, meter_type: str = "*"
    ) -> MpeTable:
        """A copy with one jurisdiction's in-service factor set (or overridden)."""
        if not factor > 0:
            raise DetectorError(f"in-service factor must be positive, got {factor}")
        factors = {**self.factors, (jurisdiction, meter_type): float(factor)}
        return MpeTable(self.rows, factors, self.unsure_factors - {(jurisdiction, meter_type)})

    def in_service_factor(self, meter_type: str, jurisdiction: str) -> float:
        """The multiple applied to the verification MPE while the meter is in service."""
        for key in ((jurisdiction, meter_type), (jurisdiction, "*")):
            if key in self.factors:
                return self.factors[key]
        known = sorted({j for j, _ in self.factors})
        raise DetectorError(
            f"no in-service factor for {meter_type!r} in jurisdiction {jurisdiction!r}; "
            f"known: {known}"
        )

    def find(
        self, meter_type: str, accuracy_class: str, *, zone: str = "upper", condition: str = ""
    ) -> MpeRow:
        """The row for one class; raises :class:`DetectorError` if none or ambiguous."""
        if zone not in ZONES:
            raise DetectorError(f"zone must be one of {ZONES}, got {zone!r}")
        wanted = normalise_class(accuracy_class)
        hits = [
            row
            for row in self.rows
            if row.meter_type == meter_type
            and row.accuracy_class == wanted
            and row.zone == zone
            and row.condition == condition
        ]
        if not hits:
            classes = sorted({r.accuracy_class for r in self.rows if r.meter_type == meter_type})
            raise DetectorError(
                f"no MPE for {meter_type!r} class {accuracy_class!r} zone {zone!r} "
                f"condition {condition!r}; classes known for this type: {classes}"
            )
        if len({row.mpe_pct for row in hits}) > 1:
            raise DetectorError(
                f"{meter_type!r} class {accuracy_class!r} has different MPEs in "
                f"{sorted(r.standard for r in hits)}"
            )
        return hits[0]

    def is_unsure(
        self, meter_type: str, accuracy_class: str, *, zone: str = "upper", condition: str = ""
    ) -> bool:
        """True when the figure (every matching row) is marked unsure in the data file."""
        wanted = normalise_class(accuracy_class)
        self.find(meter_type, accuracy_class, zone=zone, condition=condition)
        return all(
            row.unsure
            for row in self.rows
            if (row.meter_type, row.accuracy_class, row.zone, row.condition)
            == (meter_type, wanted, zone, condition)
        )

    def mpe_pct(
        self,
        meter_type: str,
        accuracy_class: str,
        *,
        zone: str = "upper",
        condition: str = "",
        in_service: bool = False,
        jurisdiction: str = DEFAULT_JURISDICTION,
    ) -> float:
        """The MPE in percent (a positive number; the limit is ±MPE)."""
        value = self.find(meter_type, accuracy_class, zone=zone, condition=condition).mpe_pct
        if in_service:
            value *= self.in_service_factor(meter_type, jurisdiction)
        return value

    def mpe_pct_array(
        self,
        meter_type: str,
        accuracy_classes: Iterable[str] | npt.ArrayLike,
        *,
        zone: str = "upper",
        condition: str = "",
        in_service: bool = False,
        jurisdiction: str = DEFAULT_JURISDICTION,
    ) -> FloatArray:
        """:meth:`mpe_pct` over an array of classes (looked up once per distinct class)."""
        classes = np.asarray(accuracy_classes).astype(str)
        distinct, inverse = np.unique(classes, return_inverse=True)
        values = np.array(
            [
                self.mpe_pct(
                    meter_type,
                    c,
                    zone=zone,
                    condition=condition,
                    in_service=in_service,
                    jurisdiction=jurisdiction,
                )
                for c in distinct.tolist()
            ],
            dtype=np.float64,
        )
        return values[inverse].reshape(classes.shape)


@cache
def _packaged_table() -> MpeTable:
    rows = tuple(
        MpeRow(
            standard=r["standard"],
            meter_type=r["meter_type"],
            accuracy_class=normalise_class(r["accuracy_class"]),
            zone=r["zone"],
            condition=r["condition"],
            mpe_pct=float(r["mpe_pct"]),
            unsure=r["unsure"] == "1",
            source=r["source"],
        )
        for name in ("mpe_electricity.csv", "mpe_water.csv", "mpe_gas.csv")
        for r in _read_csv(name)
    )
    factor_rows = _read_csv("in_service_factors.csv")
    factors = {(r["jurisdiction"], r["meter_type"]): float(r["factor"]) for r in factor_rows}
    unsure = frozenset(
        (r["jurisdiction"], r["meter_type"]) for r in factor_rows if r["unsure"] == "1"
    )
    return MpeTable(rows, factors, unsure)


def mpe_pct(
    meter_type: str,
    accuracy_class: str,
    *,
    zone: str = "upper",
    condition: str = "",
    in_service: bool = False,
    jurisdiction: str = DEFAULT_JURISDICTION,
) -> float:
    """MPE in percent from the packaged table; see :meth:`MpeTable.mpe_pct`."""
    return MpeTable.load().mpe_pct(
        meter_type,
        accuracy_class,
        zone=zone,
        condition=condition,
        in_service=in_service,
        jurisdiction=jurisdiction,
    )


def mpe_pct_array(
    meter_type: str,
    accuracy_classes: Iterable[str] | npt.ArrayLike,
    *,
    zone: str = "upper",
    condition: str = "",
    in_service: bool = False,
    jurisdiction: str = DEFAULT_JURISDICTION,
) -> FloatArray:
    """Vectorised :func:`mpe_pct` over an array of classes, from the packaged table."""
    return MpeTable.load().mpe_pct_array(
        meter_type,
        accuracy_classes,
        zone=zone,
        condition=condition,
        in_service=in_service,
        jurisdiction=jurisdiction,
    )


# EN 1434-1 (heat meters), MPE of the flow sensor: Ef = ±(a + b·qp/q) %, capped at `cap` %.
# Sources: EN 1434-1:2015, MPEs of the sub-assemblies (clause number not checked), and with the
# same formulas Directive 2014/32/EU Annex VI (MI-004) points 3 and 7.1-7.3
# (https://legislation.gov.uk/eudr/2014/32/annex/VI); the class 2 and 3 flow-sensor formulas were
# cross-checked against Kamstrup's ULTRAFLOW 54/34 technical description. Not unsure, but the
# class 1 cap of 3.5 % is from memory of MI-004 7.1.
_HEAT_FLOW_SENSOR: dict[str, tuple[float, float, float]] = {
    "1.0": (1.0, 0.01, 3.5),
    "2.0": (2.0, 0.02, 5.0),
    "3.0": (3.0, 0.05, 5.0),
}


def heat_mpe_pct(
    accuracy_class: str,
    *,
    q_over_qp: npt.ArrayLike,
    delta_theta_k: npt.ArrayLike,
    delta_theta_min_k: float = 3.0,
    in_service: bool = False,
    jurisdiction: str = DEFAULT_JURISDICTION,
    table: MpeTable | None = None,
) -> FloatArray:
    """MPE (percent) of a complete heat meter at an operating point, per EN 1434-1.

    E = Ef + Et + Ec with
    Ef = a + b·qp/q (capped; class 1: 1 + 0.01·qp/q ≤ 3.5, class 2: 2 + 0.02·qp/q ≤ 5,
    class 3: 3 + 0.05·qp/q ≤ 5), Et = 0.5 + 3·Δθmin/Δθ (temperature sensor pair) and
    Ec = 0.5 + Δθmin/Δθ (calculator). ``q_over_qp`` is the flow as a fraction of the permanent
    flow qp; ``delta_theta_k`` the temperature difference in kelvin.

    >>> round(float(heat_mpe_pct("2", q_over_qp=0.5, delta_theta_k=30.0)), 6)
    3.44
    """
    key = normalise_class(accuracy_class)
    if key not in _HEAT_FLOW_SENSOR:
        raise DetectorError(f"EN 1434 heat meter class must be 1, 2 or 3, got {accuracy_class!r}")
    q = np.asarray(q_over_qp, dtype=np.float64)
    dt = np.asarray(delta_theta_k, dtype=np.float64)
    if np.any(q <= 0) or np.any(dt <= 0) or delta_theta_min_k <= 0:
        raise DetectorError("heat MPE needs positive flow ratio and temperature differences")
    a, b, cap = _HEAT_FLOW_SENSOR[key]
    e_flow = np.minimum(a + b / q, cap)
    e_temp = 0.5 + 3.0 * delta_theta_min_k / dt
    e_calc = 0.5 + delta_theta_min_k / dt
    total = e_flow + e_temp + e_calc
    if in_service:
        total = total * (table or MpeTable.load()).in_service_factor("heat", jurisdiction)
    return np.asarray(total, dtype=np.float64)
