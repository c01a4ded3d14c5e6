"""``meterwatch retention``: drop old partitions of readings and error estimates."""

from __future__ import annotations

import click

from meterwatch.commands._db import open_database
from meterwatch.errors import MeterwatchError


@click.group()
def retention() -> None:
    """Retention of the raw time series (the daily rollup is kept)."""


@retention.command()
@click.option(
    "--older-than",
    "days",
    required=True,
    type=click.IntRange(min=1),
    help="Drop partitions whose whole time range is older than this many days.",
)
def apply(days: int) -> None:
    """Drop whole partitions of reading and error_estimate older than --older-than days."""
    from storage.retention import apply_retention

    try:
        with open_database() as conn:
            dropped = apply_retention(conn, days)
    except MeterwatchError as exc:
        raise click.ClickException(str(exc)) from exc
    for table, names in dropped.items():
        click.echo(f"{table}: dropped {len(names)} partition(s) {' '.join(names)}".rstrip())
