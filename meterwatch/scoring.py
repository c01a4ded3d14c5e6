"""Scoring the system's decisions against a simulation's ground truth (demo, analyze).

Works on plain records, whether they come from the stream (via PostgreSQL) or from
``meterwatch analyze``: estimates ``{meter, end_ts, estimate_pct, uncertainty_pct,
identifiable, decision}`` and replacement orders ``{meter: time_s}``. The truth is the
simulator's ``truth_errors.csv`` (``meter_id, date, error_pct, mpe_pct``) and, optionally,
its ``truth_faults.csv``, which names the cause of each false order: a fault of the meter
itself (an outage, a skewed clock, reverse wiring) or none (the balance was wrong about it).
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from detectors import evaluate

DAY_S = 86_400
nan = float("nan")
BANDS = ((1.0, 1.5), (1.5, 2.0), (2.0, 3.0), (3.0, np.inf))


@dataclass(frozen=True)
class FaultRecord:
    """One injected fault, as ``truth_faults.csv`` has it (times: epoch seconds)."""

    kind: str
    meter_id: str
    utility: str
    area: str
    start_ts: int  # start of the first interval it acts on
    end_ts: int  # exclusive
    magnitude: float


def read_faults(path: Path) -> list[FaultRecord]:
    """The injected faults of a simulated run (its ``truth_faults.csv``)."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        FaultRecord(
            r["kind"],
            r["meter_id"],
            r["utility"],
            r["area"],
            epoch_s(r["start_ts"]),
            epoch_s(r["end_ts"]),
            float(r["magnitude"]),
        )
        for r in rows
    ]


def epoch_s(stamp: str) -> int:
    """Epoch seconds of an ISO-8601 UTC stamp (``2026-09-01T00:00:00Z``)."""
    return int(np.datetime64(stamp[:19], "s").astype(np.int64))


@dataclass(frozen=True)
class Truth:
    meters: tuple[str, ...]
    days: npt.NDArray[np.int64]  # epoch day numbers
    error_pct: npt.NDArray[np.float64]  # (days, meters)
    mpe_pct: npt.NDArray[np.float64]  # (meters,)
    faults: dict[str, tuple[str, ...]] = field(default_factory=dict)  # meter -> fault kinds

    @classmethod
    def load(
        cls, path: Path, meters: set[str] | None = None, faults_path: Path | None = None
    ) -> Truth:
        rows = []
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                if meters is None or row["meter_id"] in meters:
                    rows.append(row)
        ids = sorted({r["meter_id"] for r in rows})
        col = {m: i for i, m in enumerate(ids)}
        days = np.array(sorted({r["date"] for r in rows}), dtype="datetime64[D]").astype(np.int64)
        row_of = {int(d): i for i, d in enumerate(days)}
        error = np.full((len(days), len(ids)), np.nan)
        mpe = np.full(len(ids), np.nan)
        for r in rows:
            d = int(np.datetime64(r["date"], "D").astype(np.int64))
            error[row_of[d], col[r["meter_id"]]] = float(r["error_pct"])
            mpe[col[r["meter_id"]]] = float(r["mpe_pct"])
        faults: dict[str, tuple[str, ...]] = {}
        for f in read_faults(faults_path) if faults_path is not None else []:
            faults[f.meter_id] = (*faults.get(f.meter_id, ()), f.kind)
        return cls(tuple(ids), days, error, mpe, faults)


@dataclass(frozen=True)
class Score:
    meters: int
    days_scored: int
    truly_out: int
    orders: int
    correct_orders: int
    recall: float
    precision: float
    false_replacement_rate: float
    healthy: int
    false_order_causes: tuple[tuple[str, int], ...]
    recall_by_band: tuple[tuple[str, float, int], ...]
    median_delay_days: float
    mae_pct: float
    median_ae_pct: float
    coverage_95: float
    identifiable: int

    def lines(self) -> list[str]:
        bands = "; ".join(f"{name}: {_pct(r)} (n={n})" for name, r, n in self.recall_by_band)
        return [
            f"meters scored          {self.meters:,} over {self.days_scored} days",
            f"truly out of tolerance {self.truly_out} at the end (|true error| > MPE)",
            f"replacement orders     {self.orders} ({self.correct_orders} correct)",
            f"recall                 {_pct(self.recall)} of truly-out meters ordered",
            f"precision              {_pct(self.precision)} of orders truly out at order time",
            f"false replacements     {_pct(self.false_replacement_rate)} of "
            f"{self.healthy:,} healthy meters (|e| <= MPE/2)",
            "false orders by cause  "
            + (", ".join(f"{c} {n}" for c, n in self.false_order_causes) or "none"),
            f"recall by |e|/MPE      {bands}",
            f"median detection delay {self.median_delay_days:.1f} days after the MPE crossing",
            f"estimation MAE         {self.mae_pct:.3f} % (median {self.median_ae_pct:.3f} %; "
            f"{self.identifiable:,} identifiable)",
            f"95 % interval coverage {_pct(self.coverage_95)}",
        ]


def _pct(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{100 * value:.1f} %"


def score(truth: Truth, estimates: list[dict[str, Any]], orders: dict[str, int]) -> Score:
    col = {m: i for i, m in enumerate(truth.meters)}
    row = {int(d): i for i, d in enumerate(truth.days)}
    shape = truth.error_pct.shape
    est, unc = np.full(shape, np.nan), np.full(shape, np.nan)
    ident = np.zeros(shape, dtype=bool)
    decision = np.full(shape, "inconclusive", dtype="<U16")
    scored_rows = set()
    for e in estimates:
        i, d = col.get(e["meter"]), row.get(int(e["end_ts"]) // DAY_S - 1)
        if i is None or d is None:
            continue
        scored_rows.add(d)
        est[d, i] = np.nan if e["estimate_pct"] is None else e["estimate_pct"]
        unc[d, i] = np.nan if e["uncertainty_pct"] is None else e["uncertainty_pct"]
        ident[d, i] = bool(e["identifiable"])
        decision[d, i] = e["decision"]
    last = max(scored_rows) if scored_rows else len(truth.days) - 1
    true_end = truth.error_pct[last]
    ratio = np.abs(true_end) / truth.mpe_pct
    ordered = np.zeros(len(truth.meters), dtype=bool)
    correct = 0
    healthy_ordered = 0
    causes: Counter[str] = Counter()
    for meter, time_s in orders.items():
        if meter not in col:
            continue
        i = col[meter]
        ordered[i] = True
        d = row.get(int(time_s) // DAY_S - 1, last)
        at_order = abs(truth.error_pct[d, i]) / truth.mpe_pct[i]
        correct += int(at_order > 1)
        if at_order <= 0.5:
            healthy_ordered += 1
            causes.update(truth.faults.get(meter, ("no fault of its own",)))
    out = ratio > 1
    healthy = np.abs(truth.error_pct).max(axis=0) <= 0.5 * truth.mpe_pct
    bands = tuple(
        (
            f"{lo:g}-{hi:g}x" if np.isfinite(hi) else f">{lo:g}x",
            float(ordered[m].mean()) if m.any() else float("nan"),
            int(m.sum()),
        )
        for lo, hi in BANDS
        for m in [(ratio > lo) & (ratio <= hi)]
    )
    ordered_grid = np.maximum.accumulate(decision[: last + 1] == "out_of_tolerance", axis=0)
    delays = evaluate.detection_delay(
        truth.error_pct[: last + 1], np.where(ordered_grid, "out_of_tolerance", "conforming"),
        mpe_pct=truth.mpe_pct,
    )  # fmt: skip
    finite = delays[np.isfinite(delays)]
    mask = ident[last] & np.isfinite(est[last])
    return Score(
        meters=len(truth.meters),
        days_scored=len(scored_rows),
        truly_out=int(out.sum()),
        orders=int(ordered.sum()),
        correct_orders=correct,
        recall=float(ordered[out].mean()) if out.any() else float("nan"),
        precision=correct / ordered.sum() if ordered.any() else float("nan"),
        false_replacement_rate=healthy_ordered / healthy.sum() if healthy.any() else float("nan"),
        healthy=int(healthy.sum()),
        false_order_causes=tuple(sorted(causes.items())),
        recall_by_band=bands,
        median_delay_days=float(np.median(finite)) if len(finite) else float("nan"),
        mae_pct=evaluate.mean_absolute_error(true_end, est[last], mask=mask),
        median_ae_pct=float(np.median(np.abs(est[last] - true_end)[mask])) if mask.any() else nan,
        coverage_95=evaluate.interval_coverage(true_end, est[last], unc[last], mask=mask),
        identifiable=int(mask.sum()),
    )


def _moved(truth: Truth, column: int) -> float:
    """How far the meter's true error moved during the run (largest minus smallest)."""
    errors = truth.error_pct[:, column]
    return float(np.nanmax(errors) - np.nanmin(errors))


def oracle_lines(
    truth: Truth,
    orders: dict[str, int],
    oracle_out: set[str],
    oracle_name: str,
    confirmed: tuple[set[str], int] | None = None,
) -> list[str]:
    """How the orders cover the meters an oracle decides ``out_of_tolerance`` at the end, and,
    with ``confirmed`` (its meters, the days), those it would order under the stream's
    confirmation rule."""
    col = {m: i for i, m in enumerate(truth.meters)}

    def counts(meters: set[str]) -> tuple[int, int, int, str]:
        flagged = [m for m in meters if m in col]
        healthy = [m for m in flagged if np.nanmax(np.abs(truth.error_pct[:, col[m]]))
                   <= 0.5 * truth.mpe_pct[col[m]]]  # fmt: skip
        covered = len(set(flagged) & set(orders))
        return len(flagged), len(healthy), covered, _pct(covered / len(flagged) if flagged else nan)

    flagged, healthy, covered, share = counts(oracle_out)
    drifting = {
        m for m in oracle_out if m in col and _moved(truth, col[m]) > truth.mpe_pct[col[m]] / 4
    }
    ordered = len(drifting & set(orders))
    lines = [
        f"oracle ({oracle_name}) decides {flagged} meters out of tolerance at the end, "
        f"{healthy} of them healthy",
        f"orders cover          {covered} of them ({share}; target >= 95 %)",
        f"of them drifting      {len(drifting)} (true error moved by over MPE/4 during the "
        f"run): orders cover {ordered}; {covered - ordered} of the other {flagged - len(drifting)}",
    ]
    if confirmed is not None:
        flagged, healthy, covered, share = counts(confirmed[0])
        lines.append(
            f"oracle orders         {flagged} meters ({healthy} healthy) after {confirmed[1]} "
            "days out of tolerance, none conforming between (the stream's confirmation, "
            f"without its quiet-balance condition); orders cover {covered} ({share})"
        )
    return lines
