"""``meterwatch audit``: the hash-chained audit log of events and lot verdicts."""

from __future__ import annotations

import click

from meterwatch.commands._db import open_database
from meterwatch.errors import MeterwatchError


@click.group()
def audit() -> None:
    """The append-only audit log."""


@audit.command()
def verify() -> None:
    """Walk the chain and name the first row altered, removed or inserted out of order.

    Exits 1 if the chain is broken. Prints the head (last seq and its hash): record it
    elsewhere, because removing the newest rows leaves a shorter chain that is still valid.
    """
    from storage.audit import verify_chain

    try:
        with open_database() as conn:
            report = verify_chain(conn)
    except MeterwatchError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"rows checked: {report.rows_checked}")
    click.echo(f"head: seq {report.head_seq} sha256 {report.head_hash}")
    if report.first_break is not None:
        broken = report.first_break
        raise click.ClickException(
            f"chain broken at row {broken.seq} ({broken.fault}): {broken.detail}"
        )
    click.echo("chain intact")
