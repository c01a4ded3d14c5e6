"""Registry import: every bad-row case is reported with its line, and nothing is imported."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from storage.registry import REGISTRY_COLUMNS, InvalidFile, import_registry

pytestmark = pytest.mark.integration

Row = dict[str, str]


@pytest.fixture
def good(run_id: str, meter_base: int, registry_row: Callable[..., Row]) -> list[Row]:
    """Four good rows of two utilities; line i + 2 of the file holds row i."""
    return [
        registry_row(meter_base + 1, f"rega{run_id}", "north"),
        registry_row(meter_base + 2, f"rega{run_id}", "north", batch="B2"),
        registry_row(meter_base + 3, f"rega{run_id}", "south"),
        registry_row(meter_base + 4, f"regb{run_id}", "north"),
    ]


def _count(db: psycopg.Connection, rows: list[Row]) -> int:
    found = db.execute(
        "SELECT count(*) FROM meter WHERE meter_id = ANY(%s)", ([r["meter_id"] for r in rows],)
    ).fetchone()
    return int(found[0])  # type: ignore[index]


def test_a_good_file_imports_meters_and_forms_lots(
    db: psycopg.Connection, tmp_path: Path, good: list[Row], write_registry: Callable[..., Path]
) -> None:
    summary = import_registry(db, write_registry(tmp_path / "r.csv", good))
    assert (summary.utilities, summary.areas, summary.meters, summary.lots) == (2, 3, 4, 3)
    lots = db.execute(
        "SELECT m.meter_id, l.lot_id, l.size, l.lot_key->>'production_batch' FROM meter m "
        "JOIN lot l USING (lot_id) WHERE m.meter_id = ANY(%s) ORDER BY m.meter_id",
        ([r["meter_id"] for r in good],),
    ).fetchall()
    utility_a = good[0]["utility_id"]
    assert [(size, batch) for _, _, size, batch in lots] == [
        (2, "b1"),
        (1, "b2"),
        (2, "b1"),
        (1, "b1"),
    ]
    assert lots[0][1] == lots[2][1] and lots[0][1].startswith(f"{utility_a}/LOT-")
    assert lots[3][1] != lots[0][1]  # same key, other utility: another lot
    # importing the same file again changes nothing
    assert import_registry(db, write_registry(tmp_path / "r.csv", good)) == summary
    assert _count(db, good) == 4


BAD_ROWS: list[tuple[str, str, str]] = [
    ("meter_id", "12345", "not 12 digits"),
    ("meter_id", "12345678901a", "not 12 digits"),
    ("utility_id", "bad utility!", "utility_id"),
    ("area_id", "", "area_id"),
    ("utility_name", "", "utility_name is empty"),
    ("area_name", " ", "area_name is empty"),
    ("manufacturer", "", "manufacturer is empty"),
    ("model", "", "model is empty"),
    ("production_batch", "", "production_batch is empty"),
    ("install_date", "2021-13-01", "not a date"),
    ("install_date", "01.03.2021", "not a date"),
    ("install_date", "2999-01-01", "in the future"),
    ("meter_type", "steam", "no MPE for 'steam'"),
    ("accuracy_class", "9", "no MPE for 'electricity' class '9'"),
    ("is_master", "maybe", "is not 0/1"),
    ("has_generation", "pv", "has_generation 'pv' is not 0/1"),
]


@pytest.mark.parametrize(("column", "value", "message"), BAD_ROWS)
def test_a_bad_field_is_reported_on_its_line_and_nothing_is_imported(
    db: psycopg.Connection, tmp_path: Path, good: list[Row], write_registry: Callable[..., Path],
    column: str, value: str, message: str,
) -> None:  # fmt: skip
    good[2][column] = value
    with pytest.raises(InvalidFile) as caught:
        import_registry(db, write_registry(tmp_path / "r.csv", good))
    assert [p.line for p in caught.value.problems] == [4]
    assert message in caught.value.problems[0].message
    assert _count(db, good) == 0


def test_has_generation_is_stored_and_a_file_without_it_keeps_what_was_known(
    db: psycopg.Connection, tmp_path: Path, good: list[Row], write_registry: Callable[..., Path]
) -> None:
    good[0]["has_generation"], good[1]["has_generation"] = "1", "0"  # good[2:]: not known
    import_registry(db, write_registry(tmp_path / "r.csv", good))
    stored = db.execute(
        "SELECT has_generation FROM meter WHERE meter_id = ANY(%s) ORDER BY meter_id",
        ([r["meter_id"] for r in good],),
    ).fetchall()
    assert [g for (g,) in stored] == [True, False, None, None]
    path = write_registry(tmp_path / "old.csv", good)
    old_columns = len(REGISTRY_COLUMNS) - 1  # the file format before has_generation
    path.write_text("".join(",".join(line.split(",")[:old_columns]) + "\n"
                            for line in path.read_text().splitlines()))  # fmt: skip
    assert import_registry(db, path).meters == 4
    again = db.execute(
        "SELECT has_generation FROM meter WHERE meter_id = ANY(%s) ORDER BY meter_id",
        ([r["meter_id"] for r in good],),
    ).fetchall()
    assert again == stored  # "not known" keeps what the registry knew


def test_every_bad_row_is_reported_at_once(
    db: psycopg.Connection, tmp_path: Path, good: list[Row], write_registry: Callable[..., Path]
) -> None:
    good[0]["meter_id"] = "x"
    good[3]["install_date"] = "yesterday"
    with pytest.raises(InvalidFile) as caught:
        import_registry(db, write_registry(tmp_path / "r.csv", good))
    assert [p.line for p in caught.value.problems] == [2, 5]
    assert "line 2:" in str(caught.value) and "line 5:" in str(caught.value)
    assert _count(db, good) == 0


def test_a_meter_twice_in_the_file(
    db: psycopg.Connection, tmp_path: Path, good: list[Row], write_registry: Callable[..., Path]
) -> None:
    good[3]["meter_id"] = good[1]["meter_id"]
    with pytest.raises(InvalidFile) as caught:
        import_registry(db, write_registry(tmp_path / "r.csv", good))
    assert [(p.line, p.message) for p in caught.value.problems] == [
        (5, f"meter_id {good[1]['meter_id']} already on line 3")
    ]
    assert _count(db, good) == 0


def test_an_area_has_one_master_meter_at_most(
    db: psycopg.Connection, tmp_path: Path, good: list[Row], write_registry: Callable[..., Path]
) -> None:
    good[0]["is_master"] = "1"
    good[1]["is_master"] = "1"  # the same area, north of utility a
    with pytest.raises(InvalidFile) as caught:
        import_registry(db, write_registry(tmp_path / "r.csv", good))
    assert [(p.line, p.message) for p in caught.value.problems] == [
        (3, "area north has its master on line 2")
    ]
    good[1]["is_master"] = "0"
    import_registry(db, write_registry(tmp_path / "r.csv", good))
    masters = db.execute(
        "SELECT meter_id FROM meter WHERE is_master AND meter_id = ANY(%s)",
        ([r["meter_id"] for r in good],),
    ).fetchall()
    assert masters == [(good[0]["meter_id"],)]


@pytest.mark.parametrize(
    ("column", "message"), [("utility_name", "utility"), ("area_name", "area")]
)
def test_conflicting_names_of_one_utility_or_area(
    db: psycopg.Connection, tmp_path: Path, good: list[Row], write_registry: Callable[..., Path],
    column: str, message: str,
) -> None:  # fmt: skip
    good[1][column] = "Another name"
    with pytest.raises(InvalidFile) as caught:
        import_registry(db, write_registry(tmp_path / "r.csv", good))
    assert [p.line for p in caught.value.problems] == [3]
    assert caught.value.problems[0].message.startswith(message)
    assert _count(db, good) == 0


def test_a_meter_registered_to_another_utility(
    db: psycopg.Connection, tmp_path: Path, good: list[Row], write_registry: Callable[..., Path]
) -> None:
    import_registry(db, write_registry(tmp_path / "first.csv", good[:1]))
    moved = [dict(good[0], utility_id=good[3]["utility_id"], utility_name=good[3]["utility_name"])]
    with pytest.raises(InvalidFile) as caught:
        import_registry(db, write_registry(tmp_path / "moved.csv", [*good[1:], *moved]))
    assert [p.line for p in caught.value.problems] == [5]
    assert "is registered to utility" in caught.value.problems[0].message
    assert _count(db, good) == 1  # only the first import's meter


def test_bad_header_wrong_field_count_and_empty_file(
    db: psycopg.Connection, tmp_path: Path
) -> None:
    header = ",".join(REGISTRY_COLUMNS)
    cases = {
        "wrong header": ("meter,utility\n1,2\n", [1]),
        "empty file": ("", [1]),
        "header only": (header + "\n", [2]),
        "short and long rows": (header + "\n1,2,3\n" + ",".join(["x"] * 12) + "\n", [2, 3]),
    }
    for name, (text, lines) in cases.items():
        path = tmp_path / "r.csv"
        path.write_text(text)
        with pytest.raises(InvalidFile) as caught:
            import_registry(db, path)
        assert [p.line for p in caught.value.problems] == lines, name


def test_line_numbers_count_quoted_newlines_and_skip_blank_lines(
    db: psycopg.Connection, tmp_path: Path, good: list[Row], write_registry: Callable[..., Path]
) -> None:
    path = write_registry(tmp_path / "r.csv", good)
    lines = path.read_text().splitlines()
    lines[1] = lines[1].replace(",B1,", ',"B\n1",', 1)  # row 0 spans lines 2-3
    lines.insert(3, "")  # line 5 is blank; row 2 moves to line 6
    lines[4] = lines[4].replace(good[2]["meter_id"], "bad")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidFile) as caught:
        import_registry(db, path)
    assert [p.line for p in caught.value.problems] == [6]
