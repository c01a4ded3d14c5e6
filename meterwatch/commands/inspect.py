"""``meterwatch inspect``: on-site inspection results."""

from __future__ import annotations

from pathlib import Path

import click

from meterwatch.commands._db import open_database
from meterwatch.errors import MeterwatchError


@click.group("inspect")
def inspect_group() -> None:
    """Inspection results: the measured errors of sampled meters."""


@inspect_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_results(file: Path) -> None:
    """Import inspection results from a CSV FILE, all or nothing.

    \b
    Header (exactly): meter_id,inspected_on,measured_error_pct,expanded_uncertainty_pct,
                      inspector,equipment
    The uncertainty is the certificate's expanded uncertainty (k = 2), in %. Each result is
    linked to the latest sampling plan that drew the meter.
    """
    from storage.supervision_store import import_inspections

    try:
        with open_database() as conn:
            count = import_inspections(conn, file)
    except MeterwatchError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"imported {count} inspection results")
