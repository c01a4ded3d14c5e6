"""``meterwatch lots``: the homogeneous lots formed from the registry."""

from __future__ import annotations

import click

from meterwatch.commands._db import open_database
from meterwatch.errors import MeterwatchError


@click.group()
def lots() -> None:
    """Lots: meters of one utility sharing manufacturer, model, batch and install year."""


@lots.command("list")
def list_command() -> None:
    """List the lots with their size, number of sampling plans and latest verdict."""
    from storage.supervision_store import list_lots, lot_key_text

    try:
        with open_database() as conn:
            rows = list_lots(conn)
    except MeterwatchError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("lot_id\tutility\tsize\tplans\tlast_verdict\tkey")
    for lot in rows:
        click.echo(
            f"{lot.lot_id}\t{lot.utility_id}\t{lot.size}\t{lot.plans}\t"
            f"{lot.last_decision or '-'}\t{lot_key_text(lot.key)}"
        )
