"""``meterwatch verdict``: the lot verdict from the inspections of its latest sampling plan."""

from __future__ import annotations

from typing import cast

import click

from meterwatch.commands._db import open_database
from meterwatch.errors import MeterwatchError
from supervision.verdict import DECISION_RULES, DecisionRule, LimitControl


@click.command()
@click.option("--lot", "lot_id", required=True, help="Lot id, as in `meterwatch lots list`.")
@click.option(
    "--rule",
    default="simple",
    show_default=True,
    type=click.Choice(DECISION_RULES),
    help="How the test uncertainty counts (attributes plans; ILAC-G8 decision rules).",
)
@click.option(
    "--control",
    default="separate",
    show_default=True,
    type=click.Choice(["separate", "combined"]),
    help="Control of the two limits ±MPE (variables plans).",
)
def verdict(lot_id: str, rule: str, control: str) -> None:
    """Decide a lot: accept, or reject (a replacement order for the whole lot).

    Uses the lot's latest plan and its inspection results, records the verdict (which also
    enters the audit log) and, where the detectors left error estimates for the inspected
    meters, prints the field check of the estimator against the inspections.
    """
    from storage.supervision_store import decide_lot

    try:
        with open_database() as conn:
            stored = decide_lot(conn, lot_id, cast(DecisionRule, rule), cast(LimitControl, control))
    except MeterwatchError as exc:
        raise click.ClickException(str(exc)) from exc
    v = stored.verdict
    click.echo(
        f"lot {lot_id}: {v.decision.upper()}"
        + (" - replace the whole lot" if v.decision == "reject" else "")
    )
    click.echo(
        f"verdict {stored.verdict_id}, plan {stored.plan_id}, {v.method}, MPE {stored.mpe_pct:g} %"
    )
    click.echo(f"inspected {v.inspected}, nonconforming {v.nonconforming}")
    if v.method == "attributes":
        click.echo(f"Ac {v.ac}, Re {v.re}, decision rule {v.rule}")
    else:
        click.echo(f"k {v.k:.3f}, Q_U {v.q_upper:.3f}, Q_L {v.q_lower:.3f}, control {v.control}")
    if stored.estimate is not None:
        e = stored.estimate
        click.echo(
            f"nonconforming fraction (Horvitz-Thompson): {e.fraction:.4f} "
            f"[{e.lower:.4f}, {e.upper:.4f}] at {e.confidence:.0%}"
        )
    for note in v.notes:
        click.echo(f"note: {note}")
    if stored.field is not None:
        f = stored.field
        click.echo(
            f"field check of the estimator on {f.count} meters: bias {f.bias:+.3f} pp, "
            f"MAE {f.mae:.3f} pp, RMSE {f.rmse:.3f} pp, coverage (k={f.coverage_factor:g}) "
            f"{f.coverage:.0%}, with test uncertainty {f.coverage_combined:.0%}"
        )
    else:
        click.echo("field check: no error estimates for the inspected meters")
