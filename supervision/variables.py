"""Variables plans: ISO 3951-1-style k-method (s-method, unknown σ) on measured errors.

Acceptability for the double limit ``L = -MPE``, ``U = +MPE`` is judged in
:func:`supervision.verdict.variables_verdict`, in one of two documented ways:

- ``separate`` (default): ``Q_U = (U - x̄)/s >= k`` and ``Q_L = (x̄ - L)/s >= k``, i.e. each
  limit controlled on its own with the same ``k``;
- ``combined``: the two tails are added, ``Φ(-Q_U) + Φ(-Q_L) <= Φ(-k)``. For one limit this
  is exactly ``Q >= k``; for two limits it also rejects a lot whose spread is too wide for
  the tolerance even when x̄ is centred. It stands in for ISO 3951-1's combined control
  (acceptance curve / maximum sample standard deviation), whose tables are not reproduced.

Where the plans come from — read this before using them for enforcement:
the author could not reproduce the s-method tables of ISO 3951-1:2013 from
memory with confidence, so ``supervision/data/variables_s_method.csv`` does *not* copy them.
Instead every (code letter, AQL, severity) row is derived by :func:`design_s_plan` from the
ISO 2859-1 attributes plan of the same code letter, AQL and severity, in the spirit of
ISO 3951-1, whose plans are matched to the OC curves of ISO 2859-1:

- producer's point ``(p1, 1 - α)``: ``p1 = AQL``, ``α`` = the attributes plan's rejection
  probability at the AQL (binomial);
- consumer's point ``(p2, β = 0.10)``: ``p2`` = the attributes plan's 10 % acceptance quality;
- Wallis' normal approximation for the s-method (Wallis 1947, as given in textbooks of
  statistical quality control): with ``z_p = Φ⁻¹(1 - p)``,
  ``k = (z_p1 z_β + z_p2 z_α) / (z_α + z_β)``,
  ``n = ⌈(1 + k²/2) ((z_α + z_β) / (z_p1 - z_p2))²⌉``, at least 3.

Every row is therefore marked ``unsure`` against the standard's own figures. AQLs above 10
(nonconformities per 100 items) have no variables plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from statistics import NormalDist

from supervision.attributes import (
    AQL_SERIES,
    Severity,
    code_letter,
    normalise_aql,
    resolve_cell,
    table_for,
)
from supervision.errors import PlanNotFound, SupervisionError
from supervision.tables import read_data_rows

CONSUMER_RISK = 0.10
MAX_VARIABLES_AQL = 10.0
_NORMAL = NormalDist()


@dataclass(frozen=True)
class VariablesPlan:
    """An s-method plan: inspect ``n`` meters, accept if both Q statistics reach ``k``."""

    code_letter: str
    n: int
    k: float
    severity: Severity
    aql: str
    level: str
    lot_size: int
    hundred_percent: bool
    unsure: bool
    source: str
    notes: tuple[str, ...] = ()


def binomial_acceptance(n: int, ac: int, p: float) -> float:
    """P(at most ``ac`` nonconforming in ``n``) for nonconforming fraction ``p``."""
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    return min(
        1.0,
        sum(
            math.exp(
                math.lgamma(n + 1)
                - math.lgamma(i + 1)
                - math.lgamma(n - i + 1)
                + i * log_p
                + (n - i) * log_q
            )
            for i in range(ac + 1)
        ),
    )


def quality_at_acceptance(n: int, ac: int, probability: float) -> float:
    """The nonconforming fraction accepted with ``probability`` by the plan (n, ac)."""
    low, high = 0.0, 1.0
    for _ in range(200):
        mid = (low + high) / 2
        if binomial_acceptance(n, ac, mid) > probability:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def design_s_plan(attributes_n: int, ac: int, aql_pct: float) -> tuple[int, float]:
    """(n, k) of the s-method plan OC-matched to the attributes plan (attributes_n, ac)."""
    p1 = aql_pct / 100.0
    alpha = 1.0 - binomial_acceptance(attributes_n, ac, p1)
    p2 = quality_at_acceptance(attributes_n, ac, CONSUMER_RISK)
    if not 0.0 < alpha < 0.5 or not p1 < p2:
        raise PlanNotFound(
            f"cannot match a variables plan to n={attributes_n}, Ac={ac}, AQL={aql_pct}"
        )
    z1, z2 = _NORMAL.inv_cdf(1.0 - p1), _NORMAL.inv_cdf(1.0 - p2)
    z_alpha, z_beta = _NORMAL.inv_cdf(1.0 - alpha), _NORMAL.inv_cdf(1.0 - CONSUMER_RISK)
    k = (z1 * z_beta + z2 * z_alpha) / (z_alpha + z_beta)
    n = math.ceil((1.0 + k * k / 2.0) * ((z_alpha + z_beta) / (z1 - z2)) ** 2)
    return max(n, 3), round(k, 3)


def derived_rows() -> list[dict[str, str]]:
    """The rows of ``variables_s_method.csv`` as :func:`design_s_plan` produces them."""
    rows: list[dict[str, str]] = []
    aqls = [a for a in AQL_SERIES if float(a) <= MAX_VARIABLES_AQL]
    for severity in ("normal", "tightened", "reduced"):
        table = table_for(severity)
        for letter in (x for x in table.letters if x != "S"):
            for aql in aqls:
                cell = resolve_cell(table, letter, aql)
                plan_n = table.sample_sizes[cell.plan_letter]
                n, k = design_s_plan(plan_n, cell.ac, float(aql))
                rows.append(
                    {
                        "severity": severity,
                        "code_letter": letter,
                        "aql": aql,
                        "n": str(n),
                        "k": f"{k:.3f}",
                        "matched_to": f"{cell.plan_letter} n={plan_n} Ac={cell.ac}",
                    }
                )
    return rows


@cache
def _table() -> dict[tuple[str, str, str], tuple[int, float, str]]:
    return {
        (r["severity"], r["code_letter"], r["aql"]): (int(r["n"]), float(r["k"]), r["matched_to"])
        for r in read_data_rows("variables_s_method.csv")
    }


def variables_plan(
    lot_size: int, aql: float | str, level: str = "II", severity: Severity = "normal"
) -> VariablesPlan:
    """The s-method plan (n, k) for a lot; see the module docstring for its provenance."""
    letter = code_letter(lot_size, level)
    aql_key = normalise_aql(aql)
    if float(aql_key) > MAX_VARIABLES_AQL:
        raise PlanNotFound(f"no variables plan above AQL {MAX_VARIABLES_AQL:g}")
    entry = _table().get((severity, letter, aql_key))
    if entry is None:
        raise SupervisionError(
            f"no variables plan for {severity} inspection, letter {letter}, AQL {aql_key}"
        )
    n, k, matched = entry
    notes = [f"derived by OC matching to ISO 2859-1 plan {matched}; not ISO 3951-1 table values"]
    hundred = n >= lot_size
    if hundred:
        notes.append(f"sample size {n} >= lot size {lot_size}: inspect every meter")
        n = lot_size
    return VariablesPlan(
        code_letter=letter,
        n=n,
        k=k,
        severity=severity,
        aql=aql_key,
        level=level,
        lot_size=lot_size,
        hundred_percent=hundred,
        unsure=True,
        source="derived (Wallis approximation, OC-matched to ISO 2859-1)",
        notes=tuple(notes),
    )
