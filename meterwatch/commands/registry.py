"""``meterwatch registry``: import the meter registry; bind database roles to utilities."""

from __future__ import annotations

from pathlib import Path

import click

from meterwatch.commands._db import open_database
from meterwatch.errors import MeterwatchError


@click.group()
def registry() -> None:
    """The registry of utilities, areas, meters and lots."""


@registry.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_file(file: Path) -> None:
    """Import utilities, areas and meters from a CSV FILE and form the lots.

    \b
    Header (exactly): meter_id,utility_id,utility_name,area_id,area_name,meter_type,
                      accuracy_class,manufacturer,model,production_batch,install_date,
                      is_master,has_generation
    (files without the last column, has_generation, are accepted too).
    meter_id has 12 digits, install_date is YYYY-MM-DD, meter_type/accuracy_class must have an
    MPE in the packaged tables (e.g. electricity, 2.0). is_master is 0/1 (one master meter per
    area); has_generation is 0/1 (PV or another generator behind the meter) or empty for not
    known, which keeps what was stored. The whole file is checked first: every
    bad row is reported with its line number and nothing is imported. Parquet is not
    supported (pyarrow is not installed).
    """
    from storage.registry import import_registry

    if file.suffix.lower() != ".csv":
        raise click.UsageError("only CSV registry files are supported (pyarrow is not installed)")
    try:
        with open_database() as conn:
            summary = import_registry(conn, file)
    except MeterwatchError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"imported {summary.meters} meters in {summary.areas} areas of {summary.utilities} "
        f"utilities; {summary.lots} lots formed"
    )


@registry.command("add-utility-role")
@click.argument("role")
@click.argument("utility_id")
@click.password_option(help="Password of the role if it is created now.")
def add_utility_role(role: str, utility_id: str, password: str) -> None:
    """Create the login ROLE of a utility (or extend it) and bind it to UTILITY_ID.

    The role sees only its utilities' rows, whatever SQL it sends (row-level security).
    Needs a connection as the schema owner or a superuser.
    """
    try:
        with open_database() as conn:
            conn.execute(
                "SELECT meterwatch_create_utility_role(%s, %s, %s)", (role, utility_id, password)
            )
    except MeterwatchError as exc:
        raise click.ClickException(str(exc)) from exc
    except Exception as exc:  # psycopg errors: a bad utility id, missing privileges
        raise click.ClickException(f"cannot bind {role} to {utility_id}: {exc}") from exc
    click.echo(f"role {role} reads utility {utility_id}")
