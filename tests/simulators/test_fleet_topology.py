from __future__ import annotations

import numpy as np
import pytest

from meterwatch.domain import is_valid_entity_id
from meterwatch.errors import ConfigError
from simulators.fleet import FleetSpec, build_fleet


def test_one_master_per_area_first_in_its_rows() -> None:
    fleet = build_fleet(FleetSpec(utilities=2, areas_per_utility=3, meters_per_area=40))
    assert fleet.meter_id.size == 6 * 41
    for area in range(6):
        rows = fleet.area_meters(area)
        assert fleet.is_master[rows].tolist() == [True] + [False] * 40
        assert fleet.accuracy_class[rows[0]] == "0.5S"
    assert set(fleet.accuracy_class[~fleet.is_master]) <= {"1", "2"}


def test_meter_ids_are_unique_twelve_digits_and_lots_span_areas() -> None:
    fleet = build_fleet(FleetSpec(utilities=1, areas_per_utility=4, meters_per_area=60))
    assert len(set(fleet.meter_id.tolist())) == fleet.meter_id.size
    assert all(len(m) == 12 and m.isdigit() for m in fleet.meter_id.tolist())
    areas_per_lot = [np.unique(fleet.area_index[fleet.lot == lot]).size for lot in fleet.lot_ids]
    assert max(areas_per_lot) == 4
    assert (fleet.install_date < "2026-09-01").all()


def test_concentrators_batch_direct_meters_publish_alone() -> None:
    spec = FleetSpec(
        utilities=1,
        areas_per_utility=2,
        meters_per_area=150,
        concentrator_capacity=64,
        direct_fraction=0.1,
    )
    fleet = build_fleet(spec)
    for d, device in enumerate(fleet.device_id.tolist()):
        members = np.flatnonzero(fleet.device_index == d)
        assert is_valid_entity_id(device)
        assert (fleet.area_index[members] == fleet.device_area[d]).all()
        if fleet.device_direct[d]:
            assert fleet.meter_id[members].tolist() == [device]
        else:
            assert 1 <= members.size <= 64
    masters = np.flatnonzero(fleet.is_master)
    assert not fleet.device_direct[fleet.device_index[masters]].any()
    assert set(fleet.device_format.tolist()) == {"json", "dlt645"}


def test_same_seed_same_fleet_other_seed_other_fleet() -> None:
    a, b = build_fleet(FleetSpec(seed=3)), build_fleet(FleetSpec(seed=3))
    c = build_fleet(FleetSpec(seed=4))
    assert (a.lot == b.lot).all() and (a.device_format == b.device_format).all()
    assert (a.lot != c.lot).any()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"start": "2026-09-01T06:00:00Z"},
        {"interval_minutes": 20},
        {"meters_per_area": 0},
        {"pv_fraction": 1.5},
        {"meter_base": 10**12 - 5},
        {"start": "yesterday"},
    ],
)
def test_bad_specs_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        FleetSpec(**kwargs)  # type: ignore[arg-type]
