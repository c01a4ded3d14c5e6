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
block (:func:`settle_debts`), so every span total stays exact. (The estimator first corrects
the debt by what the balance says about the guess's level: ``detectors.energy_balance``.)
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
    filled = values.copy()
    kind = np.zeros(values.shape, dtype=np.int64)
    bridge = np.zeros(values.shape)
    _fill_runs(values, shape, fallback, states, filled, kind, bridge)
    return filled, kind, bridge


def _fill_runs(
    values: FloatArray,
    shape: FloatArray,
    fallback: FloatArray,
    states: IntArray,
    filled: FloatArray,
    kind: IntArray,
    bridge: FloatArray,
) -> None:
    """:func:`fill_gaps` into given arrays (``filled`` already holding ``values``, ``kind``
    and ``bridge`` zeros): only the NaN runs and the rows that close them are touched."""
    t_len = values.shape[0]
    isn = np.isnan(values)
    if not isn.any():
        return
    col, first, past = runs(isn)
    closed = past < t_len
    new_lead = (first == 0) & (states[col] == NEW)
    # unknown: runs still open at the end, and a new meter's leading run (the row that ends
    # it is its own increment and stays observed)
    unknown = ~closed | new_lead
    owner, rows = run_cells(first[unknown], past[unknown] - first[unknown])
    cols = col[unknown][owner]
    filled[rows, cols] = fallback[cols] * (shape / shape.mean())[rows]
    kind[rows, cols] = UNKNOWN
    # split: each other run with the row that closes it shares that row's value
    split = closed & ~new_lead
    start, close, cols_run = first[split], past[split], col[split]
    span = close - start + 1
    owner, rows = run_cells(start, span)
    cols = cols_run[owner]
    cum = np.concatenate([[0.0], np.cumsum(shape)])
    carried = values[close, cols_run]
    filled[rows, cols] = carried[owner] * shape[rows] / (cum[close + 1] - cum[start])[owner]
    kind[rows, cols] = SPLIT
    inner = rows < close[owner]
    j, k = (rows - start[owner] + 1)[inner], span[owner][inner]
    bridge[rows[inner], cols[inner]] = j * (k - j) / k


def runs(mask: npt.NDArray[np.bool_]) -> tuple[IntArray, IntArray, IntArray]:
    """Runs of True in each column of a (T, m) ``mask``: (column, first row, row after the
    run), by column, then row."""
    t_len, m = mask.shape
    padded = np.zeros((m, t_len + 2), dtype=np.int8)
    padded[:, 1:-1] = mask.T
    edges = np.diff(padded, axis=1)
    col, first = np.nonzero(edges == 1)
    past = np.nonzero(edges == -1)[1]  # same order: by column, then row
    return col, first, past


def run_cells(
    start: IntArray, length: IntArray
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """For runs of ``length`` rows from ``start``: each cell's run and row."""
    owner = np.repeat(np.arange(start.size), length)
    offset = np.arange(owner.size) - np.repeat(np.cumsum(length) - length, length)
    return owner, start[owner] + offset


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
    meters = slice(1, None)
    _fill_runs(
        rows[:, meters],
        np.ones(t_len),
        mean[meters],
        states[meters],
        filled[:, meters],
        kind[:, meters],
        bridge[:, meters],
    )
    if np.isnan(rows[:, 0]).any():
        shape = np.maximum(filled[:, 1:].sum(axis=1), 0.0)
        shape = shape + 1e-3 * shape.mean() + 1e-9
        master = slice(0, 1)
        _fill_runs(
            rows[:, master],
            shape,
            mean[master],
            states[master],
            filled[:, master],
            kind[:, master],
            bridge[:, master],
        )
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
