"""Bridging missing readings of cumulative registers (pure numpy).

Convention for increments (what ``AreaErrorEstimator.update`` receives): NaN at row t means
the register was **not read at the end of row t**; the next value in that column is the
increment since the last read, so it carries the energy of the whole bridged span.

:func:`fill_gaps` turns such a block into one value per cell:

- an **observed** cell keeps its value;
- a **split** cell lies in a bridged span whose total is known: the total is shared out over
  the span in proportion to ``shape``, so the span total is kept exactly and only its
  distribution over the rows is guessed. The guess is exact at both ends of the span, so its
  error lives on the k − 1 unread boundaries: a Brownian bridge with variance ∝ j(k − j)/k at
  interior boundary j, which :func:`fill_gaps` returns per cell (0 where the boundary was read);
- an **unknown** cell has no total yet (a span still open at the end of the block, or a new
  meter before its first reading) and gets ``fallback · shape/mean(shape)``; the error of
  such guesses accumulates like a random walk, each off by about the meter's own spread.

A span still open at the end of a block is guessed as unknown cells; the caller keeps the
guessed energy as a debt and subtracts it from the value that closes the span in a later
block (:func:`settle_debts`), so every span total stays exact.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

OBSERVED, SPLIT, UNKNOWN = 0, 1, 2
ANCHORED, NEW = 0, 1  # column states at the start of a block: read just before, or never


def fill_gaps(
    values: FloatArray, shape: FloatArray, fallback: FloatArray, states: IntArray
) -> tuple[FloatArray, IntArray, FloatArray]:
    """Fill a (T, m) block of increments; returns (filled, kind, bridge factor) per cell.

    ``states`` (m,) says what a leading NaN run means: an ``ANCHORED`` column was read just
    before the block, so its first value carries the run; a ``NEW`` column had no reading
    yet, so the run is unknown and the first value is its own row's increment. The bridge
    factor of cell (t, i) is j(k − j)/k when the boundary at the end of row t lies inside a
    split span of k rows (j = rows of the span up to t), else 0.
    """
    t_len, m = values.shape
    isn = np.isnan(values)
    rows = np.arange(t_len)[:, None]
    nxt = np.minimum.accumulate(np.where(isn, t_len, rows)[::-1], axis=0)[::-1]
    prv = np.maximum.accumulate(np.where(isn, -1, rows), axis=0)
    prv_strict = np.vstack([np.full((1, m), -1), prv[:-1]])
    close = np.minimum(nxt, t_len - 1)
    start = np.take_along_axis(prv_strict, close, axis=0) + 1
    span = close - start + 1
    cum = np.concatenate([[0.0], np.cumsum(shape)])
    carried = values[close, np.arange(m)[None, :]]
    filled = np.where(span > 1, carried * shape[:, None] / (cum[close + 1] - cum[start]), carried)
    kind = np.where(span > 1, SPLIT, OBSERVED)
    new_first = (start == 0) & (states == NEW)[None, :]
    own_row = new_first & (rows == close)
    filled = np.where(own_row, carried, filled)
    kind = np.where(own_row, OBSERVED, kind)
    unknown = (nxt == t_len) | (new_first & ~own_row)
    filled = np.where(unknown, fallback[None, :] * (shape / shape.mean())[:, None], filled)
    kind = np.where(unknown, UNKNOWN, kind)
    j = rows - start + 1
    bridge = np.where((kind == SPLIT) & (rows < close), j * (span - j) / span, 0.0)
    return filled, kind.astype(np.int64), bridge.astype(np.float64)


def fill_area(
    rows: FloatArray, mean: FloatArray, states: IntArray
) -> tuple[FloatArray, IntArray, FloatArray]:
    """:func:`fill_gaps` for an area block: column 0 the master, then the consumer meters.

    A consumer meter's span is split evenly: a shape taken from the other meters' current
    readings would make every imputation error co-move with those regressors and bias their
    θ. The master's span is split along the filled meters' total, its conditional mean given
    them.
    """
    t_len = rows.shape[0]
    filled = rows.copy()
    kind = np.zeros(rows.shape, dtype=np.int64)
    bridge = np.zeros(rows.shape)
    gappy = np.asarray(np.isnan(rows).any(axis=0), dtype=bool)
    meters = gappy.copy()
    meters[0] = False
    if meters.any():
        filled[:, meters], kind[:, meters], bridge[:, meters] = fill_gaps(
            rows[:, meters], np.ones(t_len), mean[meters], states[meters]
        )
    if gappy[0]:
        shape = np.maximum(filled[:, 1:].sum(axis=1), 0.0)
        shape = shape + 1e-3 * shape.mean() + 1e-9
        f, k, b = fill_gaps(rows[:, :1], shape, mean[:1], states[:1])
        filled[:, 0], kind[:, 0], bridge[:, 0] = f[:, 0], k[:, 0], b[:, 0]
    return filled, kind, bridge


def settle_debts(
    rows: FloatArray, debt: FloatArray, owing: npt.NDArray[np.bool_]
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Subtract each owing column's debt from its first value in ``rows``; returns the new rows
    and which columns were settled (the others still owe their debt)."""
    seen = ~np.isnan(rows)
    settled = seen.any(axis=0) & owing
    out = rows.copy()
    cols = np.flatnonzero(settled)
    out[seen[:, cols].argmax(axis=0), cols] -= debt[cols]
    return out, settled


def open_debts(values: FloatArray, filled: FloatArray) -> tuple[FloatArray, IntArray]:
    """Energy guessed for each column's span still open at the end of the block, and its length."""
    seen = ~np.isnan(values[::-1])
    run = np.where(seen.any(axis=0), seen.argmax(axis=0), values.shape[0])
    tail = np.arange(values.shape[0])[:, None] >= values.shape[0] - run[None, :]
    return np.where(tail, filled, 0.0).sum(axis=0), run.astype(np.int64)


def typical_increments(
    stats: FloatArray, rows: FloatArray, single: npt.NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray]:
    """Each column's mean and variance of one-interval increments, from forgotten sums
    ``stats`` = (count, sum, sum of squares) per column; a column without history takes its
    ``single`` (one-interval) values in ``rows``, else the meters' median mean, and a variance
    as large as its mean squared. Column 0 is the master."""
    count = np.maximum(stats[0], 1e-12)
    mean = stats[1] / count
    var = np.maximum(stats[2] / count - mean**2, 0.0)
    unseen = stats[0] == 0
    if unseen.any():
        seen_rows = single[:, unseen].sum(axis=0)
        block = np.where(single[:, unseen], rows[:, unseen], 0.0).sum(axis=0)
        mean[unseen] = np.where(seen_rows > 0, block / np.maximum(seen_rows, 1), np.nan)
        known = ~np.isnan(mean[1:])
        typical = float(np.median(mean[1:][known])) if known.any() else 0.0
        mean[1:] = np.where(known, mean[1:], typical)
        mean[0] = 0.0 if np.isnan(mean[0]) else mean[0]
        var[unseen] = mean[unseen] ** 2  # no history: as uncertain as the level itself
    return mean, var
