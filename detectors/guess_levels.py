"""Level nuisances of guessed cells in the energy balance (pure numpy).

See "Guessed levels" in :mod:`detectors.energy_balance`: a meter's guessed (unknown) cells in
one block share an unknown level, ``η_i·g_t``, that is added to the block's parameters and
marginalised out at its end; a settled debt's remaining level error is one more such
nuisance over the rows its closing value is split on.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from detectors.bridging import UNKNOWN, run_cells, runs
from detectors.gls import lower_inverse

FloatArray = npt.NDArray[np.float64]
IntpArray = npt.NDArray[np.intp]


def level_nuisances(
    kind: npt.NDArray[np.int64],
    filled: FloatArray,
    mean: FloatArray,
    var: FloatArray,
    first: IntpArray,
    owed_var: FloatArray,
    theta: FloatArray,
    guess_level_sd: float,
    shape_rows: int = 0,
    max_shapes: int = 96,
    bridge: FloatArray | None = None,
) -> tuple[IntpArray, FloatArray, FloatArray]:
    """The block's level nuisances: (meter or −1, column (T, k), prior sd (k,)).

    Columns 0 of ``kind``, ``filled``, ``mean``, ``var``, ``first`` and ``owed_var`` are the
    master's; ``theta`` (n,) the meters' current θ̂ (kept away from 0). A meter's guessed
    cells share one unknown level, ``η_i·g_t`` (prior sd ``guess_level_sd·θ̂_i``), where that
    level outweighs the cells' own spread: over r > 1 cells, ``r²·(sd·mean)² ≥ r·var`` (one
    cell's error is its own, already in its variance). A settled debt's level correction
    errs by one amount spread evenly over the rows its remainder is split on: a nuisance of
    prior sd ``θ̂_i`` on the column ``√owed_var/rows`` there (meter −1: it corrects no debt).

    With ``shape_rows`` > 0, a guessed meter's level also moves within the block: each
    segment of ``shape_rows`` rows adds its own deviation, ``δ_is·g_t`` on the segment's
    guessed cells, prior sd ``guess_level_sd·θ̂_i`` (meter −1). A household's use over the
    next hours is not its mean: an absence, the evening peak, a heating day. The cells' own
    variance treats those errors as independent, but they run in the same direction for
    hours, and the balance, whose register noise telescopes, weighs such a run as a misfit
    its neighbours' θ must explain (measured in :mod:`detectors.energy_balance`, "Guessed
    levels"). A bridged span of more than ``shape_rows`` rows is such a guess too: its total
    is exact, but it is split evenly over rows the household used unevenly, so it gets the
    same deviations, each centred on the span (``δ_s·(g_s − w_s·g)``, ``g`` the span's cells,
    ``w_s`` segment s's share of them): they move the span's energy between its hours and
    keep its total (``bridge``, the meters' bridge factors of
    :func:`detectors.bridging.fill_area`, finds the spans). Segments are widened so that the
    block has at most ``max_shapes`` of them.
    """
    t_len = len(filled)
    guessed = kind[:, 1:] == UNKNOWN
    count = guessed.sum(axis=0)
    tail = np.flatnonzero((count > 1) & (count * (guess_level_sd * mean[1:]) ** 2 >= var[1:]))
    settled = np.flatnonzero(owed_var[1:] > 0)
    ends = first[1 + settled]
    span = np.arange(t_len)[:, None] <= ends[None, :]
    guesses = np.where(guessed[:, tail], filled[:, 1 + tail], 0.0)
    spans, span_meter = _long_spans(bridge, filled[:, 1:], shape_rows)
    moving = np.hstack([guesses, spans])
    shapes, owner = _shape_deviations(moving, shape_rows, max_shapes)
    # a span's deviations move its energy between its hours and keep its total
    bridged = owner >= tail.size
    whole = moving[:, owner[bridged]]
    part = shapes[:, bridged].sum(axis=0)
    total = whole.sum(axis=0)
    shapes[:, bridged] -= whole * np.divide(part, total, out=np.zeros_like(part), where=total != 0)
    kept = np.abs(shapes).sum(axis=0) > 0  # a span left in one segment has no shape to move
    shapes, owner = shapes[:, kept], owner[kept]
    return (
        np.concatenate([tail, np.full(settled.size + owner.size, -1)]),
        np.hstack([guesses, span * (np.sqrt(owed_var[1 + settled]) / (ends + 1))[None, :], shapes]),
        np.concatenate(
            [
                guess_level_sd * theta[tail],
                theta[settled],
                guess_level_sd * theta[np.concatenate([tail, span_meter])[owner]],
            ]
        ),
    )


def _long_spans(
    bridge: FloatArray | None, filled: FloatArray, longer_than: int
) -> tuple[FloatArray, IntpArray]:
    """Bridged spans of more than ``longer_than`` rows, one column each holding ``filled`` on
    the span's rows (its unread boundaries, bridge factor > 0, and the row whose reading
    closes it), and each span's column in ``bridge``."""
    if bridge is None:
        return np.zeros((len(filled), 0)), np.zeros(0, dtype=np.intp)
    col, first, past = runs(bridge > 0)
    long = past - first >= longer_than  # k − 1 unread boundaries: a span of k rows
    col, first, length = col[long], first[long], (past - first)[long] + 1
    owner, rows = run_cells(first, length)
    out = np.zeros((len(filled), col.size))
    out[rows, owner] = filled[rows, col[owner]]
    return out, col.astype(np.intp)


def _shape_deviations(guesses: FloatArray, rows: int, most: int) -> tuple[FloatArray, IntpArray]:
    """The guessed columns cut into segments of ``rows`` rows (widened to at most ``most``
    segments in all; none if that leaves one per column), segments without a guess dropped;
    and each one's column in ``guesses``."""
    t_len, m = guesses.shape
    rows = max(rows, -(-t_len * m // most)) if rows > 0 else t_len
    if m == 0 or rows >= t_len:  # off, or one segment: the level itself
        return np.zeros((t_len, 0)), np.zeros(0, dtype=np.intp)
    segment = np.arange(t_len) // rows
    cut = np.where(
        segment[:, None, None] == np.arange(segment[-1] + 1)[None, :, None],
        guesses[:, None, :],
        0.0,
    )
    cut = cut.reshape(t_len, -1)  # segment-major: (segment, meter)
    some = np.flatnonzero(np.abs(cut).sum(axis=0) > 0)
    return cut[:, some], (some % m).astype(np.intp)


def marginalise_levels(
    info: FloatArray,
    sd: FloatArray,
    wanted: IntpArray,
    prior_mean: FloatArray,
    prior_prec: FloatArray,
    birge: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Marginalise k level nuisances out of ``info`` (the p parameters, then the k nuisances,
    then the data column); returns (reduced info, η̂ and its variance for the nuisances
    ``wanted``).

    The nuisances' prior is ``N(0, sd²)``. ``η̂ ± s`` come from the joint posterior of the p
    parameters (prior ``prior_mean``, ``prior_prec``) and the nuisances, scaled by ``birge``.
    """
    k = sd.size
    p = len(info) - 1 - k
    nu, keep = slice(p, p + k), np.r_[0:p, p + k]
    prec = info[nu, nu] + np.diag(sd**-2.0)
    cross = info[np.ix_(keep, np.arange(p, p + k))]
    eta, eta_var = np.zeros(0), np.zeros(0)
    if wanted.size:  # the levels' joint posterior with the parameters
        joint = info[: p + k, : p + k].copy()
        joint.flat[:: p + k + 1] += np.concatenate([prior_prec, sd**-2.0])
        rhs = info[: p + k, -1] + np.concatenate([prior_prec * prior_mean, np.zeros(k)])
        chol_inv = lower_inverse(np.asarray(np.linalg.cholesky(joint), dtype=np.float64))
        eta = (chol_inv.T @ (chol_inv @ rhs))[p + wanted]
        eta_var = birge * (chol_inv[:, p + wanted] ** 2).sum(axis=0)
    reduced = info[np.ix_(keep, keep)] - cross @ np.linalg.solve(prec, cross.T)
    return reduced, eta, eta_var
