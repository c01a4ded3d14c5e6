"""``meterwatch demo``: the whole system on a simulated fleet, ending in a scored report.

1. Starts the local services (deploy/local) and the pipeline: ingest, stream (with the
   fleet's registry) and store.
2. Simulates a fleet with hidden errors and faults, writes its ground truth, and publishes
   it over MQTT like its devices would (JSON v1 and DL/T 645-2007), plus one payload of
   every kind the bridge must refuse.
3. Waits until every closed day of every meter has its estimate in PostgreSQL.
4. Scores the replacement orders and estimates from the database against the truth, runs
   ``analyze`` offline on the same readings to check that both paths agree, and writes an
   HTML report with plots.

Every run gets fresh utility names and meter numbers, so runs never mix in the database;
with the same seed the data, and so the report's figures, are the same.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import click
import psycopg
from tqdm import tqdm

from meterwatch.analysis import analyze, oracle_run
from meterwatch.dlq import DeadLetterReader
from meterwatch.local_services import bring_up
from meterwatch.processes import LocalPipeline
from meterwatch.report import write_report
from meterwatch.scoring import Truth, oracle_lines, score
from meterwatch.settings import CommonSettings
from simulators.demo_fleet import bad_payloads
from simulators.fleet import FleetSpec
from simulators.loadgen import MqttSink
from simulators.publisher import MqttPublisher
from simulators.scenario import Scenario, message_count, publish, simulate_to
from simulators.truth import TRUTH_FAULTS
from stream.area_estimation import EstimationConfig
from stream.registry import RegistryBook

ORDER = "meterwatch.meter.out_of_tolerance.v1"


@click.command()
@click.option("--utilities", default=2, show_default=True)
@click.option("--areas", "areas_per_utility", default=4, show_default=True, help="per utility")
@click.option("--meters", "meters_per_area", default=100, show_default=True, help="per area")
@click.option("--days", default=60, show_default=True, help="simulated days of 15-min data")
@click.option("--seed", default=7, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="run folder [default: .state/demo/<run>]")  # fmt: skip
@click.option("--timeout", "timeout_s", default=1800.0, show_default=True, help="seconds")
def demo(
    utilities: int, areas_per_utility: int, meters_per_area: int, days: int, seed: int,
    out: Path | None, timeout_s: float,
) -> None:  # fmt: skip
    """Run the whole pipeline on a simulated fleet and print a scored report.

    Default: 2 utilities x 4 areas x 100 meters x 60 days of quarter-hour readings
    (about 4.6 million readings), with hidden drifts, lot defects and faults: a few minutes
    on two cores. `--areas 10` gives the 20-area fleet (11.6 million readings, ~15 min).
    """
    settings = CommonSettings()
    click.echo("== starting services (deploy/local) ==")
    bring_up(settings)
    run = uuid.uuid4().hex[:6]
    out = out or settings.state_dir / "demo" / run
    fleet = FleetSpec(
        utilities=utilities, areas_per_utility=areas_per_utility, meters_per_area=meters_per_area,
        days=days, seed=seed, utility_prefix=f"demo{run}",
        meter_base=(uuid.uuid4().int % 800 + 100) * 1_000_000_000,
    )  # fmt: skip
    click.echo(f"== simulating {fleet.n_areas} areas x {meters_per_area} meters x {days} days ==")
    with tqdm(total=fleet.n_areas, unit="area", desc="simulating") as bar:
        fleet_run, summary = simulate_to(Scenario(fleet), out, on_area=lambda _: bar.update())
    click.echo(f"== starting ingest, stream, store (logs in {out}) ==")
    pipeline = LocalPipeline(out, {"METERWATCH_REGISTRY_FILE": str(out / "registry.csv")})
    pipeline.start()
    dlq = DeadLetterReader(settings.kafka_bootstrap)
    started = time.monotonic()
    bad = bad_payloads(f"demo{run}-1")
    try:
        total = message_count(fleet_run)
        click.echo(f"== publishing {summary.readings:,} readings in {total:,} MQTT messages ==")
        sink = MqttSink(settings.mqtt_host, settings.mqtt_port, f"demo-{run}")
        with tqdm(total=total, unit="msg", desc="publishing") as bar:
            publish(fleet_run, sink, on_sent=lambda _: bar.update())
        sink.close()
        publisher = MqttPublisher(settings.mqtt_host, settings.mqtt_port, f"demo-bad-{run}")
        publisher.publish_all((topic, payload) for topic, payload, _ in bad)
        publisher.close()
        with psycopg.connect(settings.database_url, autocommit=True) as db:
            area_days = fleet.n_areas * (days - 1)  # the last day never closes: no later data
            estimates = _wait_for_estimates(db, f"demo{run}-%", area_days, timeout_s)
            events = _events(db, f"demo{run}-%")
            stored = _wait_for_readings(db, f"demo{run}-%", summary.readings, 300.0)
        letters = _collect_dead_letters(dlq, f"demo{run}", len(bad), 30.0)
    finally:
        dlq.close()
        pipeline.stop()
    elapsed = time.monotonic() - started
    _report(out, fleet, summary.readings, stored, estimates, events,
            letters, len(bad), elapsed)  # fmt: skip


def _report(
    out: Path, fleet: FleetSpec, published: int, stored: int, estimates: list[dict[str, Any]],
    events: list[dict[str, Any]], letters: Counter[str], bad: int, elapsed: float,
) -> None:  # fmt: skip
    orders = {e["subject"]: int(e["time_s"]) for e in events if e["type"] == ORDER}
    truth = Truth.load(out / "truth_errors.csv", {e["meter"] for e in estimates},
                       out / TRUTH_FAULTS)  # fmt: skip
    streamed = score(truth, estimates, orders)
    click.echo("== offline check: the same readings through `meterwatch analyze` ==")
    book = RegistryBook.from_csv(out / "registry.csv")
    offline = analyze(out / "readings.csv", out / "registry.csv", book)
    click.echo("== the offline oracle (true loss model; faults, drifts undone), same blocks ==")
    oracles = oracle_run(out, book).values()
    oracle_out = {m for o in oracles for m in o.out_of_tolerance()}
    confirm_days = EstimationConfig().confirm_days
    oracle_orders = {m for o in oracles for m in o.confirmed(confirm_days)}
    offline_orders = {e["subject"] for a in offline for e in a.events if e["type"] == ORDER}
    latest_stream = {e["meter"]: e["decision"] for e in estimates}
    latest_offline = {m: e["decision"] for a in offline for m, e in a.latest().items()}
    same = sum(latest_stream.get(m) == d for m, d in latest_offline.items())
    kinds = Counter(e["type"].split(".")[2] for e in events)
    metrology = (
        "out_of_tolerance", "inconclusive", "balance_break", "error_step", "master_step",
        "drift_warning", "tamper_suspected", "clock_offset",
    )  # fmt: skip

    def decided(type_: str) -> bool:
        return type_.split(".")[2] in metrology

    streamed_events = {(e["type"], e["subject"], e["time_s"]) for e in events if decided(e["type"])}
    offline_events = {
        (e["type"], e["subject"], e["data"]["window"]["end"])
        for a in offline for e in a.events if decided(e["type"])
    }  # fmt: skip
    lines = [
        f"published        {published:,} readings ({fleet.n_areas} areas, seed {fleet.seed})",
        f"stored           {stored:,} reading rows; {len(estimates):,} daily estimates",
        f"dead letters     {sum(letters.values())} of {bad} bad payloads: "
        + ", ".join(f"{r} {n}" for r, n in sorted(letters.items())),
        "events           " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())),
        f"agreement        stream and analyze give the same final decision for {same} of "
        f"{len(latest_offline)} meters; orders {len(orders)} streamed, "
        f"{len(offline_orders)} offline, {len(set(orders) & offline_orders)} in common; "
        f"metrology events {len(streamed_events)} streamed, {len(offline_events)} offline, "
        f"{len(streamed_events & offline_events)} identical",
        f"wall time        {elapsed:.0f} s from the first publish to the last estimate",
    ]
    oracle = oracle_lines(
        truth,
        orders,
        oracle_out,
        "batch GLS, true loss model; faults, drifts undone",
        confirmed=(oracle_orders, confirm_days),
    )
    page = write_report(out / "report", offline, title=f"meterwatch demo, seed {fleet.seed}",
                        score=streamed, truth=truth, extra=lines + oracle)  # fmt: skip
    click.echo("\n== meterwatch demo report ==")
    for line in lines + streamed.lines() + oracle:
        click.echo(line)
    click.echo(f"report: {page}")


def _wait_for_estimates(
    db: psycopg.Connection, utility_like: str, area_days: int, timeout_s: float
) -> list[dict[str, Any]]:
    """Wait until every area has estimated every closed day; then read all estimates."""
    deadline = time.monotonic() + timeout_s
    query = "SELECT count(DISTINCT (area_id, ts)) FROM error_estimate WHERE utility_id LIKE %s"
    with tqdm(total=area_days, unit="area-day", desc="estimated") as bar:
        while True:
            row = db.execute(query, (utility_like,)).fetchone()
            count = int(row[0]) if row else 0
            bar.update(count - bar.n)
            if count >= area_days:
                break
            if time.monotonic() > deadline:
                raise click.ClickException(
                    f"only {count} of {area_days} area-days estimated after {timeout_s:.0f} s; "
                    "see the stream and store logs"
                )
            time.sleep(1.0)
    rows = db.execute(
        "SELECT meter_id, extract(epoch FROM ts)::bigint, error_pct, uncertainty_pct, "
        "identifiable, decision FROM error_estimate WHERE utility_id LIKE %s ORDER BY ts",
        (utility_like,),
    ).fetchall()
    keys = ("meter", "end_ts", "estimate_pct", "uncertainty_pct", "identifiable", "decision")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def _wait_for_readings(
    db: psycopg.Connection, utility_like: str, expected: int, timeout_s: float
) -> int:
    """The store may still be writing when the last estimate is in: wait for every row."""
    deadline = time.monotonic() + timeout_s
    query = "SELECT count(*) FROM reading WHERE utility_id LIKE %s"
    while True:
        row = db.execute(query, (utility_like,)).fetchone()
        count = int(row[0]) if row else 0
        if count >= expected or time.monotonic() > deadline:
            return count
        time.sleep(1.0)


def _events(db: psycopg.Connection, utility_like: str) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT type, subject, extract(epoch FROM time)::bigint FROM event "
        "WHERE utility_id LIKE %s ORDER BY time",
        (utility_like,),
    ).fetchall()
    return [{"type": t, "subject": s, "time_s": ts} for t, s, ts in rows]


def _collect_dead_letters(
    reader: DeadLetterReader, utility: str, expected: int, timeout_s: float
) -> Counter[str]:
    reasons: Counter[str] = Counter()
    deadline = time.monotonic() + timeout_s
    while sum(reasons.values()) < expected and time.monotonic() < deadline:
        reasons.update(d.reason for d in reader.poll() if utility in d.source_topic)
    return reasons
