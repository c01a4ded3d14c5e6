"""What the stream workers know of the meter registry: each area's master meter and limits.

Loaded from a registry CSV in the one registry format (:data:`meterwatch.domain.REGISTRY_COLUMNS`,
what ``meterwatch registry import`` takes and the fleet simulator writes). The limit of every
consumer meter comes from the MPE tables (:mod:`detectors.mpe`) for its type and class, and
the meters whose ``has_generation`` is 0 are the area's ``without_generation``.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

from detectors.mpe import MpeTable
from meterwatch.domain import has_generation
from meterwatch.errors import ConfigError, MeterwatchError
from stream.area_estimation import AreaRegistry

REQUIRED = ("meter_id", "utility_id", "area_id", "meter_type", "accuracy_class")


class RegistryBook:
    """The :class:`AreaRegistry` of every known area, by (utility, area)."""

    def __init__(self, areas: Mapping[tuple[str, str], AreaRegistry]) -> None:
        self._areas = dict(areas)

    def __len__(self) -> int:
        return len(self._areas)

    def area(self, utility: str, area: str) -> AreaRegistry | None:
        return self._areas.get((utility, area))

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[Mapping[str, str]],
        *,
        in_service: bool = False,
        jurisdiction: str = "DE",
        table: MpeTable | None = None,
    ) -> RegistryBook:
        table = table or MpeTable.load()
        masters: dict[tuple[str, str], list[str]] = defaultdict(list)
        limits: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
        consumers: dict[tuple[str, str], set[str]] = defaultdict(set)
        for line, row in enumerate(rows, start=2):
            missing = [c for c in REQUIRED if not row.get(c)]
            if missing:
                raise ConfigError(f"registry line {line}: missing {', '.join(missing)}")
            key = (row["utility_id"], row["area_id"])
            if (row.get("is_master") or "").strip().lower() in ("1", "true", "yes"):
                masters[key].append(row["meter_id"])
                continue
            try:
                if has_generation(row.get("has_generation") or "") is False:
                    consumers[key].add(row["meter_id"])
                limits[key][row["meter_id"]] = table.mpe_pct(
                    row["meter_type"],
                    row["accuracy_class"],
                    in_service=in_service,
                    jurisdiction=jurisdiction,
                )
            except MeterwatchError as exc:
                raise ConfigError(f"registry line {line}: {exc}") from exc
        areas = {}
        for key, found in masters.items():
            if len(found) != 1:
                raise ConfigError(f"area {key[1]!r} of {key[0]!r} has {len(found)} master meters")
            areas[key] = AreaRegistry(
                master=found[0], mpe_pct=limits[key], without_generation=frozenset(consumers[key])
            )
        orphans = sorted(set(limits) - set(masters))
        if orphans:
            raise ConfigError(f"areas without a master meter: {orphans[:5]}")
        return cls(areas)

    @classmethod
    def from_csv(cls, path: Path, **options: object) -> RegistryBook:
        try:
            with path.open(encoding="utf-8", newline="") as handle:
                return cls.from_rows(csv.DictReader(handle), **options)  # type: ignore[arg-type]
        except OSError as exc:
            raise ConfigError(f"cannot read the registry {path}: {exc}") from exc
