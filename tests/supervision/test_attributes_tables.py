"""ISO 2859-1 Tables 1, 2-A, 2-B, 2-C as packaged data, checked against the standard."""

from __future__ import annotations

import pytest

from supervision.attributes import (
    AQL_SERIES,
    LEVELS,
    SEVERITIES,
    code_letter,
    normalise_aql,
    resolve_cell,
    single_plan,
    table_for,
)
from supervision.errors import PlanNotFound, SupervisionError

NORMAL_SIZES = [2, 3, 5, 8, 13, 20, 32, 50, 80, 125, 200, 315, 500, 800, 1250, 2000]
LETTERS = "ABCDEFGHJKLMNPQR"

# Table 1, one lot size from every row, all seven levels (S-1 S-2 S-3 S-4 I II III).
TABLE_1 = [
    (2, "AAAAAAB"),
    (8, "AAAAAAB"),
    (9, "AAAAABC"),
    (25, "AABBBCD"),
    (50, "ABBCCDE"),
    (51, "BBCCCEF"),
    (150, "BBCDDFG"),
    (280, "BCDEEGH"),
    (500, "BCDEFHJ"),
    (1000, "CCEFGJK"),
    (1201, "CDEGHKL"),
    (10000, "CDFGJLM"),
    (35000, "CDFHKMN"),
    (150000, "DEGJLNP"),
    (500000, "DEGJMPQ"),
    (500001, "DEHKNQR"),
    (10_000_000, "DEHKNQR"),
]


@pytest.mark.parametrize(("lot_size", "letters"), TABLE_1)
def test_table_1_code_letters(lot_size: int, letters: str) -> None:
    assert [code_letter(lot_size, level) for level in LEVELS] == list(letters)


# (lot size, AQL, severity) -> (code letter, plan letter, n, Ac, Re); well-known entries.
KNOWN_PLANS = [
    (1000, 1.0, "normal", ("J", "J", 80, 2, 3)),
    (1000, 0.65, "normal", ("J", "J", 80, 1, 2)),
    (1000, 1.5, "normal", ("J", "J", 80, 3, 4)),
    (1000, 2.5, "normal", ("J", "J", 80, 5, 6)),
    (1000, 4.0, "normal", ("J", "J", 80, 7, 8)),
    (1000, 6.5, "normal", ("J", "J", 80, 10, 11)),
    (1000, 0.15, "normal", ("J", "J", 80, 0, 1)),
    (500, 1.0, "normal", ("H", "H", 50, 1, 2)),
    (3200, 1.0, "normal", ("K", "K", 125, 3, 4)),
    (3200, 2.5, "normal", ("K", "K", 125, 7, 8)),
    (10000, 1.0, "normal", ("L", "L", 200, 5, 6)),
    (10000, 2.5, "normal", ("L", "L", 200, 10, 11)),
    (10000, 4.0, "normal", ("L", "L", 200, 14, 15)),
    (100, 2.5, "normal", ("F", "F", 20, 1, 2)),
    (100, 6.5, "normal", ("F", "F", 20, 3, 4)),
    (200000, 1.0, "normal", ("P", "P", 800, 14, 15)),
    (600000, 0.65, "normal", ("Q", "Q", 1250, 14, 15)),
    (600000, 1.0, "normal", ("Q", "Q", 1250, 21, 22)),
    (20, 65, "normal", ("C", "C", 5, 7, 8)),
    (5, 1000, "normal", ("A", "A", 2, 30, 31)),
    (12, 1000, "normal", ("B", "B", 3, 44, 45)),
    # arrows: the plan found brings its own sample size
    (1000, 0.25, "normal", ("J", "H", 50, 0, 1)),
    (1000, 0.40, "normal", ("J", "K", 125, 1, 2)),
    (1000, 0.10, "normal", ("J", "K", 125, 0, 1)),
    (1000, 25, "normal", ("J", "H", 50, 21, 22)),
    (50, 4.0, "normal", ("D", "E", 13, 1, 2)),
    # tightened (Table 2-B)
    (1000, 1.0, "tightened", ("J", "J", 80, 1, 2)),
    (1000, 4.0, "tightened", ("J", "J", 80, 5, 6)),
    (1000, 6.5, "tightened", ("J", "J", 80, 8, 9)),
    (1000, 15, "tightened", ("J", "J", 80, 18, 19)),
    (1000, 0.65, "tightened", ("J", "K", 125, 1, 2)),
    (3200, 1.0, "tightened", ("K", "K", 125, 2, 3)),
    (10000, 1.0, "tightened", ("L", "L", 200, 3, 4)),
    (10000, 10, "tightened", ("L", "K", 125, 18, 19)),
    # reduced (Table 2-C, 1999 edition: no gap between Ac and Re; reconstructed, see its header)
    (1000, 1.0, "reduced", ("J", "J", 32, 1, 2)),
    (1000, 2.5, "reduced", ("J", "J", 32, 2, 3)),
    (1000, 0.40, "reduced", ("J", "K", 50, 0, 1)),
    (10000, 1.0, "reduced", ("L", "L", 80, 2, 3)),
]


@pytest.mark.parametrize(("lot_size", "aql", "severity", "expected"), KNOWN_PLANS)
def test_known_single_plans(
    lot_size: int, aql: float, severity: str, expected: tuple[str, str, int, int, int]
) -> None:
    plan = single_plan(lot_size, aql, "II", severity)  # type: ignore[arg-type]
    assert (plan.code_letter, plan.plan_letter, plan.n, plan.ac, plan.re) == expected
    assert plan.severity == severity
    assert not plan.hundred_percent


@pytest.mark.parametrize(
    ("aql", "expected"),
    [
        (0.65, ("R", 2000, 21, 22)),
        (1.0, ("Q", 1250, 21, 22)),
        (1.5, ("P", 800, 21, 22)),
        (0.025, ("R", 2000, 1, 2)),
    ],
)
def test_level_iii_largest_lots_use_row_r(aql: float, expected: tuple[str, int, int, int]) -> None:
    plan = single_plan(3_000_000, aql, "III")
    assert plan.code_letter == "R"
    assert (plan.plan_letter, plan.n, plan.ac, plan.re) == expected


@pytest.mark.parametrize("severity", SEVERITIES)
def test_tables_are_internally_consistent(severity: str) -> None:
    table = table_for(severity)  # type: ignore[arg-type]
    assert table.aqls == AQL_SERIES
    main_rows = [letter for letter in table.letters if letter != "S"]
    assert "".join(main_rows) == LETTERS
    expected = {
        "normal": NORMAL_SIZES,
        "tightened": NORMAL_SIZES,
        "reduced": [2, 2, 2, *NORMAL_SIZES[1:-2]],
    }[severity]
    assert [table.sample_sizes[x] for x in main_rows] == expected
    for aql in AQL_SERIES:
        column_ac = []
        for letter in table.letters:
            cell = table.cells[(letter, aql)]
            if "/" in cell:
                ac, re = (int(v) for v in cell.split("/"))
                assert re == ac + 1, (letter, aql, cell)
                column_ac.append(ac)
            else:
                assert cell in ("up", "down", "none"), (letter, aql, cell)
        assert column_ac == sorted(column_ac), f"Ac must not fall with larger n at AQL {aql}"
    for letter in main_rows:
        row_ac = [
            int(table.cells[(letter, a)].split("/")[0])
            for a in AQL_SERIES
            if "/" in table.cells[(letter, a)]
        ]
        assert row_ac == sorted(row_ac), f"Ac must not fall with a larger AQL in row {letter}"


@pytest.mark.parametrize("severity", SEVERITIES)
def test_every_cell_resolves_to_a_plan(severity: str) -> None:
    table = table_for(severity)  # type: ignore[arg-type]
    for letter in (x for x in table.letters if x != "S"):
        for aql in AQL_SERIES:
            cell = resolve_cell(table, letter, aql)
            assert cell.re == cell.ac + 1
            assert cell.plan_letter in table.letters


def test_normal_table_zero_acceptance_diagonal() -> None:
    # Ac = 0 sits where n x AQL is about 10-20 %: A at 6.5 down to Q at 0.010.
    table = table_for("normal")
    diagonal = ["6.5", "4.0", "2.5", "1.5", "1.0", "0.65", "0.40", "0.25", "0.15", "0.10"]
    diagonal += ["0.065", "0.040", "0.025", "0.015", "0.010"]
    for letter, aql in zip(LETTERS, diagonal, strict=False):
        assert table.cells[(letter, aql)] == "0/1"
        right = AQL_SERIES[AQL_SERIES.index(aql) + 1]
        assert table.cells[(letter, right)] == "up"
    assert "0/1" not in [table.cells[("R", a)] for a in AQL_SERIES]


def test_sample_at_least_lot_size_means_hundred_percent() -> None:
    plan = single_plan(20, 0.010)  # code letter C, arrow down to Q (n = 1250)
    assert (plan.code_letter, plan.plan_letter, plan.ac, plan.re) == ("C", "Q", 0, 1)
    assert plan.n == 20
    assert plan.hundred_percent
    assert any("100 %" in note for note in plan.notes)


def test_arrow_running_off_the_table_is_followed_the_other_way() -> None:
    plan = single_plan(5, 10)  # A/10 prints an up arrow with no row above
    assert (plan.plan_letter, plan.n, plan.ac, plan.re) == ("C", 5, 1, 2)
    assert any("runs off the table" in note for note in plan.notes)
    bottom = single_plan(3_000_000, 0.015, "III")  # R/0.015 points down, below R is nothing
    assert (bottom.plan_letter, bottom.n, bottom.ac, bottom.re) == ("P", 800, 0, 1)


def test_only_the_reconstructed_reduced_table_is_unsure() -> None:
    assert not single_plan(5, 10).unsure
    assert not single_plan(1000, 1.0, "II", "tightened").unsure
    reduced = single_plan(1000, 1.0, "II", "reduced")
    assert reduced.unsure
    assert "table cell marked unsure in the data file" in reduced.notes


def test_tightened_letter_s_only_via_arrows() -> None:
    plan = single_plan(600000, 0.025, "II", "tightened")
    assert (plan.code_letter, plan.plan_letter, plan.n, plan.ac, plan.re) == ("Q", "S", 3150, 1, 2)
    below = single_plan(3_000_000, 0.015, "III", "tightened")  # R/0.015: empty S cell below
    assert (below.plan_letter, below.n, below.ac, below.re) == ("Q", 1250, 0, 1)


@pytest.mark.parametrize(
    ("value", "expected"), [(1, "1.0"), ("1.0", "1.0"), (0.01, "0.010"), ("65", "65")]
)
def test_aql_is_normalised_to_the_series(value: float | str, expected: str) -> None:
    assert normalise_aql(value) == expected


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: single_plan(1000, 0.7), SupervisionError),
        (lambda: single_plan(1000, "one"), SupervisionError),
        (lambda: single_plan(1, 1.0), SupervisionError),
        (lambda: single_plan(1000, 1.0, "IV"), SupervisionError),
        (lambda: single_plan(1000, 1.0, "II", "strict"), SupervisionError),  # type: ignore[arg-type]
        (lambda: resolve_cell(table_for("normal"), "S", "1.0"), PlanNotFound),
    ],
)
def test_bad_input_is_refused(call: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        call()  # type: ignore[operator]


# Whole rows after following the arrows: (n, Ac) for the 26 AQLs 0.010 ... 1000, as in the
# independent transcription of ANSI/ASQ Z1.4 single plans (same plans as ISO 2859-1 2-A/2-B)
# in the public repository fjgonzalezmgt/AQLSchemesCust, R/AAZ14Single.R.
RESOLVED_ROWS = [
    (
        "normal",
        "J",
        [
            1250,
            800,
            500,
            315,
            200,
            125,
            80,
            50,
            125,
            80,
            80,
            80,
            80,
            80,
            80,
            80,
            80,
            50,
            32,
            20,
            13,
            13,
            13,
            8,
            5,
            3,
        ],
        [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 5, 7, 10, 14, 21, 21, 21, 21, 21, 30, 44, 44, 44, 44],
    ),
    (
        "normal",
        "R",
        [1250, 800]
        + [2000] * 8
        + [1250, 800, 500, 315, 200, 125, 80, 50, 32, 20, 13, 13, 13, 8, 5, 3],
        [0, 0, 1, 2, 3, 5, 7, 10, 14] + [21] * 12 + [30, 44, 44, 44, 44],
    ),
    (
        "tightened",
        "K",
        [2000, 1250, 800, 500, 315, 200, 125, 315, 200]
        + [125] * 7
        + [80, 50, 32, 20, 13, 13, 13, 8, 5, 3],
        [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 3, 5, 8, 12] + [18] * 6 + [27, 41, 41, 41, 41],
    ),
    (
        "tightened",
        "R",
        [2000, 1250, 3150]
        + [2000] * 7
        + [1250, 800, 500, 315, 200, 125, 80, 50, 32, 20, 13, 13, 13, 8, 5, 3],
        [0, 0, 1, 1, 2, 3, 5, 8, 12] + [18] * 12 + [27, 41, 41, 41, 41],
    ),
]


@pytest.mark.parametrize(("severity", "letter", "sizes", "acceptance"), RESOLVED_ROWS)
def test_whole_rows_after_following_arrows(
    severity: str, letter: str, sizes: list[int], acceptance: list[int]
) -> None:
    table = table_for(severity)  # type: ignore[arg-type]
    cells = [resolve_cell(table, letter, aql) for aql in AQL_SERIES]
    assert [table.sample_sizes[c.plan_letter] for c in cells] == sizes
    assert [c.ac for c in cells] == acceptance


def test_reduced_row_follows_the_1989_table_with_the_gap_closed() -> None:
    # n and Ac as in MIL-STD-105E / Z1.4 Table II-C (same transcription as above) for AQL
    # 0.010 ... 650; Re = Ac + 1 is this project's reading of the 1999 change (see the CSV).
    table = table_for("reduced")
    cells = [resolve_cell(table, "J", aql) for aql in AQL_SERIES[:-1]]
    sizes = [500, 315, 200, 125, 80, 50, 32, 20, 50] + [32] * 8 + [20, 13, 8, 5, 5, 5, 3, 2]
    assert [table.sample_sizes[c.plan_letter] for c in cells] == sizes
    assert [c.ac for c in cells] == [0] * 10 + [
        1,
        1,
        2,
        3,
        5,
        7,
        10,
        10,
        10,
        10,
        10,
        14,
        21,
        21,
        21,
    ]
    assert all(c.re == c.ac + 1 and c.unsure for c in cells)
