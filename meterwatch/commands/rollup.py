"""``meterwatch rollup``: the daily energy rollup."""

from __future__ import annotations

import click

from meterwatch.commands._db import open_database
from meterwatch.errors import MeterwatchError


@click.group()
def rollup() -> None:
    """Daily energy per meter (view daily_energy)."""


@rollup.command()
def refresh() -> None:
    """Recompute the days that received readings since the last refresh (plain PostgreSQL)."""
    from storage.rollup import refresh_daily_energy

    try:
        with open_database() as conn:
            days = refresh_daily_energy(conn)
    except MeterwatchError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"refreshed {len(days)} day(s){': ' if days else ''}{', '.join(map(str, days))}")
