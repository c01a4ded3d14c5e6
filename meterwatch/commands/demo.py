"""``meterwatch demo``: the whole pipeline on the built-in fleet, ending in a report.

Starts the local services and the three pipeline services, publishes one simulated day of a
small fleet over MQTT (plus one payload of every kind the bridge must refuse, and two meters
whose register steps back), waits until everything is stored and prints what was published,
ingested, stored, refused and detected.
"""

from __future__ import annotations

import time
import urllib.request
import uuid
from collections import Counter

import click
import psycopg
from tqdm import tqdm

from meterwatch.dlq import DeadLetterReader
from meterwatch.local_services import bring_up
from meterwatch.processes import LocalPipeline
from meterwatch.settings import CommonSettings, IngestSettings
from simulators.demo_fleet import DemoFleet, bad_payloads
from simulators.publisher import MqttPublisher


@click.command()
@click.option("--utilities", default=2, show_default=True)
@click.option("--areas", "areas_per_utility", default=5, show_default=True, help="per utility")
@click.option("--devices", "devices_per_area", default=2, show_default=True, help="per area")
@click.option("--meters", "meters_per_device", default=50, show_default=True, help="per device")
@click.option("--intervals", default=96, show_default=True, help="15-minute intervals")
@click.option("--seed", default=7, show_default=True)
@click.option("--timeout", "timeout_s", default=300.0, show_default=True, help="seconds")
def demo(
    utilities: int,
    areas_per_utility: int,
    devices_per_area: int,
    meters_per_device: int,
    intervals: int,
    seed: int,
    timeout_s: float,
) -> None:
    """Run the whole pipeline end to end on a small simulated fleet and print a report.

    Default: 2 utilities x 5 areas x 2 concentrators x 50 meters x 96 quarter-hours
    (96,000 readings). Each run gets fresh meter numbers, so its counts are its own.
    """
    settings = CommonSettings()
    click.echo("== starting services (deploy/local) ==")
    bring_up(settings)
    run = uuid.uuid4().hex[:6]
    base = (uuid.uuid4().int % 900_000 + 100_000) * 1_000_000
    fleet = DemoFleet(
        utilities=utilities, areas_per_utility=areas_per_utility,
        devices_per_area=devices_per_area, meters_per_device=meters_per_device,
        intervals=intervals, seed=seed, meter_base=base, utility_prefix=f"demo{run}",
    )  # fmt: skip
    fleet = DemoFleet(
        **{**fleet.__dict__, "decreasing": (fleet.meter_id(0, 0), fleet.meter_id(1, 1))}
    )
    bad = bad_payloads(f"demo{run}-1")
    log_dir = settings.state_dir / "demo" / run
    click.echo(f"== starting ingest, stream, store (logs in {log_dir}) ==")
    pipeline = LocalPipeline(log_dir).start()
    dlq = DeadLetterReader(settings.kafka_bootstrap)
    started = time.monotonic()
    try:
        messages = fleet.devices * fleet.intervals
        click.echo(f"== publishing {fleet.readings:,} readings in {messages:,} MQTT messages ==")
        publisher = MqttPublisher(settings.mqtt_host, settings.mqtt_port, f"demo-{run}")
        publisher.publish_all(tqdm(fleet.payloads(), total=messages, unit="msg"))
        publisher.publish_all((topic, payload) for topic, payload, _ in bad)
        publisher.close()
        with psycopg.connect(settings.database_url, autocommit=True) as db:
            stored = _wait_for_rows(db, f"demo{run}-%", fleet.readings, timeout_s)
            events = _wait_for_events(db, f"demo{run}-%", len(fleet.decreasing), 30.0)
        letters = _collect_dead_letters(dlq, f"demo{run}", len(bad), 30.0)
    finally:
        dlq.close()
        ingested = _scrape(IngestSettings().metrics_port, "meterwatch_ingest_readings_total")
        pipeline.stop()
    elapsed = time.monotonic() - started
    click.echo("\n== meterwatch demo report ==")
    click.echo(f"published  {fleet.readings:>9,} readings from {fleet.devices} devices")
    click.echo(f"           {len(bad):>9,} bad payloads")
    click.echo(f"ingested   {ingested:>9,.0f} readings produced to Kafka by the bridge")
    click.echo(f"stored     {stored:>9,} distinct reading rows of this run")
    click.echo(f"rejected   {sum(letters.values()):>9,} dead letters:")
    for reason, count in sorted(letters.items()):
        click.echo(f"             {count:>3} {reason}")
    click.echo(
        f"events     {len(events):>9,} register_decreased (expected {len(fleet.decreasing)}):"
    )
    for event_type, subject in events:
        click.echo(f"             {subject} {event_type}")
    click.echo(f"wall time  {elapsed:>9.1f} s ({fleet.readings / elapsed:,.0f} readings/s)")
    if (
        stored != fleet.readings
        or len(events) != len(fleet.decreasing)
        or sum(letters.values()) != len(bad)
    ):
        raise click.ClickException("the demo did not account for every reading; see the logs")


def _wait_for_rows(
    db: psycopg.Connection, utility_like: str, expected: int, timeout_s: float
) -> int:
    deadline = time.monotonic() + timeout_s
    with tqdm(total=expected, unit="row", desc="stored") as bar:
        while True:
            row = db.execute(
                "SELECT count(*) FROM reading WHERE utility_id LIKE %s", (utility_like,)
            ).fetchone()
            count = int(row[0]) if row else 0
            bar.update(count - bar.n)
            if count >= expected or time.monotonic() > deadline:
                return count
            time.sleep(0.5)


def _wait_for_events(
    db: psycopg.Connection, utility_like: str, expected: int, timeout_s: float
) -> list[tuple[str, str]]:
    deadline = time.monotonic() + timeout_s
    while True:
        rows = db.execute(
            "SELECT type, subject FROM event WHERE utility_id LIKE %s ORDER BY subject",
            (utility_like,),
        ).fetchall()
        if len(rows) >= expected or time.monotonic() > deadline:
            return [(str(t), str(s)) for t, s in rows]
        time.sleep(0.5)


def _collect_dead_letters(
    reader: DeadLetterReader, utility: str, expected: int, timeout_s: float
) -> Counter[str]:
    reasons: Counter[str] = Counter()
    deadline = time.monotonic() + timeout_s
    while sum(reasons.values()) < expected and time.monotonic() < deadline:
        reasons.update(d.reason for d in reader.poll() if utility in d.source_topic)
    return reasons


def _scrape(port: int, metric: str) -> float:
    """One sample from a service's Prometheus endpoint (the real text format)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(metric + " "):
                return float(line.split()[1])
    return float("nan")
