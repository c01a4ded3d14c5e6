"""Benchmark of the energy-balance error estimator against issue 3's targets.

    python bench/bench_estimator.py [--quick] [--components]

Setup: simulated areas (``simulators.synthetic``) of 200 class-2 meters, 15-minute data,
30 days, in-service MPE 2 % (IEC 62053-21 class 2, reference conditions), ~3 % of meters
out of tolerance (a third drifting across the MPE during the run), 2 % vacant homes (tiny
consumption) and 2 pairs of collinear meters per area, 0.5 % of readings missing at random,
master static error uniform in ±0.2 %. The estimator is fed one day (96 intervals) at a time
and decides every day with ``conformity.decide`` (default k); the oracle
(``detectors.oracle``) decides with the same rule on the same data up to each day.

``--components`` adds a study of where the estimator loses information against the oracle:
the same areas through the estimator with one part of it switched off or replaced by the
truth at a time (a few minutes more).

Everything runs on one core (BLAS threads pinned to 1 before numpy loads). Figures are
printed and written to bench/RESULTS.md under "## Detectors: energy-balance estimator".
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import contextlib  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from dataclasses import dataclass, field, replace  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors import evaluate, noise_level  # noqa: E402
from detectors.conformity import DEFAULT_K, Decision, decide  # noqa: E402
from detectors.energy_balance import AreaErrorEstimator, EstimatorConfig  # noqa: E402
from detectors.oracle import (  # noqa: E402
    DayEffect,
    OracleResult,
    loss_law_columns,
    oracle_estimates,
)
from simulators.synthetic import AreaSpec, SyntheticArea, generate_area  # noqa: E402

MPE = 2.0
DAYS = 30
PER_DAY = 96
OUT = Decision.OUT_OF_TOLERANCE.value
REPORT_DAYS = (1, 2, 3, 5, 7, 10, 14, 21, 30)
MAIN = AreaSpec(n_meters=200, days=DAYS, mpe_pct=MPE, tiny_fraction=0.02, twin_pairs=2)
SECTION = "## Detectors: energy-balance estimator"
NOTES = (
    "Notes:",
    "- Noise model of the simulated areas (`simulators/synthetic.py`): consumer registers "
    "quantised to 0.01 kWh and read with 3 s clock jitter, master with 1 Wh and 0.5 s; master "
    "static error U(±0.2 %); readings missing at random (the next reading carries the span); "
    "load loss I²R with resistance following a daily and a day-to-day temperature cycle; "
    "white unmetered use (40 W sd); households with daily archetypes, weekends, absences and "
    "appliance events.",
    "- Oracle (`detectors/oracle.py`): batch GLS over all data up to day d with the true "
    "loss model subtracted (fixed and I²R loss with the true coefficients on the true load, "
    "at the climatological conductor temperature: its daily cycle), the true noise "
    "covariance, no forgetting, and the estimator's own gap bridging, weak prior on θ and "
    "identifiability rule, so both can go through `decide` alike. The day-to-day weather is "
    "the loss the issue says the model does not capture: the oracle knows its law (one "
    "effect per day on the true ∂loss/∂T, prior sd 3 K), not what it was. Until 2026-11-27 "
    "it subtracted the realised weather too; that stricter reference is still reported "
    "(line above), and it is over-confident by day 30 (coverage 0.93) where this one is "
    "calibrated (0.95). On the ~1 % of meters whose error drifts both are over-confident: a "
    "constant-θ fit cannot follow them and its own residuals do not show it (Birge ratio "
    "below 1); the issue's oracle is a constant-θ fit, so it is left so.",
    "- Balance breaks (`detectors/breaks.py`): a step of an identifiable meter's θ by >= 30 % "
    "within a day re-opens that meter. None is found in these 100 areas (they have no bypass "
    "or miswiring), so every line of the main setup was as before the breaks; two component "
    "variants of that time (per-day effect sd 0.001, split_cv 0.7) moved by one or two false "
    "replacements or 0.001 of MAE ratio. Since a step of the master's own error competes with "
    "the meters' (62b60f5, 2026-11-27 17:27 run) the main setup is again unchanged; five "
    "component variants with narrower u moved by one or two false replacements (true white "
    "level 3 -> 4, floor 5e-4 2 -> 3, the same with the day's effect left out 3 -> 4, true "
    "white with infinite memory 8 -> 7, no per-day effect without weather 3 -> 5) and by up "
    "to 0.004 of MAE ratio. Only steps an installation can take are breaks since 2026-11-27 "
    "19:00 (`plausible_step`); that can only remove breaks, the main setup finds none, so its "
    "lines stand; the component variants were not rerun for it. Since 2026-11-27 22:00 a step "
    "of 2-10 % of the θ of a meter never re-opened counts too (a step of its error, "
    "`error_step_min` / `error_step_max`); the main setup finds no break of either kind (line "
    "above), and every line of the component study came out as before. Since 2026-11-28 a "
    "step of the master's own error of 1 % or more, confirmed by the next block, is taken (its"
    " readings rescaled), and a late step that could be the master's waits for the next block;"
    " the main setup takes no master step (line above) and every line of it came out as "
    "before, the speed aside (08:27 run); component variants with a narrower u moved by one "
    "healthy meter ordered out and up to 0.004 of MAE ratio (true white level 4 -> 3, floor "
    "5e-4 3 -> 2, the day's effect out with floor 5e-4 4 -> 3, 4e-4 7 -> 6, 3e-4 10 -> 9, "
    "true white with infinite memory 7 -> 8), detection unchanged.",
    "- Estimator defaults: 90-day memory, prior sd 10 % on θ, k = 3.72 (specific risk "
    "1e-4 per decision, see `detectors/conformity.py`). The white-noise level is learned "
    "online (`detectors/noise_level.py`, since 2026-11-28): the posterior median, on a "
    "grid, of the marginal likelihood of each block's a-priori residuals summed per hour "
    "(register noise telescopes in a sum, white noise adds up), whose covariance holds "
    "the θ's uncertainty, the registers, the guesses and the day's loss effect by its "
    "prior, over the last 30 days, with a log-normal prior (sd a factor of 4) around 7e-4"
    " of the reference load per interval; the information gathered so far is scaled down "
    "when the level rises, and a one-step-ahead check on 2-hour runs (the day's loss "
    "effect taken out) widens the covariance when residuals exceed their predicted "
    "variance.",
    "- Hours with a guess left out of the white level's likelihood, and long bridged spans "
    "split by the hour (2026-11-28, this run; `detectors/noise_level.py`, "
    "`detectors/guess_levels.py`). In area 77 one household's use jumped to 5 kW just as its "
    "reading was missed at a block's end: that one guessed cell took the level to 45x its "
    "prior's median on day 3, it stayed above the median until day 9, and the blocks of "
    "those days, weighted for it, taught the θ little (an out-of-tolerance meter's u at day "
    "14 was 2.4x the oracle's, and it was not decided). A guess's error is heavy-tailed and, "
    "at its modelled size, drowns the white noise, so the hours holding one are now left out"
    " of the likelihood. Against the previous run (12:10, the same script and seeds): "
    "detection 1.000 / 0.938 / 0.954 -> 1.000 / 0.969 / 0.964 at days 7 / 14 / 30, the "
    "target met on every day; lowest coverage 0.944 either way, MAE ratio 1.067 -> 1.066, "
    "2 healthy meters ordered out either way, speed 5.22 -> 5.28 M/s; with 10 % missing, "
    "MAE 1.829 -> 1.836 % and coverage 0.956 -> 0.958. A bridged span of more than an hour "
    "now gets a level deviation per hour, as a long guess does, centred on the span so that "
    "its total stays exact (uncentred, with 10 % missing: MAE 1.917 %, recall 0.05, the "
    "13:36 run); the gaps here are mostly single readings, so few spans are that long (it is"
    " for the fleets' long gaps: the fleet bench's section).",
    "- The white level from its likelihood (2026-11-28, the 12:10 run). Before, the level was "
    "read from each 2-hour run's own residual (a median of R²/(k·σ² + o) over 14 days, "
    "floored at 7e-4 of the load), and the notes below dated earlier describe that level."
    " On 200-meter areas the θ's uncertainty filled those runs' variance, so the level "
    "sat on its floor (about 2x the simulated 100 Wh²) or rose with whatever a day's runs"
    " shared; the full covariance of a block's hourly sums puts the θ's uncertainty along"
    " the meters' profiles and leaves the rest to the white level. Against the previous "
    "run (10:26, the same script and seeds): detection 1.000 / 0.938 / 0.722 -> 1.000 / "
    "0.938 / 0.954 at days 7 / 14 / 30, lowest coverage 0.971 -> 0.944, MAE ratio 1.064 "
    "-> 1.067, healthy meters ordered out 0 -> 2 of 19,394, median u at day 30 1.24 -> "
    "0.96 % (the oracle's 0.90 %), speed 5.82 -> 5.22 M/s (one eigendecomposition of 24 x"
    " 24 and two more products per block). Day 14 was still short of the target then: the "
    "estimator had 30 of the oracle's 32 (note above). The level it picks is a median 0.35x its "
    "prior's median at days 7 and 14 and 0.71x at day 30 (the table above), about 0.7 and"
    " 1.4x the simulated level: the register and imputation variances are generous and "
    "already cover part of the white noise, as the learned-level oracle found (note "
    "below). Held at the simulated level it meets every target of issue #3 here "
    "(component study: 1.000 / 0.969 / 0.969, coverage 0.947, 3 healthy meters out). The "
    "level is lower on fleets too: see the fleet bench's section (its second column now "
    "holds the level at its prior's median).",
    "- (2026-11-27, before the white level came from its likelihood) Detection vs oracle is "
    "below the 0.95 target at day 30 (issue #3, reviewed "
    "2026-11-27; the component study is `--components`). The gap is in u, not in the point "
    "estimates (MAE ratio 1.06; median u 1.24 % against the oracle's 0.90 % at day 30). "
    "Most of it is the white level. Its online estimate from 2-hour run sums is at the "
    "floor (7e-4·s)², 1.6-2.1x the 100 Wh² of simulated unmetered use in 6 areas checked, "
    "on most days. Where it rises above the floor (in 4 of those 6, to 400-3,150 Wh² by day"
    " 30) it is the weather (found 2026-11-27): the a-priori residuals carry the day's loss"
    " effect, which the estimator fits only as its day goes by. Taking one effect per day "
    "out of the runs first (`white_without_day_effect`, component study) brings it back to "
    "the floor by day 30 in 5 of those 6 (the sixth 532 instead of 3,150 Wh²; excursions of"
    " up to 965 Wh² on single days remain, not traced) and gives 0.94 / 0.84 at days 14 / "
    "30 at the same coverage (0.970, 1 false replacement); with the floor at 5e-4 as well, "
    "0.97 / 0.93 at 0.950 with 4, as near the target as the true white level with infinite "
    "memory and no winsorising (0.943). It is not the default: on the demo's fleet (seed 7,"
    " 8 areas x 100 meters with faults and drifting lots, run offline through `meterwatch "
    "analyze`) it lowered coverage from 90.0 % to 78.8 % and ordered 4 healthy meters out "
    "(0.6 %; MAE 1.663 -> 1.981 %): there the level the weather lent had been covering the "
    "misfit of faulty meters and lagging drifts. Using the true 100 Wh² lifts detection to "
    "0.97 / 0.90 at days 14 / 30, still calibrated (0.953), with 4 false replacements; with"
    " infinite memory and no winsorising as well it reaches 0.97 / 0.93 at coverage 0.943 "
    "and 7 false replacements (0.0004). The per-day loss effect's prior (sd 0.003, about 8x"
    " the simulated weather's 0.03·0.004/K·3 K): sd 0.0005 gives 0.97 / 0.79. It is not the"
    " default: that figure comes from this simulator's loss law, and a real network's "
    "load-loss share and weather vary by a factor of several.",
    "- What knowing the white level is worth, and how much of it is in the data (revised "
    "2026-11-27, late): the batch fit's marginal likelihood (`OracleResult.log_evidence`) over "
    "white levels peaks, per area, at 0.54-1.35x the simulated level after 30 days (line "
    "above, with fitted loss coefficients). Until then this note concluded from that spread "
    "that the ≥ 0.95 target asks for knowledge the data do not contain. Measured, it does not: "
    "the oracle that learns its level by this likelihood, per area and day "
    "(`learned_level_study`, the line after the component study), decides nearly all that the "
    "oracle decides, calibrated, with no healthy meter ordered out. The levels it picks are "
    "below the simulated one (at days 7 and 14 mostly the lowest of its grid, 0.25x): its "
    "register and imputation variances are generous (Birge ratio 0.64-0.72, "
    "`detectors/oracle.py`) and already cover part of the white noise. The estimator given a "
    "fixed level does not get there (component study: the simulated level, 0.5x and 0.33x): "
    "as the level falls its day-30 detection rises (0.902 / 0.933 / 0.948), but its lowest "
    "coverage falls below 0.93 first and its MAE ratio rises (1.067 / 1.098 / 1.129), where "
    "the batch fit's, given 0.5x, moves from 1.000 to 1.026 (a throw-away run). So "
    "the gap is not only the level the estimator learns but what the recursive fit does with "
    "a low one. A first trace (30 areas, level fixed at the simulated one, a throw-away "
    "diagnostic): its MAE is 1.153 / 1.131 / 1.088 / 1.066x the oracle's at days 3 / 7 / 14 / "
    "30, the batch fit's with free loss coefficients 1.048 / 1.013 / 1.034 / 1.015x, and its "
    "estimates sit +0.31 / +0.20 / +0.11 / +0.03 % above the oracle's on average; its median u "
    "is within 9 % of the oracle's up to day 21 and 17 % wider at day 30, about what the 90-day "
    "memory takes away (it keeps 90·(1 − e^(−1/3)) ≈ 25.5 days' worth of 30). What makes its "
    "early errors larger is not traced yet. Lower floors trade the same way (component study); on "
    "the five fleets (seeds 7 and 11-14, offline through `meterwatch analyze`) the floor at "
    "3e-4 orders out 2 healthy meters on seed 11 and 1 on seed 12, and coverage falls from "
    "88.1 / 86.3 / 89.0 / 89.8 / 89.1 % to 86.8 / 81.7 / 82.9 / 88.5 / 76.8 %. Longer runs "
    "for the level (4, 6, 12 or 24 hours instead of 2, floor 3e-4; a throw-away patch of "
    "`_RUNS_PER_DAY`) give 0.68 / 0.64 / 0.60 / 0.54 at day 30: the day's weather weighs "
    "more in a longer sum.",
    "- Loss or noise (added 2026-11-28, the table after the component study): told the "
    "realised loss, the estimator's point estimates match the oracle's (MAE ratio 1.057 at day "
    "3 and 0.982 at day 30, against 1.195 and 1.099 as shipped), and what remains of the "
    "detection gap is u: with its own white level 1.00 / 0.87 / 0.82 (median u at day 30 "
    "0.97 %, 1.24 % as shipped), with the simulated one 1.00 / 0.98 / 0.93 at lowest coverage "
    "0.936. So the shortfall has two parts: learning the loss law's coefficients, and the "
    "white level. A throw-away run (30 areas) told only the climatological loss (the law's "
    "coefficients; the day's weather still learned, with its prior) gave MAE 1.038 / 1.036 / "
    "1.009 / 1.002x the oracle's at days 3 / 7 / 14 / 30, as shipped 1.140 / 1.113 / 1.077 / "
    "1.063: the cost is in the coefficients, not the weather. The batch fit that learns the "
    "same coefficients on the true load pays 1.019 at day 30 (line above). About half of the "
    "estimator's excess is the register noise in its load-loss regressor: built from the true "
    "load instead of the registered one (and that regressor's noise moments not removed), its "
    "MAE was 1.084 / 1.058 / 1.039 / 1.033x the oracle's in the same throw-away setting. How "
    "it learns the coefficients from the registered load is where to look next.",
    "- Why day 30 falls behind day 14 (added 2026-11-28, the white-level table after the "
    "learned-level line): the estimator's white level sits on its floor in all but one of "
    "the 100 areas up to day 14 and leaves it from about day 20 (37 of them at day 21), in "
    "53 of the 100 areas by day 30 (median 1.59x the floor; on the 30 areas of the side "
    "runs 70 %, median 4.37x), and every meter of such an area pays for it in u. A run's "
    "a-priori residual then carries a misfit of one sign, which the median of squared run "
    "residuals (`detectors/noise_level.py`) takes for variance. Traced in one area (seed 2,"
    " a throw-away diagnostic with the truth): of its two drifting meters one uses 3.5x the"
    " median consumption, and from day 15 its lagging estimate leaves -21 to -64 Wh in "
    "every 2-hour run, against the floor's 38 Wh per run; the level went from 1.0x the "
    "floor at day 20 to 2.0x at day 21 and 15.8x at day 30 (9.2x with a 20-day memory). In "
    "the table's side runs the median is on the floor at day 30 without drifting meters or "
    "without day-to-day weather, but 37 % and 43 % of the areas still leave it. Taking the "
    "drift away does not close the gap by itself (30 areas, throw-away runs against their "
    "own oracle): without drifting meters detection is 0.94 / 0.75 at days 14 / 30 with the"
    " floor as shipped, and 0.94 / 0.86 at lowest coverage 0.942 with the floor at 3.5e-4 "
    "(its variance a quarter of the default floor's, about half the simulated level). What "
    "is left is the floor and the loss coefficients (notes above). Letting a drifting "
    "meter's own θ follow it does not rescue detection either: given a random walk of sd "
    "0.3 % or 1 % per day on the truly drifting meters' θ (the truth choosing them; a "
    "throw-away patch of the information matrix), detection at day 30 is 0.70 / 0.67 (0.68 "
    "without, same 30 areas), median u 1.29 / 1.25 % (1.30 %), and the level still leaves "
    "its floor in 53 % of the areas (median 1.81x at day 30).",
    "- The master as the load-loss regressor (throw-away runs, 2026-11-28): the master's "
    "increments are the energy that actually loads the lines and carry 1 Wh of register "
    "noise, not 200 meters' 10 Wh, so the loss columns need no errors-in-variables "
    "correction. Over 30 areas it brings the MAE ratio to 1.066 / 1.047 / 1.016 / 1.039 at "
    "days 3 / 7 / 14 / 30 (as shipped 1.140 / 1.113 / 1.077 / 1.063), and in the three "
    "areas traced day by day its white level left the floor in one (all three as shipped); "
    "detection 0.92 / 0.73 at days 14 / 30 (as shipped on these areas 1.00 / 0.68). But "
    "every estimate moves by a common -0.25 % against the oracle's by day 30 (-0.24 % "
    "against the truth) and stays there (-0.27 / -0.28 % at days 45 / 60, on 10 areas of 60"
    " days; as shipped -0.00 / -0.00), because the master carries the loss itself: M² = S² "
    "+ 2·S·L + L², and the cross term is partly linear in S, the direction a common scaling"
    " of every θ takes. Subtracting the estimated fixed loss from the master first leaves "
    "it (-0.29 % against the oracle's at day 30); subtracting the whole estimated loss "
    "overshoots (+0.30 %). A bad master reading would also enter the regressor squared. Not"
    " kept. Nor does a better regressor buy detection by itself: with the white level fixed"
    " at the simulated one, detection at day 30 is 0.89 as shipped, 0.84 with the true load"
    " as the regressor and 0.84 with the master (30 areas), at median u 1.06 / 1.02 / 1.00 "
    "%; their estimates sit +0.12 and -0.30 % from the oracle's on average at day 30, as "
    "shipped +0.03 %.",
    "- Memory or level (throw-away runs on the same 30 areas, 2026-11-28): at the simulated"
    " white level, day-30 detection is 0.89 / 0.92 / 0.94 with a memory of 90 / 365 days / "
    "none (median u 1.06 / 1.01 / 0.99 %, lowest coverage 0.950 / 0.940 / 0.936); the batch"
    " fit with free loss coefficients reaches 0.95 on these areas. On its own level the "
    "estimator gets 0.68 with 90 days and 0.71 with 365 (median u 1.30 / 1.24 %). With the "
    "level taken without the day's loss effect and floored at 5e-4 it gets 0.92 with either"
    " memory, at lowest coverage 0.947 / 0.938, no healthy meter ordered out. So the memory"
    " is worth a few hundredths once the level is right, and the level is worth the rest.",
    "- What lifts the level, and what lowering it costs on the fleets (throw-away runs, "
    "2026-11-28 02:45-03:35 UTC; none kept). Of the 63 meters the oracle decides out at day"
    " 30 on the same 30 areas, the estimator decides 40 out that day; 59 of the 63 have a "
    "constant error, and the 20 of those it misses sit in areas whose white level is at a "
    "median 8.1x its floor (their u 1.56x the oracle's). The six areas traced with two "
    "drifting meters each (seeds 12, 23, 2, 8, 15, 24) end at 62 / 39 / 17 / 10 / 12 / 12x "
    "the floor; regenerated without drifting meters, at 1.0x (seed 15: 2.7x). With the "
    "day's loss effect taken out of the runs (`white_without_day_effect`) seeds 12, 23, 11,"
    " 27 and 2 end at 1.0 / 1.0 / 1.0 / 1.8 / 2.9x, drifting meters included. The level is "
    "a small difference: on days 15-30 the runs' variance without the white part is 13-17x "
    "the floor (seed 11 without drift), mostly the parameters' uncertainty, so whatever a "
    "day's runs share (the weather, a lagging meter's misfit, that day's common parameter "
    "error) reads as white noise. The runs also lean one way: their mean standardised "
    "a-priori value over days 10-30 is -0.25 (30 areas without drift, sd per day 0.58); "
    "+0.10 without the loss columns' errors-in-variables correction and +0.03 on the true "
    "load. Day-30 detection / lowest coverage, no healthy meter ordered out in any: without"
    " the day's effect 0.83 / 0.967; with that effect a random effect of prior sd 0.003 "
    "(the estimator's own) the same, of sd 0.0004 (about the simulated weather) 0.81; with "
    "a random walk on every θ of 0.05 / 0.1 % per day as well (below) 0.79 / 0.76; the "
    "level over 30, 45 or 60 days instead of 14, 0.84 / 0.967. On the five fleets (seeds 7 "
    "and 11-14 offline at c27a40d; as shipped coverage 88.1 / 86.3 / 89.0 / 89.8 / 89.1 %, "
    "orders 6 / 2 / 1 / 0 / 2, none healthy) both lose what the lift carried: without the "
    "day's effect coverage is 82.5 / 77.6 / 77.2 / 79.8 / 78.2 % and seed 11 gets 4 orders,"
    " 2 of them healthy; over 45 days it is 84.4 / 78.7 / 87.2 / 81.4 / 88.0 % and seed 14 "
    "gets 14 orders, 12 of them healthy. Most of the loss is on meters with a constant "
    "error (93.6 / 89.7 / 93.6 / 93.9 / 92.0 % as shipped, 88.9 / 81.0 / 80.9 / 85.0 / 80.7"
    " % without the day's effect): on the fleets 7-11 % of the meters drift and faults "
    "disturb the balance, and their misfit spreads to the others; on the bench it does not "
    "(coverage 0.967 either way). A weather-sized random effect in place of the free day "
    "effect (prior sd 0.0004) keeps most of the bench's gain (0.81) but not the fleets' "
    "calibration (coverage 83.4 / 81.7 / 85.0 / 83.2 / 85.6 %, 2 healthy meters ordered out"
    " on seed 11). So a level that is lower on the bench is lower on the fleets too. A "
    "model of the misfit helps the fleets instead, not the bench: a random walk on every θ "
    "(applied to the information with its errors-in-variables share held aside; scaled with"
    " it instead, the walk had left every estimate 0.16-0.24 % above the oracle's) of 0.05 "
    "% per day leaves the bench as it is (0.68), 0.1 % per day costs it (0.92 / 0.67 at "
    "days 14 / 30) and on the fleets moves coverage to 90.5 / 89.3 / 92.4 / 89.4 / 89.5 % "
    "(seed 13 0.4 lower) and lowers MAE on all five (1.263 / 1.347 / 1.130 / 1.151 / 1.630 "
    "%), but orders 3 truly-out meters fewer (6 / 0 / 1 / 0 / 1). Given to the truly "
    "drifting meters only (the truth choosing them, 0.3 % per day) it lifts the fleets' "
    "coverage to 92.3 / 91.2 / 95.3 / 89.8 / 89.7 % (seed 13 unchanged) (drifting meters "
    "79-94 %, against 35-52 % as shipped) and lowers MAE to 1.200 / 1.141 / 1.069 / 1.018 /"
    " 1.611 %, with one healthy meter ordered out on seed 11. The data cannot choose those "
    "meters so early: a per-meter score of the a-priori residuals (day and loss columns "
    "projected out, 7-day memory, |z| > 4) walked meters that do not drift 48 times in seed"
    " 12's 30 days and its drifting meter with 4x the median load never.",
    "- What the level's rise covers (added 2026-11-28 05:20; the fleet bench "
    "`bench/bench_fleet_misfit.py`, its section below). On these areas it covers nothing the "
    "oracle needs: on the 30 areas of the side runs at day 30, in the 20 whose level has left"
    " its floor (above 1.5x) the oracle covers 0.955 of the identifiable meters with a "
    "constant error and the estimator 0.992 (median u 0.89 % against 1.44 %), and the "
    "estimator has 26 of the oracle's 44 decisions; in the other 10, 0.952 and 0.973 (u 0.89"
    " against 1.05 %), 17 of 19. With the day's effect taken out of the level and the floor "
    "at 4e-4 (the component study's row), the 100 areas come within one meter of every "
    "target of issue #3: lowest coverage 0.936, detection 1.000 / 0.969 / 0.948 (184 of the "
    "oracle's 194 at day 30; 185 would be 0.954), 7 of 19,394 healthy meters ordered out, "
    "MAE ratio 1.086 (6 and 1.083 since master steps, 08:27 run). It is not the default, "
    "because on fleets the rise covers the faults. "
    "On the fleet bench's fleet without faults (PV and businesses, or drifting "
    "meters and lots) the estimator without the day's effect keeps 0.961-0.968 of the "
    "bystanders (identifiable, a constant error, no fault of their own) covered; stuck "
    "registers alone take that to 0.870, bypasses to 0.884, master steps to 0.914 (five "
    "healthy meters ordered out), skewed clocks to 0.932, outages to 0.950, and the default "
    "fault mix to 0.889 with two healthy meters ordered out; as shipped 0.955-0.982 (comm "
    "gaps: 0.934 as shipped, 0.942 without). With "
    "the floor at 4e-4 as well, the demo's fleet (seed 7) and seed 11 (offline through "
    "`meterwatch analyze`; 12-14 not run) get 1 and 3 healthy meters ordered out, coverage "
    "76.2 / 74.7 % (as shipped 88.1 / 86.3 %, none). Raising the level only while the stream"
    " reports a fault did not do it either (a throw-away: the level with the day's effect "
    "in and floor 7e-4 for 14 days after a still register, a clock being aligned, a held "
    "meter, a break or a disturbance, the day's effect out and floor 4e-4 otherwise): on the"
    " five fleets coverage 84.1 / 84.7 / 86.4 / 84.3 / 86.2 % and 0 / 3 / 1 / 0 / 1 meters "
    "ordered out while within half their MPE; seed 11's three on one day in an area with a "
    "skewed clock, an outage and reversed wiring, seed 12's a meter with a comm gap of its "
    "own, seed 14's in an area with a master step. So what stands between the estimator and"
    " the issue's targets is, first, the faults' misfit reaching the bystanders: with it kept"
    " from them (a master step taken as a step of every θ, outages and skewed clocks out of "
    "the balance until settled), the settings closest to the targets on clean areas could be"
    " the default. The first is done since 2026-11-28 (fleet bench, 08:01 run): a master step "
    "in every area keeps 0.973 of the bystanders covered without the day's effect and orders "
    "no healthy meter (0.914 and five before), the default faults 0.917 and none (0.889 and "
    "two); but bypasses cover 0.878 (0.884 before) and stuck registers 0.863 (0.870), so the "
    "clean settings are still not the default. Since a long guess's level moves by the hour "
    "(fleet bench, 09:59 run) stuck registers cover 0.968 without the day's effect; the "
    "default faults 0.916, and all of it 0.872 with one healthy meter ordered out.",
    "- The white level is what stands between the estimator and the detection target "
    "(2026-11-28, throw-away runs on the first 30 of these areas): with the day's effect out "
    "and the level fixed at the simulated unmetered variance, detection is 1.000 at day 14 "
    "and 0.952 at day 30, lowest coverage 0.945, MAE ratio 1.067, median u 0.96 %; with the "
    "day's effect out and the level learned, 0.825 at day 30 and u 1.10 %; as shipped 0.683 "
    "and 1.30 %. On 200-meter areas the level cannot be learned within 30 days: the a-priori "
    "runs' variance without the white part is mostly the θ's uncertainty (median 1,284 Wh² "
    "per row at day 30 in the area of seed 3, against a white variance of 100), so the "
    "estimate stays at or near 0 and the floor (7e-4 of the load, 206 Wh² there) is used. On "
    "the fleet's 100-meter areas (clean fleet, seed 12, 4 areas, 60 days, fed directly) the "
    "estimate sits at the floor for 13 days, then overshoots (412 Wh² against 100 at day "
    "30); with the level fixed at the truth from the start those areas end at MAE 0.388 % "
    "against 0.459 % as shipped. Rows whitened for too small a level keep too much weight "
    "for the 90-day memory: the discount when the level rises is far smaller than their "
    "overweight on sums over long spans. A prior level weighed against the estimate by the "
    "runs that inform it (prior 1e-3 of the load) reached 0.391 % on the fleet, but lowered "
    "detection here (0.730 at day 30 on the 30 areas): the simulators' unmetered use is 40 W "
    "in both, about 5e-4 of these areas' load and 1.1e-3 of the fleet's. Not landed.",
    "- The batch fit without the true loss coefficients (`fitted_loss_batch`, line above; "
    "added 2026-11-27) shows that learning the loss is not what the estimator pays for: "
    "with the law's form fitted freely on the true load it is close to the oracle. What it "
    "still knows that the estimator does not: the true white level and weather sd, and no "
    "forgetting.",
    "- Until 2026-11-27 the estimator had a common-mode bias, the same sign in every area: "
    "the per-area median of ε̂ − ε was −1.13 / −0.50 / −0.28 % at days 7 / 14 / 30 (30 "
    "areas, settings matched to the batch fit, which had +0.05 / +0.15 / +0.06 %). It came "
    "from the load-loss regressor (Σ e_i)²/s: the meters' register noise (quantisation, "
    "clock jitter) telescopes in each meter's own column, but in this one it is multiplied "
    "by the varying load, so it does not, and after GLS whitening the loss coefficient was "
    "attenuated; the loss it missed was taken by a common rise of every θ (the fixed loss "
    "came out at 55–90 % of the truth). The batch fit on (Σ e_i)²/s from the registered "
    "increments has the same bias (−0.43 % at day 30, 6 clean areas), on noise-free ones "
    "none (−0.05 %); smoothing the load before squaring makes it worse (−0.31 to −1.52 %). "
    "The estimator now removes those columns' whitened noise moments as it does each "
    "meter's own (`detectors.gls.scaled_noise_moments`): in the same matched run the bias "
    "is +0.12 / +0.13 / +0.02 %, and as shipped the MAE ratio went from 1.194 to 1.064, "
    "the lowest coverage from 0.940 to 0.971 and false replacements from 1 to 0; detection "
    "from 1.00 / 0.84 / 0.74 to 1.00 / 0.94 / 0.72 (the bias had pushed meters with "
    "negative errors over the line, and hid those with positive ones). The correction "
    "costs about 0.3 ms per 200 x 96 block.",
    "- Master meter off by 0.5 %: every ε̂ shifts by about −0.5 % (median ε̂ − ε over 6 "
    "areas −0.51 %, −0.05 % without the master error). The estimator takes the median "
    "ε̂ of identifiable meters as the area's common-mode error; when it exceeds the master's "
    "tolerance (0.2 %) by more than 3 of its standard uncertainties, `master_suspect` is set "
    "(an event for the operator) and errors are reported relative to that median, with its "
    "uncertainty in place of the master's Type B term. Since the common-mode bias above is "
    "gone, a 0.5 % master no longer clears that guard in these areas (0 flagged; 70 % "
    "before, when the bias added to it), so both master lines of the table are the same. "
    "This assumes the area's healthy meters have a median error near 0; a drift shared by "
    "most meters of an area would be masked.",
    "- Missing data: gaps are bridged exactly (span totals kept, spans open at a block's end "
    "carried as a debt), so accuracy degrades gracefully and calibration holds at 10 % "
    "missing; identification gets slower because each unread boundary adds variance.",
)


@dataclass
class Run:
    """Per-day results of the estimator and the oracle over several areas (days, meters)."""

    truth: list[np.ndarray] = field(default_factory=list)
    est: list[np.ndarray] = field(default_factory=list)
    unc: list[np.ndarray] = field(default_factory=list)
    ident: list[np.ndarray] = field(default_factory=list)
    said: list[np.ndarray] = field(default_factory=list)
    o_est: list[np.ndarray] = field(default_factory=list)
    o_unc: list[np.ndarray] = field(default_factory=list)
    o_ident: list[np.ndarray] = field(default_factory=list)
    o_said: list[np.ndarray] = field(default_factory=list)
    r_est: list[np.ndarray] = field(default_factory=list)  # the realised-loss oracle
    r_unc: list[np.ndarray] = field(default_factory=list)
    r_ident: list[np.ndarray] = field(default_factory=list)
    r_said: list[np.ndarray] = field(default_factory=list)
    f_est: list[np.ndarray] = field(default_factory=list)  # batch with fitted loss coefficients
    f_unc: list[np.ndarray] = field(default_factory=list)
    f_ident: list[np.ndarray] = field(default_factory=list)
    f_said: list[np.ndarray] = field(default_factory=list)
    load: list[np.ndarray] = field(default_factory=list)
    special: list[np.ndarray] = field(default_factory=list)  # tiny or collinear meters
    suspect: list[bool] = field(default_factory=list)
    breaks: list[bool] = field(default_factory=list)  # one per break: a step of the error?
    master_steps: int = 0
    # per area: white level / its prior's median (its floor before 2026-11-28)
    white: list[np.ndarray] = field(default_factory=list)
    seconds: float = 0.0

    def cat(self, name: str) -> np.ndarray:
        return np.concatenate(getattr(self, name), axis=-1)


def run_area(area: SyntheticArea, config: EstimatorConfig, out: Run, oracle: bool) -> None:
    est = AreaErrorEstimator(area.meter_ids, config)
    n = len(area.meter_ids)
    shape = (DAYS, n)
    e, u, ident = np.zeros(shape), np.zeros(shape), np.zeros(shape, bool)
    said = np.empty(shape, dtype="<U16")
    white = np.zeros(DAYS)
    t0 = time.perf_counter()
    for d in range(DAYS):
        rows = slice(d * PER_DAY, (d + 1) * PER_DAY)
        est.update(area.master_wh[rows], area.meters_wh[rows])
        e[d], u[d], ident[d] = est.errors_pct, est.uncertainty_pct, est.identifiable
        said[d] = decide(e[d], u[d], MPE, identifiable=ident[d])
        out.breaks += [b.error_step for _, b in est.breaks]
        out.master_steps += len(est.master_steps)
        white[d] = (
            est.white_noise_var_wh2 / (config.white_noise_fraction * est.reference_load_wh) ** 2
        )
    out.seconds += time.perf_counter() - t0
    out.white.append(white)
    out.truth.append(area.true_error_pct[PER_DAY - 1 :: PER_DAY])
    out.est.append(e)
    out.unc.append(u)
    out.ident.append(ident)
    out.said.append(said)
    out.suspect.append(est.master_suspect)
    mean_load = area.true_load_wh.mean(axis=0)
    out.load.append(mean_load)
    special = mean_load < 3.0
    special[: 2 * MAIN.twin_pairs] = True
    out.special.append(special)
    if oracle:
        for prefix, o in (
            ("o", oracle_for(area, realised_weather=False)),
            ("r", oracle_for(area, realised_weather=True)),
            ("f", fitted_loss_batch(area)),
        ):
            getattr(out, f"{prefix}_est").append(o.errors_pct)
            getattr(out, f"{prefix}_unc").append(o.uncertainty_pct)
            getattr(out, f"{prefix}_ident").append(o.identifiable)
            getattr(out, f"{prefix}_said").append(
                decide(o.errors_pct, o.uncertainty_pct, MPE, identifiable=o.identifiable)
            )


def oracle_for(
    area: SyntheticArea, *, realised_weather: bool, white_factor: float = 1.0
) -> OracleResult:
    """The oracle with the true loss model: fixed and I²R loss at the climatological
    temperature subtracted, the day-to-day weather a per-day effect with its true law. With
    ``realised_weather`` it subtracts the weather as it happened, which no estimator can know
    (the stricter reference the bench reported before 2026-11-27). ``white_factor`` scales the
    white level it is given."""
    noise = {
        "intervals_per_day": PER_DAY,
        "white_var_wh2": white_factor * area.white_noise_var_wh2,
        "level_var_wh2": area.level_noise_var_wh2,
    }
    weather = weather_effect(area)
    if realised_weather or weather is None:
        return oracle_estimates(area.master_wh, area.meters_wh, area.loss_model_wh, **noise)
    return oracle_estimates(
        area.master_wh, area.meters_wh, area.loss_climate_wh, day_effect=weather, **noise
    )


def weather_effect(area: SyntheticArea) -> DayEffect | None:
    """The day-to-day weather's law as a per-day effect on the loss (None without weather)."""
    if area.weather_sd_k == 0:
        return None
    return DayEffect(area.weather_basis_wh_per_k, area.weather_sd_k)


def fitted_loss_batch(area: SyntheticArea, white_factor: float = 1.0) -> OracleResult:
    """The oracle without the loss coefficients: the loss law's form (fixed, and I²R on the
    true load with a daily harmonic) fitted freely, the rest as the oracle knows it. What the
    estimator's model could reach with all the data, no forgetting and the true noise, if its
    load-loss regressor were noise-free. ``white_factor`` scales the white level it is given."""
    return oracle_estimates(
        area.master_wh,
        area.meters_wh,
        np.zeros_like(area.master_wh),
        intervals_per_day=PER_DAY,
        white_var_wh2=white_factor * area.white_noise_var_wh2,
        level_var_wh2=area.level_noise_var_wh2,
        day_effect=weather_effect(area),
        free_loss=loss_law_columns(area.weather_basis_wh_per_k, PER_DAY),
    )


WHITE_FACTORS = np.array([0.5, 0.7, 0.85, 1.0, 1.2, 1.4, 2.0])


def white_level_profile(seeds: range, say: Callable[[str], None]) -> None:
    """How well the data pin down the white level: the batch fit's log marginal likelihood
    (``OracleResult.log_evidence``) at day 30 over a grid of white levels, per area; the
    maximum and the curvature of a parabola in log(level) through the best three points."""
    ratios, ses = [], []
    for seed in seeds:
        area = generate_area(np.random.default_rng(seed), MAIN)
        ll = np.array([fitted_loss_batch(area, f).log_evidence[-1] for f in WHITE_FACTORS])
        i = int(np.clip(np.argmax(ll), 1, len(ll) - 2))
        c2, c1, _ = np.polyfit(np.log(WHITE_FACTORS[i - 1 : i + 2]), ll[i - 1 : i + 2], 2)
        if c2 < 0:
            ratios.append(float(np.exp(-c1 / (2 * c2))))
            ses.append(float(1 / np.sqrt(-2 * c2)))
    log_r = np.log(ratios)
    say(
        f"White level from the data alone ({len(ratios)} areas; the batch fit with fitted loss "
        "coefficients, its marginal likelihood at day 30 over white levels 0.5-2x the "
        f"simulated one): maximum-likelihood / true median {np.median(ratios):.2f} (range "
        f"{min(ratios):.2f}-{max(ratios):.2f}, sd of log {log_r.std():.2f}); the likelihood's "
        f"own standard error of log(level) median {np.median(ses):.2f}. The oracle is given "
        "the true level; an estimator has to learn it, and the data pin it to about this."
    )


WHITE_PATH_DAYS = (7, 14, 21, 25, 30)


def white_level_path(
    main: Run, seeds: range, config: EstimatorConfig, say: Callable[[str], None]
) -> None:
    """The estimator's white level over the days, as a multiple of its prior's median (its
    floor before 2026-11-28): in the main run (whose area i has seed i), on its areas
    ``seeds`` alone, and on the same seeds without drifting meters or without day-to-day
    weather, to see what moves it."""
    setups = {
        "main setup": main,
        "main setup, the side runs' areas": replace(main, white=[main.white[s] for s in seeds]),
        "no drifting meters": simulate(replace(MAIN, drifting_share=0.0), seeds, config, False),
        "no day-to-day weather": simulate(
            replace(MAIN, temperature_day_sd_k=0.0), seeds, config, False
        ),
    }
    days = " / ".join(str(d) for d in WHITE_PATH_DAYS)
    say(
        f"| setup | areas | median level / prior median, days {days} | share of areas above 1.05x |"
    )
    say("|---|---|---|---|")
    for label, run in setups.items():
        ratio = np.array(run.white)[:, [d - 1 for d in WHITE_PATH_DAYS]]
        say(
            f"| {label} | {len(ratio)} | "
            + " / ".join(f"{m:.2f}" for m in np.median(ratio, axis=0))
            + " | "
            + " / ".join(f"{m:.2f}" for m in (ratio > 1.05).mean(axis=0))
            + " |"
        )


LEARNED_FACTORS = 2.0 ** np.arange(-2.0, 1.5, 0.5)  # 0.25 … 2, with 1 (the oracle) among them


def learned_level_study(seeds: range, say: Callable[[str], None]) -> None:
    """The oracle with one thing taken away, the white level: per area and day it uses the level
    (of :data:`LEARNED_FACTORS` x the simulated one) that maximises its marginal likelihood on
    the data up to that day. How near it comes to the oracle bounds what learning the level
    from the data costs a fit that knows everything else."""
    truth, o_said, est, unc, ident, picked = [], [], [], [], [], []
    days = np.arange(DAYS)
    for seed in seeds:
        area = generate_area(np.random.default_rng(seed), MAIN)
        fits = [oracle_for(area, realised_weather=False, white_factor=f) for f in LEARNED_FACTORS]
        best = np.argmax([f.log_evidence for f in fits], axis=0)  # per day
        picked.append(LEARNED_FACTORS[best])
        for out, name in ((est, "errors_pct"), (unc, "uncertainty_pct"), (ident, "identifiable")):
            out.append(np.stack([getattr(f, name) for f in fits])[best, days])
        oracle = fits[int(np.flatnonzero(LEARNED_FACTORS == 1.0)[0])]
        o_said.append(
            decide(oracle.errors_pct, oracle.uncertainty_pct, MPE, identifiable=oracle.identifiable)
        )
        truth.append(area.true_error_pct[PER_DAY - 1 :: PER_DAY])
    t, e, u, i = (np.concatenate(x, axis=1) for x in (truth, est, unc, ident))
    said = decide(e, u, MPE, identifiable=i)
    level = np.median(np.stack(picked), axis=0)
    cov = min(evaluate.interval_coverage(t[d], e[d], u[d], mask=i[d]) for d in range(2, DAYS))
    n_false, n_healthy = healthy_ordered(t, said)
    say(
        "The oracle with its white level learned from the data (per area and day, the "
        "maximum of its marginal likelihood over 0.25-2x the simulated level; "
        f"{len(seeds)} areas): detection vs the oracle "
        f"{detection_line(said, np.concatenate(o_said, axis=1))}, lowest coverage from day 3 "
        f"(its identifiable) {cov:.3f}, healthy meters ever ordered out {n_false} of "
        f"{n_healthy}, median u at day 30 {np.median(u[-1][i[-1]]):.2f} %; the level it picks, "
        f"median over areas at day 7 / 14 / 30: {level[6]:.2f} / {level[13]:.2f} / "
        f"{level[-1]:.2f} x the simulated one."
    )


def told_the_loss(area: SyntheticArea) -> SyntheticArea:
    """The area with its realised loss (weather included) taken out of the master; an unread
    master interval's loss goes with the next reading, which carries its span."""
    read = np.flatnonzero(~np.isnan(area.master_wh))
    master = area.master_wh.copy()
    master[read] -= np.diff(np.cumsum(area.loss_model_wh)[read], prepend=0.0)
    return replace(area, master_wh=master)


def known_loss_study(seeds: range, config: EstimatorConfig, say: Callable[[str], None]) -> None:
    """Where the estimator's gap lies, loss or noise: the estimator as shipped and told the
    realised loss (:func:`told_the_loss`, its loss terms pinned at 0), each with its own white
    level and with the simulated one, against the oracle that subtracts the realised loss."""
    knows = replace(config, loss_prior_sd=1e-7, loss_day_sd=1e-7)
    variants = [(told, white, Run()) for told in (False, True) for white in ("", "true")]
    r_est, r_ident, r_said = [], [], []
    for seed in seeds:
        area = generate_area(np.random.default_rng(seed), MAIN)
        for told, white, run in variants:
            with white_level(white, area.white_noise_var_wh2):
                if told:
                    run_area(told_the_loss(area), knows, run, oracle=False)
                else:
                    run_area(area, config, run, oracle=False)
        o = oracle_for(area, realised_weather=True)
        r_est.append(o.errors_pct)
        r_ident.append(o.identifiable)
        r_said.append(decide(o.errors_pct, o.uncertainty_pct, MPE, identifiable=o.identifiable))
    o_est, o_ident, o_said = (np.concatenate(x, axis=1) for x in (r_est, r_ident, r_said))
    say(
        "| estimator | white level | MAE ratio d3 / d7 / d14 / d30 | detection d7 / d14 / d30 "
        "| lowest coverage | false repl. | median u d30 (%) |"
    )
    say("|---|---|---|---|---|---|---|")
    for told, white, run in variants:
        truth, est, unc, said = run.cat("truth"), run.cat("est"), run.cat("unc"), run.cat("said")
        ratios = [mae_ratio(run, o_est, o_ident, d) for d in (3, 7, 14, 30)]
        n_false, n_healthy = healthy_ordered(truth, said)
        say(
            f"| {'told the realised loss' if told else 'as shipped'} | "
            f"{'simulated' if white else 'its own'} | {' / '.join(f'{x:.3f}' for x in ratios)} | "
            f"{detection_line(said, o_said)} | {worst_coverage(truth, est, unc):.3f} | "
            f"{n_false} of {n_healthy} | {np.median(unc[-1]):.2f} |"
        )


def simulate(spec: AreaSpec, seeds: range, config: EstimatorConfig, oracle: bool) -> Run:
    out = Run()
    for seed in seeds:
        run_area(generate_area(np.random.default_rng(seed), spec), config, out, oracle)
    return out


def summary(run: Run) -> dict[str, float]:
    """Day-30 accuracy and decisions of one run."""
    truth, est, unc = run.cat("truth"), run.cat("est"), run.cat("unc")
    said = run.cat("said")
    return {
        "mae": evaluate.mean_absolute_error(truth[-1], est[-1], mask=~run.cat("special")),
        "coverage": evaluate.interval_coverage(truth[-1], est[-1], unc[-1]),
        "recall": evaluate.out_of_tolerance_recall(truth[-1], said[-1], mpe_pct=MPE),
        "false": evaluate.false_replacement_rate(truth, said, mpe_pct=MPE),
    }


def best_cpu_seconds(work: Callable[[], None], repeats: int = 5) -> float:
    """Least CPU time of this process over a few runs: other load on the machine only
    lengthens wall time, and the minimum is the least disturbed run."""
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        work()
        times.append(time.process_time() - t0)
    return min(times)


def estimator_speed(area: SyntheticArea) -> float:
    """Meter-intervals per CPU second: 30 day blocks, reading results and deciding each day."""

    def work() -> None:
        est = AreaErrorEstimator(area.meter_ids)
        for d in range(DAYS):
            rows = slice(d * PER_DAY, (d + 1) * PER_DAY)
            est.update(area.master_wh[rows], area.meters_wh[rows])
            decide(est.errors_pct, est.uncertainty_pct, MPE, identifiable=est.identifiable)

    return area.meters_wh.size / best_cpu_seconds(work)


def river_speed(area: SyntheticArea) -> dict[str, float]:
    """Per-meter increments through River's PageHinkley and ADWIN, one detector per meter."""
    from river.drift import ADWIN, PageHinkley

    series = [col[~np.isnan(col)].tolist() for col in area.meters_wh.T]
    total = sum(len(s) for s in series)
    rates = {}
    for name, make in (("PageHinkley", PageHinkley), ("ADWIN", ADWIN)):

        def work(make: Callable[[], Any] = make) -> None:
            for values in series:
                det = make()
                for v in values:
                    det.update(v)

        rates[name] = total / best_cpu_seconds(work)
    return rates


@contextlib.contextmanager
def white_level(kind: str, true_var: float) -> Iterator[None]:
    """Replace a part of the estimator's white-noise level for an ablation (bench only):
    ``true`` fixes it at the simulated unmetered variance (no estimate, prior or discount),
    ``true:x`` at x times that, ``no_margin`` drops the estimate's sampling-error margin,
    ``no_check`` the one-step-ahead widening."""
    observe, margin = noise_level.NoiseLevel.observe, noise_level.SAMPLING_MARGIN
    check = noise_level.NoiseWindow.overconfidence
    kind, _, scale = kind.partition(":")

    def fixed(self: noise_level.NoiseLevel, *args: Any, **kwargs: Any) -> float:
        observe(self, *args, **kwargs)
        self.white = self.weighted_for = float(scale or 1) * true_var
        return 1.0

    try:
        if kind == "true":
            noise_level.NoiseLevel.observe = fixed  # type: ignore[method-assign]
        elif kind == "no_margin":
            noise_level.SAMPLING_MARGIN = 0.0
        elif kind == "no_check":
            noise_level.NoiseWindow.overconfidence = lambda self: 1.0  # type: ignore[method-assign]
        yield
    finally:
        noise_level.NoiseLevel.observe = observe  # type: ignore[method-assign]
        noise_level.SAMPLING_MARGIN = margin
        noise_level.NoiseWindow.overconfidence = check  # type: ignore[method-assign]


COMPONENTS: tuple[tuple[str, dict[str, float], str], ...] = (
    ("as shipped", {}, ""),
    ("white level = the simulated unmetered variance (no estimate, prior, discount)", {}, "true"),
    ("the same at 0.5x", {}, "true:0.5"),
    ("the same at 0.33x", {}, "true:0.33"),
    ("no sampling-error margin on the one-step-ahead check", {}, "no_margin"),
    ("no one-step-ahead widening", {}, "no_check"),
    ("infinite memory", {"memory_days": 1e9}, ""),
    ("no Huber winsorising", {"huber_c": 1e9}, ""),
    ("per-day loss effect prior sd 0.0005 (default 0.003)", {"loss_day_sd": 5e-4}, ""),
    ("no per-day loss effect", {"loss_day_sd": 1e-7}, ""),
    (
        "white level's prior median 3.5e-4 of the load (default 7e-4)",
        {"white_noise_fraction": 3.5e-4},
        "",
    ),
    ("white level's prior median 1.4e-3", {"white_noise_fraction": 1.4e-3}, ""),
    ("white level over 14 days (default 30)", {"white_window_days": 14.0}, ""),
    ("the check's runs with the day's loss effect in", {"white_without_day_effect": False}, ""),
    ("split_cv 0.7 (default 0.5)", {"split_cv": 0.7}, ""),
    ("true white + infinite memory + no Huber", {"memory_days": 1e9, "huber_c": 1e9}, "true"),
)


def component_study(
    spec: AreaSpec,
    seeds: range,
    config: EstimatorConfig,
    say: Callable[[str], None],
    variants: tuple[tuple[str, dict[str, float], str], ...] = COMPONENTS,
) -> None:
    """Each variant of :data:`COMPONENTS` on the same areas, against the same oracle."""
    runs = {label: Run() for label, _, _ in variants}
    for seed in seeds:
        area = generate_area(np.random.default_rng(seed), spec)
        for i, (label, change, white) in enumerate(variants):
            with white_level(white, area.white_noise_var_wh2):
                run_area(area, replace(config, **change), runs[label], oracle=i == 0)
    base = runs[variants[0][0]]
    o_est, o_ident, o_said = base.cat("o_est"), base.cat("o_ident"), base.cat("o_said")
    say(
        "| variant | lowest coverage | MAE ratio d30 | detection d7 / d14 / d30 | false repl. "
        "| median u d30 (%) |"
    )
    say("|---|---|---|---|---|---|")
    for label, _, _ in variants:
        r = runs[label]
        truth, est, unc, said = r.cat("truth"), r.cat("est"), r.cat("unc"), r.cat("said")
        n_false, n_healthy = healthy_ordered(truth, said)
        say(
            f"| {label} | {worst_coverage(truth, est, unc):.3f} | "
            f"{mae_ratio(r, o_est, o_ident, DAYS):.3f} | "
            f"{detection_line(said, o_said)} | {n_false} of {n_healthy} | "
            f"{np.median(unc[-1]):.2f} |"
        )


def mae_ratio(run: Run, o_est: np.ndarray, o_ident: np.ndarray, day: int) -> float:
    """The run's MAE over the oracle's at ``day`` (1-based), on the meters the oracle can
    identify, tiny and collinear ones left out."""
    truth, est = run.cat("truth")[day - 1], run.cat("est")[day - 1]
    usable = o_ident[day - 1] & ~run.cat("special")
    return evaluate.mean_absolute_error(truth, est, mask=usable) / evaluate.mean_absolute_error(
        truth, o_est[day - 1], mask=usable
    )


def worst_coverage(truth: np.ndarray, est: np.ndarray, unc: np.ndarray) -> float:
    """The lowest coverage of ε̂ ± 1.96·u over the days (rows)."""
    return min(evaluate.interval_coverage(truth[d], est[d], unc[d]) for d in range(len(truth)))


def detection_shares(said: np.ndarray, o_said: np.ndarray, day: int) -> tuple[np.ndarray, float]:
    """Meters the oracle decides out of tolerance on ``day``, and the share of them the
    estimator has decided out of tolerance by then (NaN if none)."""
    o_out = o_said[day - 1] == OUT
    ever = (said[:day] == OUT).any(axis=0)
    return o_out, float(ever[o_out].mean()) if o_out.any() else float("nan")


def detection_line(said: np.ndarray, o_said: np.ndarray) -> str:
    """Detection vs oracle at days 7 / 14 / 30, three digits each (two would show 184 of 194,
    0.948, as 0.95 next to a target of 0.95)."""
    return " / ".join(fmt(detection_shares(said, o_said, d)[1]) for d in (7, 14, 30))


def healthy_ordered(truth: np.ndarray, said: np.ndarray) -> tuple[int, int]:
    """Healthy meters (|ε| ≤ 0.5·MPE on every day) ever decided out of tolerance, and all of
    them."""
    healthy = (np.abs(truth) <= 0.5 * MPE).all(axis=0)
    return int((said == OUT).any(axis=0)[healthy].sum()), int(healthy.sum())


def fmt(x: float, digits: int = 3) -> str:
    return "n/a" if np.isnan(x) else f"{x:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few areas, a smoke run")
    parser.add_argument(
        "--components", action="store_true", help="also the component study (a few minutes)"
    )
    args = parser.parse_args()
    n_main, n_side = (6, 2) if args.quick else (100, 10)
    config = EstimatorConfig()
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    t_start = time.perf_counter()
    speed_area = generate_area(np.random.default_rng(0), MAIN)
    # the machine is shared: speed is measured at the start and again after the main run,
    # and the least disturbed of all the runs counts
    early_rate = estimator_speed(speed_area)
    main_run = simulate(MAIN, range(n_main), config, oracle=True)
    truth, est, unc = main_run.cat("truth"), main_run.cat("est"), main_run.cat("unc")
    ident, said = main_run.cat("ident"), main_run.cat("said")
    o_est, o_ident, o_said = main_run.cat("o_est"), main_run.cat("o_ident"), main_run.cat("o_said")
    o_unc = main_run.cat("o_unc")
    special, load = main_run.cat("special"), main_run.cat("load")
    n_meters = truth.shape[1]
    say(
        f"Setup: {n_main} areas x 200 meters ({n_meters} meters), 15-min data, {DAYS} days, "
        f"class 2, MPE {MPE:.0f} %, k = {DEFAULT_K:.3f}, 0.5 % missing, master error "
        "U(±0.2 %), 2 % tiny-consumption meters and 2 collinear pairs per area."
    )
    say()
    say("Calibration (coverage of ε̂ ± 1.96·u, target ≥ 0.93 at every day):")
    say(
        "| day | all meters | identifiable | median u (%) | identifiable share "
        "| oracle coverage (its identifiable) | oracle median u (%) |"
    )
    say("|---|---|---|---|---|---|---|")
    for d in REPORT_DAYS:
        i = d - 1
        o_cov = evaluate.interval_coverage(truth[i], o_est[i], o_unc[i], mask=o_ident[i])
        o_u = np.median(o_unc[i][o_ident[i]]) if o_ident[i].any() else float("nan")
        say(
            f"| {d} | {fmt(evaluate.interval_coverage(truth[i], est[i], unc[i]))} | "
            f"{fmt(evaluate.interval_coverage(truth[i], est[i], unc[i], mask=ident[i]))} | "
            f"{np.median(unc[i]):.2f} | {ident[i].mean():.3f} | {fmt(o_cov)} | {fmt(o_u, 2)} |"
        )
    say(f"Lowest coverage over all 30 days: {worst_coverage(truth, est, unc):.3f}")
    drifting = np.abs(truth[-1] - truth[0]) > 0.3  # true error moved during the run
    for d in (14, 30):
        i, k = d - 1, o_ident[d - 1]
        o_static, o_moving = (
            evaluate.interval_coverage(truth[i], o_est[i], o_unc[i], mask=k & m)
            for m in (~drifting, drifting)
        )
        e_static, e_moving = (
            evaluate.interval_coverage(truth[i], est[i], unc[i], mask=m)
            for m in (~drifting, drifting)
        )
        say(
            f"Coverage at day {d} on meters with a constant true error / on the "
            f"{int(drifting.sum())} whose error drifts: oracle {fmt(o_static)} / {fmt(o_moving)}, "
            f"estimator {fmt(e_static)} / {fmt(e_moving)}."
        )
    say()
    usable = o_ident[-1] & ~special
    mae_est = evaluate.mean_absolute_error(truth[-1], est[-1], mask=usable)
    mae_orc = evaluate.mean_absolute_error(truth[-1], o_est[-1], mask=usable)
    say(
        f"Efficiency at day 30 (meters the oracle can identify, {usable.sum()}): MAE estimator "
        f"{mae_est:.3f} %, oracle {mae_orc:.3f} %, ratio {mae_est / mae_orc:.3f} (target ≤ 1.25)"
    )
    r_est, r_unc, r_ident, r_said = (
        main_run.cat(f"r_{x}") for x in ("est", "unc", "ident", "said")
    )
    r_usable = r_ident[-1] & ~special
    r_mae = evaluate.mean_absolute_error(truth[-1], r_est[-1], mask=r_usable)
    r_cov = evaluate.interval_coverage(truth[-1], r_est[-1], r_unc[-1], mask=r_ident[-1])
    say(
        "Against the stricter oracle that also subtracts the realised weather (no estimator "
        f"can know it): its MAE {r_mae:.3f} %, ratio "
        f"{evaluate.mean_absolute_error(truth[-1], est[-1], mask=r_usable) / r_mae:.3f}; "
        f"detection {detection_line(said, r_said)} (it flags {int((r_said[-1] == OUT).sum())} "
        f"at day 30); its coverage at day 30 {fmt(r_cov)}"
    )
    f_est, f_unc, f_said = (main_run.cat(f"f_{x}") for x in ("est", "unc", "said"))
    f_mae = evaluate.mean_absolute_error(truth[-1], f_est[-1], mask=usable)
    say(
        "The same batch fit without the true loss coefficients (the loss law's form fitted "
        "freely on the true load, `fitted_loss_batch`): MAE "
        f"{f_mae:.3f} % = {f_mae / mae_orc:.3f} x the oracle's; its detection vs the oracle "
        f"{detection_line(f_said, o_said)}, lowest coverage from day 3 (before, it has fewer "
        f"intervals than unknowns) {worst_coverage(truth[2:], f_est[2:], f_unc[2:]):.3f}, "
        "median u at day 30 "
        f"{np.median(f_unc[-1]):.2f} %; the estimator's detection vs this fit "
        f"{detection_line(said, f_said)}"
    )
    white_level_profile(range(n_side * 2), say)
    say()
    say(
        "Detection vs oracle (of meters the oracle decides out_of_tolerance at day d, share the "
        "estimator has decided by day d; target ≥ 0.95):"
    )
    ever = np.logical_or.accumulate(said == OUT, axis=0)
    for d in (7, 14, 30):
        o_out, share = detection_shares(said, o_said, d)
        say(
            f"- day {d}: oracle flags {o_out.sum()}, estimator has {int(ever[d - 1][o_out].sum())}"
            f" of them: {fmt(share)} (of those whose error drifts: oracle "
            f"{int((o_out & drifting).sum())}, estimator "
            f"{int(ever[d - 1][o_out & drifting].sum())})"
        )
    say(
        "What a narrower u alone would buy (the estimator's u scaled by c after the fact; "
        "worst-day coverage, detection at day 7 / 14 / 30, healthy meters ever ordered out):"
    )
    for c in (0.95, 0.85, 0.75):
        said_c = decide(est, c * unc, MPE, identifiable=ident)
        say(
            f"- c = {c:.2f}: coverage {worst_coverage(truth, est, c * unc):.3f}, detection "
            f"{detection_line(said_c, o_said)}, false {healthy_ordered(truth, said_c)[0]}"
        )
    say()
    say("Absolute recall (truly out of tolerance at day d, decided out_of_tolerance at day d):")
    say("| day | " + " | ".join(str(d) for d in REPORT_DAYS) + " |")
    say("|---|" + "---|" * len(REPORT_DAYS))
    rec = [
        evaluate.out_of_tolerance_recall(truth[d - 1], said[d - 1], mpe_pct=MPE)
        for d in REPORT_DAYS
    ]
    o_rec = [
        evaluate.out_of_tolerance_recall(truth[d - 1], o_said[d - 1], mpe_pct=MPE)
        for d in REPORT_DAYS
    ]
    say("| estimator | " + " | ".join(fmt(r, 2) for r in rec) + " |")
    say("| oracle | " + " | ".join(fmt(r, 2) for r in o_rec) + " |")

    def recall_in(mask: np.ndarray) -> str:
        r = evaluate.out_of_tolerance_recall(truth[-1][mask], said[-1][mask], mpe_pct=MPE)
        return f"{fmt(r, 2)} (n={int((np.abs(truth[-1][mask]) > MPE).sum())})"

    ratio = np.abs(truth[-1]) / MPE
    say(
        "By |ε|/MPE at day 30: "
        + "; ".join(
            f"{lo:g}–{hi:g}: {recall_in((ratio > lo) & (ratio <= hi))}"
            for lo, hi in ((1, 1.5), (1.5, 2), (2, 3), (3, 4.5))
        )
    )
    qs = np.quantile(load[~special], [1 / 3, 2 / 3])
    bands = (
        ("low", load < qs[0]),
        ("mid", (load >= qs[0]) & (load < qs[1])),
        ("high", load >= qs[1]),
    )
    say(
        "By consumption tercile at day 30 (mean Wh per 15 min: "
        f"<{qs[0]:.0f}, {qs[0]:.0f}–{qs[1]:.0f}, ≥{qs[1]:.0f}): "
        + "; ".join(f"{name}: {recall_in(m)}" for name, m in bands)
    )
    delays = evaluate.detection_delay(truth, said, mpe_pct=MPE)
    found = delays[np.isfinite(delays)]
    say(
        f"Detection delay after the true error crosses the MPE: median {np.median(found):.0f} days "
        f"over {found.size} detected meters; {int(np.isinf(delays).sum())} crossed but not yet "
        "detected by day 30"
    )
    say()
    false_est = evaluate.false_replacement_rate(truth, said, mpe_pct=MPE)
    false_orc = evaluate.false_replacement_rate(truth, o_said, mpe_pct=MPE)
    n_false, n_healthy = healthy_ordered(truth, said)
    say(
        f"False replacements (healthy = |ε| ≤ 0.5·MPE, {n_healthy} meters, ever ordered out "
        f"over 30 daily decisions): estimator {n_false} = {false_est:.5f} "
        f"(target ≤ 0.001), oracle {false_orc:.5f}"
    )
    bad_special = int((said[:, special] == OUT).sum())
    say(
        f"Identifiability: {special.sum()} tiny or collinear meters, identifiable at day 30: "
        f"{int(ident[-1][special].sum())}, ever out_of_tolerance: {bad_special}; all meters "
        f"identifiable at day 30: {ident[-1].mean():.3f}"
    )
    say(
        f"Balance breaks found: {len(main_run.breaks)}, {sum(main_run.breaks)} of them steps of "
        f"a meter's error; steps of the master taken: {main_run.master_steps} (these areas have "
        "no bypass, miswiring, step of any meter's error or of the master's)"
    )
    say()
    late_rate = estimator_speed(speed_area)
    rate = max(early_rate, late_rate)
    rivers = river_speed(speed_area)
    wall = main_run.seconds / (n_main * DAYS)
    say(
        f"Speed (one core, day blocks of 200 x 96, update + results + decide; best of 2 x 5 by CPU "
        f"time): {rate / 1e6:.2f} M meter-intervals/s ({200 * PER_DAY / rate * 1e3:.2f} ms per "
        f"block; target ≥ 5 M/s; {early_rate / 1e6:.2f} at the start, {late_rate / 1e6:.2f} "
        f"after the main run). Wall time in the main run: {wall * 1e3:.2f} ms per block, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores."
    )
    for name, r in rivers.items():
        say(
            f"- River {name} on the same per-meter series: {r / 1e6:.2f} M values/s; "
            f"estimator / {name} = {rate / r:.1f}x"
        )
    say()
    say(
        "Degradation at day 30 (MAE over non-special meters, coverage over all, recall, "
        "false-replacement rate):"
    )
    say("| scenario | MAE (%) | coverage | recall | false repl. | master flagged |")
    say("|---|---|---|---|---|---|")
    base = summary(main_run)
    say(
        f"| main (0.5 % missing) | {base['mae']:.3f} | {base['coverage']:.3f} | "
        f"{fmt(base['recall'], 2)} | {base['false']:.5f} | "
        f"{np.mean(main_run.suspect):.2f} |"
    )
    side = range(1000, 1000 + n_side)
    for rate_missing in (0.02, 0.10):
        r = simulate(replace(MAIN, missing_rate=rate_missing), side, config, oracle=False)
        s = summary(r)
        say(
            f"| {rate_missing:.0%} missing | {s['mae']:.3f} | {s['coverage']:.3f} | "
            f"{fmt(s['recall'], 2)} | {s['false']:.5f} | {np.mean(r.suspect):.2f} |"
        )
    off = replace(MAIN, master_error_pct=0.5)
    for label, cfg in (
        ("master +0.5 %, no recentring", replace(config, recentre_on_master_suspect=False)),
        ("master +0.5 %, recentred when flagged", config),
    ):
        r = simulate(off, side, cfg, oracle=False)
        s = summary(r)
        say(
            f"| {label} | {s['mae']:.3f} | {s['coverage']:.3f} | {fmt(s['recall'], 2)} | "
            f"{s['false']:.5f} | {np.mean(r.suspect):.2f} |"
        )
    say()
    if args.components:
        say(
            f"Where the estimator loses against the oracle ({n_main} areas of the main setup, "
            "one change at a time; detection as above, false replacements of healthy meters):"
        )
        component_study(MAIN, range(n_main), config, say)
        say()
        learned_level_study(range(n_main), say)
        say()
        say(
            "The white level the estimator uses, as a multiple of its floor "
            "(`white_noise_fraction` of the reference load), over the days:"
        )
        white_level_path(main_run, range(min(n_main, 30)), config, say)
        say()
        say(
            "Loss or noise: the same areas against the oracle that subtracts the realised loss "
            "(weather included), the estimator as shipped and told that loss too:"
        )
        known_loss_study(range(n_main), config, say)
        say()
        say("The same areas without day-to-day weather (no daily effect in the oracle's loss):")
        component_study(
            replace(MAIN, temperature_day_sd_k=0.0),
            range(n_main),
            config,
            say,
            tuple(c for c in COMPONENTS if c[0] in ("as shipped", "no per-day loss effect")),
        )
        say()
    for note in NOTES:
        say(note)
    say()
    say(f"Total bench time: {time.perf_counter() - t_start:.0f} s")
    if not args.quick:  # a smoke run does not overwrite the recorded figures
        write_results(lines, " --components" if args.components else "")


def write_results(lines: list[str], options: str = "") -> None:
    date = subprocess.run(["date", "-u"], capture_output=True, text=True).stdout.strip()
    head = [
        SECTION,
        "",
        f"Measured {date} on a 2-core, 24 GiB machine, Python {platform.python_version()}, "
        f"one core (`python bench/bench_estimator.py{options}`).",
        "",
    ]
    section = "\n".join(head + lines) + "\n"
    path = Path(__file__).with_name("RESULTS.md")
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    start = text.find(SECTION)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        nxt = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + ("" if nxt < 0 else text[nxt:])
    path.write_text(text)


if __name__ == "__main__":
    main()
