"""What learning the white level does on simulated fleets, one fleet feature at a time.

The estimator learns its white level from the marginal likelihood of hourly a-priori sums
(:mod:`detectors.noise_level`, since 2026-11-28; before, from 2-hour runs' own residuals,
which rose with whatever a day's runs shared: the weather, a lagging meter, a fault's misfit,
and so covered the faults' misfit on fleets while costing the synthetic bench its
detection). This bench simulates a fleet with one of the simulator's features switched on
at a time (PV and businesses, drifting lots, each kind of fault), runs the stream's own
per-area code over it (:func:`meterwatch.analysis.analyze`, as ``meterwatch analyze`` does)
with the estimator as shipped and with its white level held at the prior's median
(``white_noise_fraction`` of the load, not learned), and scores both against the truth.

The figure is the coverage, at the last day, of ε̂ ± 1.96·u over the meters that are
*bystanders*: identifiable, with an error that stayed within 0.3 points over the run and no
fault of their own, so any miss is another meter's misfit reaching them. The ratio is the
variant's coverage over the shipped estimator's on the same fleet.

    .venv/bin/python bench/bench_fleet_misfit.py [--seed 12] [--areas 4] [--jobs 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np

from detectors.energy_balance import EstimatorConfig
from meterwatch.analysis import analyze, replacement_orders, scored_estimates
from meterwatch.scoring import DAY_S, Truth, score
from simulators.faults import FAULT_UNITS, FaultSpec
from simulators.fleet import FleetSpec, build_fleet
from simulators.load import LoadSpec
from simulators.metrology import MetrologySpec, draw_errors
from simulators.readings import ReadingSpec, iter_areas
from simulators.truth import READINGS, REGISTRY, TRUTH_ERRORS, TRUTH_FAULTS, write_run
from stream.area_estimation import EstimationConfig
from stream.registry import RegistryBook

STAYED = 0.3  # points of error a bystander's true error may move over the run
ONE_KIND = 0.03  # per consumer meter, when a fault kind is simulated on its own
METER_FAULTS = tuple(k for k in FAULT_UNITS if k != "master_error")  # master_error: per area


@dataclass(frozen=True)
class Scenario:
    """A fleet with some of the simulator's features: ``mix`` PV and businesses at their
    default shares, ``drift`` the metrology's drifting meters and lots, ``faults`` the fault
    mix (none, the default, or one kind alone)."""

    name: str
    mix: bool = False
    drift: bool = False
    faults: FaultSpec = dataclasses.field(default_factory=FaultSpec.none)


def scenarios() -> list[Scenario]:
    alone = [
        Scenario(kind, faults=dataclasses.replace(FaultSpec.none(), **{kind: ONE_KIND}))
        for kind in METER_FAULTS
    ]
    master = dataclasses.replace(FaultSpec.none(), master_error=1.0)  # per area
    return [
        Scenario("clean (no faults, no drift, households only)"),
        Scenario("PV and businesses", mix=True),
        Scenario("drifting meters and lots", drift=True),
        Scenario("the default faults", faults=FaultSpec()),
        *alone,
        Scenario("master_error (every area)", faults=master),
        Scenario("all of it (as the demo)", mix=True, drift=True, faults=FaultSpec()),
    ]


def simulate(out: Path, scenario: Scenario, seed: int, areas: int) -> None:
    """Write one 2-utility fleet of ``areas`` areas each, 100 meters, 60 days to ``out``."""
    defaults = FleetSpec()
    fleet_spec = FleetSpec(
        seed=seed, areas_per_utility=areas,
        pv_fraction=defaults.pv_fraction if scenario.mix else 0.0,
        business_fraction=defaults.business_fraction if scenario.mix else 0.0,
    )  # fmt: skip
    metrology = MetrologySpec()
    if not scenario.drift:
        metrology = dataclasses.replace(
            metrology, linear_fraction=0.0, step_fraction=0.0, accelerating_fraction=0.0,
            defect_lots=0,
        )  # fmt: skip
    fleet = build_fleet(fleet_spec)
    errors = draw_errors(fleet, metrology)
    write_run(
        fleet, errors, iter_areas(fleet, errors, scenario.faults), out,
        specs=(scenario.faults, metrology, LoadSpec(), ReadingSpec()),
    )  # fmt: skip


def bystander_coverage(truth: Truth, estimates: list[dict[str, Any]]) -> tuple[float, int]:
    """Coverage of the last day's ε̂ ± 1.96·u over identifiable meters whose true error stayed
    within ``STAYED`` points over the run and that had no fault of their own."""
    last = max(int(e["end_ts"]) for e in estimates)
    col = {m: i for i, m in enumerate(truth.meters)}
    moved = np.nanmax(truth.error_pct, axis=0) - np.nanmin(truth.error_pct, axis=0)
    row = int(np.searchsorted(truth.days, last // DAY_S - 1))
    hits = []
    for e in estimates:
        i = col.get(e["meter"])
        if int(e["end_ts"]) != last or i is None or not e["identifiable"]:
            continue
        if moved[i] > STAYED or e["meter"] in truth.faults or e["estimate_pct"] is None:
            continue
        miss = abs(e["estimate_pct"] - truth.error_pct[row, i])
        hits.append(miss <= 1.96 * e["uncertainty_pct"])
    return (float(np.mean(hits)) if hits else float("nan")), len(hits)


def measure(run: Path, learned: bool) -> dict[str, Any]:
    """Analyze ``run`` with the white level learned (as shipped) or held at its prior's
    median (a window of no days), and score it."""
    book = RegistryBook.from_csv(run / REGISTRY, in_service=False, jurisdiction="DE")  # as the CLI
    estimator = EstimatorConfig() if learned else EstimatorConfig(white_window_days=0.0)
    config = EstimationConfig(estimator=estimator)
    analyses = analyze(run / READINGS, run / REGISTRY, book, config)
    records = scored_estimates(analyses)
    meters = {e["meter"] for e in records}
    truth = Truth.load(run / TRUTH_ERRORS, meters, run / TRUTH_FAULTS)
    result = score(truth, records, replacement_orders(analyses))
    coverage, bystanders = bystander_coverage(truth, records)
    return {
        "bystanders": bystanders,
        "coverage": coverage,
        "all_coverage": result.coverage_95,
        "mae": result.mae_pct,
        "orders": result.orders,
        "correct": result.correct_orders,
        "healthy_out": round(result.false_replacement_rate * result.healthy),
    }


def one_scenario(job: tuple[Scenario, int, int]) -> tuple[Scenario, dict[str, Any], dict[str, Any]]:
    scenario, seed, areas = job
    with tempfile.TemporaryDirectory(prefix="meterwatch-misfit-") as tmp:
        run = Path(tmp)
        simulate(run, scenario, seed, areas)
        return scenario, measure(run, True), measure(run, False)


def row(scenario: Scenario, shipped: dict[str, Any], variant: dict[str, Any]) -> str:
    def cell(m: dict[str, Any]) -> str:
        return (
            f"{m['coverage']:.3f} | {m['all_coverage']:.3f} | {m['mae']:.3f} | "
            f"{m['orders']} ({m['correct']}), {m['healthy_out']} healthy"
        )

    ratio = f"{variant['coverage'] / shipped['coverage']:.3f}"
    cells = (scenario.name, str(shipped["bystanders"]), cell(shipped), cell(variant), ratio)
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--areas", type=int, default=4, help="areas per utility (2 utilities)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    print(
        f"Measured {time.strftime('%a %b %d %H:%M:%S UTC %Y', time.gmtime())} on "
        f"{os.cpu_count()} cores, Python {platform.python_version()} "
        f"(`python bench/bench_fleet_misfit.py --seed {args.seed} --areas {args.areas}`)."
    )
    print(
        f"\nFleets of 2 utilities x {args.areas} areas x 100 meters, 60 days, seed {args.seed}; "
        "one fault kind alone is on 3 % of the consumer meters. Bystanders: identifiable at "
        f"the last day, true error moved by at most {STAYED} points, no fault of their own. "
        "Orders: replacement orders (correct ones), healthy meters ordered out. Ratio: "
        "bystanders' coverage with the level held at its prior's median / as shipped."
    )
    side = "bystanders' coverage | all meters' coverage | MAE (%) | orders"
    print(
        f"\n| fleet | bystanders | as shipped: {side} | level held at its median: {side} | ratio |"
        "\n|---|---|---|---|---|---|---|---|---|---|---|"
    )
    jobs = [(s, args.seed, args.areas) for s in scenarios()]
    with Pool(args.jobs) as pool:
        for scenario, shipped, variant in pool.imap(one_scenario, jobs):
            print(row(scenario, shipped, variant), flush=True)
    print(f"\nTotal bench time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
