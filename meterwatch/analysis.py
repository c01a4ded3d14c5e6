"""Offline analysis: the stream's own per-area code run over an exported readings file.

``meterwatch analyze`` reads a readings CSV (``meter_id, ts, import_wh, export_wh,
voltage_v, current_a``) and a registry CSV, cuts each area's readings into day frames in
time order and runs :func:`stream.area_worker.assess_frame` on them, exactly as a worker
would. So the offline decisions and the streaming ones are the same by construction.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from meterwatch.domain import ReadingFrame
from meterwatch.errors import ConfigError
from meterwatch.fleet_oracle import AreaOracle, area_oracle, undo_clock_skew
from meterwatch.scoring import FaultRecord, Truth, epoch_s, read_faults
from simulators.truth import (
    DEVICES,
    READINGS,
    REGISTRY,
    RUN,
    TRUTH_AREAS,
    TRUTH_ERRORS,
    TRUTH_FAULTS,
)
from stream.area_estimation import EstimationConfig
from stream.area_worker import AreaWorker
from stream.intervals import IntervalAssembler, IntervalBlock
from stream.registry import RegistryBook

DAY_S = 86_400


@dataclass
class AreaAnalysis:
    utility: str
    area: str
    estimates: list[dict[str, Any]] = field(default_factory=list)  # every block, every meter
    events: list[dict[str, Any]] = field(default_factory=list)
    residuals: list[tuple[int, np.ndarray]] = field(default_factory=list)

    def latest(self) -> dict[str, dict[str, Any]]:
        """Each meter's last estimate."""
        return {e["meter"]: e for e in self.estimates}


def read_registry_areas(path: Path) -> dict[str, tuple[str, str]]:
    """meter id -> (utility, area), from the registry CSV."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle)
        return {row["meter_id"]: (row["utility_id"], row["area_id"]) for row in rows}


def day_frames(readings: Path, where: dict[str, tuple[str, str]]) -> Iterator[ReadingFrame]:
    """Frames of one area and one UTC day each, days in order (all areas of a day together)."""
    columns: dict[str, list[str]] = defaultdict(list)
    try:
        with readings.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            for row in reader:
                for name, value in zip(header, row, strict=True):
                    columns[name].append(value)
    except (OSError, ValueError, StopIteration) as exc:
        raise ConfigError(f"cannot read readings {readings}: {exc}") from exc
    meter = np.array(columns["meter_id"], dtype="<U12")
    ts = np.array([t[:19] for t in columns["ts"]], dtype="datetime64[s]").astype(np.int64)
    unknown = sorted(set(np.unique(meter).tolist()) - set(where))
    if unknown:
        raise ConfigError(f"{len(unknown)} meters are not in the registry, e.g. {unknown[:3]}")
    area_of = np.array([f"{where[m][0]}\x00{where[m][1]}" for m in meter.tolist()])
    values = {
        "import_wh": np.array(columns["import_wh"], dtype=np.int64),
        "export_wh": np.array(columns["export_wh"], dtype=np.int64),
        "voltage_v": np.array([float(v) if v else np.nan for v in columns["voltage_v"]]),
        "current_a": np.array([float(v) if v else np.nan for v in columns["current_a"]]),
    }
    order = np.lexsort((ts, area_of, ts // DAY_S))
    day = (ts // DAY_S)[order]
    key = area_of[order]
    cut = np.flatnonzero((day[1:] != day[:-1]) | (key[1:] != key[:-1])) + 1
    for chunk in np.split(order, cut):
        utility, area = str(area_of[chunk[0]]).split("\x00")
        yield ReadingFrame(
            utility=utility,
            area=area,
            meter=meter[chunk],
            ts=ts[chunk],
            import_wh=values["import_wh"][chunk],
            export_wh=values["export_wh"][chunk],
            voltage_v=values["voltage_v"][chunk],
            current_a=values["current_a"][chunk],
        )


def analyze(
    readings: Path,
    registry_path: Path,
    book: RegistryBook,
    config: EstimationConfig | None = None,
) -> list[AreaAnalysis]:
    """Run the stream's per-area code over the whole file."""
    where = read_registry_areas(registry_path)
    workers: dict[tuple[str, str], AreaWorker] = {}
    results: dict[tuple[str, str], AreaAnalysis] = {}
    for frame in day_frames(readings, where):
        key = (frame.utility, frame.area)
        worker = workers.setdefault(key, AreaWorker(frame.utility, frame.area, book, config))
        out = worker.process(frame)
        result = results.setdefault(key, AreaAnalysis(*key))
        result.estimates += out.estimates
        result.events += out.events
        result.residuals += out.residuals
    return [results[k] for k in sorted(results)]


def replacement_orders(analyses: list[AreaAnalysis]) -> dict[str, int]:
    """Each meter ordered out of service, and the end (epoch s) of the block that ordered it."""
    return {
        e["subject"]: int(e["data"]["window"]["end"])
        for a in analyses
        for e in a.events
        if e["type"].endswith("out_of_tolerance.v1")
    }


def scored_estimates(analyses: list[AreaAnalysis]) -> list[dict[str, Any]]:
    """Every estimate with its block's end as ``end_ts``, as :func:`meterwatch.scoring.score`
    reads them."""
    return [{**e, "end_ts": e["window"]["end"]} for a in analyses for e in a.estimates]


def oracle_run(run: Path, book: RegistryBook) -> dict[tuple[str, str], AreaOracle]:
    """The offline oracle of every area of a simulated run folder (needs its truth files).

    The same blocks the stream assembles (:meth:`AreaRegistry.energy_block`), the simulator's
    true loss model per interval (``truth_areas.csv``: the loss law at the climatological
    temperature, and its change per kelvin of the day's weather) with the laws of what it
    leaves out (``run.json``: the unmetered use's variance, the weather's sd), the registers'
    resolutions (``devices.csv``) and the injected faults, which it undoes
    (``truth_faults.csv``, when there is one).
    """
    where = read_registry_areas(run / REGISTRY)
    faults: dict[tuple[str, str], list[FaultRecord]] = defaultdict(list)
    if (run / TRUTH_FAULTS).exists():
        for fault in read_faults(run / TRUTH_FAULTS):
            faults[(fault.utility, fault.area)].append(fault)
    blocks: dict[tuple[str, str], list[IntervalBlock]] = defaultdict(list)
    assemblers: dict[tuple[str, str], tuple[IntervalAssembler, IntervalAssembler]] = {}
    for frame in day_frames(run / READINGS, where):
        key = (frame.utility, frame.area)
        known = book.area(*key)
        if known is None:
            continue
        imports, exports = assemblers.setdefault(
            key, (IntervalAssembler(known.master), IntervalAssembler(known.master))
        )
        ts = undo_clock_skew(frame.meter, frame.ts, faults[key])
        imports.update(frame.meter, ts, frame.import_wh)
        exports.update(frame.meter, ts, frame.export_wh)
        blocks[key] += map(known.energy_block, imports.ready, exports.ready)
    loss: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    per_kelvin: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    with (run / TRUTH_AREAS).open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if "loss_climate_wh" not in row:
                raise ConfigError(f"{run / TRUTH_AREAS} has no loss model: simulate the run again")
            t, key = epoch_s(row["ts"]), (row["utility"], row["area"])
            loss[key][t] = float(row["loss_climate_wh"])
            per_kelvin[key][t] = float(row["loss_weather_wh_per_k"])
    meta = json.loads((run / RUN).read_text(encoding="utf-8"))
    white_var, weather_sd = meta["loss_white_var_wh2"], float(meta["load"]["temperature_day_sd_k"])
    with (run / DEVICES).open(encoding="utf-8", newline="") as handle:
        resolution = {r["meter_id"]: float(r["resolution_wh"]) for r in csv.DictReader(handle)}
    truth = Truth.load(run / TRUTH_ERRORS) if (run / TRUTH_ERRORS).exists() else None
    oracles = {}
    for key, area_blocks in sorted(blocks.items()):
        known = book.area(*key)
        assert known is not None
        ids = {m for b in area_blocks for m in b.meter_ids}
        limits = dict(zip(sorted(ids), known.limits(tuple(sorted(ids))).tolist(), strict=True))
        oracles[key] = area_oracle(
            area_blocks, loss[key], limits, resolution, faults=faults[key],
            master_id=known.master, with_generation=ids - known.without_generation, truth=truth,
            white_var_wh2=float(white_var[key[1]]), weather=(per_kelvin[key], weather_sd),
        )  # fmt: skip
    return oracles
