"""Abrupt breaks in one meter's share of an area's energy balance (pure numpy).

A meter's error drifts slowly: a class-2 meter moves by tenths of a percent over months. When
the factor ``θ_i`` relating its increments to the energy the master sees jumps by tens of
percent within a day, the cause is not metrology but the installation: a bypass starting or
ending (theft), wiring reversed, a meter swapped without notice. A recursive estimator with
a long memory follows such a jump only slowly, and until it has, the misfit (one household's
whole consumption, often) is spread over the meters whose profiles look alike: on simulated
fleets, one reversed meter pulled three healthy neighbours to −11 % … −26 % and into
replacement orders.

:func:`find_break` tests one block of a-priori residuals for a step in a single ``θ_i`` at some
row ``τ`` of the block. The residuals against the current estimate are first winsorised at
``select_clip`` (10) times the larger of their predicted and their robust (MAD) block scale, so
one wild reading cannot pose as a step; only that loosely, because a step of a spiky household
profile winsorised tightly looks more like a smoother neighbour's profile. Then, for every
meter and every ``τ``, weighted least squares of the residuals on the meter's *read* increments
from ``τ`` on gives the step ``δ`` with variance ``1/a``; the pair that explains most of the
residual (largest ``b²/a``) is the candidate. Scanning ``τ`` matters: household profiles are
all positive and much alike, so over a whole block a neighbour's profile can explain a step
that began at 05:45 better than the stepping meter's own (whose morning rows do not fit). Its
step is then refitted once with the residuals winsorised around it (the first pass, centred on
no step, shrinks a large one). It is a break when ``|δ| ≥ min_change`` and ``|δ| ≥ z·√(f/a +
var θ)``: large, and large against what is known of ``θ``. ``f ≥ 1`` is how much larger than
predicted the residuals are once the step is taken out (median of their squared ratio, over
that of χ²₁): when the whole block fits badly for another reason (a meter's clock skewed,
readings misaligned), the candidate's step is no more certain than that misfit allows. At most
one break per block; a second one shows in the next.

A step of the master's own error is no meter's break. Given the model of the master's readings
(``common``), that step competes as one more column: it scales the readings from ``τ`` on, so
the residuals step in proportion to the model. One such column against ``n`` meters' is
favoured by the prior odds, ``2·ln n`` in ``b²/a``; when it explains the block best, no break
is found. Without it, a household with a flat profile explained a 1.2 % step of the master a
hair better (438.1 against 437.9) as a −109 % step of its own θ, and the break dragged its
neighbours along. On four simulated fleets (seeds 11-14, three with master errors) breaks of
meters without a fault fell from 81 to 55, and each of the 13 breaks of faulty meters stayed.

Given ``master_step_min``, the master's step is a finding of its own (``Break.master``,
``meter`` = n, ``change`` relative: the master reads ``1 + change`` times what it read before):
the estimator then rescales the master's readings rather than letting every θ follow the step
over its long memory, during which the misfit is not spread evenly (the meters whose data
weigh most take most of it). In an area of 100 whose master read 1.2 % low from 06:00 of
day 8 on, the estimates without the rescaling had a mean error of 3.35 % and 61 % coverage
after day 9, against 1.50 % and 92 % with it (1.31 % and 94 % without the step). Its floor
(1 %, :class:`~detectors.energy_balance.EstimatorConfig`) is there because on a simulated
fleet a comm gap's 72 hours of consumption, settled in one reading, posed as a −0.74 % step
at z 9.2; the simulator's true steps are 1-3 %, so how smaller true ones fare is not
measured. A rescaling lasts, so the estimator takes a master's step only when the next block
sees it again from its first row (below, and :mod:`detectors.energy_balance`). Once, in an
area whose largest meter rejoined after days of guessed consumption and two neighbours were
re-opened by false breaks, a −1.7 % step of the master was found at z 13.8 in the block it
rejoined, and not in the next. A meter re-opened by a break and not identifiable yet cannot
break again, so its misfit fell to the master: on a simulated fleet with bypasses and no
master fault (seed 15), five master steps of 1.0-1.6 % were taken. The master's step is
therefore fitted jointly with such meters' steps (``unsure``); then one (−1.3 %) was taken
there and none on seed 12's. The price: on seed 12's fleet with every fault kind, a true
−2.26 % step, in an area with three meters re-opened by false breaks, was no longer found.

**A step late in a block** has few rows to tell who stepped: household profiles and the
area's total are all positive and alike over a few evening hours. A master step of −2.9 %
starting 11 rows before a block's end was explained a little better (score 333 against 304)
as a −577 % step of one healthy meter's θ (a sign flip, so plausible), and in the next blocks
two more healthy meters flipped before the master's step was seen. So a step found within the
last ``late_rows`` (32: 8 h) of the block that could be the master's (its column wins, or
scores at least ``late_share``, 0.8, of the winner) is left to the next one
(:class:`Deferred`), which sees it from its first row on. The estimator leaves the master
unread from that row (its next reading is taken as its own interval's), so no misfit is
learned meanwhile. A meter's step that clearly wins is taken at once: deferring every late
step also kept the −2.9 % step starting 6 rows before the end (beyond the last row scanned)
from breaking four healthy meters, but on simulated fleets with bypasses (seeds 12-15) it
left fewer bystanders covered than deferring only the master's look-alikes.

Given each meter's current ``θ`` (``theta``), only a step an installation can take is a break
(:func:`plausible_step`): θ up (the meter sees less of what passes through it: a bypass), its
sign flipped (wiring), or back towards 1 (a bypass ending). A healthy meter that suddenly
registers a third more than passes through it has no such cause, yet 18 of the 68 false
breaks (as reported, one per episode) on simulated fleets were that, a −0.3 … −0.9 step from
θ ≈ 1: some other misfit had found a look-alike profile. On the demo's fleet and seeds 11-14
(8 areas x 100 meters x 60 days) the breaks of meters that were not bypassed, reversed or
stuck fell from 68 to 45; all 13 breaks of those that were stayed. The size of a flip is
not checked: requiring a factor of two or less vetoed, in a unit area (40 households, the
largest held out while its skewed clock was placed), a −1.4 step of a neighbour that had been
taking up the misfit of the held-out meter's guessed days, and the other neighbours' median
shift grew from 1.4 to 4.1 standard uncertainties.

**A step of the meter's error** is smaller: a component failing shifts what a meter registers
by a few percent at once (the issue's ``step`` drift). A meter that has never broken and whose
θ is within ``min_change`` of 1 (``steady``) may also take a step of ``|δ|`` within
``error_step`` (by default 2-10 %, :class:`~detectors.energy_balance.EstimatorConfig`), either
way, at the same ``z``. Few meters show such a step within one block: it needs a large
consumer. On the demo's fleet a business meter (a tenth of its area's load) stepped from
+0.2 % to −2.7 %; a constant θ never followed (it ended at +0.1 %), and the misfit raised its
area's white level up to 167-fold for three weeks. Found as a step (δ +0.043, z 10.2, in the
next day's block) it ends at −2.5 ± 0.2 %. Every false step found on five fleets with no
upper limit was larger (θ moved by 0.12-0.27, z 8.4-10.6): another misfit had found a
look-alike profile, as for the false breaks above; hence the 10 % bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
_MAD_TO_SD = 1.4826  # the MAD of a normal sample times this estimates its sd
_CHI2_1_MEDIAN = 0.4549  # median of χ² with one degree of freedom


@dataclass(frozen=True)
class Break:
    meter: int  # column of the meter
    row: int  # first row of the block with the new θ
    change: float  # δ: the step of θ
    z: float  # |δ| over its standard uncertainty (the block's and θ's own)
    error_step: bool  # a step of the meter's own error (|δ| < min_change), not of its installation
    master: bool = False  # a step of the master's error: ``meter`` = n, ``change`` relative


@dataclass(frozen=True)
class Deferred:
    """A step (``found``) too late in the block to tell whose it is."""

    found: Break

    @property
    def row(self) -> int:
        return self.found.row


def find_break(
    increments: FloatArray,
    read: BoolArray,
    residuals: FloatArray,
    row_var: FloatArray,
    theta_var: FloatArray,
    *,
    min_change: float,
    z: float,
    nuisance: FloatArray | None = None,
    common: FloatArray | None = None,
    theta: FloatArray | None = None,
    steady: BoolArray | None = None,
    error_step: tuple[float, float] = (math.inf, math.inf),
    master_step_min: float = math.inf,
    unsure: FloatArray | None = None,
    min_rows: int = 16,
    late_rows: int = 32,
    late_share: float = 0.8,
    stride: int = 4,
    select_clip: float = 10.0,
    clip: float = 3.0,
) -> Break | Deferred | None:
    """The meter whose ``θ`` stepped in this block, or None (:class:`Deferred`: ask again with
    the rows from its ``row`` on left to the next block).

    ``increments`` (T, n) the meters' increments, ``read`` (T, n) which of them were read
    (not guessed or bridged), ``residuals`` (T,) master minus the current model, ``row_var``
    (T,) their predicted variance, ``theta_var`` (n,) the current variance of each ``θ``.
    ``nuisance`` (T, k) are regressors fitted jointly with every step (Frisch–Waugh): the
    level of each long guess in the block (an outage's guessed consumption is off by one
    amount throughout, which a neighbour's flat profile could otherwise pose as a step of).
    ``common`` (T,) is the model of the master's readings, whose step (the master's) is no
    meter's break; it is found (``Break.master``) when at least ``master_step_min``, with the
    same ``z``, fitted jointly with steps of ``unsure`` (T, k): the read increments of meters
    re-opened by a break and not identifiable again yet, which cannot break themselves. A step
    must hold for ``min_rows`` rows (one starting later shows in the next block): a few rows
    that a meter's appliance happens to explain are no break. One found in the last
    ``late_rows`` that could be the master's (its column wins or scores ``late_share`` of the
    winner) is :class:`Deferred`. Steps
    are tried at every ``stride``-th row (an hour of 15-minute rows), which keeps the scan
    cheap.
    """
    if increments.size == 0 or not np.isfinite(residuals).all():
        return None
    meters = increments.shape[1]
    if common is not None:
        increments = np.column_stack([increments, common])
        read = np.column_stack([read, np.ones(len(common), dtype=bool)])
        theta_var = np.append(theta_var, 0.0)
    t_len = increments.shape[0]
    g = np.zeros((t_len, 0)) if nuisance is None else nuisance
    known = np.isfinite(row_var) & (row_var > 0)  # a row without a variance has no weight
    row_var = np.where(known, row_var, 1.0)
    centre = np.median(residuals)
    scale = _MAD_TO_SD * np.median(np.abs(residuals - centre))
    limit = select_clip * np.maximum(np.sqrt(row_var), scale)
    r = np.clip(residuals, -limit, limit)
    x = np.where(read, increments, 0.0)
    w = np.where(known, 1.0 / row_var, 0.0)
    starts = np.arange(0, max(1, t_len - min_rows + 1), stride)
    a, b, usable = _step_sums(x, w, r, g, stride, len(starts))
    g_master = g  # the master's step is fitted with the re-opened meters' steps, too
    if common is not None and unsure is not None and unsure.shape[1]:
        g_master = np.column_stack([g, unsure])
        a[:, meters], b[:, meters], usable[:, meters] = (
            v[:, 0] for v in _step_sums(x[:, meters:], w, r, g_master, stride, len(starts))
        )
    if not usable.any():
        return None
    score = np.where(usable, b * b / np.where(usable, a, 1.0), -1.0)
    if common is not None:  # the prior odds of the master against one of the meters
        score[:, meters] += 2.0 * math.log(max(meters, 1))
    k, j = np.unravel_index(int(np.argmax(score)), score.shape)
    if j == meters and not math.isfinite(master_step_min):
        return None  # the master's step
    row = int(starts[k])
    step = np.where(np.arange(t_len) >= row, x[:, j], 0.0)
    design = np.column_stack([step, g_master if j == meters else g])
    change, info, fitted = _fit(design, w, r)
    # one Huber step around the fitted step: the first winsorising was centred on no step,
    # which shrinks a large one
    rest = residuals - fitted
    limit = clip * np.maximum(np.sqrt(row_var), _MAD_TO_SD * np.median(np.abs(rest)))
    r = fitted + np.clip(rest, -limit, limit)
    change, info, fitted = _fit(design, w, r)
    rest = r - fitted
    # what the step leaves unexplained, against its predicted variance (Type A, never < 1)
    spread = max(1.0, float(np.median(rest**2 / row_var)) / _CHI2_1_MEDIAN)
    z_j = abs(change) / float(np.sqrt(spread / info + theta_var[j]))
    if z_j < z:
        return None
    if j == meters:
        if abs(change) < master_step_min:
            return None
        found = Break(int(j), row, change, z_j, False, True)
    else:
        of_error = abs(change) < min_change  # only a step of a steady meter's error
        if of_error:
            if steady is None or not steady[j] or not error_step[0] <= abs(change) <= error_step[1]:
                return None
        elif theta is not None and not plausible_step(float(theta[j]), change, min_change):
            return None
        found = Break(int(j), row, change, z_j, of_error)
    late = common is not None and row > max(0, t_len - late_rows)
    if late and (j == meters or score[:, meters].max() >= late_share * score[k, j]):
        return Deferred(found)  # it could be the master's: the next block sees it from row 0
    return found


def plausible_step(theta: float, change: float, min_change: float) -> bool:
    """Whether ``θ → θ + change`` is a step an installation can take: the meter sees less of
    what passes through it (a bypass starting: θ up by ``min_change`` or more), its wiring is
    reversed or put right (the sign flips), or it comes back towards 1 from such a fault (a
    bypass ending). A meter near θ = 1 that suddenly registers a third more than passes
    through it has no cause among these; such a candidate is left to the misfit."""
    new = theta + change
    back = abs(new - 1.0) <= abs(theta - 1.0) - min_change
    return change >= min_change or new * theta < 0 or back


def _step_sums(
    x: FloatArray, w: FloatArray, r: FloatArray, g: FloatArray, stride: int, count: int
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """For a step of each column of ``x`` from each of the first ``count`` multiples of
    ``stride`` (over rows τ…T−1, from sums over each stride of rows), with the nuisances ``g``
    partialled out (a − c·G⁻¹·c, b − c·G⁻¹·h): its information ``a`` and ``b`` (the step is
    b/a), and whether anything of it is left once the nuisances are fitted."""
    wx = w[:, None] * x
    a_raw = _tail_sums(_stride_sums(wx * x, stride))[:count]
    a, b = a_raw, _tail_sums(_stride_sums(wx * r[:, None], stride))[:count]
    if g.shape[1]:
        gram_inv = np.linalg.pinv(g.T @ (w[:, None] * g))
        cross = (wx[:, :, None] * g[:, None, :]).reshape(len(x), -1)
        c = _tail_sums(_stride_sums(cross, stride))[:count].reshape(count, x.shape[1], -1)
        cg = c @ gram_inv
        a = a - np.einsum("snk,snk->sn", cg, c)
        b = b - cg @ (g.T @ (w * r))
    return a, b, a > 1e-9 * a_raw


def _fit(design: FloatArray, w: FloatArray, y: FloatArray) -> tuple[float, float, FloatArray]:
    """Weighted least squares of ``y`` on the step (column 0) and the nuisances: the step,
    its information (1 / its variance) and the fitted values."""
    if design.shape[1] == 1:
        info = float(w @ design[:, 0] ** 2)
        change = float((w * y) @ design[:, 0] / info)
        return change, info, change * design[:, 0]
    gram_inv = np.linalg.pinv(design.T @ (w[:, None] * design))
    coef = gram_inv @ (design.T @ (w * y))
    return float(coef[0]), 1.0 / float(gram_inv[0, 0]), design @ coef


def _stride_sums(values: FloatArray, stride: int) -> FloatArray:
    """Sums over rows 0…stride−1, stride…2·stride−1, … (the last part may be shorter)."""
    pad = -len(values) % stride
    if pad:
        values = np.vstack([values, np.zeros((pad, values.shape[1]))])
    return np.asarray(values.reshape(-1, stride, values.shape[1]).sum(axis=1), dtype=np.float64)


def _tail_sums(values: FloatArray) -> FloatArray:
    """Sums over rows τ…T−1 for every τ (axis 0)."""
    return np.cumsum(values[::-1], axis=0)[::-1]
