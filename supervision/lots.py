"""Homogeneous lots formed from the meter registry.

A lot groups meters that share manufacturer, model, production batch and install year (the
default :class:`LotRule`). The rule is plain data, stored with every lot, and the lot id is a
hash of the rule and the lot's key, so forming lots again from the same registry gives the
same ids.

>>> meters = [
...     RegistryMeter("m1", "Acme", "X1", "B7", date(2021, 3, 1)),
...     RegistryMeter("m2", "ACME ", "X1", "B7", date(2021, 9, 9)),
...     RegistryMeter("m3", "Acme", "X1", "B8", date(2021, 3, 1)),
... ]
>>> [(lot.key, lot.meter_ids) for lot in form_lots(meters)]
[(('acme', 'x1', 'b7', '2021'), ('m1', 'm2')), (('acme', 'x1', 'b8', '2021'), ('m3',))]
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from supervision.errors import SupervisionError

LOT_FIELDS: tuple[str, ...] = ("manufacturer", "model", "production_batch", "install_year")


@dataclass(frozen=True)
class RegistryMeter:
    """The registry columns that lot formation needs."""

    meter_id: str
    manufacturer: str
    model: str
    production_batch: str
    installed_on: date

    def field_value(self, name: str) -> str:
        """The grouping value of one lot field, as text."""
        if name == "install_year":
            return str(self.installed_on.year)
        value = getattr(self, name)
        if not isinstance(value, str):
            raise SupervisionError(f"meter {self.meter_id}: {name} must be text")
        return value


@dataclass(frozen=True)
class LotRule:
    """How meters are grouped into lots; stored with each lot so the grouping is auditable.

    ``fields`` are grouping fields from :data:`LOT_FIELDS`; with ``casefold`` the text values
    are compared case-insensitively and with surrounding/multiple blanks removed.
    """

    fields: tuple[str, ...] = LOT_FIELDS
    casefold: bool = True
    version: int = 1

    def __post_init__(self) -> None:
        unknown = [f for f in self.fields if f not in LOT_FIELDS]
        if not self.fields or unknown or len(set(self.fields)) != len(self.fields):
            raise SupervisionError(
                f"lot rule fields must be distinct names from {', '.join(LOT_FIELDS)}"
            )

    def to_dict(self) -> dict[str, Any]:
        """The rule as plain data (what is stored with the lot)."""
        return {"fields": list(self.fields), "casefold": self.casefold, "version": self.version}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LotRule:
        """Rebuild a stored rule."""
        try:
            return cls(tuple(data["fields"]), bool(data["casefold"]), int(data["version"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise SupervisionError(f"not a stored lot rule: {data!r}") from exc

    def key_of(self, meter: RegistryMeter) -> tuple[str, ...]:
        """The lot key of a meter under this rule."""
        values = []
        for name in self.fields:
            value = " ".join(meter.field_value(name).split())
            if not value:
                raise SupervisionError(f"meter {meter.meter_id}: empty {name}")
            values.append(value.casefold() if self.casefold else value)
        return tuple(values)


@dataclass(frozen=True)
class Lot:
    """A homogeneous lot: its deterministic id, the rule, the key and its meters (sorted)."""

    lot_id: str
    rule: LotRule
    key: tuple[str, ...]
    meter_ids: tuple[str, ...]

    @property
    def size(self) -> int:
        """Number of meters in the lot."""
        return len(self.meter_ids)


def lot_id(rule: LotRule, key: tuple[str, ...]) -> str:
    """Deterministic lot id: ``LOT-`` and 16 hex digits of SHA-256 over rule and key."""
    canonical = json.dumps(
        {"rule": rule.to_dict(), "key": list(key)}, sort_keys=True, separators=(",", ":")
    )
    return "LOT-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def form_lots(meters: Iterable[RegistryMeter], rule: LotRule | None = None) -> list[Lot]:
    """Group registry meters into lots, sorted by key; each meter id must appear once."""
    rule = rule or LotRule()
    groups: dict[tuple[str, ...], list[str]] = {}
    seen: set[str] = set()
    for meter in meters:
        if meter.meter_id in seen:
            raise SupervisionError(f"meter {meter.meter_id} appears twice in the registry")
        seen.add(meter.meter_id)
        groups.setdefault(rule.key_of(meter), []).append(meter.meter_id)
    return [
        Lot(lot_id(rule, key), rule, key, tuple(sorted(ids))) for key, ids in sorted(groups.items())
    ]
