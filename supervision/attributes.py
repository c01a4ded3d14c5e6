"""ISO 2859-1 / GB/T 2828.1 single sampling by attributes.

The tables are data (``supervision/data/iso2859_1_*.csv``, sources in their headers):

- Table 1: lot size and inspection level -> sample size code letter.
- Tables 2-A, 2-B, 2-C: code letter and AQL -> sample size ``n`` and acceptance/rejection
  numbers, for normal, tightened and reduced inspection. Arrows are followed as printed: the
  plan found under or over the arrow brings its own sample size (and code letter).

Readings of ours, each recorded on the plans it affects:

- An arrow that runs off the table (up from row A, down from the last row, or into an empty
  cell) is followed in the opposite direction instead, and the plan notes it. (Checked against
  an independent transcription of ANSI/ASQ Z1.4, this gives the same plans; see the data.)
- ``unsure`` on a plan means its table cell is marked unsure in the data file (all of
  Table 2-C, which is reconstructed).
- A sample size at or above the lot size means 100 % inspection: ``n`` becomes the lot size,
  ``Ac``/``Re`` are kept, and ``hundred_percent`` is set.

Switching between normal, tightened and reduced inspection (ISO 2859-1:1999 §9.3) is the
pure state machine :class:`SwitchingState`.

>>> plan = single_plan(1000, 1.0)
>>> plan.code_letter, plan.n, plan.ac, plan.re
('J', 80, 2, 3)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cache
from typing import Literal

from supervision.errors import PlanNotFound, SupervisionError
from supervision.tables import MasterTable, master_table, read_data_rows

Severity = Literal["normal", "tightened", "reduced"]
SchemeStatus = Literal["normal", "tightened", "reduced", "discontinued"]

LEVELS: tuple[str, ...] = ("S-1", "S-2", "S-3", "S-4", "I", "II", "III")
SEVERITIES: tuple[Severity, ...] = ("normal", "tightened", "reduced")
AQL_SERIES: tuple[str, ...] = (
    "0.010", "0.015", "0.025", "0.040", "0.065", "0.10", "0.15", "0.25", "0.40", "0.65",
    "1.0", "1.5", "2.5", "4.0", "6.5", "10", "15", "25", "40", "65",
    "100", "150", "250", "400", "650", "1000",
)  # fmt: skip

_TABLE_FILES: dict[Severity, str] = {
    "normal": "iso2859_1_table2a_normal.csv",
    "tightened": "iso2859_1_table2b_tightened.csv",
    "reduced": "iso2859_1_table2c_reduced.csv",
}
_ARROWS = {"up": -1, "down": 1}


@dataclass(frozen=True)
class AttributesPlan:
    """A single sampling plan by attributes, with everything needed to record it.

    ``code_letter`` comes from Table 1; ``plan_letter`` is the row the plan was read from
    after following arrows. ``aql`` is the table's spelling of the AQL (e.g. ``"1.0"``).
    """

    code_letter: str
    plan_letter: str
    n: int
    ac: int
    re: int
    severity: Severity
    aql: str
    level: str
    lot_size: int
    hundred_percent: bool
    unsure: bool
    notes: tuple[str, ...] = ()


def normalise_aql(aql: float | str) -> str:
    """The AQL series value equal to ``aql`` (e.g. ``1`` -> ``"1.0"``)."""
    try:
        value = float(aql)
    except (TypeError, ValueError) as exc:
        raise SupervisionError(f"AQL {aql!r} is not a number") from exc
    for entry in AQL_SERIES:
        if math.isclose(float(entry), value, rel_tol=1e-9):
            return entry
    raise SupervisionError(f"AQL {aql!r} is not in the ISO 2859-1 series {', '.join(AQL_SERIES)}")


@cache
def _code_letter_rows() -> tuple[tuple[int, int | None, dict[str, str]], ...]:
    rows = read_data_rows("iso2859_1_table1_code_letters.csv")
    return tuple(
        (
            int(r["min_lot_size"]),
            int(r["max_lot_size"]) if r["max_lot_size"] else None,
            {level: r[level] for level in LEVELS},
        )
        for r in rows
    )


def code_letter(lot_size: int, level: str = "II") -> str:
    """Sample size code letter for a lot size and inspection level (ISO 2859-1 Table 1)."""
    if level not in LEVELS:
        raise SupervisionError(f"inspection level {level!r} is not one of {', '.join(LEVELS)}")
    if isinstance(lot_size, bool) or not isinstance(lot_size, int) or lot_size < 2:
        raise SupervisionError(f"lot size must be an integer of at least 2, got {lot_size!r}")
    for low, high, letters in _code_letter_rows():
        if lot_size >= low and (high is None or lot_size <= high):
            return letters[level]
    raise SupervisionError(f"lot size {lot_size} is not covered by Table 1")


def table_for(severity: Severity) -> MasterTable:
    """The master table for normal (2-A), tightened (2-B) or reduced (2-C) inspection."""
    if severity not in _TABLE_FILES:
        raise SupervisionError(f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    return master_table(_TABLE_FILES[severity])


def _parse_plan(cell: str) -> tuple[int, int] | None:
    if "/" not in cell:
        return None
    ac, re = cell.split("/")
    return int(ac), int(re)


def _walk(table: MasterTable, row: int, aql: str, step: int) -> tuple[int, int, int] | None:
    """From ``row``, move by ``step`` through arrow cells to the first plan (None off-table)."""
    while 0 <= row < len(table.letters):
        cell = table.cells[(table.letters[row], aql)]
        plan = _parse_plan(cell)
        if plan is not None:
            return row, plan[0], plan[1]
        if cell not in _ARROWS:
            return None
        row += step
    return None


@dataclass(frozen=True)
class ResolvedCell:
    """The plan reached from a table cell after following its arrow."""

    plan_letter: str
    ac: int
    re: int
    unsure: bool
    notes: tuple[str, ...]


def resolve_cell(table: MasterTable, letter: str, aql: str) -> ResolvedCell:
    """Follow the arrows from (letter, aql) to the plan they point at."""
    if letter not in table.letters:
        raise PlanNotFound(f"code letter {letter!r} is not in this table")
    start = table.letters.index(letter)
    cell = table.cells[(letter, aql)]
    unsure = (letter, aql) in table.unsure
    notes: list[str] = []
    printed = _parse_plan(cell)
    if printed is not None:
        found: tuple[int, int, int] | None = (start, *printed)
    else:
        step = _ARROWS.get(cell)
        if step is None:
            raise PlanNotFound(f"no plan printed at code letter {letter}, AQL {aql}")
        found = _walk(table, start + step, aql, step)
        if found is None:
            found = _walk(table, start - step, aql, -step)
            notes.append(
                f"the {cell} arrow at {letter}/{aql} runs off the table; followed the other way"
            )
    if found is None:
        raise PlanNotFound(f"no plan reachable from code letter {letter}, AQL {aql}")
    row, ac, re = found
    plan_letter = table.letters[row]
    unsure = unsure or (plan_letter, aql) in table.unsure
    if plan_letter != letter:
        notes.append(f"arrow from {letter} to {plan_letter}: n = {table.sample_sizes[plan_letter]}")
    return ResolvedCell(plan_letter, ac, re, unsure, tuple(notes))


def single_plan(
    lot_size: int, aql: float | str, level: str = "II", severity: Severity = "normal"
) -> AttributesPlan:
    """The single sampling plan for a lot (ISO 2859-1 Tables 1 and 2-A/2-B/2-C)."""
    letter = code_letter(lot_size, level)
    aql_key = normalise_aql(aql)
    table = table_for(severity)
    cell = resolve_cell(table, letter, aql_key)
    plan_letter, unsure, notes = cell.plan_letter, cell.unsure, cell.notes
    n = table.sample_sizes[plan_letter]
    hundred = n >= lot_size
    if hundred:
        notes = (*notes, f"sample size {n} >= lot size {lot_size}: 100 % inspection")
        n = lot_size
    if unsure:
        notes = (*notes, "table cell marked unsure in the data file")
    return AttributesPlan(
        code_letter=letter,
        plan_letter=plan_letter,
        n=n,
        ac=cell.ac,
        re=cell.re,
        severity=severity,
        aql=aql_key,
        level=level,
        lot_size=lot_size,
        hundred_percent=hundred,
        unsure=unsure,
        notes=notes,
    )


def tighter_acceptance_number(plan: AttributesPlan) -> int | None:
    """Ac of the same row one AQL step tighter (for the switching score), None at 0.010."""
    position = AQL_SERIES.index(plan.aql)
    if position == 0:
        return None
    table = table_for(plan.severity)
    return resolve_cell(table, plan.plan_letter, AQL_SERIES[position - 1]).ac


@dataclass(frozen=True)
class LotOutcome:
    """What the switching rules need to know about one lot on original inspection."""

    accepted: bool
    ac: int
    accepted_one_step_tighter: bool


def lot_outcome(plan: AttributesPlan, nonconforming: int) -> LotOutcome:
    """The outcome of a lot inspected with ``plan`` that showed ``nonconforming`` items."""
    if nonconforming < 0:
        raise SupervisionError("the number of nonconforming items cannot be negative")
    tighter = tighter_acceptance_number(plan)
    return LotOutcome(
        accepted=nonconforming <= plan.ac,
        ac=plan.ac,
        accepted_one_step_tighter=tighter is not None and nonconforming <= tighter,
    )


@dataclass(frozen=True)
class SwitchingState:
    """ISO 2859-1:1999 §9.3 switching rules as a pure state machine.

    - normal -> tightened: 2 lots not accepted within 5 or fewer consecutive lots;
    - tightened -> normal: 5 consecutive lots accepted;
    - tightened -> discontinued: 5 lots not accepted in total while on tightened;
    - normal -> reduced: switching score at least 30, production steady and the responsible
      authority approving (``reduced_allowed`` in :meth:`step`). Score (§9.3.3, single
      sampling): with Ac >= 2 add 3 if the lot would have been accepted one AQL step
      tighter, else reset to 0; with Ac 0 or 1 add 2 if the lot is accepted, else reset;
    - reduced -> normal: a lot not accepted, or production irregular.

    ``reason`` says why the last step changed (or kept) the severity, for the audit log.
    """

    status: SchemeStatus = "normal"
    recent: tuple[bool, ...] = ()
    rejected_on_tightened: int = 0
    switching_score: int = 0
    reason: str = "start of inspection on normal"

    def step(
        self,
        outcome: LotOutcome,
        *,
        reduced_allowed: bool = True,
        production_irregular: bool = False,
    ) -> SwitchingState:
        """The state after one more lot on original inspection."""
        if self.status == "discontinued":
            raise SupervisionError(
                "inspection is discontinued; call resume() after corrective action"
            )
        recent = (*self.recent, outcome.accepted)[-5:]
        if self.status == "normal":
            return self._after_normal(outcome, recent, reduced_allowed)
        if self.status == "tightened":
            rejected = self.rejected_on_tightened + (not outcome.accepted)
            if rejected >= 5:
                return SwitchingState(
                    "discontinued", (), rejected, 0, "5 lots not accepted on tightened"
                )
            if len(recent) == 5 and all(recent):
                return SwitchingState(
                    "normal", (), 0, 0, "5 consecutive lots accepted on tightened"
                )
            return replace(
                self, recent=recent, rejected_on_tightened=rejected, reason="stay tightened"
            )
        if not outcome.accepted:
            return SwitchingState("normal", (), 0, 0, "lot not accepted on reduced")
        if production_irregular:
            return SwitchingState("normal", (), 0, 0, "production irregular on reduced")
        return replace(self, recent=recent, reason="stay reduced")

    def _after_normal(
        self, outcome: LotOutcome, recent: tuple[bool, ...], reduced_allowed: bool
    ) -> SwitchingState:
        if recent.count(False) >= 2:
            return SwitchingState(
                "tightened", (), 0, 0, "2 of 5 or fewer consecutive lots not accepted"
            )
        if outcome.ac >= 2:
            gained = 3 if outcome.accepted_one_step_tighter else None
        else:
            gained = 2 if outcome.accepted else None
        score = 0 if gained is None else self.switching_score + gained
        if score >= 30 and reduced_allowed:
            return SwitchingState("reduced", (), 0, 0, f"switching score {score} >= 30")
        return replace(self, recent=recent, switching_score=score, reason="stay normal")

    def resume(self) -> SwitchingState:
        """Resume a discontinued scheme after corrective action: on tightened (§9.4)."""
        if self.status != "discontinued":
            raise SupervisionError(f"cannot resume a scheme that is {self.status}")
        return SwitchingState("tightened", (), 0, 0, "resumed after discontinuation")
