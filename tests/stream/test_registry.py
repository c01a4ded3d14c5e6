from __future__ import annotations

import pytest

from meterwatch.errors import ConfigError
from stream.registry import RegistryBook


def _row(meter: str, master: str = "0", generation: str | None = None) -> dict[str, str]:
    row = {
        "meter_id": meter, "utility_id": "u1", "area_id": "a1", "meter_type": "electricity",
        "accuracy_class": "2", "is_master": master,
    }  # fmt: skip
    if generation is not None:
        row["has_generation"] = generation
    return row


def test_meters_without_generation_come_from_has_generation_0() -> None:
    book = RegistryBook.from_rows(
        [_row("m0", "1", "0"), _row("pv", generation="1"), _row("c", generation="0"),
         _row("unknown", generation=""), _row("old")]
    )  # fmt: skip
    area = book.area("u1", "a1")
    assert area is not None and area.master == "m0"
    assert area.without_generation == frozenset({"c"})
    assert sorted(area.mpe_pct) == ["c", "old", "pv", "unknown"]


def test_a_bad_has_generation_names_its_line() -> None:
    with pytest.raises(ConfigError, match="registry line 3: has_generation 'maybe'"):
        RegistryBook.from_rows([_row("m0", "1"), _row("x", generation="maybe")])
