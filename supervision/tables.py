"""Loading of the packaged sampling tables (``supervision/data/*.csv``).

The CSV files carry their source in ``#`` header comments; this module only parses them.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from supervision.errors import SupervisionError


@dataclass(frozen=True)
class MasterTable:
    """One ISO 2859-1 master table (2-A, 2-B or 2-C) as printed: plans and arrows."""

    letters: tuple[str, ...]
    sample_sizes: dict[str, int]
    aqls: tuple[str, ...]
    cells: dict[tuple[str, str], str]
    unsure: frozenset[tuple[str, str]]


def read_data_rows(name: str) -> list[dict[str, str]]:
    """Rows of a packaged CSV data file, without its ``#`` comment lines."""
    text = files("supervision").joinpath("data", name).read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    return list(csv.DictReader(io.StringIO(body)))


@cache
def master_table(name: str) -> MasterTable:
    """Parse one master-table CSV (columns: code_letter, sample_size, AQL..., unsure)."""
    rows = read_data_rows(name)
    if not rows:
        raise SupervisionError(f"sampling table {name} is empty")
    aqls = tuple(k for k in rows[0] if k not in ("code_letter", "sample_size", "unsure"))
    letters: list[str] = []
    sizes: dict[str, int] = {}
    cells: dict[tuple[str, str], str] = {}
    unsure: set[tuple[str, str]] = set()
    for row in rows:
        letter = row["code_letter"]
        letters.append(letter)
        sizes[letter] = int(row["sample_size"])
        for aql in aqls:
            cells[(letter, aql)] = row[aql].strip()
        unsure.update((letter, a) for a in row["unsure"].split(";") if a)
    return MasterTable(tuple(letters), sizes, aqls, cells, frozenset(unsure))
