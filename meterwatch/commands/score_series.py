"""``meterwatch score-series``: anomaly scores in [0, 1] for any univariate time series."""

from __future__ import annotations

from typing import TextIO

import click

from detectors.anomaly import ScorerConfig, anomaly_scores
from meterwatch.errors import MeterwatchError
from meterwatch.series_io import read_series, write_scored


@click.command("score-series")
@click.argument("in_file", metavar="IN.csv", type=click.File("r", encoding="utf-8-sig"))
@click.argument("out_file", metavar="OUT.csv", type=click.File("w", encoding="utf-8", lazy=True))
@click.option(
    "--span",
    default=ScorerConfig.span,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Memory of the baseline level, in typical sampling intervals. Shorter follows "
    "trends more closely; longer is steadier.",
)
@click.option(
    "--scale-span",
    default=ScorerConfig.scale_span,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Memory of the residual scale, in typical sampling intervals.",
)
@click.option(
    "--warmup",
    default=ScorerConfig.warmup,
    show_default=True,
    type=click.IntRange(min=1),
    help="Values scored 0 at the start while the baseline settles.",
)
def score_series(
    in_file: TextIO,
    out_file: TextIO,
    span: float,
    scale_span: float,
    warmup: int,
) -> None:
    """Score each value of the series in IN.csv and write OUT.csv.

    \b
    IN.csv:  timestamp,value          (a header, then one row per observation)
    OUT.csv: timestamp,value,anomaly_score

    Timestamps are epoch seconds or ISO-8601 (UTC when no offset is given); the series may
    be regularly or irregularly sampled and the rows in any time order. An empty value is a
    missing observation and gets an empty score. Use - for stdin or stdout.

    The score is P(|Z| < |z|) for the value's robust z-score against a time-aware
    exponentially weighted baseline: 0.95 is about 2 scales off, 0.997 about 3, 0.9999 about
    4. Gaps in time let the baseline move further. The first --warmup values score 0.

    Example: meterwatch score-series readings.csv scored.csv
    """
    name = getattr(in_file, "name", "IN.csv")
    try:
        series = read_series(in_file, name=str(name))
        config = ScorerConfig(span=span, scale_span=scale_span, warmup=warmup)
        scores = anomaly_scores(series.timestamps, series.values, config)
    except MeterwatchError as exc:
        raise click.ClickException(str(exc)) from exc
    write_scored(out_file, series, scores.tolist())
