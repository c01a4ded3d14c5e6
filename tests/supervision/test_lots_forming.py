"""Homogeneous lots from the registry, with a stored rule and deterministic ids."""

from __future__ import annotations

from datetime import date

import pytest

from supervision.errors import SupervisionError
from supervision.lots import LotRule, RegistryMeter, form_lots, lot_id

REGISTRY = [
    RegistryMeter("m4", "Acme", "X1", "B7", date(2022, 1, 5)),
    RegistryMeter("m1", "Acme", "X1", "B7", date(2021, 3, 1)),
    RegistryMeter("m2", " ACME  ", "x1", "B7", date(2021, 12, 31)),
    RegistryMeter("m3", "Acme", "X1", "B8", date(2021, 3, 1)),
    RegistryMeter("m5", "Volt Ltd", "V 2", "2021-07", date(2021, 6, 1)),
]


def test_default_rule_groups_by_manufacturer_model_batch_and_install_year() -> None:
    lots = form_lots(REGISTRY)
    assert [(lot.key, lot.meter_ids) for lot in lots] == [
        (("acme", "x1", "b7", "2021"), ("m1", "m2")),
        (("acme", "x1", "b7", "2022"), ("m4",)),
        (("acme", "x1", "b8", "2021"), ("m3",)),
        (("volt ltd", "v 2", "2021-07", "2021"), ("m5",)),
    ]
    assert [lot.size for lot in lots] == [2, 1, 1, 1]
    assert all(lot.rule == LotRule() for lot in lots)


def test_lot_ids_are_deterministic_and_depend_on_rule_and_key() -> None:
    first = form_lots(REGISTRY)
    again = form_lots(list(reversed(REGISTRY)))
    assert [lot.lot_id for lot in first] == [lot.lot_id for lot in again]
    assert len({lot.lot_id for lot in first}) == len(first)
    assert first[0].lot_id.startswith("LOT-") and len(first[0].lot_id) == 20
    strict = LotRule(casefold=False)
    assert lot_id(strict, first[0].key) != first[0].lot_id


def test_case_sensitive_rule_and_fewer_fields() -> None:
    strict = form_lots(REGISTRY, LotRule(casefold=False))
    assert ("ACME", "x1", "B7", "2021") in [lot.key for lot in strict]
    by_model = form_lots(REGISTRY, LotRule(fields=("manufacturer", "model")))
    assert [(lot.key, lot.meter_ids) for lot in by_model] == [
        (("acme", "x1"), ("m1", "m2", "m3", "m4")),
        (("volt ltd", "v 2"), ("m5",)),
    ]


def test_rule_round_trips_as_plain_data() -> None:
    rule = LotRule(fields=("model", "install_year"), casefold=False, version=2)
    stored = rule.to_dict()
    assert stored == {"fields": ["model", "install_year"], "casefold": False, "version": 2}
    assert LotRule.from_dict(stored) == rule
    with pytest.raises(SupervisionError):
        LotRule.from_dict({"fields": ["model"]})


@pytest.mark.parametrize(
    "call",
    [
        lambda: LotRule(fields=("colour",)),
        lambda: LotRule(fields=()),
        lambda: LotRule(fields=("model", "model")),
        lambda: form_lots([REGISTRY[0], REGISTRY[0]]),
        lambda: form_lots([RegistryMeter("m9", "Acme", "  ", "B1", date(2020, 1, 1))]),
    ],
)
def test_bad_rules_and_registries_are_refused(call: object) -> None:
    with pytest.raises(SupervisionError):
        call()  # type: ignore[operator]
