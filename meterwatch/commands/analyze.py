"""``meterwatch analyze``: the stream's detectors run offline on exported files."""

from __future__ import annotations

from pathlib import Path

import click

from meterwatch.analysis import analyze as run_analysis
from meterwatch.analysis import replacement_orders, scored_estimates
from meterwatch.report import write_report
from meterwatch.scoring import Truth, score
from simulators.truth import TRUTH_FAULTS
from stream.registry import RegistryBook

DAY_S = 86_400


@click.command()
@click.argument("readings", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--registry",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="the meter registry CSV (the format of `meterwatch registry import`)",
)
@click.option("--truth", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="ground truth (a simulation's truth_errors.csv): adds a score; a "
                   "truth_faults.csv beside it names the causes of false orders")  # fmt: skip
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("analysis"),
              show_default=True, help="report folder")  # fmt: skip
@click.option("--in-service/--verification", default=False, show_default=True,
              help="judge against in-service or verification limits")  # fmt: skip
@click.option("--jurisdiction", default="DE", show_default=True)
def analyze(
    readings: Path, registry: Path, truth: Path | None, out: Path, in_service: bool,
    jurisdiction: str,
) -> None:  # fmt: skip
    """Run the detectors offline on READINGS (CSV: meter_id, ts, import_wh, export_wh,
    voltage_v, current_a), with no servers.

    Each area is cut into day frames and passed through the very code the stream workers
    run, so the decisions agree with the streaming path. Writes estimates.csv, events.csv,
    PNG plots (error estimates with uncertainty and MPE bands, balance residuals) and
    report.html to --out, and prints the flagged meters.
    """
    book = RegistryBook.from_csv(registry, in_service=in_service, jurisdiction=jurisdiction)
    analyses = run_analysis(readings, registry, book)
    meters = {e["meter"] for a in analyses for e in a.estimates}
    faults = truth.with_name(TRUTH_FAULTS) if truth else None
    truth_data = (
        Truth.load(truth, meters, faults if faults and faults.exists() else None) if truth else None
    )
    orders = replacement_orders(analyses)
    records = scored_estimates(analyses)
    result = score(truth_data, records, orders) if truth_data else None
    page = write_report(out, analyses, title=f"meterwatch analysis of {readings.name}",
                        score=result, truth=truth_data)  # fmt: skip
    click.echo(f"{len(meters):,} meters in {len(analyses)} areas; {len(orders)} replacement orders")
    for meter, end in sorted(orders.items()):
        click.echo(f"  out of tolerance: {meter} (decided on the day ending {end // DAY_S})")
    if result:
        click.echo("\n".join(result.lines()))
    click.echo(f"report: {page}")
