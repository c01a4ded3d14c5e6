"""Registry import: utilities, areas and meters from a CSV file, then the lots formed from them.

The whole file is validated first and every bad row is reported with its line number; if any
row is bad nothing is imported. A good file goes in as one transaction: utilities, areas and
meters are upserted, then the lots of every utility the file touches are formed again from
all its registered meters (``supervision.lots.form_lots`` with the default rule, which is
stored with each lot). A lot's id is ``<utility_id>/<lot id of the rule and key>``, so lots
never mix utilities and forming them again gives the same ids.

Parquet is not supported: pyarrow is not installed in this environment.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg

from detectors.mpe import mpe_pct
from meterwatch.domain import (
    REGISTRY_COLUMNS,
    REGISTRY_OPTIONAL_COLUMNS,
    has_generation,
    is_valid_entity_id,
)
from meterwatch.errors import MeterwatchError, StorageError
from supervision.lots import LotRule, RegistryMeter, form_lots

_FLAGS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False, "": False}
_METER_ID = re.compile(r"^[0-9]{12}$")
_TEXT_COLUMNS = ("utility_name", "area_name", "manufacturer", "model", "production_batch")


@dataclass(frozen=True)
class BadRow:
    line: int
    message: str


class InvalidFile(MeterwatchError):
    """A CSV file with bad rows; nothing of it was imported."""

    def __init__(self, path: Path | str, problems: list[BadRow]) -> None:
        self.problems = problems
        lines = "\n".join(f"  line {p.line}: {p.message}" for p in problems)
        super().__init__(f"{path}: {len(problems)} bad row(s), nothing imported\n{lines}")


@dataclass(frozen=True)
class RegistryRow:
    line: int
    meter_id: str
    utility_id: str
    utility_name: str
    area_id: str
    area_name: str
    meter_type: str
    accuracy_class: str
    manufacturer: str
    model: str
    production_batch: str
    install_date: date
    is_master: bool = False
    has_generation: bool | None = None  # None: not known


@dataclass(frozen=True)
class ImportSummary:
    utilities: int
    areas: int
    meters: int
    lots: int


def read_csv_rows(
    path: Path, columns: tuple[str, ...], optional: tuple[str, ...] = ()
) -> tuple[list[tuple[int, dict[str, str]]], list[BadRow]]:
    """The data rows of a CSV file with exactly ``columns`` as header, keyed by line number.

    ``optional`` are trailing columns of ``columns`` an older file may lack; its rows get
    them empty.
    """
    problems: list[BadRow] = []
    rows: list[tuple[int, dict[str, str]]] = []
    accepted = {columns, columns[: len(columns) - len(optional)]}
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            present = tuple(h.strip() for h in header) if header is not None else ()
            if present not in accepted:
                raise InvalidFile(path, [BadRow(1, f"header must be exactly: {','.join(columns)}")])
            absent = dict.fromkeys(columns[len(present) :], "")
            start = reader.line_num + 1
            for record in reader:
                line, start = start, reader.line_num + 1
                if not any(field.strip() for field in record):
                    continue
                if len(record) != len(present):
                    problems.append(BadRow(line, f"{len(record)} fields, expected {len(present)}"))
                    continue
                values = {c: v.strip() for c, v in zip(present, record, strict=True)}
                rows.append((line, {**values, **absent}))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidFile(path, [BadRow(0, f"cannot read the file: {exc}")]) from exc
    if not rows and not problems:
        problems.append(BadRow(2, "no data rows"))
    return rows, problems


def _parse_row(line: int, raw: dict[str, str]) -> RegistryRow:
    """One registry row, or MeterwatchError naming what is wrong with it."""
    if not _METER_ID.match(raw["meter_id"]):
        raise MeterwatchError(f"meter_id {raw['meter_id']!r} is not 12 digits")
    for column in ("utility_id", "area_id"):
        if not is_valid_entity_id(raw[column]):
            raise MeterwatchError(f"{column} {raw[column]!r} is not 1-64 of [A-Za-z0-9_.-]")
    for column in _TEXT_COLUMNS:
        if not raw[column]:
            raise MeterwatchError(f"{column} is empty")
    try:
        installed = date.fromisoformat(raw["install_date"])
    except ValueError as exc:
        raise MeterwatchError(
            f"install_date {raw['install_date']!r} is not a date YYYY-MM-DD"
        ) from exc
    if installed > date.today():
        raise MeterwatchError(f"install_date {installed} is in the future")
    mpe_pct(raw["meter_type"], raw["accuracy_class"])  # DetectorError for unknown type/class
    flag = raw["is_master"].lower()
    if flag not in _FLAGS:
        raise MeterwatchError(f"is_master {raw['is_master']!r} is not 0/1 (or empty for 0)")
    return RegistryRow(
        line, raw["meter_id"], raw["utility_id"], raw["utility_name"], raw["area_id"],
        raw["area_name"], raw["meter_type"], raw["accuracy_class"], raw["manufacturer"],
        raw["model"], raw["production_batch"], installed, _FLAGS[flag],
        has_generation(raw["has_generation"]),
    )  # fmt: skip


def validate_registry(path: Path) -> list[RegistryRow]:
    """Every row of a registry file, or :class:`InvalidFile` listing every bad row."""
    raw_rows, problems = read_csv_rows(path, REGISTRY_COLUMNS, REGISTRY_OPTIONAL_COLUMNS)
    rows: list[RegistryRow] = []
    meter_lines: dict[str, int] = {}
    utility_names: dict[str, tuple[str, int]] = {}
    area_names: dict[tuple[str, str], tuple[str, int]] = {}
    masters: dict[tuple[str, str], int] = {}
    for line, raw in raw_rows:
        try:
            row = _parse_row(line, raw)
        except MeterwatchError as exc:
            problems.append(BadRow(line, str(exc)))
            continue
        first = meter_lines.setdefault(row.meter_id, line)
        if first != line:
            problems.append(BadRow(line, f"meter_id {row.meter_id} already on line {first}"))
            continue
        name, at = utility_names.setdefault(row.utility_id, (row.utility_name, line))
        if name != row.utility_name:
            problems.append(
                BadRow(line, f"utility {row.utility_id} is named {name!r} on line {at}")
            )
            continue
        area_key = (row.utility_id, row.area_id)
        name, at = area_names.setdefault(area_key, (row.area_name, line))
        if name != row.area_name:
            problems.append(BadRow(line, f"area {row.area_id} is named {name!r} on line {at}"))
            continue
        if row.is_master and masters.setdefault(area_key, line) != line:
            problems.append(
                BadRow(line, f"area {row.area_id} has its master on line {masters[area_key]}")
            )
            continue
        rows.append(row)
    if problems:
        raise InvalidFile(path, sorted(problems, key=lambda p: p.line))
    return rows


def import_registry(conn: psycopg.Connection, path: Path) -> ImportSummary:
    """Validate ``path`` and import it in one transaction (nothing on any bad row)."""
    rows = validate_registry(path)
    try:
        with conn.transaction():
            _check_owners(conn, path, rows)
            _upsert(conn, rows)
            lots = sum(_form_lots(conn, u) for u in sorted({r.utility_id for r in rows}))
    except psycopg.Error as exc:
        raise StorageError(f"registry import failed: {exc}") from exc
    return ImportSummary(
        utilities=len({r.utility_id for r in rows}),
        areas=len({(r.utility_id, r.area_id) for r in rows}),
        meters=len(rows),
        lots=lots,
    )


def _check_owners(conn: psycopg.Connection, path: Path, rows: list[RegistryRow]) -> None:
    """A registered meter must not silently move to another utility."""
    owners: dict[str, str] = dict(
        conn.execute(
            "SELECT meter_id, utility_id FROM meter WHERE meter_id = ANY(%s)",
            ([r.meter_id for r in rows],),
        ).fetchall()
    )
    moved = [
        BadRow(r.line, f"meter {r.meter_id} is registered to utility {owners[r.meter_id]}")
        for r in rows
        if owners.get(r.meter_id, r.utility_id) != r.utility_id
    ]
    if moved:
        raise InvalidFile(path, moved)


def _upsert(conn: psycopg.Connection, rows: list[RegistryRow]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO utility (utility_id, name) VALUES (%s, %s) "
            "ON CONFLICT (utility_id) DO UPDATE SET name = EXCLUDED.name",
            sorted({(r.utility_id, r.utility_name) for r in rows}),
        )
        cur.executemany(
            "INSERT INTO area (utility_id, area_id, name) VALUES (%s, %s, %s) "
            "ON CONFLICT (utility_id, area_id) DO UPDATE SET name = EXCLUDED.name",
            sorted({(r.utility_id, r.area_id, r.area_name) for r in rows}),
        )
        cur.executemany(
            "INSERT INTO meter (meter_id, utility_id, area_id, meter_type, accuracy_class, "
            "manufacturer, model, production_batch, install_date, is_master, has_generation) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (meter_id) DO UPDATE SET "
            "area_id = EXCLUDED.area_id, meter_type = EXCLUDED.meter_type, "
            "accuracy_class = EXCLUDED.accuracy_class, manufacturer = EXCLUDED.manufacturer, "
            "model = EXCLUDED.model, production_batch = EXCLUDED.production_batch, "
            "install_date = EXCLUDED.install_date, is_master = EXCLUDED.is_master, "
            "has_generation = COALESCE(EXCLUDED.has_generation, meter.has_generation)",
            [
                (r.meter_id, r.utility_id, r.area_id, r.meter_type, r.accuracy_class,
                 r.manufacturer, r.model, r.production_batch, r.install_date, r.is_master,
                 r.has_generation)
                for r in rows
            ],
        )  # fmt: skip


def _form_lots(conn: psycopg.Connection, utility_id: str, rule: LotRule | None = None) -> int:
    """Form the lots of one utility again from all its meters; return how many have meters."""
    rule = rule or LotRule()
    meters = [
        RegistryMeter(*row)
        for row in conn.execute(
            "SELECT meter_id, manufacturer, model, production_batch, install_date "
            "FROM meter WHERE utility_id = %s ORDER BY meter_id",
            (utility_id,),
        ).fetchall()
    ]
    lots = form_lots(meters, rule)
    with conn.cursor() as cur:
        cur.execute("UPDATE lot SET size = 0 WHERE utility_id = %s", (utility_id,))
        cur.executemany(
            "INSERT INTO lot (lot_id, utility_id, rule, lot_key, size) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (lot_id) DO UPDATE SET size = EXCLUDED.size",
            [
                (stored_lot_id(utility_id, lot.lot_id), utility_id, json.dumps(rule.to_dict()),
                 json.dumps(dict(zip(rule.fields, lot.key, strict=True))), lot.size)
                for lot in lots
            ],
        )  # fmt: skip
        cur.executemany(
            "UPDATE meter SET lot_id = %s WHERE meter_id = ANY(%s)",
            [(stored_lot_id(utility_id, lot.lot_id), list(lot.meter_ids)) for lot in lots],
        )
    return len(lots)


def stored_lot_id(utility_id: str, rule_lot_id: str) -> str:
    """The id a lot is stored under: the utility, a slash, the rule's deterministic lot id."""
    return f"{utility_id}/{rule_lot_id}"
