"""``meterwatch sample``: supervisory sampling plans (ISO 2859-1 attributes, s-method variables)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from meterwatch.errors import MeterwatchError
from supervision.attributes import LEVELS, SEVERITIES, Severity, single_plan
from supervision.variables import variables_plan

if TYPE_CHECKING:
    from storage.supervision_store import PlanKind


@click.group()
def sample() -> None:
    """Supervisory sampling of a lot of meters.

    Plans come from ISO 2859-1 / GB/T 2828.1 single sampling by attributes (a meter is
    nonconforming when its measured error exceeds the MPE) or from an s-method variables
    plan on the measured errors (limits ±MPE).
    """


@sample.command()
@click.option(
    "--lot-size", required=True, type=click.IntRange(min=2), help="Number of meters in the lot."
)
@click.option(
    "--aql",
    required=True,
    type=str,
    help="Acceptance quality limit from the ISO 2859-1 series 0.010 ... 1000 (e.g. 1.0): "
    "percent nonconforming meters up to 10, nonconformities per 100 meters above. "
    "Variables plans go up to 10.",
)
@click.option(
    "--level",
    default="II",
    show_default=True,
    type=click.Choice(LEVELS),
    help="Inspection level: general I, II, III (larger samples, better discrimination) or "
    "special S-1 ... S-4 (small samples, for costly tests).",
)
@click.option(
    "--severity",
    default="normal",
    show_default=True,
    type=click.Choice(SEVERITIES),
    help="Normal, tightened or reduced inspection, as set by the switching rules.",
)
@click.option(
    "--plan",
    "plan_kind",
    default="attributes",
    show_default=True,
    type=click.Choice(["attributes", "variables"]),
    help="attributes: code letter, n, Ac, Re. variables: s-method n and k.",
)
def plan(lot_size: int, aql: str, level: str, severity: str, plan_kind: str) -> None:
    """Print the sampling plan for one lot.

    For attributes, inspect n meters and accept the lot with at most Ac nonconforming
    meters; reject it (replace the whole lot) from Re on. Arrows in the ISO 2859-1 tables
    are followed, so n can belong to another code letter than the lot's; a sample at least
    as large as the lot means 100 % inspection.

    For variables, inspect n meters and accept when (MPE - mean)/s >= k and
    (mean + MPE)/s >= k. These n and k are derived by OC matching, not copied from
    ISO 3951-1 (see supervision/variables.py).

    Example: meterwatch sample plan --lot-size 1000 --aql 1.0 --level II
    """
    chosen = cast(Severity, severity)  # click.Choice(SEVERITIES) has validated it
    try:
        if plan_kind == "variables":
            vplan = variables_plan(lot_size, aql, level, chosen)
            lines = [
                f"code letter: {vplan.code_letter}",
                f"n: {vplan.n}",
                f"k: {vplan.k:.3f}",
                *(f"note: {note}" for note in vplan.notes),
            ]
        else:
            aplan = single_plan(lot_size, aql, level, chosen)
            lines = [
                f"code letter: {aplan.code_letter}",
                f"n: {aplan.n}",
                f"Ac: {aplan.ac}",
                f"Re: {aplan.re}",
                *(f"note: {note}" for note in aplan.notes),
            ]
    except MeterwatchError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(
        f"{plan_kind} plan, {chosen} inspection, level {level}, AQL {aql}, lot size {lot_size}"
    )
    for line in lines:
        click.echo(line)


@sample.command()
@click.option("--lot", "lot_id", required=True, help="Lot id, as in `meterwatch lots list`.")
@click.option(
    "--plan",
    "plan_kind",
    default="attributes",
    show_default=True,
    type=click.Choice(["attributes", "variables"]),
)
@click.option("--aql", required=True, type=str, help="Acceptance quality limit, e.g. 1.0.")
@click.option("--level", default="II", show_default=True, type=click.Choice(LEVELS))
@click.option("--severity", default="normal", show_default=True, type=click.Choice(SEVERITIES))
@click.option(
    "--seed", required=True, type=click.IntRange(min=0), help="Recorded; replays the draw."
)
@click.option(
    "--risk-weighted",
    is_flag=True,
    help="Select with probabilities growing with the detectors' risk (latest error "
    "estimates); default: simple random.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="CSV of the selected meters.",
)
def draw(
    lot_id: str,
    plan_kind: str,
    aql: str,
    level: str,
    severity: str,
    seed: int,
    risk_weighted: bool,
    out: Path,
) -> None:
    """Plan and draw the sample of a stored lot; record plan, seed and draw.

    Example: meterwatch sample draw --lot L --plan attributes --aql 1.0 --level II --seed 7
    --out sample.csv
    """
    from meterwatch.commands._db import open_database
    from storage.supervision_store import draw_sample

    try:
        with open_database() as conn:
            recorded = draw_sample(
                conn, lot_id, cast("PlanKind", plan_kind), aql, level, cast(Severity, severity),
                seed, risk_weighted_draw=risk_weighted,
            )  # fmt: skip
    except MeterwatchError as exc:
        raise click.ClickException(str(exc)) from exc
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["plan_id", "lot_id", "meter_id", "area_id", "inclusion_probability"])
        for meter, pi in zip(
            recorded.draw.selected_ids, recorded.draw.inclusion_probabilities, strict=True
        ):
            writer.writerow([recorded.plan_id, lot_id, meter, recorded.areas[meter], f"{pi:.6f}"])
    click.echo(
        f"plan {recorded.plan_id}: {plan_kind}, code letter {recorded.plan.code_letter}, "
        f"n {recorded.plan.n}, {recorded.draw.method}, seed {seed} -> {out}"
    )
