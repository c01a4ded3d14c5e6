"""``meterwatch simulate``: a fleet with hidden errors and faults, to files, to MQTT, or as load."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click
from tqdm import tqdm

from meterwatch.errors import MeterwatchError
from meterwatch.settings import CommonSettings
from simulators.faults import FaultSpec
from simulators.fleet import DEFAULT_START, FleetSpec, build_fleet
from simulators.load import LoadSpec
from simulators.loadgen import LoadGenSpec, MqttSink, run_load
from simulators.metrology import MetrologySpec, draw_errors
from simulators.payload_stream import message_count
from simulators.readings import AreaRun, ReadingSpec, iter_areas
from simulators.scenario import Scenario, publish, simulate_to
from simulators.truth import write_run

F = TypeVar("F", bound=Callable[..., Any])


@click.group()
def simulate() -> None:
    """Simulate a fleet of meters with hidden errors and faults, and its ground truth.

    \b
    Topology: utilities -> areas -> concentrators (and direct meters) -> meters, one master
    meter per area. Households and small businesses with daily, weekly and seasonal load,
    some with PV export; line loss as the detectors model it plus unmodelled noise; true
    errors per lot and per meter (drift: none, linear, step, accelerating; lot defects);
    faults: stuck and backward registers, reverse wiring, clock skew, outages, gaps,
    bypass theft, master meter error. The same seed gives the same data.

    \b
    simulate fleet  write readings, registry and ground truth as CSV files
    simulate mqtt   publish the fleet over MQTT like devices do, time accelerated
    simulate load   a bounded load generator: a target rate of readings/s, rate achieved
    """


def fleet_options(command: F) -> F:
    options = [
        click.option("--seed", default=7, show_default=True, help="Random seed."),
        click.option("--utilities", default=2, show_default=True),
        click.option("--areas", "areas_per_utility", default=10, show_default=True,
                     help="Areas per utility."),
        click.option("--meters", "meters_per_area", default=100, show_default=True,
                     help="Consumer meters per area (plus one master)."),
        click.option("--days", default=60, show_default=True, help="Simulated days."),
        click.option("--interval-minutes", default=15, show_default=True,
                     help="Register reading interval: a multiple of 15 dividing a day "
                     "(1440 = daily frozen values)."),
        click.option("--start", default=DEFAULT_START, show_default=True,
                     help="First midnight (UTC) of the run; the run must end in the past."),
        click.option("--dlt645-fraction", default=0.3, show_default=True,
                     help="Share of devices sending DL/T 645-2007 frames instead of JSON v1."),
        click.option("--direct-fraction", default=0.05, show_default=True,
                     help="Share of consumer meters publishing directly (NB-IoT/4G)."),
        click.option("--meter-base", default=0, show_default=True,
                     help="Added to every meter number, to keep runs apart."),
        click.option("--no-faults", is_flag=True,
                     help="Inject no faults and lose no readings."),
        click.option("--no-errors", is_flag=True,
                     help="Every meter (masters too) registers the true energy."),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


def _specs(kw: dict[str, Any]) -> tuple[FleetSpec, FaultSpec, MetrologySpec]:
    no_faults, no_errors = kw.pop("no_faults"), kw.pop("no_errors")
    try:
        fleet = FleetSpec(**kw)
    except MeterwatchError as exc:
        raise click.UsageError(str(exc)) from exc
    faults = FaultSpec.none() if no_faults else FaultSpec()
    metrology = MetrologySpec().all_zero() if no_errors else MetrologySpec()
    return fleet, faults, metrology


def _areas_with_progress(run_areas: Iterator[AreaRun], total: int) -> Iterator[AreaRun]:
    with tqdm(total=total, unit="area", desc="simulating") as bar:
        for area in run_areas:
            bar.update()
            yield area


@simulate.command("fleet")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory for the CSV files (created if missing).",
)
@click.option("--no-readings", is_flag=True, help="Write the registry and truth files only.")
@fleet_options
def fleet_command(out_dir: Path, no_readings: bool, **kw: Any) -> None:
    """Write one simulated run as CSV files for offline analysis.

    \b
    Files: registry.csv, readings.csv (meter_id, ts, import_wh, export_wh, voltage_v,
    current_a), truth_errors.csv (each meter's daily true error), truth_faults.csv (every
    injected fault), truth_areas.csv (true consumption and loss per interval), run.json
    (all parameters). Parquet is not written (pyarrow is not installed).

    Example: meterwatch simulate fleet --out runs/seed7 --areas 2 --meters 50 --days 14
    """
    fleet_spec, fault_spec, metrology = _specs(kw)
    fleet = build_fleet(fleet_spec)
    errors = draw_errors(fleet, metrology)
    started = time.monotonic()
    areas = iter_areas(fleet, errors, fault_spec)
    summary = write_run(
        fleet, errors, _areas_with_progress(areas, fleet_spec.n_areas), out_dir,
        specs=(fault_spec, metrology, LoadSpec(), ReadingSpec()), readings=not no_readings,
    )  # fmt: skip
    click.echo(
        f"{summary.areas} areas, {summary.meters:,} meters, {summary.readings:,} readings, "
        f"{summary.faults} faults in {time.monotonic() - started:.1f} s -> {out_dir}"
    )
    for name in summary.files:
        click.echo(f"  {out_dir / name}")


@simulate.command("mqtt")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory for the registry and ground truth of what is published.",
)
@click.option(
    "--speed",
    default=20_000.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Acceleration: simulated seconds per wall-clock second (20000: 60 days in "
    "about 4.3 minutes, if the machine keeps up). 0 = as fast as possible.",
)
@click.option(
    "--jitter",
    "jitter_s",
    default=5.0,
    show_default=True,
    help="Devices send up to this many (simulated) seconds after each boundary.",
)
@click.option("--host", default=None, help="MQTT broker host [METERWATCH_MQTT_HOST].")
@click.option("--port", default=None, type=int, help="MQTT broker port [METERWATCH_MQTT_PORT].")
@fleet_options
def mqtt_command(
    out_dir: Path, speed: float, jitter_s: float, host: str | None, port: int | None, **kw: Any
) -> None:
    """Publish a simulated fleet over MQTT, like its devices would (QoS1).

    Concentrators send one payload per interval with all their meters, direct meters one
    each; JSON v1 or DL/T 645-2007 frames by device. Timestamps are simulated time (the run
    must lie in the past); --speed compresses the 15-minute rhythm. The ground truth is
    written to --out first.
    """
    fleet_spec, fault_spec, metrology = _specs(kw)
    if fleet_spec.end_s > time.time():
        raise click.UsageError("the simulated run must end in the past: move --start back")
    settings = CommonSettings()
    with tqdm(total=fleet_spec.n_areas, unit="area", desc="simulating") as bar:
        run, _ = simulate_to(
            Scenario(fleet_spec, fault_spec, metrology), out_dir,
            on_area=lambda _: bar.update(), readings=False,
        )  # fmt: skip
    total = message_count(run)
    sink = MqttSink(
        host or settings.mqtt_host,
        port or settings.mqtt_port,
        f"meterwatch-simulate-{fleet_spec.seed}-{os.getpid()}",
    )
    click.echo(f"publishing {run.reading_count:,} readings in {total:,} messages")
    try:
        with tqdm(total=total, unit="msg", desc="publishing") as bar:
            report = publish(
                run, sink, speed=speed, jitter_s=jitter_s, on_sent=lambda _: bar.update()
            )
    finally:
        sink.close()
    click.echo(
        f"sent {report.messages:,} messages, {report.readings:,} readings in {report.send_s:.1f} s;"
        f" acknowledged {report.acked_readings:,} ({report.achieved_rate:,.0f} readings/s)"
        + ("" if report.complete else "; NOT all acknowledged")
    )


@simulate.command("load")
@click.option(
    "--rate",
    required=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Target readings per second.",
)
@click.option(
    "--duration",
    "duration_s",
    required=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds to send for; then it stops.",
)
@click.option(
    "--meters",
    default=10_000,
    show_default=True,
    help="Meters in the generated fleet (each reading round covers all of them).",
)
@click.option(
    "--per-message",
    default=100,
    show_default=True,
    help="Readings per MQTT message (a concentrator's batch).",
)
@click.option(
    "--dlt645-fraction",
    default=0.0,
    show_default=True,
    help="Share of devices sending DL/T 645-2007 frames.",
)
@click.option("--seed", default=11, show_default=True)
@click.option("--host", default=None, help="Loopback MQTT broker [METERWATCH_MQTT_HOST].")
@click.option("--port", default=None, type=int, help="MQTT broker port [METERWATCH_MQTT_PORT].")
def load_command(
    rate: float,
    duration_s: float,
    meters: int,
    per_message: int,
    dlt645_fraction: float,
    seed: int,
    host: str | None,
    port: int | None,
) -> None:
    """Send a target rate of readings over MQTT (QoS1) and report the rate achieved.

    Bounded: stops sending after --duration seconds and waits at most 30 s for the
    broker's acknowledgements. Refuses brokers that are not on the loopback interface.
    The achieved rate counts acknowledged readings from the first send to the last ack.

    Example: meterwatch simulate load --rate 20000 --duration 10
    """
    settings = CommonSettings()
    try:
        spec = LoadGenSpec(rate=rate, duration_s=duration_s, meters=meters,
                           meters_per_message=per_message, dlt645_fraction=dlt645_fraction,
                           seed=seed)  # fmt: skip
        with tqdm(total=round(rate * duration_s), unit="reading", desc="sending") as bar:
            report = run_load(
                spec, host or settings.mqtt_host, port or settings.mqtt_port, on_sent=bar.update
            )
    except MeterwatchError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"target {rate:,.0f} readings/s for {duration_s:g} s")
    click.echo(
        f"sent {report.readings:,} readings in {report.messages:,} messages "
        f"over {report.send_s:.2f} s ({report.readings / max(report.send_s, 1e-9):,.0f}/s)"
    )
    click.echo(
        f"acknowledged {report.acked_readings:,} readings; achieved "
        f"{report.achieved_rate:,.0f} readings/s over {report.elapsed_s:.2f} s"
        + ("" if report.complete else " (some acknowledgements missing)")
    )
