"""Supervision on the store: lots, recorded sample draws, inspection results, lot verdicts.

The decisions come from the pure core in ``supervision/``; this module reads their inputs
from the database and records their outputs:

- a draw stores its plan (kind, AQL, level, severity, n, Ac/Re or k), the seed, the method
  and the generator in ``sampling_plan`` and the selected meters with their inclusion
  probabilities in ``sample``, so it can be replayed;
- inspection results are imported all-or-nothing and linked to the latest plan that sampled
  the meter;
- a verdict rebuilds the plan from its recorded parameters, judges the lot on the plan's
  inspections, stores the verdict in ``lot_verdict`` (the audit log takes it from there) and
  compares the detectors' latest estimates with the inspections (the field check).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
import psycopg

from detectors.mpe import mpe_pct
from meterwatch.errors import MeterwatchError, StorageError
from storage.registry import BadRow, InvalidFile, read_csv_rows
from supervision.attributes import AttributesPlan, Severity, single_plan
from supervision.sampling import (
    NonconformingEstimate,
    SampleDraw,
    exceedance_risk,
    horvitz_thompson,
    risk_weighted,
    simple_random,
)
from supervision.variables import VariablesPlan, variables_plan
from supervision.verdict import (
    DecisionRule,
    FieldCheck,
    InspectionResult,
    LimitControl,
    LotVerdict,
    attributes_verdict,
    field_check,
    is_nonconforming,
    variables_verdict,
)

PlanKind = Literal["attributes", "variables"]
INSPECTION_COLUMNS = (
    "meter_id", "inspected_on", "measured_error_pct", "expanded_uncertainty_pct", "inspector",
    "equipment",
)  # fmt: skip
_MIN_RISK_UNCERTAINTY_PCT = 1e-6  # an estimate stated with zero uncertainty still has some


@dataclass(frozen=True)
class LotSummary:
    lot_id: str
    utility_id: str
    key: dict[str, str]
    size: int
    plans: int
    last_decision: str | None


@dataclass(frozen=True)
class RecordedDraw:
    plan_id: int
    lot_id: str
    plan: AttributesPlan | VariablesPlan
    draw: SampleDraw
    areas: dict[str, str]


@dataclass(frozen=True)
class StoredVerdict:
    verdict_id: int
    plan_id: int
    mpe_pct: float
    verdict: LotVerdict
    estimate: NonconformingEstimate | None
    field: FieldCheck | None


@contextmanager
def _db(action: str) -> Iterator[None]:
    """Map psycopg errors into StorageError."""
    try:
        yield
    except psycopg.Error as exc:
        raise StorageError(f"{action} failed: {exc}") from exc


def list_lots(conn: psycopg.Connection) -> list[LotSummary]:
    """All lots (that the connected role may see), with their plans and latest decision."""
    with _db("listing lots"):
        rows = conn.execute(
            "SELECT l.lot_id, l.utility_id, l.lot_key, l.size, "
            " (SELECT count(*) FROM sampling_plan p WHERE p.lot_id = l.lot_id), "
            " (SELECT v.decision FROM lot_verdict v WHERE v.lot_id = l.lot_id "
            "  ORDER BY v.decided_at DESC, v.verdict_id DESC LIMIT 1) "
            "FROM lot l WHERE l.size > 0 ORDER BY l.utility_id, l.lot_id"
        ).fetchall()
    return [LotSummary(*row) for row in rows]


def _lot_meters(conn: psycopg.Connection, lot_id: str) -> list[tuple[str, str, str, str]]:
    rows = conn.execute(
        "SELECT meter_id, area_id, meter_type, accuracy_class FROM meter WHERE lot_id = %s "
        "ORDER BY meter_id",
        (lot_id,),
    ).fetchall()
    if not rows:
        raise MeterwatchError(f"lot {lot_id} does not exist or has no meters")
    return [(str(m), str(a), str(t), str(c)) for m, a, t, c in rows]


def _lot_mpe(meters: list[tuple[str, str, str, str]], lot_id: str) -> float:
    kinds = {(t, c) for _, _, t, c in meters}
    if len(kinds) != 1:
        raise MeterwatchError(f"lot {lot_id} mixes meter types/classes {sorted(kinds)}")
    meter_type, accuracy_class = kinds.pop()
    return mpe_pct(meter_type, accuracy_class)


def build_plan(
    kind: PlanKind, lot_size: int, aql: str, level: str, severity: Severity
) -> AttributesPlan | VariablesPlan:
    if kind == "attributes":
        return single_plan(lot_size, aql, level, severity)
    return variables_plan(lot_size, aql, level, severity)


def _risk(conn: psycopg.Connection, ids: list[str], mpe: float) -> np.ndarray:
    rows = conn.execute(
        "SELECT DISTINCT ON (meter_id) meter_id, error_pct, uncertainty_pct FROM error_estimate "
        "WHERE meter_id = ANY(%s) AND identifiable AND error_pct IS NOT NULL "
        "AND uncertainty_pct IS NOT NULL ORDER BY meter_id, ts DESC",
        (ids,),
    ).fetchall()
    latest = {m: (e, max(u, _MIN_RISK_UNCERTAINTY_PCT)) for m, e, u in rows}
    risk = np.zeros(len(ids))
    known = [i for i, m in enumerate(ids) if m in latest]
    if known:
        est = [latest[ids[i]][0] for i in known]
        unc = [latest[ids[i]][1] for i in known]
        risk[known] = exceedance_risk(est, unc, np.full(len(known), mpe))
    return risk


def draw_sample(
    conn: psycopg.Connection,
    lot_id: str,
    kind: PlanKind,
    aql: str,
    level: str,
    severity: Severity,
    seed: int,
    *,
    risk_weighted_draw: bool = False,
) -> RecordedDraw:
    """Plan and draw the sample of a lot and record both; reproducible from ``seed``."""
    with _db("recording a sample draw"), conn.transaction():
        meters = _lot_meters(conn, lot_id)
        ids = [m for m, _, _, _ in meters]
        mpe = _lot_mpe(meters, lot_id)
        plan = build_plan(kind, len(ids), aql, level, severity)
        if risk_weighted_draw:
            draw = risk_weighted(ids, _risk(conn, ids, mpe), plan.n, seed)
        else:
            draw = simple_random(ids, plan.n, seed)
        ac, re_, k = (
            (plan.ac, plan.re, None) if isinstance(plan, AttributesPlan) else (None, None, plan.k)
        )
        row = conn.execute(
            "INSERT INTO sampling_plan (lot_id, utility_id, kind, severity, level, aql, lot_size, "
            "code_letter, sample_size, ac, re, k, method, seed, generator, floor_share, notes) "
            "SELECT %s, utility_id, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s "
            "FROM lot WHERE lot_id = %s RETURNING plan_id",
            (lot_id, kind, severity, level, plan.aql, len(ids), plan.code_letter, plan.n, ac,
             re_, k, draw.method, seed, draw.generator, draw.floor_share, list(plan.notes),
             lot_id),
        ).fetchone()  # fmt: skip
        if row is None:
            raise MeterwatchError(f"lot {lot_id} does not exist")
        plan_id = int(row[0])
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO sample (plan_id, meter_id, utility_id, inclusion_probability) "
                "SELECT %s, meter_id, utility_id, %s FROM meter WHERE meter_id = %s",
                [
                    (plan_id, pi, m)
                    for m, pi in zip(draw.selected_ids, draw.inclusion_probabilities, strict=True)
                ],
            )
    areas = {m: a for m, a, _, _ in meters}
    return RecordedDraw(plan_id, lot_id, plan, draw, {m: areas[m] for m in draw.selected_ids})


def _parse_inspection(raw: dict[str, str]) -> tuple[str, date, float, float, str, str]:
    meter = raw["meter_id"]
    if len(meter) != 12 or not meter.isdigit():
        raise MeterwatchError(f"meter_id {meter!r} is not 12 digits")
    try:
        inspected_on = date.fromisoformat(raw["inspected_on"])
    except ValueError as exc:
        raise MeterwatchError(f"inspected_on {raw['inspected_on']!r} is not YYYY-MM-DD") from exc
    if inspected_on > date.today():
        raise MeterwatchError(f"inspected_on {inspected_on} is in the future")
    values = []
    for column in ("measured_error_pct", "expanded_uncertainty_pct"):
        try:
            value = float(raw[column])
        except ValueError as exc:
            raise MeterwatchError(f"{column} {raw[column]!r} is not a number") from exc
        if not math.isfinite(value):
            raise MeterwatchError(f"{column} is not finite")
        values.append(value)
    if values[1] < 0:
        raise MeterwatchError("expanded_uncertainty_pct is negative")
    for column in ("inspector", "equipment"):
        if not raw[column]:
            raise MeterwatchError(f"{column} is empty")
    return meter, inspected_on, values[0], values[1], raw["inspector"], raw["equipment"]


def import_inspections(conn: psycopg.Connection, path: Path) -> int:
    """Import inspection results from CSV, all or nothing; return the number imported."""
    raw_rows, problems = read_csv_rows(path, INSPECTION_COLUMNS)
    parsed: list[tuple[int, tuple[str, date, float, float, str, str]]] = []
    seen: dict[tuple[str, date], int] = {}
    for line, raw in raw_rows:
        try:
            row = _parse_inspection(raw)
        except MeterwatchError as exc:
            problems.append(BadRow(line, str(exc)))
            continue
        first = seen.setdefault((row[0], row[1]), line)
        if first != line:
            problems.append(BadRow(line, f"meter {row[0]} on {row[1]} already on line {first}"))
            continue
        parsed.append((line, row))
    if problems:
        raise InvalidFile(path, sorted(problems, key=lambda p: p.line))
    with _db("importing inspections"), conn.transaction():
        ids = [row[0] for _, row in parsed]
        known = {
            m for (m,) in conn.execute(
                "SELECT meter_id FROM meter WHERE meter_id = ANY(%s)", (ids,)
            ).fetchall()
        }  # fmt: skip
        done = set(
            conn.execute(
                "SELECT meter_id, inspected_on FROM inspection WHERE meter_id = ANY(%s)", (ids,)
            ).fetchall()
        )
        problems = [BadRow(line, f"meter {row[0]} is not registered")
                    for line, row in parsed if row[0] not in known]  # fmt: skip
        problems += [BadRow(line, f"meter {row[0]} on {row[1]} was imported before")
                     for line, row in parsed if (row[0], row[1]) in done]  # fmt: skip
        if problems:
            raise InvalidFile(path, sorted(problems, key=lambda p: p.line))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO inspection (meter_id, utility_id, plan_id, inspected_on, "
                "measured_error_pct, expanded_uncertainty_pct, inspector, equipment) "
                "SELECT m.meter_id, m.utility_id, (SELECT s.plan_id FROM sample s "
                "  WHERE s.meter_id = m.meter_id ORDER BY s.plan_id DESC LIMIT 1), "
                "  %s, %s, %s, %s, %s FROM meter m WHERE m.meter_id = %s",
                [(d, e, u, who, eq, m) for _, (m, d, e, u, who, eq) in parsed],
            )
    return len(parsed)


def _latest_plan(conn: psycopg.Connection, lot_id: str) -> tuple[Any, ...]:
    row = conn.execute(
        "SELECT plan_id, kind, aql, level, severity, lot_size, sample_size, method, seed, "
        "generator, floor_share FROM sampling_plan WHERE lot_id = %s "
        "ORDER BY created_at DESC, plan_id DESC LIMIT 1",
        (lot_id,),
    ).fetchone()
    if row is None:
        raise MeterwatchError(f"lot {lot_id} has no sampling plan: run `meterwatch sample draw`")
    return tuple(row)


def _field_check(conn: psycopg.Connection, plan_id: int) -> FieldCheck | None:
    rows = conn.execute(
        "SELECT DISTINCT ON (i.meter_id) e.error_pct, e.uncertainty_pct, i.measured_error_pct, "
        " i.expanded_uncertainty_pct FROM inspection i JOIN error_estimate e "
        " ON e.meter_id = i.meter_id "
        " AND e.ts < (i.inspected_on + 1)::timestamp AT TIME ZONE 'UTC' "
        "WHERE i.plan_id = %s AND e.identifiable AND e.error_pct IS NOT NULL "
        " AND e.uncertainty_pct IS NOT NULL ORDER BY i.meter_id, e.ts DESC",
        (plan_id,),
    ).fetchall()
    if not rows:
        return None
    est, u_est, meas, u_meas = (np.array(col, dtype=np.float64) for col in zip(*rows, strict=True))
    return field_check(est, u_est, meas, u_meas / 2.0)  # certificates state U with k = 2


def decide_lot(
    conn: psycopg.Connection,
    lot_id: str,
    rule: DecisionRule = "simple",
    control: LimitControl = "separate",
) -> StoredVerdict:
    """Judge a lot on the inspections of its latest plan and record the verdict."""
    with _db("deciding a lot"), conn.transaction():
        meters = _lot_meters(conn, lot_id)
        mpe = _lot_mpe(meters, lot_id)
        (plan_id, kind, aql, level, severity, lot_size, n, method, seed, generator,
         floor_share) = _latest_plan(conn, lot_id)  # fmt: skip
        plan = build_plan(kind, lot_size, aql, level, severity)
        if plan.n != n:
            raise MeterwatchError(f"plan {plan_id}: tables now give n = {plan.n}, recorded {n}")
        sample = conn.execute(
            "SELECT meter_id, inclusion_probability FROM sample WHERE plan_id = %s "
            "ORDER BY meter_id",
            (plan_id,),
        ).fetchall()
        results = [
            InspectionResult(m, d, e, u, who, eq)
            for m, d, e, u, who, eq in conn.execute(
                "SELECT DISTINCT ON (meter_id) meter_id, inspected_on, measured_error_pct, "
                "expanded_uncertainty_pct, inspector, equipment FROM inspection "
                "WHERE plan_id = %s ORDER BY meter_id, inspected_on DESC",
                (plan_id,),
            ).fetchall()
        ]
        if isinstance(plan, AttributesPlan):
            verdict = attributes_verdict(plan, results, mpe, rule)
        else:
            verdict = variables_verdict(plan, results, mpe, control)
        estimate = None
        if len(results) == len(sample) and results:
            draw = SampleDraw(seed, method, lot_size, tuple(m for m, _ in sample),
                              tuple(p for _, p in sample), generator, floor_share)  # fmt: skip
            flags = [is_nonconforming(r, mpe, rule) for r in results]
            estimate = horvitz_thompson(draw, flags)
        row = conn.execute(
            "INSERT INTO lot_verdict (lot_id, utility_id, plan_id, decision, method, "
            "decision_rule, mpe_pct, inspected, nonconforming, ac, re, k, q_upper, q_lower, "
            "ht_fraction, ht_lower, ht_upper, notes) SELECT %s, utility_id, %s, %s, %s, %s, %s, "
            "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s FROM lot WHERE lot_id = %s "
            "RETURNING verdict_id",
            (lot_id, plan_id, verdict.decision, verdict.method, verdict.rule or verdict.control,
             mpe, verdict.inspected, verdict.nonconforming, verdict.ac, verdict.re, verdict.k,
             _finite(verdict.q_upper), _finite(verdict.q_lower),
             estimate.fraction if estimate else None, estimate.lower if estimate else None,
             estimate.upper if estimate else None, list(verdict.notes), lot_id),
        ).fetchone()  # fmt: skip
        if row is None:
            raise MeterwatchError(f"lot {lot_id} does not exist")
        field = _field_check(conn, plan_id)
    return StoredVerdict(int(row[0]), plan_id, mpe, verdict, estimate, field)


def _finite(value: float | None) -> float | None:
    """q statistics are ±inf when s = 0; JSON (the audit body) has no infinities."""
    return value if value is None or math.isfinite(value) else None


def lot_key_text(key: dict[str, str]) -> str:
    return json.dumps(key, sort_keys=True, ensure_ascii=False)
